#!/usr/bin/env bash
# make demo: the main job end to end, in a temp dir that is removed after.
#   keygen → build examples/echo → package (signed) → inspect →
#   verify (tofu_newly_pinned) → verify (tofu_pinned) → verify a tampered copy (fails) →
#   install → list → check → tamper on disk → check quarantines → enable refuses → reinstall →
#   run the installed skill
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PALYRA_HOME="$tmp/state"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "build the CLIs"
(cd "$root" && go build -o "$tmp/bin/" ./gen/cmd/palyra-gen ./host/cmd/palyra)
PATH="$tmp/bin:$PATH"

# Work on a copy of the example so the checkout stays clean.
cp -r "$root/examples/echo" "$tmp/echo"
rm -rf "$tmp/echo/modules" "$tmp/echo/.palyra"
cat > "$tmp/echo/go.mod" <<MOD
module example.com/echo

go 1.26

require github.com/palyra/palyra-go v0.0.0

replace github.com/palyra/palyra-go => $root
MOD
(cd "$tmp/echo" && GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1)

step "palyra-gen keygen"
palyra-gen keygen --out "$tmp/keys"

step "palyra-gen build (GOOS=wasip1 GOARCH=wasm, reproducible)"
palyra-gen build "$tmp/echo"

step "palyra-gen package (signed .palyra-skill)"
palyra-gen package "$tmp/echo" --key - --out "$tmp/echo.palyra-skill" < "$tmp/keys/publisher.key"

step "palyra skills inspect (trusts nothing)"
palyra skills inspect "$tmp/echo.palyra-skill"

step "palyra skills verify --allow-tofu (first use pins the key)"
palyra skills verify --allow-tofu "$tmp/echo.palyra-skill"

step "palyra skills verify (the pinned key)"
palyra skills verify "$tmp/echo.palyra-skill"

step "palyra trust list"
palyra trust list

step "tamper: change one byte of the module and verify again"
(cd "$root" && go run ./scripts/tamper "$tmp/echo.palyra-skill" "$tmp/tampered.palyra-skill")
if palyra skills verify "$tmp/tampered.palyra-skill"; then
  echo "demo: the tampered artifact verified — that is a bug" >&2
  exit 1
fi
echo "(refused, as it must be)"

step "palyra skills install (verify → audit → compat → atomic extract → journal)"
palyra skills install "$tmp/echo.palyra-skill"

step "palyra skills list"
palyra skills list

step "palyra skills check (clean)"
palyra skills check

step "tamper with the installed module on disk, then check again"
mod=$(ls "$PALYRA_HOME"/skills/palyra.echo/*/modules/echo.wasm)
printf '\x00' >> "$mod"
if palyra skills check; then
  echo "demo: check passed a modified module — that is a bug" >&2
  exit 1
fi
palyra skills list

step "palyra skills enable refuses until the skill is reinstalled"
if palyra skills enable palyra.echo; then
  echo "demo: enable accepted a modified skill — that is a bug" >&2
  exit 1
fi
palyra skills install "$tmp/echo.palyra-skill"
palyra skills list

step "palyra skills run (sandboxed: only what the operator granted)"
palyra skills grants palyra.echo
out=$(palyra skills run palyra.echo echo --input '{"text":"hello from a signed, installed skill"}')
echo "$out"
if [ "$out" != '{"text":"hello from a signed, installed skill"}' ]; then
  echo "demo: unexpected output from the skill" >&2
  exit 1
fi
palyra skills run --json palyra.echo echo --input '{"text":"and as JSON"}'

step "done"
