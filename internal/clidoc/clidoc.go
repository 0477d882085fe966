// Package clidoc renders a cobra command tree as one Markdown page, the
// CLI references in docs/cli/, and keeps those pages current: each CLI's
// test renders its tree and compares it with the committed page
// ([Golden]), so a changed flag or help text fails the test until the page
// is regenerated with `make docs`.
//
// The page holds what --help prints (short and long help, usage line,
// examples, local and inherited flags) and nothing that depends on the
// machine or the moment: no date, and Golden refuses a page that contains
// the working, home, config or temporary directory (a flag default such as
// a state dir must be written as the rule that finds it, not as this
// machine's path).
package clidoc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// UpdateEnv names the environment variable that makes [Golden] rewrite the
// page instead of comparing it.
const UpdateEnv = "PALYRA_UPDATE_DOCS"

// Markdown renders root and every available command under it, depth
// first in cobra's order (sorted by name), as one page. source names the
// package the tree comes from, for the generated-file notice. It adds
// what cobra adds at Execute time (the completion command, the help flag),
// so the page matches what the binary prints.
func Markdown(root *cobra.Command, source string) []byte {
	root.InitDefaultCompletionCmd()
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s command reference\n\n", root.Name())
	fmt.Fprintf(&b, "<!-- Code generated from the cobra commands of %s by `make docs`; DO NOT EDIT. -->\n\n", source)
	b.WriteString("Every command and flag, as `--help` prints them.\n\n")
	writeIndex(&b, root, 0)
	b.WriteString("\n")
	walk(root, func(c *cobra.Command) { writeCommand(&b, c) })
	return append(bytes.TrimRight(b.Bytes(), "\n"), '\n')
}

// visible reports whether c belongs in the page: cobra's help command and
// hidden or deprecated commands do not.
func visible(c *cobra.Command) bool {
	return c.IsAvailableCommand() && !c.IsAdditionalHelpTopicCommand()
}

func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		if visible(sub) {
			walk(sub, fn)
		}
	}
}

func writeIndex(b *bytes.Buffer, c *cobra.Command, depth int) {
	fmt.Fprintf(b, "%s- [%s](#%s) — %s\n", strings.Repeat("  ", depth), c.CommandPath(), Anchor(c.CommandPath()), escape(c.Short))
	for _, sub := range c.Commands() {
		if visible(sub) {
			writeIndex(b, sub, depth+1)
		}
	}
}

func writeCommand(b *bytes.Buffer, c *cobra.Command) {
	c.InitDefaultHelpFlag()
	fmt.Fprintf(b, "## %s\n\n", c.CommandPath())
	if c.Short != "" {
		fmt.Fprintf(b, "%s\n\n", escape(c.Short))
	}
	if c.Long != "" {
		block(b, c.Long)
	}
	var usage []string
	if c.Runnable() {
		usage = append(usage, c.UseLine())
	}
	if c.HasAvailableSubCommands() {
		usage = append(usage, c.CommandPath()+" [command]")
	}
	b.WriteString("Usage:\n\n")
	block(b, strings.Join(usage, "\n"))
	if len(c.Aliases) > 0 {
		fmt.Fprintf(b, "Aliases: %s\n\n", strings.Join(c.Aliases, ", "))
	}
	if c.Example != "" {
		b.WriteString("Examples:\n\n")
		block(b, c.Example)
	}
	if f := c.NonInheritedFlags(); f.HasAvailableFlags() {
		b.WriteString("Flags:\n\n")
		block(b, f.FlagUsages())
	}
	if f := c.InheritedFlags(); f.HasAvailableFlags() {
		b.WriteString("Global flags:\n\n")
		block(b, f.FlagUsages())
	}
	var subs []string
	for _, sub := range c.Commands() {
		if visible(sub) {
			subs = append(subs, fmt.Sprintf("- [%s](#%s) — %s\n", sub.CommandPath(), Anchor(sub.CommandPath()), escape(sub.Short)))
		}
	}
	if len(subs) > 0 {
		b.WriteString("Commands:\n\n")
		b.WriteString(strings.Join(subs, ""))
		b.WriteString("\n")
	}
}

// block writes text as a fenced block, exactly as the terminal shows it.
func block(b *bytes.Buffer, text string) {
	fmt.Fprintf(b, "```text\n%s\n```\n\n", strings.TrimRight(text, "\n "))
}

// escape keeps a one-line help text from being read as HTML.
func escape(s string) string {
	return strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(s)
}

// Anchor is the fragment GitHub gives a heading: lower case, spaces to
// '-', and everything but letters, digits, '-' and '_' dropped.
func Anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('0' <= r && r <= '9'):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ErrStale is what [Golden] wraps when the committed page differs from
// the rendered one.
var ErrStale = errors.New("CLI reference is stale")

// Golden compares page with the file at path, or, when $PALYRA_UPDATE_DOCS
// is set, writes it there. regen is the command that rewrites the page,
// quoted in the error. Either way it first refuses a page that names this
// machine's working, home, config or temporary directory.
func Golden(path string, page []byte, regen string) error {
	if err := checkPortable(page); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if os.Getenv(UpdateEnv) != "" {
		return os.WriteFile(path, page, 0o644)
	}
	have, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: %v; regenerate it with: %s", ErrStale, err, regen)
	}
	if bytes.Equal(have, page) {
		return nil
	}
	hl, pl := strings.Split(string(have), "\n"), strings.Split(string(page), "\n")
	i := 0
	for i < len(hl) && i < len(pl) && hl[i] == pl[i] {
		i++
	}
	line := func(l []string) string {
		if i < len(l) {
			return fmt.Sprintf("%q", l[i])
		}
		return "end of file"
	}
	// The path is relative to the test's package; the repository-relative
	// name is what the reader looks for.
	shown := filepath.ToSlash(path)
	for strings.HasPrefix(shown, "../") {
		shown = shown[len("../"):]
	}
	return fmt.Errorf("%w: %s differs from the commands at line %d: committed %s, commands give %s; regenerate it with: %s",
		ErrStale, shown, i+1, line(hl), line(pl), regen)
}

// checkPortable refuses a page holding a path of this machine, which a
// flag default computed at start-up would put there.
func checkPortable(page []byte) error {
	var dirs []string
	if d, err := os.Getwd(); err == nil {
		dirs = append(dirs, d)
	}
	if d, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, d)
	}
	if d, err := os.UserConfigDir(); err == nil {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, os.TempDir())
	for _, d := range dirs {
		d = filepath.Clean(d)
		if d == "/" || d == "." || len(d) < 4 {
			continue
		}
		if bytes.Contains(page, []byte(d)) {
			return fmt.Errorf("the page contains %s, a path of this machine (a flag default?)", d)
		}
	}
	return nil
}
