package mcpserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/identity"
)

// ErrNeedsAuth: an HTTP address other clients can reach, with no way to
// tell clients apart.
var ErrNeedsAuth = errors.New("a non-loopback address needs client authentication (--token-file or --mtls)")

// CheckListen refuses to serve HTTP on addr (host:port) when clients on
// other machines could reach it and there is no way to authenticate
// them (a bearer token, or mTLS): only a loopback IP (127.0.0.0/8, ::1)
// or "localhost" may go without.
func CheckListen(addr string, hasAuth bool) error {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--http %q: %w", addr, err)
	}
	if hasAuth || isLoopback(h) {
		return nil
	}
	return fmt.Errorf("--http %s: %w", addr, ErrNeedsAuth)
}

func isLoopback(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}

// ParseToken reads a bearer token from the contents of a token file (or
// standard input): one line, surrounding blanks dropped, at least 16
// characters, no inner blanks.
func ParseToken(data []byte) (string, error) {
	tok := strings.TrimSpace(string(data))
	switch {
	case tok == "":
		return "", errors.New("the token is empty")
	case strings.ContainsAny(tok, " \t\r\n"):
		return "", errors.New("the token holds blanks or more than one line")
	case len(tok) < 16:
		return "", fmt.Errorf("the token has %d characters; at least 16 are needed", len(tok))
	}
	return tok, nil
}

// HTTPOptions configure HTTPHandler.
type HTTPOptions struct {
	// Token, if set, is the bearer token every request must carry.
	Token string
	// Devices, if set, is the identity layer's Manager: every request
	// must come over mTLS (TLSConfig) with the certificate of a paired
	// device that is not revoked, checked again on every request, so a
	// revocation closes the door on a connection already open.
	Devices *identity.Manager
}

// HTTPHandler serves the server over MCP's streamable HTTP transport.
// With a token, every request must carry "Authorization: Bearer TOKEN"
// (401 otherwise, compared in constant time); with Devices, a paired
// device's client certificate (403 otherwise). The SDK refuses requests
// to a loopback address whose Host header is not a loopback name (DNS
// rebinding), and cross-origin browser requests are refused.
func (s *Server) HTTPHandler(opts HTTPOptions) http.Handler {
	var h http.Handler = mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.srv }, &mcp.StreamableHTTPOptions{
		Logger: slog.New(minLevel{s.log.Handler(), slog.LevelWarn}),
		// A client that went away without ending its session.
		SessionTimeout: 30 * time.Minute,
	})
	h = http.NewCrossOriginProtection().Handler(h)
	if opts.Token != "" {
		h = requireToken(opts.Token, h)
	}
	if opts.Devices != nil {
		h = s.requireDevice(opts.Devices, h)
	}
	return h
}

func requireToken(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="palyra mcp"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireDevice refuses a request whose client certificate the identity
// layer no longer accepts: the handshake checked it (TLSConfig), but a
// connection outlives a revocation.
func (s *Server) requireDevice(m *identity.Manager, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "a paired device's client certificate is required", http.StatusForbidden)
			return
		}
		if err := m.CheckCertificate(r.Context(), r.TLS.PeerCertificates[0]); err != nil {
			s.log.Info("mcp: request refused", "remote", r.RemoteAddr, "reason", err)
			http.Error(w, "client certificate refused", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// TLSConfig is the server side of mTLS with the state dir's identity
// (docs/identity.md): a serverAuth certificate from its CA for
// "localhost" plus names (issued now, renewed before it expires), and a
// client certificate required of every client, chained to the CA and of a
// paired device that is not revoked (identity.Manager.VerifyConnection,
// on resumed handshakes too).
func TLSConfig(id *host.Identity, names []string) (*tls.Config, error) {
	var (
		mu   sync.Mutex
		cert *tls.Certificate
	)
	get := func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		mu.Lock()
		defer mu.Unlock()
		if cert != nil && !identity.NeedsRenewal(cert.Leaf, time.Now()) {
			return cert, nil
		}
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		leaf, der, err := id.CA.IssueServer(key.Public(), names)
		if err != nil {
			return nil, fmt.Errorf("server certificate: %w", err)
		}
		cert = &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
		return cert, nil
	}
	if _, err := get(nil); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		GetCertificate:   get,
		ClientAuth:       tls.RequireAnyClientCert,
		VerifyConnection: id.Manager.VerifyConnection,
	}, nil
}
