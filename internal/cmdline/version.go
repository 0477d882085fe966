package cmdline

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// ModulePath is the module both CLIs are built from.
const ModulePath = "github.com/palyra/palyra-go"

// Version is what a binary knows about how it was built.
type Version struct {
	Program string `json:"program"`
	Module  string `json:"module"`
	// Version is the module version: a release tag (v1.2.0), a
	// pseudo-version derived from the commit, or "(devel)".
	Version   string `json:"version"`
	Revision  string `json:"vcs_revision,omitempty"`
	Time      string `json:"vcs_time,omitempty"`
	Modified  bool   `json:"vcs_modified"`
	GoVersion string `json:"go_version"`
}

// ReadVersion describes the running binary from its embedded build info.
func ReadVersion(program string) Version {
	bi, _ := debug.ReadBuildInfo()
	return versionFrom(program, bi)
}

func versionFrom(program string, bi *debug.BuildInfo) Version {
	v := Version{Program: program, Module: ModulePath, Version: "(devel)"}
	if bi == nil {
		v.Version = "unknown"
		return v
	}
	v.GoVersion = bi.GoVersion
	switch {
	case bi.Main.Path == ModulePath:
		if bi.Main.Version != "" {
			v.Version = bi.Main.Version
		}
	default: // built into another program: palyra-go is a dependency
		for _, d := range bi.Deps {
			if d.Path == ModulePath {
				v.Version = d.Version
				if d.Replace != nil && d.Replace.Version != "" {
					v.Version = d.Replace.Version
				}
			}
		}
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the one-line --version output, e.g.
// "palyra v0.3.0 (github.com/palyra/palyra-go, revision 1a2b3c4d5e6f, 2026-12-05T08:00:00Z, modified) go1.26.8".
func (v Version) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s (%s", v.Program, v.Version, v.Module)
	if v.Revision != "" {
		rev := v.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		fmt.Fprintf(&b, ", revision %s", rev)
		if v.Time != "" {
			fmt.Fprintf(&b, ", %s", v.Time)
		}
		if v.Modified {
			b.WriteString(", modified")
		}
	}
	b.WriteString(")")
	if v.GoVersion != "" {
		b.WriteString(" " + v.GoVersion)
	}
	return b.String()
}

// AddVersion gives root --version (with --json: as JSON) and a
// `version [--json]` subcommand, both printing ReadVersion(root.Name()).
// Call it before Harden.
func AddVersion(root *cobra.Command) {
	v := ReadVersion(root.Name())
	print := func(cmd *cobra.Command, asJSON bool) error {
		if asJSON {
			return writeJSON(cmd.OutOrStdout(), v)
		}
		_, err := fmt.Fprintln(cmd.OutOrStdout(), v.String())
		return err
	}
	var showVersion, rootJSON bool
	root.Flags().BoolVar(&showVersion, "version", false, "print the version and exit (with --json: as JSON)")
	root.Flags().BoolVar(&rootJSON, "json", false, "with --version: print it as JSON")
	root.RunE = func(cmd *cobra.Command, _ []string) error {
		if showVersion {
			return print(cmd, rootJSON)
		}
		if rootJSON {
			return Usagef("--json goes with --version or with a command")
		}
		return cmd.Help()
	}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, VCS revision and Go version of this binary",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return print(cmd, asJSON) },
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	root.AddCommand(cmd)
}
