package cmdline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestVersionFrom(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0c3cd5d8ce8d2091d8b1debe08c18ec85a49bd1b"},
		{Key: "vcs.time", Value: "2026-12-05T08:28:25Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"no build info", nil, "palyra unknown (github.com/palyra/palyra-go)"},
		{"devel without vcs", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: ModulePath, Version: "(devel)"}},
			"palyra (devel) (github.com/palyra/palyra-go) go1.26.8"},
		{"release with vcs", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: ModulePath, Version: "v1.2.0"}, Settings: vcs},
			"palyra v1.2.0 (github.com/palyra/palyra-go, revision 0c3cd5d8ce8d, 2026-12-05T08:28:25Z, modified) go1.26.8"},
		{"a dependency", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "example.com/app"},
			Deps: []*debug.Module{{Path: "golang.org/x/mod", Version: "v0.42.0"}, {Path: ModulePath, Version: "v0.9.1"}}},
			"palyra v0.9.1 (github.com/palyra/palyra-go) go1.26.8"},
	} {
		if got := versionFrom("palyra", tc.bi).String(); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("boom"), 1},
		{Usagef("bad"), 2},
		{fmt.Errorf("wrapped: %w", Usagef("bad")), 2},
		{Reported(Usagef("bad")), 2},
		{Reported(errors.New("boom")), 1},
		{errors.New(`unknown command "x" for "palyra"`), 2},
		{errors.New(`required flag(s) "key" not set`), 2},
	} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func testRoot() *cobra.Command {
	root := &cobra.Command{Use: "tool", SilenceErrors: true, SilenceUsage: true}
	group := &cobra.Command{Use: "group"}
	var asJSON bool
	leaf := &cobra.Command{Use: "leaf ARG", Args: cobra.ExactArgs(1), RunE: func(*cobra.Command, []string) error { return errors.New("leaf failed") }}
	leaf.Flags().BoolVar(&asJSON, "json", false, "")
	reported := &cobra.Command{Use: "reported", RunE: func(cmd *cobra.Command, _ []string) error {
		fmt.Fprintln(cmd.OutOrStdout(), `{"ok":false}`)
		return Reported(errors.New("already said"))
	}}
	reported.Flags().Bool("json", false, "")
	group.AddCommand(leaf, reported)
	root.AddCommand(group)
	AddVersion(root)
	Harden(root)
	return root
}

func TestExecute(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		code       int
		stdout     string // prefix; "{" means a JSON error object
		stderrPart string
	}{
		{[]string{"group", "lef"}, 2, "", `unknown command "lef" for "tool group"; did you mean leaf?`},
		{[]string{"group"}, 0, "Usage:", ""},
		{[]string{"group", "leaf"}, 2, "", "accepts 1 arg(s), received 0 (usage: tool group leaf ARG [flags])"},
		{[]string{"group", "leaf", "--nope"}, 2, "", "unknown flag: --nope"},
		{[]string{"group", "leaf", "x"}, 1, "", "tool: leaf failed"},
		{[]string{"group", "leaf", "x", "--json"}, 1, "{", "tool: leaf failed"},
		{[]string{"group", "leaf", "--json", "--nope"}, 2, "{", "unknown flag"},
		{[]string{"group", "reported", "--json"}, 1, `{"ok":false}`, "tool: already said"},
		{[]string{"completion", "nope"}, 2, "", "unknown command"},
		{[]string{"--version"}, 0, "tool ", ""},
		{[]string{"help", "group", "leaf"}, 0, "Usage:", ""},
		{[]string{"help", "group", "lef"}, 2, "", `unknown help topic "group lef"`},
	} {
		var stdout, stderr bytes.Buffer
		code := Execute(context.Background(), testRoot(), tc.args, &stdout, &stderr)
		if code != tc.code || !strings.HasPrefix(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderrPart) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", tc.args, code, stdout.String(), stderr.String())
			continue
		}
		if tc.stdout == "{" {
			var obj ErrorObject
			if err := json.Unmarshal(stdout.Bytes(), &obj); err != nil || obj.Error == "" || obj.ExitCode != tc.code {
				t.Errorf("%v: error object %q: %v", tc.args, stdout.String(), err)
			}
		}
		if tc.stdout == `{"ok":false}` && stdout.String() != "{\"ok\":false}\n" {
			t.Errorf("%v: a reported error printed more: %q", tc.args, stdout.String())
		}
	}
}
