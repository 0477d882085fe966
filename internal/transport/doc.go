// Package transport is the QUIC runtime between palyra machines: the
// daemon's listener, the client's dialer, the framing and messages on
// their streams, and a small request/response layer on top. It is built on
// quic-go and takes its identities from internal/identity; it knows
// nothing of skills (the daemon's Handler does).
//
// # Connections
//
//   - ALPN "palyra-quic-v1" is the only protocol offered or accepted; TLS
//     1.3 only; 0-RTT off on both sides (quic-go Allow0RTT false), so no
//     request is ever replayable. No datagrams, no unidirectional streams.
//   - The server requires a client certificate on every handshake. It is
//     verified in the server's VerifyConnection, which crypto/tls runs on
//     fresh and resumed handshakes alike: the chain must reach
//     ServerOptions.ClientCAs at ServerOptions.Now with client-auth usage,
//     the leaf must name exactly one device (identity.DeviceIDFromCert),
//     and then ServerOptions.VerifyPeer (the revocation hook) must accept
//     it; the state it gets has VerifiedChains filled in. crypto/tls is
//     set to RequestClientCert rather than RequireAndVerifyClientCert only
//     because it would refuse a missing certificate or a bad chain without
//     telling us why; the checks are the same and more.
//   - After a connection is registered under its device id the hook runs
//     once more, so a device revoked while handshaking is either closed by
//     Server.CloseDevice or refused by this second check.
//   - A connection lasts no longer than the client certificate it was
//     opened with: at its NotAfter the server closes it (the client sees
//     ErrCertificateExpired) and the client redials with its renewed
//     certificate (ClientOptions.GetClientCertificate hands out the
//     current one; ServerOptions.GetCertificate does the same for the
//     daemon's own 24-hour certificate).
//   - Every refusal is logged (Warn) as "transport: connection refused"
//     with reason (unknown_ca, expired, bad_usage, bad_certificate,
//     no_certificate, no_device_id, refused_by_hook, wrong_alpn,
//     too_many_connections, and for pairing connections pairing_disabled,
//     too_many_pairings, pairing_stream), remote, device (when the
//     certificate named one) and err.
//   - The client verifies the server's certificate against the pinned
//     ClientOptions.RootCAs for ServerName (default "localhost"). With TLS
//     1.3 the client finishes its handshake before the server has checked
//     the client's certificate, so a refusal can surface on the first Call
//     rather than in Dial; either way it is ErrRefused.
//   - Session resumption is on when the client gives a SessionCache (the
//     server always issues tickets, under one random key per Server). A
//     resumed handshake re-verifies the certificate from the ticket (at
//     the current time) and re-runs the hook; resumption saves a round
//     trip, never a check.
//   - Limits (defaults as in Palyra): handshake 10 s in all (quic-go's
//     HandshakeIdleTimeout is half of it), idle 30 s, keep-alive 5 s, 32
//     concurrent streams per connection (QUIC flow control makes the
//     33rd wait), 1024 requests in flight per server, 128 live
//     connections per device (more are refused: too_many_connections).
//   - Server.CloseDevice(id, reason) closes every live connection of a
//     device at once with a QUIC application close; the client's calls in
//     flight fail with ErrDeviceClosed (measured: about a millisecond on
//     loopback). The daemon calls it after recording a revocation, so the
//     device's next handshake fails in the hook.
//     Server.CloseCertificate(id, fingerprint, reason) does the same for
//     the connections opened with one certificate (hex sha256 of its DER)
//     only: for a certificate revoked while its device is not.
//
// # Pairing connections
//
// A device without a certificate pairs on the same UDP listener with the
// second ALPN "palyra-pair-v1" (PairingALPN), served only when
// ServerOptions.Pairing is set (otherwise refused: pairing_disabled):
//
//   - a ClientHello offering palyra-pair-v1 and not palyra-quic-v1 gets a
//     config with only that ALPN, no client certificate requested and no
//     session tickets; a hello offering both is an mTLS handshake and
//     needs a certificate like any other. A connection that negotiated
//     palyra-pair-v1 never reaches the request handler: no call, list,
//     info, renew or offer is served on it.
//   - it gets exactly one bidirectional stream, which must arrive within
//     Limits.HandshakeTimeout (else refused: pairing_stream); the stream
//     goes to Pairing (the daemon runs identity.Manager.ServePairing on it)
//     with the client's address and the channel binding, then the
//     connection is closed. The whole connection lasts at most
//     MaxPairingDuration (approval wait included); identity bounds the
//     exchange itself. At most MaxPairingConns (default 8) are open at
//     once; more are refused (too_many_pairings).
//   - the channel binding is the TLS exporter
//     ExportKeyingMaterial("EXPORTER-palyra-pair-v1", nil, 32), computed
//     the same on both ends of one TLS session. A relay terminating TLS
//     towards the device and again towards the daemon holds two sessions
//     with two exporters, so CPace's keys differ and pairing fails.
//   - DialPairing (client) does not verify the daemon's certificate: the
//     device has no CA yet. After identity.Pair succeeds the client must
//     call PairingConn.VerifyServer with the CA it received (the daemon's
//     certificate must chain to it with serverAuth for ServerName) and
//     discard everything when it fails.
//   - a failed pairing is logged (Warn) as "transport: pairing failed"
//     with remote and err; a successful one as "transport: pairing done".
//
// # Frames
//
// A frame is a big-endian uint32 length then that many bytes, at most
// MaxFrameSize (512 KiB). ReadFrame checks the length before allocating,
// so an oversize prefix costs four bytes of reading; WriteFrame refuses an
// oversize payload before writing anything and writes the frame in one
// Write.
//
// # Streams
//
// One request per bidirectional stream: the caller writes one request
// frame and finishes its side, the server writes one response frame and
// finishes its side. On the server:
//
//   - the whole request, and the end of the caller's side, must arrive
//     within Limits.ReadTimeout of the stream reaching the server, or the
//     stream is reset (reason read_timeout). A peer that opens streams
//     and stalls therefore holds each for at most ReadTimeout, and the
//     stream's credit returns to it after. (A stream on which the peer
//     sends nothing at all does not exist for the server: QUIC announces
//     a stream only with its first frame.)
//   - an oversize frame (frame_too_large), an undecodable request or data
//     after it (bad_request) is answered with an error response of id 0,
//     logged as "transport: stream refused" with its reason and device;
//     the rest of the request is not read (STOP_SENDING). The connection
//     and other streams go on.
//   - the handler runs under a context that ends at the request's timeout
//     (capped by ServerOptions.CallTimeout, default 5 min), when the
//     caller cancels its stream, or when the connection closes;
//   - a handler that panics fails its own request (internal, logged with
//     the stack), not the process;
//   - the response must be written within Limits.WriteTimeout.
//
// # Messages
//
// JSON objects, versioned ({"v":1}) and decoded strictly: exactly one
// object and nothing after it, keys matched exactly (encoding/json alone
// folds case, even the Kelvin sign U+212A to 'k'), unknown keys, duplicate keys, nulls and
// invalid UTF-8 refused, numbers of the field's type, each request type
// with exactly its body. Requests:
//
//	{"v":1,"id":N,"type":"call","call":{"skill":S,"tool":T,"input":B64,"timeout_ms":MS,"report":BOOL}}
//	{"v":1,"id":N,"type":"list"}
//	{"v":1,"id":N,"type":"info","info":{"skill":S}}
//
// Responses echo the id:
//
//	{"v":1,"id":N,"type":"result","result":{"output":B64,"data":JSON}}
//	{"v":1,"id":N,"type":"error","error":{"code":C,"message":M,"exit_code":E,"detail":JSON}}
//
// Error codes are [a-z][a-z0-9_]{0,63}: the transport's own (bad_request,
// frame_too_large, deadline_exceeded, canceled, overloaded, internal) and
// the daemon's, so a remote client maps an error back to the sentinel a
// local host would have returned; exit_code is the exit status the local
// command would have had.
//
// Decoding takes three passes over the bytes: utf8.Valid, encoding/json
// with DisallowUnknownFields (types and unknown keys, but up to case
// folding, keeping the last of repeated keys, skipping nulls), then a key
// scanner over the envelope and its bodies that refuses what encoding/json
// let through: keys that are not plain a-z and '_' (so no folded or
// escaped spellings), repeated keys, nulls, anything after the object.
// The data and detail documents are opaque to it. Fuzz targets cover
// ReadFrame, DecodeRequest and DecodeResponse (round trips), and the
// decoder against a slow token-by-token reference kept in the tests
// (whatever the decoder accepts, the reference accepts the same way).
//
// # Shutdown
//
// When Serve's context ends the server stops taking connections and
// streams, lets the requests in flight finish (or reach their timeouts),
// waits a few round trips so the last responses arrive, and closes every
// connection (the client sees ErrShutdown). Server.Close cuts everything
// at once.
package transport
