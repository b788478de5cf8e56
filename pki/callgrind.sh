#!/usr/bin/env bash
# The chain verifier's cost on the host, per chain kind: instructions counted by valgrind's
# callgrind (exact and repeatable, unlike timings), for the chain's verification and for the
# TLS 1.3 CertificateVerify apart; and the stack the verification takes. The chains and keys
# are made before counting starts: only `measure::measured_*` is counted (pki/examples/measure.rs).
#
#   pki/callgrind.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is needed (apt-get install -y valgrind)" >&2; exit 2; }
cargo build --release --quiet -p tpns-pki --example measure
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/examples/measure"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# Instructions inside the functions matching $2 during one `measure run $1`.
count() {
    valgrind --tool=callgrind --callgrind-out-file="$out/$1.$2" --toggle-collect="measure::$2" \
        "$target" run "$1" >/dev/null 2>"$out/$1.$2.log" || { cat "$out/$1.$2.log" >&2; exit 1; }
    sed -n 's/^summary: *//p' "$out/$1.$2"
}

printf 'callgrind, x86-64, release profile\n\n'
printf '| chain kind | chain: instructions | CertificateVerify: instructions | stack |\n'
printf '|---|---|---|---|\n'
for kind in simple public-ecdsa mixed public-rsa real-letsencrypt real-aws; do
    case $kind in
        simple) label='`simple`: P-256 leaf signed by the P-256 root' ;;
        public-ecdsa) label='`public-ecdsa`: P-256 leaf, P-384 intermediate and root' ;;
        mixed) label='`mixed`: P-256 leaf, RSA-4096 intermediate and root' ;;
        public-rsa) label='`public-rsa`: RSA-2048 leaf (42 SANs), RSA-4096 intermediate and root' ;;
        real-letsencrypt) label='letsencrypt.org (2025): P-256 leaf, P-384 E6, RSA-4096 ISRG Root X1' ;;
        real-aws) label='aws.amazon.com (2025): RSA-2048 leaf, RSA-2048 M01, RSA-2048 Amazon Root CA 1' ;;
    esac
    chain=$(count "$kind" measured_chain)
    case $kind in
        real-*) verify='—' ;;
        public-rsa) verify="$(count "$kind" measured_verify) (PSS-SHA256)" ;;
        *) verify="$(count "$kind" measured_verify) (P-256)" ;;
    esac
    stack=$("$target" stack "$kind")
    printf '| %s | %s | %s | %s B |\n' "$label" "$chain" "$verify" "$stack"
done
