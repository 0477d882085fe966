package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"

	"github.com/quic-go/quic-go"
)

// Dial connects to the daemon at addr (host:port, UDP) with the device's
// client certificate, verifying the server's certificate against the
// pinned RootCAs and ServerName. The whole handshake is bounded by
// Limits.HandshakeTimeout (and ctx).
func Dial(ctx context.Context, addr string, opts ClientOptions) (*Conn, error) {
	if opts.GetClientCertificate == nil && (len(opts.Certificate.Certificate) == 0 || opts.Certificate.PrivateKey == nil) {
		return nil, errors.New("transport: ClientOptions.Certificate or GetClientCertificate is required")
	}
	if opts.RootCAs == nil {
		return nil, errors.New("transport: ClientOptions.RootCAs is required")
	}
	limits := opts.Limits.withDefaults()
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	name := opts.ServerName
	if name == "" {
		name = "localhost"
	}
	tlsConf := &tls.Config{
		MinVersion: tls.VersionTLS13,
		MaxVersion: tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &opts.Certificate, nil
		},
		RootCAs:            opts.RootCAs,
		ServerName:         name,
		NextProtos:         []string{ALPN},
		ClientSessionCache: opts.SessionCache,
		Time:               opts.Now,
	}
	if opts.GetClientCertificate != nil {
		tlsConf.GetClientCertificate = opts.GetClientCertificate
	}
	incoming := -1
	if opts.AcceptStreams {
		incoming = limits.MaxStreams
	}
	hctx, cancel := context.WithTimeout(ctx, limits.HandshakeTimeout)
	defer cancel()
	qc, err := dialQUIC(ctx, hctx, "dial", addr, tlsConf, limits, incoming)
	if err != nil {
		return nil, err
	}
	state := qc.ConnectionState().TLS
	c := &Conn{
		qc:          qc,
		limits:      limits,
		log:         log,
		callTimeout: DefaultCallTimeout,
	}
	c.peer = Peer{Certificate: state.PeerCertificates[0], RemoteAddr: qc.RemoteAddr(), Conn: c}
	return c, nil
}

// dialQUIC dials addr within hctx (ctx bounded by the caller's
// limits.HandshakeTimeout) and checks the handshake ended with tlsConf's
// one ALPN and a server certificate; what ("dial", "pairing dial") starts
// its errors.
func dialQUIC(ctx, hctx context.Context, what, addr string, tlsConf *tls.Config, limits Limits, incoming int) (*quic.Conn, error) {
	qc, err := quic.DialAddr(hctx, addr, tlsConf, quicConfig(limits, incoming))
	if err != nil {
		if ctx.Err() == nil && hctx.Err() != nil {
			return nil, fmt.Errorf("transport: %s %s: handshake not done within %s: %w", what, addr, limits.HandshakeTimeout, context.DeadlineExceeded)
		}
		return nil, fmt.Errorf("transport: %s %s: %w", what, addr, classify(err))
	}
	alpn := tlsConf.NextProtos[0]
	if state := qc.ConnectionState().TLS; state.NegotiatedProtocol != alpn || len(state.PeerCertificates) == 0 {
		_ = qc.CloseWithError(codeRefused, "bad handshake")
		return nil, fmt.Errorf("transport: %s %s: negotiated ALPN %q, want %q", what, addr, state.NegotiatedProtocol, alpn)
	}
	return qc, nil
}
