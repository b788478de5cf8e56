#!/usr/bin/env bash
# The low-footprint `tpns` for gateways: profile `small` (size-optimised, fat LTO, panic abort;
# the per-byte crates at opt-level 3), linked statically and not position-independent, without
# `tpns demo`. Builds it, uploads a 1 MB package with it to the emulator on 127.0.0.1 (checked
# stored whole) and prints its peak RSS as GNU time measures it (a figure, not a pass/fail:
# the goal is 4 MiB). Prints the binary's path last.
#
# The flags go through RUSTFLAGS with an explicit --target, so that they reach `tpns` and its
# dependencies but not the build scripts and proc macros, which cannot be linked statically.
# Static glibc resolves names from /etc/hosts and DNS; other NSS sources need the release build.
#
# Usage: scripts/small-build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
host=$(rustc -vV | sed -n 's/^host: //p')
target=${CARGO_TARGET_DIR:-target}
RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" cargo build \
    --profile small --target "$host" -p tpns-examples --no-default-features --bin tpns
bin="$target/$host/small/tpns"
cargo build -q -p tpns-emulator --bin tpns-emulator
work=$(mktemp -d)
secret=small-build-secret
"$target/debug/tpns-emulator" --listen 127.0.0.1:0 --data-dir "$work/emu" \
    --app "1500001048:$secret" >"$work/emu.out" 2>/dev/null &
emu=$!
trap 'kill "$emu" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 300); do grep -q '}' "$work/emu.out" 2>/dev/null && break; sleep 0.1; done
addr=$(sed -n 's/.*"https":"\([^"]*\)".*/\1/p' "$work/emu.out")
https="https://$addr/"
[ -n "$addr" ] || { echo "small-build.sh: the emulator did not start" >&2; exit 1; }
# 1 MB of rows `account-NNNNNNNN`.
python3 - "$work/accounts.txt" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(58824):
        f.write(f"account-{i:08d}\n")
PY
run=("$bin" upload --endpoint "$https" --ca-file "$work/emu/ca.pem" --access-id 1500001048
     --no-progress --json --retries 0 "$work/accounts.txt")
if [ -x /usr/bin/time ]; then
    TPNS_SECRET_KEY=$secret /usr/bin/time -f '%M' -o "$work/rss" "${run[@]}" >"$work/answer"
    printf 'small build: peak RSS %s KiB for a 1 MB upload (goal: 4096 KiB)\n' "$(cat "$work/rss")"
else
    TPNS_SECRET_KEY=$secret "${run[@]}" >"$work/answer"
    echo "small build: /usr/bin/time (GNU time) not installed, peak RSS not measured"
fi
grep -q '"uploadId"' "$work/answer" || { echo "small-build.sh: no uploadId: $(cat "$work/answer")" >&2; exit 1; }
ls -l "$bin" | awk '{print "small build: " $5 " bytes"}'
echo "$bin"
