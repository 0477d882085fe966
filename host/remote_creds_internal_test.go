package host

import (
	"strings"
	"testing"

	"github.com/palyra/palyra-go/internal/secrets"
)

// Every daemon address gives a store key the secret store accepts, and
// distinct common forms stay distinct.
func TestRemoteCredsKey(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:7444":          "remote/127.0.0.1_7444",
		"[::1]:7444":              "remote/___1__7444",
		"daemon.example.com:7444": "remote/daemon.example.com_7444",
		"[fe80::1%eth0]:7444":     "remote/_fe80__1_eth0__7444",
	} {
		got := remoteCredsKey(addr)
		if got != want {
			t.Errorf("remoteCredsKey(%q) = %q, want %q", addr, got, want)
		}
		// identity.SecretsStore stores "a/b" as the key "a:b" (identity
		// scope); the key rule is the same in every scope.
		if _, err := secrets.ParseRef("global/" + strings.ReplaceAll(got, "/", ":")); err != nil {
			t.Errorf("%q: store key %q refused: %v", addr, got, err)
		}
	}
}
