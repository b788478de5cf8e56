#!/usr/bin/env bash
# Instructions per uploaded byte of the core encoder, next to a plain copy of the same bytes
# through the same 64 KiB buffer (the floor), counted by valgrind --tool=callgrind: exact and
# repeatable, unlike timings. Only the measured loop (`tpns_bench::hot_*`) is counted, not the
# generation of the package.
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
