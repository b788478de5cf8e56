#!/usr/bin/env bash
# Footprint of the device path, measured on the bare-metal target (thumbv7em-none-eabihf,
# Cortex-M4F), with the workspace profile `firmware` (opt-level "s", LTO, codegen-units 1,
# panic abort). Binaries of examples/firmware:
#   tpns-firmware-example  a whole TLS upload (embedded-tls, rustpki verifier, tpns-core)
#   plain                  the same upload without TLS
#   baseline               an empty cortex-m-rt program (subtracted from the others)
#   sizes                  size_of of the upload state on the target, as symbol sizes
# Prints: flash (.vector_table + .text + .rodata) and static RAM (.data + .bss) of each, the
# size_of figures, the largest stack frames (nightly `-Z emit-stack-sizes`) and the deepest
# call chain built from them. Fails softly: whatever a missing tool prevents is reported and
# skipped; the exit status is non-zero only when the firmware itself does not build.
#
# Usage: scripts/footprint.sh [--no-stack]
set -uo pipefail

cd "$(dirname "$0")/.."
TARGET=thumbv7em-none-eabihf
PKG=tpns-firmware-example
TARGET_DIR=${CARGO_TARGET_DIR:-target}
OUT="$TARGET_DIR/$TARGET/firmware"
NIGHTLY_DIR="$TARGET_DIR/footprint-nightly"
STACK=1
[ "${1:-}" = "--no-stack" ] && STACK=0

note() { printf '  (skipped: %s)\n' "$*"; }

# llvm tools: the rustup component llvm-tools, else whatever is on PATH.
find_tool() {
    local name=$1 dir
    dir="$(rustc --print sysroot 2>/dev/null)/lib/rustlib/$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')/bin"
    if [ -x "$dir/$name" ]; then echo "$dir/$name"; return; fi
    command -v "$name" 2>/dev/null || command -v "rust-${name#llvm-}" 2>/dev/null || true
}
SIZE=$(find_tool llvm-size)
NM=$(find_tool llvm-nm)
READOBJ=$(find_tool llvm-readobj)
OBJDUMP=$(find_tool llvm-objdump)
if [ -z "$SIZE" ] || [ -z "$NM" ]; then
    echo "llvm-size/llvm-nm not found: run 'rustup component add llvm-tools' for the figures."
fi

echo "== build: cargo build -p $PKG --target $TARGET --profile firmware"
if ! cargo build -q -p "$PKG" --target "$TARGET" --profile firmware; then
    echo "the firmware example does not build (is the target installed? rustup target add $TARGET)"
    exit 1
fi

# section sizes of an ELF: prints "flash static_ram"
sections() {
    "$SIZE" -A "$1" | awk '
        $1 == ".vector_table" || $1 == ".text" || $1 == ".rodata" { flash += $2 }
        $1 == ".data" || $1 == ".bss" || $1 == ".uninit" { ram += $2 }
        $1 == ".data" { flash += $2 }
        END { print flash + 0, ram + 0 }'
}

declare -A FLASH RAM
if [ -n "$SIZE" ]; then
    echo
    echo "== flash and static RAM (bytes; flash = .vector_table + .text + .rodata (+ .data image))"
    printf '%-24s %10s %12s %18s\n' binary flash static_ram "flash - baseline"
    for bin in baseline plain "$PKG" sizes; do
        read -r f r < <(sections "$OUT/$bin")
        FLASH[$bin]=$f; RAM[$bin]=$r
    done
    for bin in baseline plain "$PKG"; do
        printf '%-24s %10d %12d %18d\n' "$bin" "${FLASH[$bin]}" "${RAM[$bin]}" \
            $(( ${FLASH[$bin]} - ${FLASH[baseline]} ))
    done
    echo "  upload path without TLS (plain - baseline): $(( ${FLASH[plain]} - ${FLASH[baseline]} )) B"
    echo "  whole TLS upload (example - baseline):      $(( ${FLASH[$PKG]} - ${FLASH[baseline]} )) B"
else
    note "llvm-size missing"
fi

if [ -n "$NM" ]; then
    echo
    echo "== flash by crate (symbol sizes, plain and TLS example)"
    for bin in plain "$PKG"; do
        echo "  $bin:"
        "$NM" --print-size --size-sort -C --radix=d "$OUT/$bin" | awk '
            NF >= 4 && ($3 ~ /^[tTrR]$/) {
                name = $4; for (i = 5; i <= NF; i++) name = name " " $i
                gsub(/\$LT\$/, "<", name); gsub(/\$GT\$/, ">", name); gsub(/\.\./, "::", name)
                sub(/^_/, "", name); sub(/^<+/, "", name)
                if (name ~ /^\.Lanon/ || name ~ /^\./) crate = "(anonymous constants)"
                else if (name ~ /::/) { crate = name; sub(/::.*/, "", crate); sub(/ .*/, "", crate) }
                else crate = "(runtime/builtins: " name ")"
                if (crate ~ /^\(runtime/) crate = "(vector table, reset, compiler builtins)"
                sum[crate] += $2
            }
            END { for (c in sum) printf "    %8d  %s\n", sum[c], c }' | sort -rn | head -14
    done

    echo
    echo "== size_of on $TARGET (from the 'sizes' binary; the HTTP budget is also a compile-time assert there)"
    "$NM" --print-size -C --radix=d "$OUT/sizes" | awk '
        /SIZE_OF_/ { name = $4; sub(/.*SIZE_OF_/, "", name); sub(/::.*/, "", name); printf "  %-16s %6d B\n", name, $2 }'
    http_buf=$(sed -n 's/^pub const HTTP_BUF_LEN: usize = \([0-9_]*\);/\1/p' examples/firmware/src/lib.rs | tr -d _)
    echo "  (SIZE_OF_HTTP_LAYER = UPLOAD_BYTES + COLLECTOR + UPLOAD_JOB + the example's HTTP buffer of ${http_buf:-?} B)"
else
    note "llvm-nm missing"
fi

echo
echo "== RAM of a whole TLS upload (the example's buffers, all on the stack of one call)"
rd=$(sed -n 's/^pub const READ_RECORD_LEN: usize = \([0-9_]*\);/\1/p' transport-embedded/src/tls.rs | tr -d _)
wr=$(sed -n 's/^pub const WRITE_RECORD_LEN: usize = \([0-9_]*\);/\1/p' transport-embedded/src/tls.rs | tr -d _)
echo "  TLS read record buffer ${rd:-?} B + write record buffer ${wr:-?} B + HTTP buffer ${http_buf:-?} B"

if [ "$STACK" = 0 ]; then exit 0; fi

echo
echo "== measured stack: a recorded TLS upload replayed in QEMU (mps2-an386), stack painted at reset"
MEASURE_DIR="$TARGET_DIR/footprint-measure"
REPLAY="$MEASURE_DIR/$TARGET/firmware/replay"
if ! command -v qemu-system-arm >/dev/null; then
    note "qemu-system-arm missing (apt-get install qemu-system-arm)"
elif [ -z "$NM" ] || ! command -v python3 >/dev/null; then
    note "llvm-nm or python3 missing"
elif ! cargo build -q -p "$PKG" --target "$TARGET" --profile firmware --features measure \
        --bin replay --target-dir "$MEASURE_DIR"; then
    note "the replay binary does not build"
else
    python3 - "$REPLAY" "$NM" <<'PY'
import json, os, socket, subprocess, sys, tempfile
elf, nm = sys.argv[1:3]
syms = {}
for line in subprocess.run([nm, elf], capture_output=True, text=True, check=True).stdout.splitlines():
    parts = line.split()
    if len(parts) == 3:
        syms[parts[2]] = int(parts[0], 16)
lo, hi = syms["_stack_end"], syms["_stack_start"]
with tempfile.TemporaryDirectory() as tmp:
    qmp, dump = os.path.join(tmp, "qmp.sock"), os.path.join(tmp, "ram.bin")
    # No network: the guest's "socket" replays recorded bytes; QEMU is driven over QMP on a
    # unix socket. `timeout` ends a guest that hangs.
    qemu = subprocess.Popen(
        ["timeout", "120", "qemu-system-arm", "-cpu", "cortex-m4", "-machine", "mps2-an386",
         "-display", "none", "-serial", "none", "-semihosting-config", "enable=on,target=native",
         "-qmp", f"unix:{qmp},server,nowait", "-kernel", elf],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    line = qemu.stdout.readline().strip()
    print(f"  guest: {line or '(no output)'}")
    ok = line.startswith("replay: ok")
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(qmp)
        f = s.makefile("rw")
        f.readline()
        def command(name, **args):
            f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
            f.flush()
            while True:
                reply = f.readline()
                if not reply or '"return"' in reply or '"error"' in reply:
                    return reply
        command("qmp_capabilities")
        if ok:
            command("pmemsave", val=lo, size=hi - lo, filename=dump)
        command("quit")
        s.close()
    finally:
        try:
            qemu.wait(timeout=10)
        except subprocess.TimeoutExpired:
            qemu.kill()
    if not ok or not os.path.exists(dump):
        print("  (no measurement: the replay did not finish)")
        sys.exit(0)
    ram = open(dump, "rb").read()
    paint = b"\xcc\xcc\xcc\xcc"
    at = 0
    while at + 4 <= len(ram) and ram[at:at + 4] == paint:
        at += 4
    used = (hi - lo) - at
    print(f"  stack region {hi - lo} B ({lo:#x}..{hi:#x}); high-water mark: {used} B used,"
          f" {at} B never touched")
PY
fi
echo
echo "== stack (nightly -Z emit-stack-sizes; separate target dir $NIGHTLY_DIR)"
if ! cargo +nightly --version >/dev/null 2>&1; then note "no nightly toolchain"; exit 0; fi
if ! rustup +nightly target list --installed 2>/dev/null | grep -q "^$TARGET\$"; then
    note "nightly lacks $TARGET: rustup target add --toolchain nightly $TARGET"; exit 0
fi
if ! RUSTFLAGS="-Z emit-stack-sizes" cargo +nightly build -q -p "$PKG" --target "$TARGET" \
        --profile firmware --target-dir "$NIGHTLY_DIR"; then
    note "nightly build failed"; exit 0
fi
if [ -z "$READOBJ" ] || [ -z "$OBJDUMP" ] || ! command -v python3 >/dev/null; then
    note "llvm-readobj/llvm-objdump/python3 missing"; exit 0
fi
ELF="$NIGHTLY_DIR/$TARGET/firmware/$PKG"
python3 - "$ELF" "$READOBJ" "$OBJDUMP" "$NM" <<'PY'
import re, subprocess, sys
elf, readobj, objdump, nm = sys.argv[1:5]
run = lambda *a: subprocess.run(a, capture_output=True, text=True, check=True).stdout

# frame sizes by mangled name
frames, names = {}, []
for line in run(readobj, "--stack-sizes", elf).splitlines():
    m = re.search(r"Functions: \[(.*)\]", line)
    if m:
        names = m.group(1).split(", ")
    m = re.search(r"Size: 0x([0-9A-Fa-f]+)", line)
    if m:
        for n in names:
            frames[n] = int(m.group(1), 16)
# addresses, mangled and demangled names (same order: sorted by address)
raw = [l.split() for l in run(nm, "-n", elf).splitlines()]
dem = run(nm, "-n", "-C", elf).splitlines()
addr_of, pretty = {}, {}
for parts, d in zip(raw, dem):
    if len(parts) >= 3:
        addr_of[parts[2]] = int(parts[0], 16)
        pretty[parts[2]] = d.split(None, 2)[2] if len(d.split(None, 2)) > 2 else parts[2]
frame_at = {}
for n, s in frames.items():
    if n in addr_of:
        frame_at[addr_of[n]] = (s, n)

# call graph from the disassembly: bl/blx to a label, and b/b.w to another function's start
calls, cur, indirect = {}, None, 0
for line in run(objdump, "-d", "--no-show-raw-insn", elf).splitlines():
    m = re.match(r"^([0-9a-f]+) <(.*)>:$", line)
    if m:
        cur = int(m.group(1), 16)
        calls.setdefault(cur, set())
        continue
    m = re.search(r"\s(bl|blx|b|b\.w|b\.n)\s+0x([0-9a-f]+) <([^>+]*)>", line)
    if m and cur is not None:
        tgt = int(m.group(2), 16)
        if tgt != cur:
            calls[cur].add(tgt)
    elif cur is not None and re.search(r"\s(blx|bx)\s+r\d+", line):
        indirect += 1

sys.setrecursionlimit(100000)
memo, onstack, recursive = {}, set(), set()
def depth(f):
    if f in memo:
        return memo[f]
    if f in onstack:
        recursive.add(f)
        return (0, [])
    onstack.add(f)
    best = (0, [])
    for g in calls.get(f, ()):
        d = depth(g)
        if d[0] > best[0]:
            best = d
    onstack.discard(f)
    own = frame_at.get(f, (0, None))[0]
    memo[f] = (own + best[0], [f] + best[1])
    return memo[f]

def label(a):
    n = frame_at.get(a, (0, None))[1]
    if n is None:
        n = next((k for k, v in addr_of.items() if v == a), hex(a))
    p = pretty.get(n, n)
    return p if len(p) < 110 else p[:107] + "..."

print("  largest frames:")
for a, (s, n) in sorted(frame_at.items(), key=lambda kv: -kv[1][0])[:12]:
    print(f"    {s:7d} B  {label(a)}")
entry = addr_of.get("Reset") or addr_of.get("__stext")
if entry is not None:
    total, chain = depth(entry)
    print(f"  deepest call chain from Reset (frames summed along direct calls): {total} B")
    for a in chain:
        s = frame_at.get(a, (0,))[0]
        if s >= 256:
            print(f"    {s:7d} B  {label(a)}")
    print("    (frames under 256 B not listed)")
    for key, what in (("tls4open", "the TLS handshake (tls::open)"),
                      ("upload_in_own_frame", "the upload after the handshake")):
        starts = [a for a, (_, n) in frame_at.items() if key in n]
        if starts:
            d = max(depth(a)[0] for a in starts)
            print(f"  deepest chain below {what}: {d} B")
    print(f"  indirect calls not followed: {indirect}; recursion cut at: {len(recursive)} functions;"
          " functions without a frame record (compiler builtins) count 0")
PY
