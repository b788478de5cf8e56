#!/usr/bin/env bash
# Upload benchmark: `tpns upload` vs `curl -F` over HTTPS to the emulator (--discard) on
# 127.0.0.1, packages of 3 B (the smallest valid one), 1 MB, 10 MB and 100 MB, of ASCII rows and
# of mixed-script rows (one in five non-ASCII; `gen-package`, tpns_bench::mixed_package).
# Prints median wall time, throughput, user+sys CPU, peak RSS and the tpns/curl ratios, for the
# release build (`tpns`) and the low-footprint one (`tpns-small`; SMALL=0 leaves it out).
# A benchmark, not a test: it exits non-zero only if an upload did not arrive whole.
#
#   bench/upload.sh                      # the full run (about 2 to 3 minutes)
#   bench/upload.sh --sizes 3,1000000    # a subset; see bench/upload.py --help
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
for tool in curl python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "upload.sh: $tool is needed (apt-get install -y curl python3 time)" >&2; exit 2; }
done
# Each binary named: a `--bin` applies to all the packages given, and builds only the ones named.
cargo build --release --quiet -p tpns-examples -p tpns-emulator -p tpns-bench --bin tpns --bin tpns-emulator \
    --bin gen-package
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), kernel $(uname -r)" >&2
echo "tpns: $("$target/release/tpns" --version); $(curl --version | head -1 | cut -d' ' -f1-5)" >&2
# Also the low-footprint build, in the same rotation, as `tpns-small`: profile `small`, linked
# statically (non-PIE), without the demo emulator (bench/README.md, "Memory and TLS copies").
# SMALL=0 skips it (its first build takes a few minutes).
compare=()
if [ "${SMALL:-1}" != 0 ]; then
    host="$(rustc -vV | sed -n 's/^host: //p')"
    RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" cargo build --quiet \
        --profile small --target "$host" -p tpns-examples --no-default-features --bin tpns
    compare=(--compare "tpns-small=$target/$host/small/tpns")
fi
exec python3 "$root/bench/upload.py" --tpns "$target/release/tpns" \
    --emulator "$target/release/tpns-emulator" --gen "$target/release/gen-package" \
    "${compare[@]}" "$@"
