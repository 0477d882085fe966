package clidoc

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func tree() *cobra.Command {
	root := &cobra.Command{Use: "tool", Short: "Do <things>"}
	root.PersistentFlags().String("state-dir", "", "state directory")
	grp := &cobra.Command{Use: "skills", Short: "Manage skills"}
	run := &cobra.Command{
		Use: "run ID TOOL", Short: "Run a tool", Long: "Run calls TOOL.\n\n  indented <text>",
		Example: "tool skills run a b", RunE: func(*cobra.Command, []string) error { return nil },
	}
	run.Flags().String("input", "", "the input")
	hidden := &cobra.Command{Use: "secret", Hidden: true, RunE: func(*cobra.Command, []string) error { return nil }}
	grp.AddCommand(run, hidden)
	root.AddCommand(grp)
	return root
}

func TestMarkdown(t *testing.T) {
	page := string(Markdown(tree(), "x/cmd/tool"))
	for _, want := range []string{
		"# tool command reference\n",
		"DO NOT EDIT",
		"- [tool skills run](#tool-skills-run) — Run a tool\n",
		"Do &lt;things&gt;",
		"## tool skills run\n\nRun a tool\n\n```text\nRun calls TOOL.\n\n  indented <text>\n```\n",
		"Usage:\n\n```text\ntool skills run ID TOOL [flags]\n```\n",
		"Examples:\n\n```text\ntool skills run a b\n```\n",
		"      --input string   the input\n",
		"Global flags:\n\n```text\n      --state-dir string   state directory\n```\n",
		"## tool completion bash\n", // added as Execute would
		"tool skills [command]",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	for _, bad := range []string{"secret", "## tool help"} {
		if strings.Contains(page, bad) {
			t.Errorf("page has %q (hidden or help command)", bad)
		}
	}
	if !strings.HasSuffix(page, "\n") || strings.HasSuffix(page, "\n\n") {
		t.Error("page does not end with one newline")
	}
	if again := string(Markdown(tree(), "x/cmd/tool")); again != page {
		t.Error("two renderings of one tree differ")
	}
}

func TestGolden(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tool.md")
	page := Markdown(tree(), "x/cmd/tool")

	t.Setenv(UpdateEnv, "")
	if err := Golden(path, page, "make docs"); !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "make docs") {
		t.Errorf("missing page: %v, want ErrStale naming make docs", err)
	}
	t.Setenv(UpdateEnv, "1")
	if err := Golden(path, page, "make docs"); err != nil {
		t.Fatal(err)
	}
	t.Setenv(UpdateEnv, "")
	if err := Golden(path, page, "make docs"); err != nil {
		t.Errorf("fresh page: %v", err)
	}
	changed := tree()
	changed.Commands()[0].Commands()[0].Flags().Bool("json", false, "print JSON")
	err := Golden(path, Markdown(changed, "x/cmd/tool"), "make docs")
	if !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "line ") {
		t.Errorf("stale page: %v, want ErrStale with the line", err)
	}

	wd, _ := os.Getwd()
	leaky := &cobra.Command{Use: "leaky", Run: func(*cobra.Command, []string) {}}
	leaky.Flags().String("dir", wd, "a default computed from the machine")
	if err := Golden(filepath.Join(dir, "leaky.md"), Markdown(leaky, "x"), "make docs"); err == nil || !strings.Contains(err.Error(), "path of this machine") {
		t.Errorf("page with the working directory: %v, want refused", err)
	}
}

func TestAnchor(t *testing.T) {
	for in, want := range map[string]string{
		"palyra skills install": "palyra-skills-install",
		"palyra-gen new skill":  "palyra-gen-new-skill",
		"A_b (c)":               "a_b-c",
	} {
		if got := Anchor(in); got != want {
			t.Errorf("Anchor(%q) = %q, want %q", in, got, want)
		}
	}
}
