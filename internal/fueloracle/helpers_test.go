package fueloracle

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"
	"github.com/palyra/palyra-go/internal/testguest"
)

// wastCase is one (assert_fuel N (module ...)) of fuel.wast.
type wastCase struct {
	line int
	fuel uint64
	wat  string // the module
}

// parseFuelWast reads the assert_fuel cases of a fuel.wast.
func parseFuelWast(t testing.TB, path string) []wastCase {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases []wastCase
	forms := topForms(t, string(src))
	for _, f := range forms {
		body := strings.TrimSpace(f.text[1 : len(f.text)-1])
		rest, ok := strings.CutPrefix(body, "assert_fuel")
		if !ok {
			t.Fatalf("%s:%d: not an assert_fuel: %.40q", path, f.line, body)
		}
		rest = strings.TrimSpace(rest)
		num, mod, ok := strings.Cut(rest, " ")
		if !ok {
			num, mod, _ = strings.Cut(rest, "\n")
		}
		n, err := strconv.ParseUint(strings.TrimSpace(num), 10, 64)
		if err != nil {
			t.Fatalf("%s:%d: %v", path, f.line, err)
		}
		mod = stripComments(mod)
		cases = append(cases, wastCase{line: f.line, fuel: n, wat: strings.TrimSpace(mod)})
	}
	return cases
}

type form struct {
	line int
	text string
}

// topForms splits src into its top-level parenthesised forms, skipping
// ";;" comments.
func topForms(t testing.TB, src string) []form {
	var forms []form
	depth, start, line, startLine := 0, 0, 1, 0
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case c == '\n':
			line++
		case c == ';' && i+1 < len(src) && src[i+1] == ';':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			i-- // let the newline count
		case c == '"':
			for i++; i < len(src) && src[i] != '"'; i++ {
				if src[i] == '\\' {
					i++
				}
			}
		case c == '(':
			if depth == 0 {
				start, startLine = i, line
			}
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				forms = append(forms, form{line: startLine, text: src[start : i+1]})
			}
			if depth < 0 {
				t.Fatalf("line %d: unbalanced ')'", line)
			}
		}
	}
	if depth != 0 {
		t.Fatal("unbalanced '('")
	}
	return forms
}

// stripComments removes ";;" comments (the modules have no strings).
func stripComments(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if i := strings.Index(line, ";;"); i >= 0 {
			line = line[:i] + "\n"
		}
		b.WriteString(line)
	}
	return b.String()
}

func wat2wasm(t testing.TB, wat string) []byte {
	t.Helper()
	wasm, err := wasmtime.Wat2Wasm(wat)
	if err != nil {
		t.Fatalf("%v\n%s", err, wat)
	}
	return wasm
}

// engine is shared by the tests: an Engine holds no per-test state.
var engine = sync.OnceValue(NewEngine)

// compiled caches compiled modules by content, for the life of the test
// process: compiling the Go guest takes seconds.
var compiled struct {
	mu sync.Mutex
	m  map[string]*Module
}

func compile(t testing.TB, wasm []byte) *Module {
	t.Helper()
	compiled.mu.Lock()
	defer compiled.mu.Unlock()
	if m, ok := compiled.m[string(wasm)]; ok {
		return m
	}
	m, err := engine().Compile(wasm)
	if err != nil {
		t.Fatal(err)
	}
	if compiled.m == nil {
		compiled.m = make(map[string]*Module)
	}
	compiled.m[string(wasm)] = m
	return m
}

func instantiate(t testing.TB, wasm []byte, opts Options) *Instance {
	t.Helper()
	in, err := compile(t, wasm).Instantiate(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Close)
	return in
}

// guestPkg is the runtime's Go test guest.
const guestPkg = "github.com/palyra/palyra-go/internal/runtime/testdata/guest"

func guestWasm(t testing.TB) []byte { return testguest.Build(t, guestPkg) }

// goSDKWasm returns a test plugin of extism/go-sdk's wasm/ folder, from the
// module cache (the main module requires go-sdk, so it is there).
func goSDKWasm(t testing.TB, name string) []byte {
	t.Helper()
	// Asked of the main module, whose go.sum has go-sdk's checksums: this
	// module's has only those of what it builds.
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/extism/go-sdk")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("locating extism/go-sdk: %v", err)
	}
	dir := string(bytes.TrimSpace(out))
	if dir == "" {
		t.Skip("extism/go-sdk is not in the module cache (go mod download github.com/extism/go-sdk)")
	}
	wasm, err := os.ReadFile(filepath.Join(dir, "wasm", name))
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}
