#!/usr/bin/env bash
# make demo: the main job end to end, in a temp dir that is removed after.
#   palyra-gen new skill → go generate → go test → build → keygen → package (signed) → inspect →
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

step "palyra-gen new skill hello (scaffold: skill.toml, a typed tool, a unit test)"
palyra-gen new skill hello --dir "$tmp/hello" --publisher demo

step "go generate (wrappers + JSON Schemas from the Go types) and go test (native)"
(cd "$tmp/hello" && go generate ./... && go test ./...)

step "palyra-gen build (GOOS=wasip1 GOARCH=wasm, reproducible)"
palyra-gen build "$tmp/hello"

step "palyra-gen keygen"
palyra-gen keygen --out "$tmp/keys"

step "palyra-gen package (signed .palyra-skill; the key read from stdin)"
palyra-gen package "$tmp/hello" --key - --out "$tmp/hello.palyra-skill" < "$tmp/keys/publisher.key"

step "palyra skills inspect (trusts nothing)"
palyra skills inspect "$tmp/hello.palyra-skill"

step "palyra skills verify --allow-tofu (first use pins the key)"
palyra skills verify --allow-tofu "$tmp/hello.palyra-skill"

step "palyra skills verify (the pinned key)"
palyra skills verify "$tmp/hello.palyra-skill"

step "palyra trust list"
palyra trust list

step "tamper: change one byte of the module and verify again"
(cd "$root" && go run ./scripts/tamper "$tmp/hello.palyra-skill" "$tmp/tampered.palyra-skill")
if palyra skills verify "$tmp/tampered.palyra-skill"; then
  echo "demo: the tampered artifact verified — that is a bug" >&2
  exit 1
fi
echo "(refused, as it must be)"

step "palyra skills install (verify → audit → compat → atomic extract → journal)"
palyra skills install "$tmp/hello.palyra-skill"

step "palyra skills list"
palyra skills list

step "palyra skills check (clean)"
palyra skills check

step "tamper with the installed module on disk, then check again"
mod=$(ls "$PALYRA_HOME"/skills/installed/demo.hello/*/modules/hello.wasm)
printf '\x00' >> "$mod"
if palyra skills check; then
  echo "demo: check passed a modified module — that is a bug" >&2
  exit 1
fi
palyra skills list

step "palyra skills enable refuses until the skill is reinstalled"
if palyra skills enable demo.hello; then
  echo "demo: enable accepted a modified skill — that is a bug" >&2
  exit 1
fi
palyra skills install "$tmp/hello.palyra-skill"
palyra skills list

step "palyra skills run (sandboxed: only what the operator granted)"
palyra skills grants demo.hello
out=$(palyra skills run demo.hello greet --input '{"name":"Ada","style":"formal"}')
echo "$out"
if [ "$out" != '{"message":"Good day, Ada."}' ]; then
  echo "demo: unexpected output from the skill" >&2
  exit 1
fi
palyra skills run --json demo.hello greet --input '{"name":"palyra"}'
echo "(input that breaks the tool's schema is refused before the guest runs, with a non-zero exit:)"
if palyra skills run demo.hello greet --input '{"name":"Ada","style":"rude"}'; then
  echo "demo: the skill accepted an unknown style" >&2
  exit 1
fi

step "done"
