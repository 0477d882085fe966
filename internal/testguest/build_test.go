package testguest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

const minimal = "./testdata/minimal"

// TestBuildRuns builds a guest and runs it in wazero: the bytes are a
// c-shared wasip1 module whose export returns what the Go source says.
func TestBuildRuns(t *testing.T) {
	wasm := Build(t, minimal)
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		t.Fatalf("not a Wasm module: % x", wasm[:min(8, len(wasm))])
	}

	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	// c-shared modules export _initialize instead of _start.
	mod, err := rt.InstantiateWithConfig(ctx, wasm,
		wazero.NewModuleConfig().WithStartFunctions("_initialize"))
	if err != nil {
		t.Fatal(err)
	}
	fn := mod.ExportedFunction("answer")
	if fn == nil {
		t.Fatal(`module does not export "answer"`)
	}
	res, err := fn.Call(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := int32(res[0]); got != 42 {
		t.Fatalf("answer() = %d, want 42", got)
	}
}

// TestBuildShared checks that concurrent callers share one build and each
// get their own copy of it.
func TestBuildShared(t *testing.T) {
	const n = 8
	mods := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { mods[i] = Build(t, minimal) })
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if !bytes.Equal(mods[i], mods[0]) {
			t.Fatalf("build %d differs from build 0", i)
		}
	}
	mods[0][0] = 'X'
	if again := Build(t, minimal); again[0] != 0 {
		t.Fatal("editing a returned module changed the cached one")
	}
}

func TestLookupKeys(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{minimal, "./testdata/../testdata/minimal/", true},
		{minimal, "github.com/palyra/palyra-go/internal/testguest/testdata/minimal", false},
		{minimal, "./testdata/broken", false},
	}
	for _, tt := range tests {
		if got := lookup(tt.a) == lookup(tt.b); got != tt.same {
			t.Errorf("lookup(%q) == lookup(%q) is %v, want %v", tt.a, tt.b, got, tt.same)
		}
	}
}

// fatalTB records Fatalf instead of stopping the test, to observe how a
// failed build is reported.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
}

func TestBuildFailure(t *testing.T) {
	for i := range 2 { // the second call reports the cached failure
		tb := &fatalTB{TB: t}
		if wasm := Build(tb, "./testdata/broken"); wasm != nil {
			t.Fatalf("call %d: got %d bytes from a broken package", i, len(wasm))
		}
		if !strings.Contains(tb.msg, "undefinedOnPurpose") {
			t.Fatalf("call %d: failure does not carry the compiler's message: %q", i, tb.msg)
		}
	}
}

func TestFile(t *testing.T) {
	path := File(t, minimal, "minimal.wasm")
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, Build(t, minimal)) {
		t.Fatal("file content differs from Build's module")
	}
	if !strings.HasSuffix(path, "minimal.wasm") {
		t.Fatalf("path %q does not end in the requested name", path)
	}
}
