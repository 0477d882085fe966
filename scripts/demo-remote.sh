#!/usr/bin/env bash
# make demo-remote: remote skill calls end to end on one machine, in a temp
# dir that is removed after. Two state dirs: the daemon's and the client's.
#   build a signed skill as make demo does → install it in the daemon's state
#   dir → palyra daemon (127.0.0.1, a free port) → palyra pairing code there →
#   palyra pair ADDR here (the code on stdin) → palyra --remote ADDR skills
#   list|info|run, the same output as a local run → a third state dir pairs
#   as a node, installs the same signed skill and joins (palyra node --join);
#   a remote call runs on the node → stop node and daemon (SIGTERM)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
daemon_pid=
node_pid=
cleanup() {
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then kill "$node_pid"; wait "$node_pid" || true; fi
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then kill "$daemon_pid"; wait "$daemon_pid" || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
unset PALYRA_HOME
daemon_dir="$tmp/daemon-state"
client_dir="$tmp/client-state"
node_dir="$tmp/node-state"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "build the CLIs"
(cd "$root" && go build -o "$tmp/bin/" ./gen/cmd/palyra-gen ./host/cmd/palyra)
PATH="$tmp/bin:$PATH"

step "a signed skill, as make demo makes it (scaffold, generate, build, keygen, package)"
palyra-gen new skill hello --dir "$tmp/hello" --publisher demo
(cd "$tmp/hello" && go generate ./...)
palyra-gen build "$tmp/hello"
palyra-gen keygen --out "$tmp/keys"
palyra-gen package "$tmp/hello" --key - --out "$tmp/hello.palyra-skill" < "$tmp/keys/publisher.key"

step "daemon side: install the skill and create the identity (device + internal CA)"
palyra --state-dir "$daemon_dir" skills install --allow-tofu "$tmp/hello.palyra-skill"
palyra --state-dir "$daemon_dir" identity init

step "palyra daemon --listen 127.0.0.1:0 (a free port)"
palyra --state-dir "$daemon_dir" daemon --listen 127.0.0.1:0 --check-every 0 >"$tmp/daemon.out" 2>"$tmp/daemon.log" &
daemon_pid=$!
addr=
for _ in $(seq 1 200); do
  addr=$(sed -n 's/^listening on \([^ ]*\) .*/\1/p' "$tmp/daemon.out")
  [ -n "$addr" ] && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$tmp/daemon.log" >&2; exit 1; }
  sleep 0.05
done
[ -n "$addr" ] || { echo "demo-remote: the daemon did not start" >&2; cat "$tmp/daemon.log" >&2; exit 1; }
cat "$tmp/daemon.out"

step "palyra pairing code (daemon side; shown once)"
code=$(palyra --state-dir "$daemon_dir" pairing code --json | sed -n 's/^  "code": "\([0-9-]*\)",$/\1/p')
[ -n "$code" ] || { echo "demo-remote: no pairing code" >&2; exit 1; }
echo "code: $code"

step "a code on the command line is refused (exit 2): it would leak into ps and history"
set +e
palyra --state-dir "$client_dir" pair "$addr" "$code"
rc=$?
set -e
[ "$rc" = 2 ] || { echo "demo-remote: pair took a code from argv (exit $rc)" >&2; exit 1; }

step "palyra pair $addr (client side; the code on stdin)"
echo "$code" | palyra --state-dir "$client_dir" pair "$addr"

step "palyra --remote $addr skills list / info"
palyra --state-dir "$client_dir" --remote "$addr" skills list
palyra --state-dir "$client_dir" --remote "$addr" skills info demo.hello

step "palyra --remote $addr skills run (runs in the daemon, prints as a local run)"
input='{"name":"Ada","style":"formal"}'
remote_out=$(palyra --state-dir "$client_dir" --remote "$addr" skills run demo.hello greet --input "$input")
local_out=$(palyra --state-dir "$daemon_dir" skills run demo.hello greet --input "$input")
echo "remote: $remote_out"
echo "local:  $local_out"
if [ "$remote_out" != "$local_out" ] || [ "$remote_out" != '{"message":"Good day, Ada."}' ]; then
  echo "demo-remote: the remote run differs from the local one" >&2
  exit 1
fi
palyra --state-dir "$client_dir" --remote "$addr" skills run --json demo.hello greet --input '{"name":"palyra"}'
echo "(a schema violation fails remotely with the local exit code:)"
set +e
palyra --state-dir "$client_dir" --remote "$addr" skills run demo.hello greet --input '{"name":"Ada","style":"rude"}'
rc=$?
set -e
[ "$rc" = 1 ] || { echo "demo-remote: exit $rc, want 1" >&2; exit 1; }

step "a node: a third state dir with the same signed skill pairs as node and joins"
palyra --state-dir "$node_dir" skills install --allow-tofu "$tmp/hello.palyra-skill"
node_code=$(palyra --state-dir "$daemon_dir" pairing code --kind node --json | sed -n 's/^  "code": "\([0-9-]*\)",$/\1/p')
[ -n "$node_code" ] || { echo "demo-remote: no node pairing code" >&2; exit 1; }
echo "$node_code" | palyra --state-dir "$node_dir" pair "$addr" --kind node
palyra --state-dir "$node_dir" node --join "$addr" >"$tmp/node.out" 2>"$tmp/node.log" &
node_pid=$!
for _ in $(seq 1 200); do
  grep -q "offered skills" "$tmp/node.log" && break
  kill -0 "$node_pid" 2>/dev/null || { cat "$tmp/node.log" >&2; exit 1; }
  sleep 0.05
done
grep -q "offered skills" "$tmp/node.log" || { echo "demo-remote: the node did not offer its skills" >&2; cat "$tmp/node.log" >&2; exit 1; }
cat "$tmp/node.out"
node_id=$(sed -n 's/^joined .* as node \([0-9A-Z]*\)$/\1/p' "$tmp/node.out")
[ -n "$node_id" ] || { echo "demo-remote: the node did not say its device id" >&2; exit 1; }

step "palyra --remote $addr skills run: the daemon routes it to node $node_id (same signed version)"
node_out=$(palyra --state-dir "$client_dir" --remote "$addr" skills run demo.hello greet --input "$input" 2>"$tmp/run.err")
cat "$tmp/run.err"
echo "remote: $node_out"
[ "$node_out" = "$local_out" ] || { echo "demo-remote: the node's run differs from the local one" >&2; exit 1; }
grep -qx "ran on node $node_id" "$tmp/run.err" || { echo "demo-remote: the client was not told the call ran on node $node_id" >&2; exit 1; }
echo "(--json says where it ran too:)"
palyra --state-dir "$client_dir" --remote "$addr" skills run --json demo.hello greet --input "$input" | grep '"ran_on"'
palyra --state-dir "$client_dir" --remote "$addr" skills run --json demo.hello greet --input "$input" | grep -q "\"ran_on\": \"$node_id\"" ||
  { echo "demo-remote: --json does not name node $node_id" >&2; exit 1; }
echo "(the node's log: it ran them)"
grep "node: ran call" "$tmp/node.log" || { echo "demo-remote: the call did not run on the node" >&2; cat "$tmp/node.log" >&2; exit 1; }

step "stop the node (SIGTERM: graceful)"
kill -TERM "$node_pid"
wait "$node_pid"
node_pid=

step "stop the daemon (SIGTERM: graceful)"
kill -TERM "$daemon_pid"
wait "$daemon_pid"
daemon_pid=
tail -n 3 "$tmp/daemon.log"

step "done"
