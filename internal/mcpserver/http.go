package mcpserver

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ErrNeedsAuth: an HTTP address other clients can reach, with no way to
// tell clients apart.
var ErrNeedsAuth = errors.New("a non-loopback address needs client authentication (--token-file)")

// CheckListen refuses to serve HTTP on addr (host:port) when clients on
// other machines could reach it and there is no bearer token to check:
// only a loopback IP (127.0.0.0/8, ::1) or "localhost" may go without.
func CheckListen(addr string, hasToken bool) error {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--http %q: %w", addr, err)
	}
	if hasToken || isLoopback(h) {
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

// HTTPHandler serves the server over MCP's streamable HTTP transport.
// With a token, every request must carry "Authorization: Bearer TOKEN"
// (401 otherwise, compared in constant time). The SDK refuses requests to
// a loopback address whose Host header is not a loopback name (DNS
// rebinding), and cross-origin browser requests are refused.
func (s *Server) HTTPHandler(token string) http.Handler {
	var h http.Handler = mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.srv }, &mcp.StreamableHTTPOptions{
		Logger: slog.New(minLevel{s.log.Handler(), slog.LevelWarn}),
		// A client that went away without ending its session.
		SessionTimeout: 30 * time.Minute,
	})
	h = http.NewCrossOriginProtection().Handler(h)
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="palyra mcp"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
