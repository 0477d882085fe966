#!/usr/bin/env bash
# make bench-cli: whole-process wall time of `palyra skills verify` against
# `cosign verify-blob --key` (v3.1.3) on the same artifact bytes.
#
# Both verify a signature over the same file, offline: palyra every check of
# the artifact format plus the trust store; cosign a key-signed bundle
# (no transparency log: signed with --tlog-upload=false, verified with
# --insecure-ignore-tlog). Process start is included in both.
#
# Artifacts, made by palyra-gen package (deflate, its default) in a temp dir:
#   10MB      one 10 MB module of random bytes (incompressible: deflate
#             stores it), the size the goal is set at
#   0.5MB     the same at 480 KB
#   10MB-wasm two 13 MB modules of machine code (~2.7:1), ~10 MB packed:
#             verify must inflate 26 MB, cosign hashes 10 MB; for reference
#
# cosign is installed with go install into a cache dir outside the repo
# when absent ($COSIGN to use another binary). Runs: $BENCH_RUNS (21).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${BENCH_RUNS:-21}
cosign_version=v3.1.3
cache=${XDG_CACHE_HOME:-$HOME/.cache}/palyra-go/bench-cli
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export SOURCE_DATE_EPOCH=1700000000

echo "== build bin/palyra, bin/palyra-gen and the timer"
(cd "$root" && go build -o bin/ ./gen/cmd/palyra-gen ./host/cmd/palyra && go build -o "$tmp/benchcli" ./scripts/benchcli)
palyra=$root/bin/palyra
gen=$root/bin/palyra-gen

cosign=${COSIGN:-$cache/cosign-$cosign_version/cosign}
if [ ! -x "$cosign" ]; then
  echo "== go install github.com/sigstore/cosign/v3/cmd/cosign@$cosign_version (into $(dirname "$cosign"); takes minutes)"
  (cd "$tmp" && GOFLAGS= GOBIN=$(dirname "$cosign") go install "github.com/sigstore/cosign/v3/cmd/cosign@$cosign_version")
fi
case $("$cosign" version 2>&1 || true) in
  *GitVersion:*"$cosign_version"*) ;;
  *) echo "bench-cli: warning: $cosign is not cosign $cosign_version" >&2 ;;
esac

echo "== artifacts and keys (in $tmp)"
"$gen" keygen --out "$tmp/keys" >/dev/null
(cd "$tmp" && COSIGN_PASSWORD=bench "$cosign" generate-key-pair --output-key-prefix cosign >/dev/null 2>&1)
export PALYRA_HOME=$tmp/state
mkskill() { # label, then the module files' contents as "name:command"
  local label=$1 dir=$tmp/$1
  shift
  mkdir -p "$dir/modules"
  cp "$root/examples/echo/skill.toml" "$dir/"
  for m in "$@"; do
    eval "${m#*:}" >"$dir/modules/${m%%:*}.wasm"
  done
  "$gen" package "$dir" --key "$tmp/keys/publisher.key" --out "$tmp/$label.palyra-skill" >/dev/null
  (cd "$tmp" && COSIGN_PASSWORD=bench "$cosign" sign-blob --key cosign.key --tlog-upload=false \
    --use-signing-config=false --bundle "$label.bundle" -y "$label.palyra-skill" >/dev/null 2>&1)
  # Pin the publisher key (first use), and check that both verify.
  "$palyra" skills verify --allow-tofu "$tmp/$label.palyra-skill" >/dev/null
  "$cosign" verify-blob --key "$tmp/cosign.pub" --bundle "$tmp/$label.bundle" --insecure-ignore-tlog=true \
    "$tmp/$label.palyra-skill" >/dev/null 2>&1
  printf '%-10s %9d bytes\n' "$label" "$(wc -c <"$tmp/$label.palyra-skill")"
}
mkskill 10MB "m:head -c 10000000 /dev/urandom"
mkskill 0.5MB "m:head -c 480000 /dev/urandom"
mkskill 10MB-wasm "a:head -c 13000000 $palyra" "b:head -c 13000000 $gen"

echo "== $runs runs each, alternating palyra and cosign (wall time, process start included)"
for label in 10MB 0.5MB 10MB-wasm; do
  "$tmp/benchcli" -n "$runs" -label "$label" -- \
    "$palyra" skills verify "$tmp/$label.palyra-skill" -- \
    "$cosign" verify-blob --key "$tmp/cosign.pub" --bundle "$tmp/$label.bundle" --insecure-ignore-tlog=true "$tmp/$label.palyra-skill"
done
