package transport

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/palyra/palyra-go/internal/identity"
)

// Reasons a connection or a stream is refused: the "reason" attribute of
// the log records "transport: connection refused" and "transport: stream
// refused".
const (
	ReasonNoCertificate  = "no_certificate"       // the client sent no certificate
	ReasonUnknownCA      = "unknown_ca"           // it does not chain to ClientCAs
	ReasonExpired        = "expired"              // expired or not yet valid
	ReasonBadUsage       = "bad_usage"            // not a client-auth certificate
	ReasonBadCertificate = "bad_certificate"      // any other chain failure
	ReasonNoDeviceID     = "no_device_id"         // no palyra://device/ URI SAN
	ReasonHook           = "refused_by_hook"      // VerifyPeer refused (revoked)
	ReasonALPN           = "wrong_alpn"           // the client did not offer palyra-quic-v1
	ReasonTooManyConns   = "too_many_connections" // MaxConnsPerDevice reached
	ReasonFrameTooLarge  = "frame_too_large"      // a length prefix over MaxFrameSize
	ReasonBadRequest     = "bad_request"          // a request that does not decode
	ReasonReadTimeout    = "read_timeout"         // no whole request within ReadTimeout
	ReasonWriteTimeout   = "write_timeout"        // the peer did not read the response
)

// RefusedError is why the server refused a handshake: Reason is one of
// the Reason constants.
type RefusedError struct {
	Reason string
	Err    error
}

func (e *RefusedError) Error() string {
	return "transport: refused (" + e.Reason + "): " + e.Err.Error()
}
func (e *RefusedError) Unwrap() error { return e.Err }

// Server accepts mutually authenticated QUIC connections and answers the
// requests their streams carry.
type Server struct {
	opts  ServerOptions
	log   *slog.Logger
	udp   *net.UDPConn // the Transport does not close a socket it was given
	tr    *quic.Transport
	ln    *quic.Listener
	slots chan struct{}
	// pairSlots bounds the pairing connections open at once.
	pairSlots chan struct{}

	mu       sync.Mutex
	byDevice map[string]map[*Conn]struct{}
	pairing  map[*quic.Conn]struct{}
	serving  bool
	closed   bool
}

// Listen binds addr (UDP, e.g. "127.0.0.1:7444") and returns a server
// that accepts connections once Serve runs.
func Listen(addr string, opts ServerOptions) (*Server, error) {
	if opts.GetCertificate == nil && (len(opts.Certificate.Certificate) == 0 || opts.Certificate.PrivateKey == nil) {
		return nil, errors.New("transport: ServerOptions.Certificate or GetCertificate is required")
	}
	if opts.ClientCAs == nil {
		return nil, errors.New("transport: ServerOptions.ClientCAs is required")
	}
	opts.Limits = opts.Limits.withDefaults()
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.MaxConcurrentCalls <= 0 {
		opts.MaxConcurrentCalls = DefaultMaxConcurrentCalls
	}
	if opts.MaxConnsPerDevice <= 0 {
		opts.MaxConnsPerDevice = DefaultMaxConnsPerDevice
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxPairingConns <= 0 {
		opts.MaxPairingConns = DefaultMaxPairingConns
	}
	s := &Server{
		opts:      opts,
		log:       opts.Logger,
		slots:     make(chan struct{}, opts.MaxConcurrentCalls),
		pairSlots: make(chan struct{}, opts.MaxPairingConns),
		byDevice:  map[string]map[*Conn]struct{}{},
		pairing:   map[*quic.Conn]struct{}{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	tlsConf, err := s.tlsConfig()
	if err != nil {
		return nil, err
	}
	udpAddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("transport: listen %s: %w", addr, err)
	}
	udp, err := net.ListenUDP("udp", udpAddr)
	if err != nil {
		return nil, fmt.Errorf("transport: listen %s: %w", addr, err)
	}
	// An explicit Transport, so closing the listener stops new
	// connections without closing the live ones (graceful shutdown).
	s.udp, s.tr = udp, &quic.Transport{Conn: udp}
	s.ln, err = s.tr.Listen(tlsConf, quicConfig(opts.Limits, opts.Limits.MaxStreams))
	if err != nil {
		udp.Close()
		return nil, fmt.Errorf("transport: listen %s: %w", addr, err)
	}
	return s, nil
}

func quicConfig(l Limits, incomingStreams int) *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout:  l.HandshakeTimeout / 2,
		MaxIdleTimeout:        l.IdleTimeout,
		KeepAlivePeriod:       l.KeepAlive,
		MaxIncomingStreams:    int64(incomingStreams), // negative: none
		MaxIncomingUniStreams: -1,
		Allow0RTT:             false,
		EnableDatagrams:       false,
	}
}

// tlsConfig is the server's TLS: 1.3 only, ALPN palyra-quic-v1, a client
// certificate required. The certificate is required and verified in
// verifyClient rather than by crypto/tls (ClientAuth RequestClientCert,
// not RequireAndVerifyClientCert) for one reason: crypto/tls refuses a
// missing certificate or a bad chain without telling the server's code,
// and every refusal must be logged with its reason. verifyClient does
// what crypto/tls would (a certificate, its chain to ClientCAs at Now,
// client-auth usage) and more (device id, hook), on resumed handshakes
// too. Every config a handshake can use has it as VerifyConnection.
func (s *Server) tlsConfig() (*tls.Config, error) {
	base := &tls.Config{
		MinVersion: tls.VersionTLS13,
		MaxVersion: tls.VersionTLS13,
		ClientAuth: tls.RequestClientCert, // required by verifyClient
		ClientCAs:  s.opts.ClientCAs,      // names the acceptable CA to the client
		NextProtos: []string{ALPN},
		Time:       s.opts.Now,
	}
	if s.opts.Pairing != nil {
		// So the listener advertises both; each handshake's own config
		// (GetConfigForClient) offers exactly one.
		base.NextProtos = []string{ALPN, PairingALPN}
	}
	if s.opts.GetCertificate != nil {
		base.GetCertificate = s.opts.GetCertificate
	} else {
		base.Certificates = []tls.Certificate{s.opts.Certificate}
	}
	// One ticket key shared by every per-connection clone below, so a
	// ticket one connection issued resumes on another.
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("transport: session ticket key: %w", err)
	}
	base.SetSessionTicketKeys([][32]byte{key})
	base.VerifyConnection = func(cs tls.ConnectionState) error {
		device, err := s.verifyClient(cs)
		if err != nil {
			s.refused(nil, device, err)
		}
		return err
	}
	conf := base.Clone()
	// quic-go fills hello.Conn with the peer's addresses, so the refusal
	// log can name the remote address; the clone carries it into
	// VerifyConnection.
	conf.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		var remote net.Addr
		if hello.Conn != nil {
			remote = hello.Conn.RemoteAddr()
		}
		if wantsPairing(hello.SupportedProtos) {
			if s.opts.Pairing != nil {
				return s.pairingTLSConfig(base, remote), nil
			}
			s.refused(remote, "", &RefusedError{Reason: ReasonPairingDisabled, Err: fmt.Errorf("client offered ALPN %q: pairing is not served here", hello.SupportedProtos)})
		} else if !slices.Contains(hello.SupportedProtos, ALPN) {
			// crypto/tls ends the handshake with no_application_protocol.
			s.refused(remote, "", &RefusedError{Reason: ReasonALPN, Err: fmt.Errorf("client offered ALPN %q, want %q", hello.SupportedProtos, ALPN)})
		}
		c := base.Clone()
		c.NextProtos = []string{ALPN}
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			device, err := s.verifyClient(cs)
			if err != nil {
				s.refused(remote, device, err)
			}
			return err
		}
		return c, nil
	}
	return conf, nil
}

// verifyClient checks a client's handshake, fresh or resumed, and returns
// the device id when it got that far.
func (s *Server) verifyClient(cs tls.ConnectionState) (string, error) {
	if cs.NegotiatedProtocol != ALPN {
		return "", &RefusedError{Reason: ReasonALPN, Err: fmt.Errorf("negotiated ALPN %q, want %q", cs.NegotiatedProtocol, ALPN)}
	}
	if len(cs.PeerCertificates) == 0 {
		return "", &RefusedError{Reason: ReasonNoCertificate, Err: errors.New("no client certificate")}
	}
	leaf := cs.PeerCertificates[0]
	device, _ := identity.DeviceIDFromCert(leaf) // for the log even when the chain is bad
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         s.opts.ClientCAs,
		Intermediates: inter,
		CurrentTime:   s.opts.Now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return device, &RefusedError{Reason: chainReason(err), Err: err}
	}
	if _, err := identity.DeviceIDFromCert(leaf); err != nil {
		return "", &RefusedError{Reason: ReasonNoDeviceID, Err: err}
	}
	if s.opts.VerifyPeer != nil {
		// The hook sees the state crypto/tls would have given it with
		// RequireAndVerifyClientCert: the chains just verified.
		cs.VerifiedChains = chains
		if err := s.opts.VerifyPeer(cs); err != nil {
			return device, &RefusedError{Reason: ReasonHook, Err: err}
		}
	}
	return device, nil
}

func chainReason(err error) string {
	var inv x509.CertificateInvalidError
	var ua x509.UnknownAuthorityError
	switch {
	case errors.As(err, &ua):
		return ReasonUnknownCA
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		return ReasonExpired
	case errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage:
		return ReasonBadUsage
	}
	return ReasonBadCertificate
}

func (s *Server) refused(remote net.Addr, device string, err error) {
	reason := ReasonBadCertificate
	var re *RefusedError
	if errors.As(err, &re) {
		reason = re.Reason
	}
	s.log.Warn("transport: connection refused", "reason", reason, "remote", addrString(remote), "device", device, "err", err)
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts connections and answers their requests with h until ctx
// ends or Close is called. When ctx ends it shuts down gracefully: no new
// connections or requests are taken, requests in flight finish (or reach
// their timeout), then every connection is closed and Serve returns nil.
// Close instead cuts everything at once. Serve runs once per server.
func (s *Server) Serve(ctx context.Context, h Handler) error {
	if h == nil {
		return errors.New("transport: Serve: nil handler")
	}
	s.mu.Lock()
	if s.serving || s.closed {
		s.mu.Unlock()
		return errors.New("transport: Serve called twice or after Close")
	}
	s.serving = true
	s.mu.Unlock()

	var loops, calls sync.WaitGroup
	var err error
	for {
		qc, aerr := s.ln.Accept(ctx)
		if aerr != nil {
			if ctx.Err() == nil && !s.isClosed() {
				err = fmt.Errorf("transport: accept: %w", aerr)
			}
			break
		}
		loops.Add(1)
		go func() { // admit may block in the hook; the next Accept need not wait
			defer loops.Done()
			if s.opts.Pairing != nil && qc.ConnectionState().TLS.NegotiatedProtocol == PairingALPN {
				s.servePairing(ctx, qc)
				return
			}
			if c := s.admit(qc); c != nil {
				_ = c.acceptStreams(ctx, h, &calls)
			}
		}()
	}
	// Graceful part: the listener stops taking connections, each accept
	// loop stops taking streams (ctx is done, or the connection closed),
	// and once no loop can start a request, the requests in flight are
	// waited for.
	_ = s.ln.Close()
	loops.Wait()
	calls.Wait()
	s.linger()
	s.closeAll(codeShutdown, "server shutting down")
	_ = s.tr.Close()
	_ = s.udp.Close() // frees the port: a restarted server can listen on it
	return err
}

// admit registers a freshly handshaken connection under its device id, or
// closes it. All of verifyClient, the hook included, runs again after
// registration: a device revoked between its handshake and now is either
// found by CloseDevice (it is registered) or refused here (the revocation
// is already visible).
func (s *Server) admit(qc *quic.Conn) *Conn {
	state := qc.ConnectionState().TLS
	if len(state.PeerCertificates) == 0 {
		_ = qc.CloseWithError(codeRefused, "no client certificate")
		return nil
	}
	leaf := state.PeerCertificates[0]
	device, err := identity.DeviceIDFromCert(leaf)
	if err != nil {
		_ = qc.CloseWithError(codeRefused, "no device id")
		return nil
	}
	c := &Conn{
		qc:          qc,
		limits:      s.opts.Limits,
		log:         s.log,
		callTimeout: s.opts.CallTimeout,
		slots:       s.slots,
	}
	c.peer = Peer{DeviceID: device, Certificate: leaf, RemoteAddr: qc.RemoteAddr(), Conn: c}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = qc.CloseWithError(codeShutdown, "server closed")
		return nil
	}
	m := s.byDevice[device]
	if len(m) >= s.opts.MaxConnsPerDevice {
		s.mu.Unlock()
		s.refused(qc.RemoteAddr(), device, &RefusedError{Reason: ReasonTooManyConns, Err: fmt.Errorf("device has %d live connections, the limit", len(m))})
		_ = qc.CloseWithError(codeRefused, "too many connections for this device")
		return nil
	}
	if m == nil {
		m = map[*Conn]struct{}{}
		s.byDevice[device] = m
	}
	m[c] = struct{}{}
	s.mu.Unlock()
	// A connection lasts no longer than the certificate it was opened
	// with: at NotAfter it is closed, and the client redials with its
	// renewed certificate.
	expiry := time.NewTimer(leaf.NotAfter.Sub(s.opts.Now()))
	go func() {
		select {
		case <-qc.Context().Done():
			expiry.Stop()
		case <-expiry.C:
			s.log.Info("transport: closing connection, client certificate expired", "device", device, "remote", addrString(qc.RemoteAddr()), "not_after", leaf.NotAfter)
			_ = qc.CloseWithError(codeCertExpired, "client certificate expired")
			<-qc.Context().Done()
		}
		s.forget(c)
	}()

	if _, err := s.verifyClient(state); err != nil {
		s.refused(qc.RemoteAddr(), device, err)
		_ = qc.CloseWithError(codeRefused, err.Error())
		return nil
	}
	s.log.Debug("transport: connection accepted", "device", device, "remote", addrString(qc.RemoteAddr()), "resumed", state.DidResume)
	return c
}

func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.byDevice[c.peer.DeviceID]; m != nil {
		delete(m, c)
		if len(m) == 0 {
			delete(s.byDevice, c.peer.DeviceID)
		}
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// CloseDevice closes every live connection of deviceID at once, telling
// the client reason; calls in flight on them fail with ErrDeviceClosed.
// It returns how many connections it closed. Revoking a device calls it
// after the revocation is recorded, so the device's next handshake fails
// in the hook.
func (s *Server) CloseDevice(deviceID, reason string) int {
	s.mu.Lock()
	conns := make([]*Conn, 0, len(s.byDevice[deviceID]))
	for c := range s.byDevice[deviceID] {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.qc.CloseWithError(codeDeviceClosed, reason)
	}
	if len(conns) > 0 {
		s.log.Info("transport: closed device connections", "device", deviceID, "connections", len(conns), "reason", reason)
	}
	return len(conns)
}

// CloseCertificate closes the live connections of deviceID that were
// opened with the certificate whose lowercase hex sha256(DER) is
// fingerprint (the identity registry's fingerprint), as CloseDevice does;
// the device's other connections stay. The daemon calls it for a
// certificate revoked while its device is not (re-pairing revokes the
// earlier certificates). It returns how many it closed.
func (s *Server) CloseCertificate(deviceID, fingerprint, reason string) int {
	s.mu.Lock()
	var conns []*Conn
	for c := range s.byDevice[deviceID] {
		sum := sha256.Sum256(c.peer.Certificate.Raw)
		if hex.EncodeToString(sum[:]) == fingerprint {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.qc.CloseWithError(codeDeviceClosed, reason)
	}
	if len(conns) > 0 {
		s.log.Info("transport: closed certificate connections", "device", deviceID, "certificate", fingerprint, "connections", len(conns), "reason", reason)
	}
	return len(conns)
}

// DeviceConns returns how many live connections deviceID has.
func (s *Server) DeviceConns(deviceID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byDevice[deviceID])
}

// linger gives the last responses time to reach their clients before the
// connections close: a QUIC CONNECTION_CLOSE makes the peer drop stream
// data it has not read yet, and quic-go does not say when a stream's data
// was acknowledged. It waits a few smoothed round trips of the slowest
// connection (at least 50 ms, at most maxLinger).
func (s *Server) linger() {
	const maxLinger = time.Second
	s.mu.Lock()
	var d time.Duration
	for _, m := range s.byDevice {
		for c := range m {
			st := c.qc.ConnectionStats()
			d = max(d, 4*(st.SmoothedRTT+st.MeanDeviation))
		}
	}
	s.mu.Unlock()
	time.Sleep(min(max(d+50*time.Millisecond, 50*time.Millisecond), maxLinger))
}

func (s *Server) closeAll(code quic.ApplicationErrorCode, reason string) {
	s.mu.Lock()
	var conns []*quic.Conn
	for _, m := range s.byDevice {
		for c := range m {
			conns = append(conns, c.qc)
		}
	}
	for qc := range s.pairing {
		conns = append(conns, qc)
	}
	s.mu.Unlock()
	for _, qc := range conns {
		_ = qc.CloseWithError(code, reason)
	}
}

// Close stops the server at once: the listener closes and every
// connection is closed with calls in flight failing (ErrShutdown on the
// client). Serve then returns.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	_ = s.ln.Close()
	s.closeAll(codeShutdown, "server closed")
	err := s.tr.Close()
	_ = s.udp.Close()
	return err
}
