package host_test

import (
	"context"
	"crypto/ed25519"
	"os"
	"testing"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/testskill"
)

type skillSpec = testskill.Spec

var (
	goodModule = testskill.GoodModule
	moduleWith = testskill.ModuleWith
)

func newKey(t testing.TB) ed25519.PrivateKey { return testskill.NewKey(t) }

func openHost(t testing.TB, dir string, opts host.Options) *host.Host {
	t.Helper()
	h, err := host.Open(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
