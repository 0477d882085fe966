package gen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/palyra/palyra-go/internal/cmdline"
)

// Command returns the palyra-gen root command with its subcommands
// (new, templates, generate, client, keygen, build, package, version,
// completion). Errors are returned, not printed: [Main] prints them to
// stderr and exits 1, or 2 for a wrong command line.
func Command() *cobra.Command {
	root := &cobra.Command{
		Use:           "palyra-gen",
		Short:         "Scaffold, generate, build, package and sign Palyra skills",
		SilenceUsage:  true,
		SilenceErrors: true,
		Long: `palyra-gen is the skill author's CLI: scaffold a skill from a template,
generate its typed tool bindings, build it to Wasm reproducibly, and package
and sign it as a .palyra-skill artifact.

` + cmdline.ExitCodesHelp,
	}
	root.AddCommand(NewCommand(), TemplatesCommand(), GenerateCommand(), ClientCommand(),
		KeygenCommand(), BuildCommand(), PackageCommand())
	cmdline.AddVersion(root)
	cmdline.Harden(root)
	return root
}

// Main runs palyra-gen with args (nil: the process's arguments) and
// returns its exit status: 0 success, 1 failure, 2 wrong command line.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return cmdline.Execute(ctx, Command(), args, stdout, stderr)
}

// KeygenCommand is `keygen --out DIR [--json]`.
func KeygenCommand() *cobra.Command {
	var out string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Generate a publisher signing key (publisher.key, publisher.pub)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := Keygen(out, nil)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(w, res)
			}
			fmt.Fprintf(w, "wrote %s (private key, mode 0600: keep it secret)\n", res.PrivateKeyFile)
			fmt.Fprintf(w, "wrote %s\n", res.PublicKeyFile)
			fmt.Fprintf(w, "key id: %s\n", res.KeyID)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", ".", "directory to write the key pair into")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// BuildCommand is `build [DIR] [--name N] [--watch [--interval D]]
// [--install STATE_DIR] [--json]`.
func BuildCommand() *cobra.Command {
	var opts BuildOptions
	var asJSON, watch bool
	var install string
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "build [DIR]",
		Short: "Compile the Go skill in DIR to modules/NAME.wasm (reproducibly)",
		Long: "Build compiles the Go skill in DIR to modules/NAME.wasm for wasip1/wasm, reproducibly,\n" +
			"and records its inputs in " + BuildRecordPath + ".\n\n" +
			"With --watch it builds, then rebuilds whenever DIR's Go files, go.mod, go.sum,\n" +
			"skill.toml or assets change (polling every --interval), regenerating first when the\n" +
			"skill uses palyra-gen generate; a failed build is printed and watching goes on.\n" +
			"Interrupt to stop.\n\n" +
			"With --install STATE_DIR each successful build is also packaged, signed with a\n" +
			"development key kept in STATE_DIR/" + DevKeyFile + " (created once, mode 0600), and\n" +
			"installed into STATE_DIR: the key's publisher is trusted on first use, the skill\n" +
			"gets the capabilities it requests, and the same version may be reinstalled with\n" +
			"new content. Use a state dir of its own for development.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := dirArg(args)
			w := cmd.OutOrStdout()
			if watch {
				if asJSON {
					return errors.New("--json does not go with --watch")
				}
				return Watch(cmd.Context(), dir, WatchOptions{Build: opts, StateDir: install, Interval: interval, Log: w})
			}
			res, err := Build(cmd.Context(), dir, opts)
			if err != nil {
				return err
			}
			var inst *DevInstall
			if install != "" {
				if inst, err = Install(cmd.Context(), dir, install); err != nil {
					return err
				}
			}
			if asJSON {
				if install != "" {
					return writeJSON(w, struct {
						Build     *BuildResult `json:"build"`
						Installed *DevInstall  `json:"installed"`
					}{res, inst})
				}
				return writeJSON(w, res)
			}
			r := res.Record
			fmt.Fprintf(w, "built %s (%s, sha256 %s) from %s with %s\n",
				r.Path, humanSize(r.Size), r.SHA256, r.MainPackage, r.GoVersion)
			fmt.Fprintf(w, "recorded %d Go modules in %s\n", len(r.GoModules), BuildRecordPath)
			if inst != nil {
				fmt.Fprintf(w, "installed %s %s into %s (%s, artifact sha256 %s)\n",
					inst.SkillID, inst.Version, install, inst.TrustDecision, inst.ArtifactSHA256)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Name, "name", "", "module name (default: the last dot-segment of skill_id)")
	f.BoolVar(&watch, "watch", false, "rebuild whenever the sources change, until interrupted")
	f.DurationVar(&interval, "interval", DefaultWatchInterval, "with --watch, how often to look for changes")
	f.StringVar(&install, "install", "", "after each build, package with a dev key and install into this host state dir")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// PackageCommand is `package [DIR] --key FILE|- [--out FILE]
// [--store-modules] [--json]`. An operator CLI can mount it under another
// name (`palyra skills package` is this command).
func PackageCommand() *cobra.Command {
	var keyFile, out string
	var store, asJSON bool
	cmd := &cobra.Command{
		Use:   "package [DIR]",
		Short: "Package and sign the skill in DIR as SKILL_ID-VERSION.palyra-skill",
		Long: "Package reads skill.toml, modules/*.wasm, assets/ and the build record in DIR,\n" +
			"writes an SBOM and provenance, and signs the artifact with --key (a file, or - for\n" +
			"stdin; PKCS#8 PEM, or the 32-byte seed raw, in hex or base64). Timestamps come from\n" +
			"SOURCE_DATE_EPOCH when it is set.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var data []byte
			var err error
			if keyFile == "-" {
				data, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<16))
			} else {
				data, err = os.ReadFile(keyFile)
			}
			if err != nil {
				return fmt.Errorf("read key: %w", err)
			}
			key, err := LoadKey(data)
			if err != nil {
				if keyFile == "-" {
					return fmt.Errorf("--key -: %w", err)
				}
				return fmt.Errorf("--key %s: %w", keyFile, err)
			}
			res, err := Package(cmd.Context(), dirArg(args), PackageOptions{Key: key, Out: out, StoreModules: store})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(w, res)
			}
			fmt.Fprintf(w, "packaged %s %s -> %s (%s)\n", res.SkillID, res.Version, res.File, humanSize(int64(res.Size)))
			fmt.Fprintf(w, "signed by %s with %s\n", res.Publisher, res.KeyID)
			fmt.Fprintf(w, "payload sha256 %s\n", res.PayloadSHA256)
			for _, m := range res.Modules {
				fmt.Fprintf(w, "  %s  %s (%s)\n", m.SHA256, m.Path, m.Origin)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "signing key file, or - to read it from stdin (required)")
	cmd.Flags().StringVar(&out, "out", "", "artifact file (default DIR/SKILL_ID-VERSION.palyra-skill)")
	cmd.Flags().BoolVar(&store, "store-modules", false, "store modules and assets uncompressed")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}

func dirArg(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return "."
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
