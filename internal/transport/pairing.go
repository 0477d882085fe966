package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	"github.com/quic-go/quic-go"
)

// PairingALPN is the application protocol of a pairing connection: a
// device without a certificate yet, on the daemon's listener, running
// identity's pairing frames on one stream.
const PairingALPN = "palyra-pair-v1"

// PairingExporterLabel is the TLS exporter label of the channel binding
// both ends of a pairing connection compute (32 bytes, no context).
const PairingExporterLabel = "EXPORTER-palyra-pair-v1"

// PairingBindingSize is the length of the channel binding.
const PairingBindingSize = 32

// Pairing bounds on the server.
const (
	// DefaultMaxPairingConns caps the pairing connections open at once;
	// more are refused (reason too_many_pairings) right after their
	// handshake.
	DefaultMaxPairingConns = 8
	// MaxPairingDuration bounds a whole pairing connection, the wait for
	// the operator's approval included. identity's own timeouts bound the
	// exchange before it (30 s).
	MaxPairingDuration = 10 * time.Minute
)

// Reasons specific to pairing connections ("transport: connection
// refused").
const (
	ReasonPairingDisabled = "pairing_disabled"  // palyra-pair-v1 offered, ServerOptions.Pairing unset
	ReasonTooManyPairings = "too_many_pairings" // MaxPairingConns reached
	ReasonPairingStream   = "pairing_stream"    // no stream opened within the handshake timeout
)

// PairingFunc runs the daemon's side of one pairing on rw, a stream of
// a connection negotiated with PairingALPN whose client sent no
// certificate; remote is the client's address, binding the channel
// binding (the TLS exporter) the client computes too. The daemon passes
// a function calling identity.Manager.ServePairing. ctx ends when the
// connection does, the server shuts down, or MaxPairingDuration passes.
type PairingFunc func(ctx context.Context, rw io.ReadWriter, remote net.Addr, binding []byte) error

// exportBinding computes the channel binding from a connection's TLS
// state: the same on both ends of one TLS session, different on two
// sessions a relay would bridge.
func exportBinding(cs tls.ConnectionState) ([]byte, error) {
	b, err := cs.ExportKeyingMaterial(PairingExporterLabel, nil, PairingBindingSize)
	if err != nil {
		return nil, fmt.Errorf("transport: pairing channel binding: %w", err)
	}
	return b, nil
}

// pairingTLSConfig is the server's TLS for a client that offered only
// PairingALPN: the daemon's certificate, no client certificate asked
// for, no session tickets (a pairing session is never resumed).
func (s *Server) pairingTLSConfig(base *tls.Config, remote net.Addr) *tls.Config {
	c := base.Clone()
	c.NextProtos = []string{PairingALPN}
	c.ClientAuth = tls.NoClientCert
	c.ClientCAs = nil
	c.SessionTicketsDisabled = true
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if cs.NegotiatedProtocol != PairingALPN {
			err := &RefusedError{Reason: ReasonALPN, Err: fmt.Errorf("negotiated ALPN %q, want %q", cs.NegotiatedProtocol, PairingALPN)}
			s.refused(remote, "", err)
			return err
		}
		return nil
	}
	return c
}

// wantsPairing says whether a ClientHello asks for a pairing connection:
// it offers PairingALPN and not ALPN.
func wantsPairing(protos []string) bool {
	return slices.Contains(protos, PairingALPN) && !slices.Contains(protos, ALPN)
}

// servePairing runs one pairing connection: one stream, handed to the
// Pairing function, then the connection is closed. No request is served
// on it.
func (s *Server) servePairing(ctx context.Context, qc *quic.Conn) {
	remote := qc.RemoteAddr()
	select {
	case s.pairSlots <- struct{}{}:
		defer func() { <-s.pairSlots }()
	default:
		s.refused(remote, "", &RefusedError{Reason: ReasonTooManyPairings, Err: fmt.Errorf("%d pairing connections open, the limit", cap(s.pairSlots))})
		_ = qc.CloseWithError(codeRefused, "too many pairing connections")
		return
	}
	s.trackPairing(qc, true)
	defer s.trackPairing(qc, false)

	binding, err := exportBinding(qc.ConnectionState().TLS)
	if err != nil {
		s.log.Error("transport: pairing refused", "remote", addrString(remote), "err", err)
		_ = qc.CloseWithError(codeRefused, "no channel binding")
		return
	}
	actx, cancel := context.WithTimeout(ctx, s.opts.Limits.HandshakeTimeout)
	st, err := qc.AcceptStream(actx)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			s.refused(remote, "", &RefusedError{Reason: ReasonPairingStream, Err: fmt.Errorf("no pairing stream: %w", err)})
		}
		_ = qc.CloseWithError(codeRefused, "no pairing stream")
		return
	}
	pctx, cancel := context.WithTimeout(ctx, MaxPairingDuration)
	defer cancel()
	stop := context.AfterFunc(qc.Context(), cancel) // the client hung up
	defer stop()
	err = s.opts.Pairing(pctx, st, remote, binding)
	if err != nil {
		s.log.Warn("transport: pairing failed", "remote", addrString(remote), "err", err)
		st.CancelRead(streamDone)
		_ = st.Close()
	} else {
		s.log.Info("transport: pairing done", "remote", addrString(remote))
		_ = st.Close()
	}
	// The last frame (the grant or an error) must reach the client before
	// the connection closes: the client closes it once it has read it;
	// wait for that a few seconds at most.
	select {
	case <-qc.Context().Done():
	case <-time.After(s.opts.Limits.HandshakeTimeout / 2):
	case <-ctx.Done():
		s.linger()
	}
	_ = qc.CloseWithError(codeNoError, "pairing over")
}

func (s *Server) trackPairing(qc *quic.Conn, add bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		s.pairing[qc] = struct{}{}
	} else {
		delete(s.pairing, qc)
	}
}

// PairingDialOptions configures DialPairing.
type PairingDialOptions struct {
	// ServerName is the name the daemon's certificate must carry, checked
	// by VerifyServer once pairing has given the CA; default "localhost".
	ServerName string
	Limits     Limits
}

// PairingConn is the client's end of a pairing connection: one stream
// for identity.Pair, with Binding to pass it. TLS did NOT verify the
// daemon's certificate (the device has no CA yet): once identity.Pair
// succeeds, VerifyServer(result CA) must pass before anything from this
// exchange is trusted or stored.
type PairingConn struct {
	qc *quic.Conn
	st *quic.Stream
	// Binding is the channel binding (the TLS exporter) for identity.Pair.
	Binding []byte
	// ServerCertificates is the chain the daemon presented, leaf first.
	ServerCertificates []*x509.Certificate
	serverName         string
}

// DialPairing opens a pairing connection to the daemon at addr (UDP
// host:port): TLS 1.3 with PairingALPN and no client certificate, and its
// one stream. ctx bounds the handshake (and Limits.HandshakeTimeout).
func DialPairing(ctx context.Context, addr string, opts PairingDialOptions) (*PairingConn, error) {
	limits := opts.Limits.withDefaults()
	name := opts.ServerName
	if name == "" {
		name = "localhost"
	}
	tlsConf := &tls.Config{
		MinVersion: tls.VersionTLS13,
		MaxVersion: tls.VersionTLS13,
		// The daemon's certificate cannot be verified before pairing has
		// given the CA; VerifyServer checks it after. The channel binding
		// makes a relay fail pairing whatever certificate it shows.
		InsecureSkipVerify: true,
		ServerName:         name,
		NextProtos:         []string{PairingALPN},
	}
	hctx, cancel := context.WithTimeout(ctx, limits.HandshakeTimeout)
	defer cancel()
	qc, err := dialQUIC(ctx, hctx, "pairing dial", addr, tlsConf, limits, -1)
	if err != nil {
		return nil, err
	}
	state := qc.ConnectionState().TLS
	binding, err := exportBinding(state)
	if err != nil {
		_ = qc.CloseWithError(codeRefused, "no channel binding")
		return nil, err
	}
	st, err := qc.OpenStreamSync(hctx)
	if err != nil {
		_ = qc.CloseWithError(codeNoError, "")
		return nil, fmt.Errorf("transport: pairing dial %s: open stream: %w", addr, classify(err))
	}
	return &PairingConn{qc: qc, st: st, Binding: binding, ServerCertificates: state.PeerCertificates, serverName: name}, nil
}

// Read reads from the pairing stream.
func (p *PairingConn) Read(b []byte) (int, error) {
	n, err := p.st.Read(b)
	if err != nil && !errors.Is(err, io.EOF) {
		err = classify(err)
	}
	return n, err
}

// Write writes to the pairing stream.
func (p *PairingConn) Write(b []byte) (int, error) {
	n, err := p.st.Write(b)
	if err != nil {
		err = classify(err)
	}
	return n, err
}

// SetDeadline sets the stream's read and write deadlines (identity.Pair
// uses it to bound each frame by its context).
func (p *PairingConn) SetDeadline(t time.Time) error { return p.st.SetDeadline(t) }

// Close ends the pairing connection.
func (p *PairingConn) Close() error {
	_ = p.st.Close()
	return p.qc.CloseWithError(codeNoError, "")
}

// VerifyServer checks the daemon's certificate, as the handshake could
// not: it must chain to ca (the CA pairing returned), allow serverAuth and
// name ServerName. A device that paired with a daemon failing this check
// discards everything it got.
func (p *PairingConn) VerifyServer(ca *x509.Certificate) error {
	if ca == nil || len(p.ServerCertificates) == 0 {
		return errors.New("transport: pairing: no CA or no server certificate to verify")
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	inter := x509.NewCertPool()
	for _, c := range p.ServerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := p.ServerCertificates[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		DNSName:       p.serverName,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return fmt.Errorf("transport: pairing: the daemon's certificate does not chain to the paired CA for %q: %w", p.serverName, err)
	}
	return nil
}
