#!/usr/bin/env bash
# End-to-end test of the device path on an emulated Cortex-M4 (issue 9).
#
# Boots examples/qemu-device (no_std, no heap, thumbv7em-none-eabihf, 64 KiB of RAM) under
# QEMU mps2-an386. The device reads a 280 000-byte package from a host file through
# semihosting, speaks TLS 1.3 (embedded-tls, the chain verified by tpns-pki) over its UART,
# which QEMU connects to the TPNS emulator's HTTPS port on 127.0.0.1, and uploads through
# tpns-core.
#
# Checks: the upload succeeds over an ECDSA chain (a P-256 CA signs the leaf) and over a
# public-style RSA chain (emulator --pki public-rsa: the server sends an RSA-2048 leaf with 42
# SANs and an RSA-4096 intermediate; the device trusts the RSA-4096 root), the device's uploadId
# is the emulator's, the stored package is byte-identical (sha256) to the file; a wrong CA and a
# wrong host name fail the handshake on the device and store nothing; wrong credentials are
# refused and store nothing; the device's stack high-water mark stays below its room, and an
# overflow is stopped by the MPU guard. Prints `N passed, N failed`
# and exits non-zero on any failure. Details and the measured figures:
# examples/qemu-device/README.md.
#
# Usage: scripts/qemu-e2e.sh          (CI: no stdin needed; installs qemu-system-arm if missing)
# Env:   QEMU_E2E_KEEP=1 keeps the work directory; QEMU_TIMEOUT (s, default 180) bounds a boot.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=thumbv7em-none-eabihf
APP_ID=1500001048
APP_SECRET=qemu-e2e-secret
ROWS=20000 # "device-000001\n" … : 14 bytes a row, 280 000 bytes, over 4 times the 64 KiB of RAM
QEMU_TIMEOUT=${QEMU_TIMEOUT:-180}

say() { printf '[qemu-e2e] %s\n' "$*"; }

# --- tools -----------------------------------------------------------------------------------
if ! command -v qemu-system-arm >/dev/null 2>&1; then
  say "installing qemu-system-arm"
  SUDO=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 $SUDO apt-get update -q </dev/null >/dev/null
  timeout 900 $SUDO apt-get install -y -q --no-install-recommends qemu-system-arm </dev/null >/dev/null
fi
qemu-system-arm --version | head -n 1
rustup target add "$TARGET" >/dev/null 2>&1 || say "note: rustup target add $TARGET failed (already installed?)"

say "building the device program and the emulator"
timeout 1200 cargo build -q -p tpns-qemu-device --target "$TARGET" --profile firmware
timeout 1200 cargo build -q -p tpns-emulator --bin tpns-emulator
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
ELF=$TARGET_DIR/$TARGET/firmware/tpns-qemu-device
EMULATOR=$TARGET_DIR/debug/tpns-emulator
[ -f "$ELF" ] && [ -x "$EMULATOR" ] || { say "missing $ELF or $EMULATOR"; exit 1; }

# --- work directory, background processes ---------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tpns-qemu-e2e.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "${QEMU_E2E_KEEP:-0}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PASSED=0
FAILED=0
check() { # check NAME COMMAND...
  local name=$1
  shift
  if "$@"; then
    PASSED=$((PASSED + 1))
    say "ok: $name"
  else
    FAILED=$((FAILED + 1))
    say "FAILED: $name"
  fi
}

# start_emulator DIR [ARG...]: starts tpns-emulator on 127.0.0.1 (a free port) with its store in
# DIR and the extra ARGs, waits (bounded) for its first stdout line, sets EMU_PID, EMU_PORT and
# EMU_CA.
start_emulator() {
  local dir=$1 line="" i
  shift
  mkdir -p "$dir"
  "$EMULATOR" --listen 127.0.0.1:0 --data-dir "$dir/store" --app "$APP_ID:$APP_SECRET" "$@" \
    >"$dir/stdout" 2>"$dir/stderr" </dev/null &
  EMU_PID=$!
  PIDS+=("$EMU_PID")
  for i in $(seq 1 300); do
    line=$(head -n 1 "$dir/stdout" 2>/dev/null || true)
    case $line in *'}'*) break ;; esac
    kill -0 "$EMU_PID" 2>/dev/null || { say "emulator exited:"; cat "$dir/stderr"; return 1; }
    sleep 0.1
  done
  EMU_PORT=$(printf '%s' "$line" | sed -n 's/.*"https":"127\.0\.0\.1:\([0-9]*\)".*/\1/p')
  EMU_CA=$(printf '%s' "$line" | sed -n 's/.*"ca":"\([^"]*\)".*/\1/p')
  [ -n "$EMU_PORT" ] && [ -f "$EMU_CA" ] || { say "no emulator first line: '$line'"; return 1; }
}

# boot NAME CA APP [ARG]: runs the device program once under QEMU (bounded by QEMU_TIMEOUT), its UART
# connected to the emulator's HTTPS port; output in $WORK/NAME.{out,err}, exit status in RC.
boot() {
  local name=$1 ca=$2 app=$3 extra=${4:+,arg=$4}
  RC=0
  # A fresh seed for every boot: the same seed twice would repeat the TLS key shares.
  head -c 32 /dev/urandom >"$WORK/seed.bin"
  (cd "$WORK" && timeout --kill-after=10 "$QEMU_TIMEOUT" qemu-system-arm \
    -cpu cortex-m4 -machine mps2-an386 -display none -monitor none \
    -semihosting-config "enable=on,target=native,arg=tpns-qemu-device,arg=ca=$ca,arg=package=devices.txt,arg=seed=seed.bin,arg=url=https://localhost:$EMU_PORT/,arg=app=$app$extra" \
    -serial "tcp:127.0.0.1:$EMU_PORT" \
    -kernel "$ELF" >"$name.out" 2>"$name.err" </dev/null) || RC=$?
  sed "s/^/[device:$name] /" "$WORK/$name.out" "$WORK/$name.err"
  say "$name: QEMU exit status $RC"
}

stored_count() { find "$1/store/packages" -type f 2>/dev/null | wc -l; }
index_lines() { if [ -f "$1/store/index.jsonl" ]; then wc -l <"$1/store/index.jsonl"; else echo 0; fi; }
tmp_empty() { [ -z "$(ls -A "$1/store/tmp" 2>/dev/null)" ]; }

# --- inputs -----------------------------------------------------------------------------------
seq -f 'device-%06g' 1 "$ROWS" >"$WORK/devices.txt"
PACKAGE_LEN=$(wc -c <"$WORK/devices.txt")
PACKAGE_SHA=$(sha256sum "$WORK/devices.txt" | cut -d' ' -f1)
RAM_LEN=$(($(sed -n 's/.*RAM *: ORIGIN = [^,]*, LENGTH = \([0-9]*\)K.*/\1/p' examples/qemu-device/memory.x) * 1024))
say "package: $PACKAGE_LEN bytes, sha256 $PACKAGE_SHA; device RAM budget: $RAM_LEN bytes"
check "the package is larger than the device's RAM" test "$PACKAGE_LEN" -gt "$RAM_LEN"

# A CA that did not sign the emulator's certificate: another emulator's fresh CA.
setup_failed() {
  FAILED=$((FAILED + 1))
  say "FAILED: $*"
  echo "$PASSED passed, $FAILED failed"
  exit 1
}

start_emulator "$WORK/other" || setup_failed "starting a second emulator for a foreign CA"
cp "$EMU_CA" "$WORK/wrong-ca.pem"
kill "$EMU_PID"

start_emulator "$WORK/emu" || setup_failed "starting the emulator"
cp "$EMU_CA" "$WORK/ca.pem"
say "emulator: https://127.0.0.1:$EMU_PORT"

# --- 1: the upload ------------------------------------------------------------------------------
boot upload ca.pem "$APP_ID:$APP_SECRET"
check "upload: the device exits 0" test "$RC" = 0
DEVICE_ID=$(sed -n 's/^uploadId=\([0-9][0-9]*\)$/\1/p' "$WORK/upload.out")
RECORD=$(grep -h "\"upload_id\":${DEVICE_ID:-none}," "$WORK/emu/store/index.jsonl" 2>/dev/null || true)
say "emulator record: $RECORD"
check "upload: the device printed an uploadId" test -n "$DEVICE_ID"
check "upload: the emulator recorded that uploadId, $PACKAGE_LEN bytes, $ROWS rows" \
  grep -q "\"size\":$PACKAGE_LEN,\"sha256\":\"$PACKAGE_SHA\",\"rows\":$ROWS," <<<"$RECORD"
STORED="$WORK/emu/store/packages/${DEVICE_ID:-none}-devices.txt"
STORED_SHA=$( [ -f "$STORED" ] && sha256sum "$STORED" | cut -d' ' -f1 || echo missing)
say "stored: $STORED_SHA"
check "upload: the stored package is byte-identical (sha256)" test "$STORED_SHA" = "$PACKAGE_SHA"
check "upload: the package was read in chunks of at most 512 bytes" \
  grep -q "reads of at most 512 bytes (largest 512)" "$WORK/upload.out"
# One pass: the rows are checked while they are sent, so the file is read exactly once.
READ_TOTAL=$(sed -n 's/.*(largest [0-9]*), \([0-9]*\) bytes read in all.*/\1/p' "$WORK/upload.out")
check "upload: the package was read once (${READ_TOTAL:-?} bytes read, the package is $PACKAGE_LEN)" \
  test "${READ_TOTAL:-0}" = "$PACKAGE_LEN"
# "RAM: S bytes static (.data+.bss), stack high-water H of Z bytes, total T of R"
read -r STACK_USED STACK_SIZE < <(sed -n 's/.*stack high-water \([0-9]*\) of \([0-9]*\) bytes.*/\1 \2/p' \
  "$WORK/upload.out") || true
check "upload: the stack high-water mark (${STACK_USED:-?} B) is below the stack's room (${STACK_SIZE:-?} B)" \
  test "${STACK_USED:-1}" -lt "${STACK_SIZE:-0}"

STORED_BEFORE=$(stored_count "$WORK/emu")
INDEX_BEFORE=$(index_lines "$WORK/emu")

# --- 2: a wrong CA --------------------------------------------------------------------------
boot wrong-ca wrong-ca.pem "$APP_ID:$APP_SECRET"
check "wrong CA: the device exits non-zero (3: handshake)" test "$RC" = 3
# The other emulator's CA has the same name as this one's, so the path is tried and its
# signature fails; an unrelated CA would give "unknown issuer".
check "wrong CA: the device refuses the chain" \
  grep -qE "unknown issuer|a signature does not verify" "$WORK/wrong-ca.err"
check "wrong CA: no uploadId printed" bash -c "! grep -q '^uploadId=' '$WORK/wrong-ca.out'"

# --- 2b: a wrong host name -------------------------------------------------------------------
boot wrong-host ca.pem "$APP_ID:$APP_SECRET" server=api.tpns.tencent.com
check "wrong host: the device exits non-zero (3: handshake)" test "$RC" = 3
check "wrong host: the device reports a certificate not for the host" \
  grep -q "not valid for the host name" "$WORK/wrong-host.err"

# --- 3: wrong credentials ---------------------------------------------------------------------
boot wrong-secret ca.pem "$APP_ID:not-the-secret"
check "wrong secret: the device exits non-zero (4: upload refused)" test "$RC" = 4
check "wrong secret: the device reports retCode 1008003" grep -q "1008003" "$WORK/wrong-secret.err"

# --- 3a: a broken row, found while sending ----------------------------------------------------
# Row 10000 holds one character; in the other package, the last row (no line end) does. The
# device checks the rows as it sends them and stops the upload before the body's closing
# delimiter (the last row is judged at the end of the file, before that delimiter).
awk 'NR == 10000 { print "x"; next } { print }' "$WORK/devices.txt" >"$WORK/bad-middle.txt"
{ head -n -1 "$WORK/devices.txt"; printf 'y'; } >"$WORK/bad-last.txt"
for bad in bad-middle:10000 bad-last:$ROWS; do
  name=${bad%%:*} line=${bad##*:}
  boot "$name" ca.pem "$APP_ID:$APP_SECRET" "package=$name.txt"
  check "$name: the device exits 4 (upload stopped)" test "$RC" = 4
  check "$name: the device names line $line, the rule and 'nothing stored'" \
    grep -q "line $line: row shorter than 2 characters (found while sending: nothing stored)" \
    "$WORK/$name.err"
done
BAD_READ=$(sed -n 's/.*(largest [0-9]*), \([0-9]*\) bytes read in all.*/\1/p' "$WORK/bad-middle.out")
check "bad-middle: one pass, stopped mid-file (${BAD_READ:-?} of $PACKAGE_LEN bytes read)" \
  test "${BAD_READ:-0}" -gt 0 -a "${BAD_READ:-0}" -lt "$PACKAGE_LEN"

sleep 0.5 # let the emulator finish with the refused connection
check "nothing stored after the failed runs" \
  test "$(stored_count "$WORK/emu"):$(index_lines "$WORK/emu")" = "$STORED_BEFORE:$INDEX_BEFORE"
check "no partial upload left in the emulator's tmp/" tmp_empty "$WORK/emu"

# --- 3b: a public-style RSA chain -------------------------------------------------------------
kill "$EMU_PID"
start_emulator "$WORK/rsa" --pki public-rsa || setup_failed "starting the public-rsa emulator"
cp "$EMU_CA" "$WORK/rsa-root.pem"
say "public-rsa emulator: https://127.0.0.1:$EMU_PORT"
boot upload-rsa rsa-root.pem "$APP_ID:$APP_SECRET"
check "RSA chain: the device exits 0" test "$RC" = 0
RSA_ID=$(sed -n 's/^uploadId=\([0-9][0-9]*\)$/\1/p' "$WORK/upload-rsa.out")
RSA_STORED="$WORK/rsa/store/packages/${RSA_ID:-none}-devices.txt"
RSA_SHA=$( [ -f "$RSA_STORED" ] && sha256sum "$RSA_STORED" | cut -d' ' -f1 || echo missing)
check "RSA chain: the stored package is byte-identical (sha256)" test "$RSA_SHA" = "$PACKAGE_SHA"
read -r RSA_STACK_USED RSA_STACK_SIZE < <(sed -n 's/.*stack high-water \([0-9]*\) of \([0-9]*\) bytes.*/\1 \2/p' \
  "$WORK/upload-rsa.out") || true
check "RSA chain: the stack high-water mark (${RSA_STACK_USED:-?} B) is below the stack's room (${RSA_STACK_SIZE:-?} B)" \
  test "${RSA_STACK_USED:-1}" -lt "${RSA_STACK_SIZE:-0}"
boot wrong-host-rsa rsa-root.pem "$APP_ID:$APP_SECRET" server=api.tpns.tencent.com
check "RSA chain, wrong host: refused in the handshake (3)" test "$RC" = 3
check "RSA chain, nothing stored by the refused run" test "$(stored_count "$WORK/rsa")" = 1

# --- 4: the stack guard ---------------------------------------------------------------------
# The device recurses 1 KiB a call until the MPU guard below its stack stops it: an overflow
# must end the program (HardFault, exit 134), never run on over the statics.
boot stack-overflow ca.pem "$APP_ID:$APP_SECRET" selftest=stack-overflow
check "stack overflow: the MPU guard stops the program (fault at the guard, exit 134)" \
  test "$RC:$(grep -c 'stack guard at .* was hit' "$WORK/stack-overflow.err")" = "134:1"

# --- figures ---------------------------------------------------------------------------------
SIZE_TOOL=$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-size
if [ -x "$SIZE_TOOL" ]; then
  say "sections of $ELF (llvm-size -A):"
  "$SIZE_TOOL" -A "$ELF" | grep -E '^\.(vector_table|text|rodata|data|bss|uninit) '
  "$SIZE_TOOL" -A "$ELF" | awk '/^\.(vector_table|text|rodata|data) /{f+=$2} /^\.(data|bss|uninit) /{r+=$2}
    END{printf "[qemu-e2e] flash (vector table+text+rodata+data): %d bytes; static RAM (data+bss+uninit): %d bytes\n", f, r}'
else
  say "llvm-size not found (rustup component add llvm-tools): section sizes skipped"
fi
grep -h '^RAM:\|^stack high-water by step' "$WORK/upload.out" | sed 's/^/[qemu-e2e] ECDSA chain, measured on the device: /'
grep -h '^RAM:\|^stack high-water by step' "$WORK/upload-rsa.out" | sed 's/^/[qemu-e2e] RSA chain, measured on the device: /'

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
