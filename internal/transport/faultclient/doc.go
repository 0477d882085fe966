// Package faultclient is a misbehaving client of a palyra-quic-v1 server,
// for the fault tests of internal/transport and internal/daemon: a raw
// quic-go connection with whatever TLS a test gives it (a certificate
// from another CA, none, a wrong ALPN), and streams it writes bad frames
// on or leaves unfinished.
//
// It writes its frames itself, byte by byte as an attacker's client
// would, rather than through the transport package's encoder; and it does
// not import the transport package, so that package's own tests can use
// it.
package faultclient
