// Package docs holds the project's documentation pages; its test keeps
// their links, and the READMEs', inside the repository.
package docs

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repoRoot is the module root, seen from this package's directory.
const repoRoot = ".."

// repoFiles returns the repository's files whose names end in one of
// suffixes, relative to its root, skipping hidden directories (.git, a
// skill's .palyra), bin/ and node_modules/ (npm's packages, not ours).
func repoFiles(t *testing.T, suffixes ...string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || rel == "bin" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		for _, s := range suffixes {
			if strings.HasSuffix(p, s) {
				files = append(files, filepath.ToSlash(rel))
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// markdownFiles returns every .md file of the repository (see repoFiles).
func markdownFiles(t *testing.T) []string { return repoFiles(t, ".md") }

var (
	// inlineLink is [text](target) or ![alt](target), target up to a space
	// (a title may follow) or the closing parenthesis.
	inlineLink = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	// refDef is a reference definition: [label]: target.
	refDef = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)`)
	// htmlLink is href="…" or src="…".
	htmlLink = regexp.MustCompile(`(?:href|src)\s*=\s*"([^"]*)"`)
	// codeSpan is an inline code span, whose text is not a link.
	codeSpan = regexp.MustCompile("`[^`]*`")
)

// link is one link target in a page.
type link struct {
	line   int
	target string
}

// links returns the link targets of a Markdown page, outside fenced code
// blocks and code spans.
func links(page []byte) []link {
	var out []link
	fenced := false
	sc := bufio.NewScanner(bytes.NewReader(page))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		line = codeSpan.ReplaceAllString(line, "")
		for _, re := range []*regexp.Regexp{inlineLink, refDef, htmlLink} {
			for _, m := range re.FindAllStringSubmatch(line, -1) {
				out = append(out, link{n, m[1]})
			}
		}
	}
	return out
}

// anchors returns the fragments GitHub gives the headings of a page:
// lower case, spaces to '-', punctuation but '-' and '_' dropped, and
// "-1", "-2"… after repeats.
func anchors(page []byte) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	fenced := false
	for _, line := range strings.Split(string(page), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fenced = !fenced
			continue
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(h) {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') || r > 0x7f:
				b.WriteRune(r)
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// checkLink says what is wrong with a link from page (relative to the
// repository root), or "" when it is fine: a relative link must name a
// file or directory of the repository, and a fragment a heading of the
// Markdown page it points at.
func checkLink(page, target string) string {
	switch {
	case strings.HasPrefix(target, "https://"), strings.HasPrefix(target, "http://"), strings.HasPrefix(target, "mailto:"):
		return ""
	case strings.Contains(target, "://"), strings.HasPrefix(target, "file:"):
		return "not a web link or a path in the repository"
	case strings.HasPrefix(target, "/"):
		return "an absolute path: link relative to the page"
	}
	path, frag, _ := strings.Cut(target, "#")
	resolved := page
	if path != "" {
		resolved = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(page), path)))
		if resolved == ".." || strings.HasPrefix(resolved, "../") {
			return "outside the repository"
		}
	}
	full := filepath.Join(repoRoot, filepath.FromSlash(resolved))
	if _, err := os.Stat(full); err != nil {
		return "no such file in the repository"
	}
	if frag != "" && strings.HasSuffix(resolved, ".md") {
		data, err := os.ReadFile(full)
		if err != nil {
			return err.Error()
		}
		if !anchors(data)[frag] {
			return fmt.Sprintf("%s has no heading #%s", resolved, frag)
		}
	}
	return ""
}

// TestLinksStayInRepository checks every link of every Markdown file of
// the repository (README.md, docs/, testdata/…): relative links resolve to
// files that exist in the repository, fragments to headings, and nothing
// points outside it (such as a design document beside the checkout).
func TestLinksStayInRepository(t *testing.T) {
	files := markdownFiles(t)
	for _, want := range []string{"README.md", "docs/README.md", "testdata/palyra-v1/README.md"} {
		found := false
		for _, f := range files {
			found = found || f == want
		}
		if !found {
			t.Errorf("%s not found: the walk is wrong", want)
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range links(data) {
			if problem := checkLink(f, l.target); problem != "" {
				t.Errorf("%s:%d: link %s: %s", f, l.line, l.target, problem)
			}
		}
	}
}

// TestNoReferencesOutsideRepository refuses mentions, in Markdown and Go
// files, of documents that are not in the repository: a reader of a
// fresh clone cannot follow them. The contracts are in docs/.
func TestNoReferencesOutsideRepository(t *testing.T) {
	forbidden := []string{".." + "/shared", "DESIGN" + ".md"}
	for _, rel := range repoFiles(t, ".md", ".go", ".tmpl") {
		data, err := os.ReadFile(filepath.Join(repoRoot, rel))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			for _, s := range forbidden {
				if strings.Contains(line, s) {
					t.Errorf("%s:%d: mentions %s, which is not in the repository (point to docs/ instead)", rel, i+1, s)
				}
			}
		}
	}
}

// TestCheckLink pins what the link check accepts and refuses, so that a
// broken checker cannot pass everything.
func TestCheckLink(t *testing.T) {
	for _, tc := range []struct {
		page, target string
		ok           bool
	}{
		{"README.md", "docs/abi.md", true},
		{"README.md", "docs/", true},
		{"README.md", "https://example.com/x", true},
		{"docs/journal.md", "../host/layout.go", true},
		{"docs/journal.md", "trust-store.md#decisions", true},
		{"docs/journal.md", "#tables", true},
		{"docs/README.md", "cli/palyra.md#palyra-skills-install", true},
		{"README.md", "../outside/SPEC.md", false},
		{"testdata/palyra-v1/README.md", "../../../outside/SPEC.md", false},
		{"docs/journal.md", "../../outside.md", false},
		{"README.md", "docs/missing.md", false},
		{"README.md", "/etc/passwd", false},
		{"README.md", "file:///etc/passwd", false},
		{"docs/journal.md", "trust-store.md#no-such-heading", false},
	} {
		problem := checkLink(tc.page, tc.target)
		if (problem == "") != tc.ok {
			t.Errorf("checkLink(%q, %q) = %q, want ok=%v", tc.page, tc.target, problem, tc.ok)
		}
	}
}

func TestLinksParsing(t *testing.T) {
	page := []byte("See [a](x.md) and ![i](img.png \"t\").\n" +
		"`[not](code.md)`\n" +
		"```\n[not](fenced.md)\n```\n" +
		"[ref]: ../outside/SPEC.md\n" +
		"<a href=\"y.md#h\">y</a>\n")
	var got []string
	for _, l := range links(page) {
		got = append(got, fmt.Sprintf("%d:%s", l.line, l.target))
	}
	want := "1:x.md 1:img.png 6:../outside/SPEC.md 7:y.md#h"
	if strings.Join(got, " ") != want {
		t.Errorf("links = %v, want %s", got, want)
	}
	a := anchors([]byte("# palyra skills install\n## Q & A\n## Q & A\n```\n# not\n```\n"))
	for _, want := range []string{"palyra-skills-install", "q--a", "q--a-1"} {
		if !a[want] {
			t.Errorf("anchors lack %q: %v", want, a)
		}
	}
	if a["not"] {
		t.Error("a heading inside a code block counted")
	}
}

// TestGitignoreCoversWalkthrough checks that what the README's "The road a
// skill takes" writes into the checkout — a private key above all — is
// ignored by git, so that it cannot be committed by accident.
func TestGitignoreCoversWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	if err := exec.Command("git", "-C", repoRoot, "rev-parse", "--is-inside-work-tree").Run(); err != nil {
		t.Skip("not a git checkout")
	}
	for _, p := range []string{
		"keys/publisher.key", "keys/publisher.pub", // palyra-gen keygen --out keys
		"examples/echo/modules/echo.wasm",  // palyra-gen build examples/echo
		"examples/echo/.palyra/build.json", // its build record
		"echo.palyra-skill",                // palyra-gen package … --out echo.palyra-skill
		"st/skills/journal.sqlite3",        // palyra --state-dir st …
		"bin/palyra",                       // make build
	} {
		cmd := exec.Command("git", "-C", repoRoot, "check-ignore", "-q", "--no-index", p)
		if err := cmd.Run(); err != nil {
			t.Errorf("%s is not ignored by .gitignore (git check-ignore: %v)", p, err)
		}
	}
}
