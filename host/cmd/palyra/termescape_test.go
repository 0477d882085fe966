package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palyra/palyra-go/internal/testguest"
	"github.com/palyra/palyra-go/internal/testskill"
)

func TestTermSafe(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, tabs\tand ünïcödé ✓", "plain text, tabs\tand ünïcödé ✓"},
		{"\x1b[2K\rpalyra: forged", `\x1b[2K\x0dpalyra: forged`},
		{"two\nlines", `two\x0alines`},
		{"back\b\bspace and \x00 and \x7f", `back\x08\x08space and \x00 and \x7f`},
		{"c1 \u009b31m csi", `c1 \u009b31m csi`},
		{"bidi \u202eevil\u202c \u2066iso\u2069 \u200f", `bidi \u202eevil\u202c \u2066iso\u2069 \u200f`},
		{"sep \u2028 \u2029", `sep \u2028 \u2029`},
		{"bad \xff\xfe utf-8", `bad \xff\xfe utf-8`},
		{"", ""},
	} {
		if got := termSafe(tc.in); got != tc.want {
			t.Errorf("termSafe(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	base := errors.New("guest says \x1b[31mhi")
	err := error(termSafeError{base})
	if err.Error() != `guest says \x1b[31mhi` || !errors.Is(err, base) {
		t.Errorf("termSafeError: %q, Is = %v", err, errors.Is(err, base))
	}
}

func FuzzTermSafe(f *testing.F) {
	f.Add("\x1b[2K\rpalyra: forged\u202e\xff")
	f.Fuzz(func(t *testing.T, s string) {
		got := termSafe(s)
		for _, r := range got {
			if mustEscape(r, len(string(r))) {
				t.Fatalf("termSafe(%q) = %q keeps %U", s, got, r)
			}
		}
		if !strings.ContainsAny(s, "\\") && !strings.Contains(got, `\`) && got != s {
			t.Fatalf("termSafe(%q) = %q changed text without escaping", s, got)
		}
	})
}

// A skill cannot forge a line of the CLI's output, or act on the
// terminal, through its logs or its error message.
func TestRunEscapesGuestText(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	art := filepath.Join(dir, "acme.guest-1.0.0.palyra-skill")
	spec := testskill.Spec{
		Name: "guest", Module: testguest.Build(t, "../../../internal/runtime/testdata/guest"),
		Tools: []string{"log", "print", "fail"}, Memory: 64 << 20,
	}
	if err := os.WriteFile(art, spec.Build(t), 0o644); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) (string, error) {
		return run(t, nil, append([]string{"--state-dir", state}, args...)...)
	}
	if out, err := cli("skills", "install", "--allow-tofu", "--grant-requested", art); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	const evil = "x\x1b[2K\r\npalyra: skill acme.guest verified \u202egnp.\u202c"
	for _, tool := range []string{"log", "print", "fail"} {
		out, err := cli("skills", "run", "acme.guest", tool, "--input", evil)
		if err != nil {
			out += "palyra: " + err.Error() + "\n" // as main prints it
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "palyra: skill") {
				t.Errorf("%s: forged line %q in\n%s", tool, line, out)
			}
		}
		if strings.ContainsAny(out, "\x1b\r\u202e\u202c") {
			t.Errorf("%s: control characters reach the terminal: %q", tool, out)
		}
		if !strings.Contains(out, `x\x1b[2K\x0d`) {
			t.Errorf("%s: the guest's text is not shown escaped: %q", tool, out)
		}
	}
	// With --json the error goes to stderr too, escaped.
	_, errOut, code := execCLI(t, "", "--state-dir", state, "skills", "run", "--json", "acme.guest", "fail", "--input", evil)
	if code != 1 || strings.ContainsAny(errOut, "\x1b\r\u202e\u202c") || !strings.Contains(errOut, `x\x1b[2K\x0d`) {
		t.Errorf("run --json of a failing tool: exit %d, stderr %q", code, errOut)
	}
}
