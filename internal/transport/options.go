package transport

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"time"
)

// ALPN is the only application protocol either side offers or accepts.
const ALPN = "palyra-quic-v1"

// Defaults of Limits, as in Palyra's QuicTransportLimits.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultIdleTimeout      = 30 * time.Second
	DefaultKeepAlive        = 5 * time.Second
	DefaultMaxStreams       = 32
	DefaultReadTimeout      = 10 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
)

// Server defaults.
const (
	// DefaultCallTimeout is how long the server lets a request run when
	// the request names no timeout, and the most it allows one that does.
	DefaultCallTimeout = 5 * time.Minute
	// DefaultMaxConcurrentCalls bounds the requests a server handles at
	// once, over all connections.
	DefaultMaxConcurrentCalls = 1024
	// DefaultMaxConnsPerDevice bounds the live connections of one device,
	// so one (buggy or stolen) identity cannot take every slot.
	DefaultMaxConnsPerDevice = 128
)

// Limits are the timeouts and bounds of one side of a connection. Zero
// fields take the defaults above; tests shorten them.
type Limits struct {
	// HandshakeTimeout bounds the whole QUIC+TLS handshake. quic-go's
	// HandshakeIdleTimeout is set to half of it: quic-go aborts a
	// handshake silent for that long, or not done in twice that long.
	HandshakeTimeout time.Duration
	// IdleTimeout closes a connection with no traffic for this long.
	IdleTimeout time.Duration
	// KeepAlive is the period of keep-alive packets, so an idle but live
	// connection is not closed and a dead peer is noticed.
	KeepAlive time.Duration
	// MaxStreams is how many streams (requests) the peer may have open at
	// once on one connection; QUIC flow control makes it wait for more.
	MaxStreams int
	// ReadTimeout is how long a peer has, from the moment a stream
	// reaches the reader, to send the whole request frame and finish its
	// side of the stream. A stream whose request does not arrive in time
	// is reset, so a peer that opens streams and never writes cannot hold
	// them.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing one frame, so a peer that does not read
	// cannot hold a stream either.
	WriteTimeout time.Duration
}

func (l Limits) withDefaults() Limits {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&l.HandshakeTimeout, DefaultHandshakeTimeout)
	def(&l.IdleTimeout, DefaultIdleTimeout)
	def(&l.KeepAlive, DefaultKeepAlive)
	def(&l.ReadTimeout, DefaultReadTimeout)
	def(&l.WriteTimeout, DefaultWriteTimeout)
	if l.MaxStreams <= 0 {
		l.MaxStreams = DefaultMaxStreams
	}
	return l
}

// ServerOptions configures Listen. ClientCAs and Certificate (or
// GetCertificate) are required.
type ServerOptions struct {
	// Certificate is the daemon's server certificate (issued by
	// identity.CertificateAuthority.IssueServer) with its private key.
	Certificate tls.Certificate
	// GetCertificate, when set, is asked for the server certificate on
	// every handshake instead: a daemon that outlives its 24-hour
	// certificate swaps in a renewed one without restarting.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// ClientCAs holds the roots client certificates must chain to
	// (identity.CertificateAuthority.Pool).
	ClientCAs *x509.CertPool
	// VerifyPeer, when set, runs on every handshake, resumptions
	// included, after the certificate chain has been verified (the state
	// it gets has VerifiedChains filled in); an error refuses the
	// connection. It is also run again right after a
	// connection is registered, so a device revoked while it was
	// handshaking cannot slip past CloseDevice. The daemon passes
	// identity.Manager.VerifyConnection.
	VerifyPeer func(tls.ConnectionState) error
	// Logger receives a record for every refused connection or stream;
	// default slog.Default().
	Logger *slog.Logger
	Limits Limits
	// CallTimeout: see DefaultCallTimeout.
	CallTimeout time.Duration
	// MaxConcurrentCalls: see DefaultMaxConcurrentCalls.
	MaxConcurrentCalls int
	// MaxConnsPerDevice: see DefaultMaxConnsPerDevice. A connection over
	// the bound is closed right after its handshake (reason
	// too_many_connections).
	MaxConnsPerDevice int
	// Now is the clock certificates are checked against; default
	// time.Now.
	Now func() time.Time
	// Pairing, when set, makes the listener accept PairingALPN
	// connections without a client certificate and hands each one's
	// stream to it (see PairingFunc). Unset, such a connection is refused
	// (reason pairing_disabled).
	Pairing PairingFunc
	// MaxPairingConns: see DefaultMaxPairingConns.
	MaxPairingConns int
}

// ClientOptions configures Dial. RootCAs and Certificate (or
// GetClientCertificate) are required.
type ClientOptions struct {
	// Certificate is the device's client certificate with its key.
	Certificate tls.Certificate
	// GetClientCertificate, when set, is asked for the client certificate
	// on every handshake instead (a renewed one once renewal has run).
	GetClientCertificate func(*tls.CertificateRequestInfo) (*tls.Certificate, error)
	// RootCAs holds the CA the device pinned when it paired; the server's
	// certificate must chain to it.
	RootCAs *x509.CertPool
	// ServerName is the name the server certificate must carry; default
	// "localhost", a name every daemon certificate has.
	ServerName string
	// SessionCache, when set, lets later dials resume the TLS session
	// (one round trip less). The server still verifies the client's
	// certificate and runs its hook on a resumed handshake.
	SessionCache tls.ClientSessionCache
	// AcceptStreams lets the server open streams to this client (Conn.Serve),
	// as the daemon does to a node; Limits.MaxStreams bounds them. By
	// default a client accepts no streams.
	AcceptStreams bool
	Logger        *slog.Logger
	Limits        Limits
	// Now is the clock certificates are checked against; default
	// time.Now.
	Now func() time.Time
}
