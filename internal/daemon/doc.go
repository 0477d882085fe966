// Package daemon is `palyra daemon`: one state dir's skills served over
// the QUIC mTLS transport to paired devices, pairing on the same
// listener, and the periodic re-audit, until its context ends.
//
// # Startup (New)
//
//   - The state dir's identity (host.Identity; `palyra identity init` makes
//     it) must exist: without it New fails wrapping host.ErrNoIdentity.
//   - The daemon's server certificate is issued from the internal CA for a
//     fresh P-256 key at startup (SANs "localhost", the listen address's
//     IP or name, and Options.ServerNames) and re-issued on the next
//     handshake once identity.NeedsRenewal says so, so a daemon outlives
//     its 24-hour certificate without restarting.
//   - The listener (UDP, default 127.0.0.1:7444) requires a client
//     certificate from the CA on every handshake, runs the identity
//     Manager's VerifyConnection (revocation) as the transport's
//     VerifyPeer, and serves pairing (palyra-pair-v1) through
//     Manager.ServePairing with the client's address as the peer.
//
// # Requests
//
//   - list: Result.Data is host.List's result, the document `palyra
//     skills list --json` prints (sent compact; print it with
//     json.Indent(data, "", "  ") and a newline to get the same bytes).
//   - info: Result.Data is host.Info's result (`skills info ID --json`).
//   - call: the daemon's own current install of the skill, when eligible,
//     pins the version and payload digest; the call goes to a node that
//     offers exactly that version (nodes.route) and, when none does, runs
//     here. The daemon's view of its own installs is at most 250 ms old
//     (the host sees other processes' changes within its journal poll
//     interval, 1 s, anyway) and is cleared when its own re-audit
//     quarantines a skill. Result.Output is the tool's output; Result.Data is
//     {"ran_on": "local" | <node device id>}, plus host.CallResult's
//     fields (skill_id, version, tool, call_id, duration_ns, module,
//     instance, instance_calls, fuel_consumed, logs) when the request set
//     Report. A failure is host.RemoteErrorFor's error: the code and exit
//     status of host/remote_errors.go, the whole message, and the report in
//     Detail when Report was set and the call started.
//   - renew: the peer's device id comes from its verified certificate;
//     identity.Manager.Renew records a new certificate for the CSR
//     (without revoking the current one) and Result.Output is its DER.
//   - offer: accepted from devices of kind node only (others get code
//     forbidden) and handed to node routing.
//
// # Background work
//
//   - Re-audit: host.CheckEvery runs every Options.CheckEvery (default
//     1 h; negative: off); each quarantine is logged.
//   - Revocation watcher: every RevocationPoll (default 250 ms) the
//     registry is read (Manager.Devices, which also refreshes the
//     handshake hook's snapshot); each revoked device that still has
//     connections has them closed (transport.Server.CloseDevice), and a
//     newly revoked one is dropped from node routing; a connection opened
//     with a certificate revoked on its own (re-pairing revokes the
//     device's earlier certificates) is closed too
//     (transport.Server.CloseCertificate). A revocation made by
//     another process (`palyra devices revoke`) therefore cuts a connected
//     device within about RevocationPoll, and its next handshake fails.
//   - Refused connections and streams are logged by the transport
//     ("transport: connection refused" / "stream refused", with reason) on
//     the daemon's logger.
//
// # Shutdown
//
// When Run's context ends the listener stops taking connections and
// requests, calls in flight finish or reach their deadline, the last
// responses are given a moment to arrive, every connection is closed, the
// UDP socket is released (a new daemon may listen on the same address at
// once), the background work stops, and Run returns nil.
//
// # Nodes
//
// RunNode is a node on one connection: it offers its host's eligible
// skills and serves the daemon's pinned calls through that host. Join is
// `palyra node --join`: RunNode on a host.Remote's connection, connecting
// again with backoff (DefaultJoinBackoffMin doubling to
// DefaultJoinBackoffMax) whenever the connection ends, so a node comes
// back after a daemon restart or a network failure and offers again; it
// stops for good (ErrNodeRefused) only when the daemon refuses the node
// (revoked or unknown device, not paired as a node).
//
// A call whose node is lost before it answers fails with host.ErrNodeLost
// (wire code node_lost) and is not run again here. A node whose
// connection closes is known lost at once; one that goes silent (killed,
// its network gone) when the connection's idle timeout passes
// (transport.Limits.IdleTimeout, 30 s by default, with keep-alives every
// 5 s). A caller whose deadline comes first gets deadline_exceeded then,
// not a hang. A lost node is dropped until it connects and offers again;
// a node that merely outlived a caller's deadline is slow, not lost, and
// stays.
package daemon
