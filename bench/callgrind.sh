#!/usr/bin/env bash
# Instructions per uploaded byte of the core encoder, next to a plain copy of the same bytes
# through the same 64 KiB buffer (the floor), counted by valgrind --tool=callgrind: exact and
# repeatable, unlike timings. Only the measured loop (`tpns_bench::hot_*`) is counted, not the
# generation of the package. Then the row check alone on each data set, and the whole HTTPS
# upload of 10 MB, `tpns upload` against `curl -F`, each client process counted whole
# (CALLGRIND_HTTPS=0 skips that last part).
#
#   bench/callgrind.sh        # 64 MiB
#   bench/callgrind.sh 16     # N MiB
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
mib="${1:-64}"
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is needed (apt-get install -y valgrind)" >&2; exit 2; }
cargo build --release --quiet -p tpns-bench --bins
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
bytes=$((mib * 1024 * 1024))

div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", a / b }'; }

# Instructions counted in the hot loop of one run. valgrind counts each iteration of glibc's
# `rep movsb` (its memcpy for large blocks on this CPU) as one instruction, so a copy costs
# about 1 instruction per byte; the second count forces glibc's vector loop (32 bytes per
# iteration) instead, a floor that is ten times lower and shows the encoder's own overhead.
count() {
    local name="$1"; shift
    valgrind --tool=callgrind --callgrind-out-file="$out/$name" --toggle-collect='tpns_bench::hot_*' \
        "$@" >/dev/null 2>"$out/$name.log"
    sed -n 's/^summary: *//p' "$out/$name"
}
vector() {
    GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=2147483647 count "$@"
}

copy=$(count copy "$target/callgrind-copy" "$mib")
vcopy=$(vector vcopy "$target/callgrind-copy" "$mib")
printf 'callgrind, %d MiB package, 64 KiB buffer, in-memory sink\n\n' "$mib"
printf '| loop | instructions | per byte | vs copy | per byte, vector memcpy | vs copy |\n'
printf '|---|---|---|---|---|---|\n'
printf '| `copy_from_slice` (the floor) | %d | %.4f | 1.000 | %.4f | 1.000 |\n' "$copy" \
    "$(div "$copy" "$bytes")" "$(div "$vcopy" "$bytes")"
for mode in body request upload validate; do
    n=$(count "$mode" "$target/callgrind-encode" "$mode" "$mib")
    v=$(vector "v$mode" "$target/callgrind-encode" "$mode" "$mib")
    case $mode in
        body) label='`multipart::Body::fill`' ;;
        request) label='`upload::UploadBytes::fill` (request head + body)' ;;
        upload) label='`upload::upload` (the driver, in-memory transport)' ;;
        validate) label='`package::validate_rows` (the check `tpns upload` runs first)' ;;
    esac
    printf '| %s | %d | %.4f | %.3f | %.4f | %.3f |\n' "$label" "$n" "$(div "$n" "$bytes")" \
        "$(div "$n" "$copy")" "$(div "$v" "$bytes")" "$(div "$v" "$vcopy")"
done

# The row check alone on each data set of gen-package (what the criterion bench `rows` times).
printf '\nthe row check alone (`RowValidator::feed` in 64 KiB pieces), %d MiB of each data set\n\n' "$mib"
printf '| data set | instructions | per byte |\n'
printf '|---|---|---|\n'
for mix in ascii mixed cjk; do
    n=$(count "rows-$mix" "$target/callgrind-encode" "rows-$mix" "$mib")
    printf '| %s | %d | %.4f |\n' "$mix" "$n" "$(div "$n" "$bytes")"
done

# The whole HTTPS upload, client side, against curl's: `tpns upload` and `curl -F` of the same
# 10 MB packages (ASCII and mixed scripts, from gen-package) to the emulator on 127.0.0.1,
# every instruction of each client process counted (start-up included: about 0.5 M for tpns,
# 7 M for curl, 0.05 and 0.7 per byte of 10 MB). `CALLGRIND_HTTPS=0` skips it.
[ "${CALLGRIND_HTTPS:-1}" = 0 ] && exit 0
command -v curl >/dev/null || { echo "callgrind.sh: curl is needed for the HTTPS part" >&2; exit 0; }
cargo build --release --quiet -p tpns-examples -p tpns-emulator
secret=bench-secret-not-a-real-key
"$target/tpns-emulator" --listen 127.0.0.1:0 --data-dir "$out/emu" --app "1500001048:$secret" \
    --discard >"$out/emu.out" 2>/dev/null &
emu=$!
trap 'kill "$emu" 2>/dev/null; rm -rf "$out"' EXIT
for _ in $(seq 300); do grep -q '}' "$out/emu.out" 2>/dev/null && break; sleep 0.1; done
https=$(sed -n 's/.*"https":"\([^"]*\)".*/\1/p' "$out/emu.out")
ca="$out/emu/ca.pem"
[ -n "$https" ] && [ -f "$ca" ] || { echo "callgrind.sh: the emulator did not start" >&2; exit 1; }
whole() {
    local name="$1"; shift
    valgrind --tool=callgrind --callgrind-out-file="$out/$name" "$@" >/dev/null 2>"$out/$name.log"
    sed -n 's/^summary: *//p' "$out/$name"
}
printf '\ncallgrind, the whole client process: HTTPS upload of 10 MB to the emulator\n\n'
printf '| package | tpns upload | per byte | curl -F | per byte | tpns vs curl |\n'
printf '|---|---|---|---|---|---|\n'
size=10000000
for mix in ascii mixed; do
    "$target/gen-package" "$size" "$mix" >"$out/$mix.txt"
    t=$(TPNS_SECRET_KEY=$secret whole "tpns-$mix" "$target/tpns" upload --endpoint "https://$https/" \
        --ca-file "$ca" --access-id 1500001048 --no-progress --retries 0 "$out/$mix.txt")
    c=$(whole "curl-$mix" curl -sS --fail --cacert "$ca" -u "1500001048:$secret" \
        -F "file=@$out/$mix.txt" "https://$https/v3/push/package/upload")
    printf '| %s 10 MB | %d | %.2f | %d | %.2f | %.2f |\n' "$mix" "$t" "$(div "$t" "$size")" "$c" \
        "$(div "$c" "$size")" "$(div "$t" "$c")"
done
