#!/usr/bin/env bash
# Runs fuzz targets for a while each: `fuzz/run.sh SECONDS [TARGET...]` (all targets by default).
# Uses nightly with AddressSanitizer when it works, else stable without a sanitizer
# (`cargo fuzz run -s none`). Prints one summary line per target and exits
# non-zero if any target found a crash (the input is kept under fuzz/artifacts/TARGET/).
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(response chunked json raw_json rows zip cert)

command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
if cargo +nightly --version >/dev/null 2>&1 && cargo +nightly fuzz build "${targets[0]}" >/dev/null 2>&1; then
  run=(cargo +nightly fuzz run)
else
  echo "note: nightly fuzz build failed; fuzzing on stable without a sanitizer"
  run=(cargo fuzz run -s none)
fi

status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  log=$(mktemp)
  if "${run[@]}" "$t" "corpus/$t" "seeds/$t" -- -max_total_time="$seconds" >"$log" 2>&1; then
    echo "fuzz $t: $(grep -E '^Done' "$log" | tail -1) — no crash"
  else
    echo "fuzz $t: CRASH"; tail -40 "$log"; status=1
  fi
  rm -f "$log"
done
exit $status
