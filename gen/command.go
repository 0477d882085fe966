package gen

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Command returns the palyra-gen root command with its subcommands
// (new, templates, generate, client, keygen, build, package). Errors are returned, not printed: the caller
// prints them to stderr and exits non-zero.
func Command() *cobra.Command {
	root := &cobra.Command{
		Use:           "palyra-gen",
		Short:         "Scaffold, generate, build, package and sign Palyra skills",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(NewCommand(), TemplatesCommand(), GenerateCommand(), ClientCommand(),
		KeygenCommand(), BuildCommand(), PackageCommand())
	return root
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

// BuildCommand is `build [DIR] [--name N] [--json]`.
func BuildCommand() *cobra.Command {
	var opts BuildOptions
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "build [DIR]",
		Short: "Compile the Go skill in DIR to modules/NAME.wasm (reproducibly)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := Build(cmd.Context(), dirArg(args), opts)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(w, res)
			}
			r := res.Record
			fmt.Fprintf(w, "built %s (%s, sha256 %s) from %s with %s\n",
				r.Path, humanSize(r.Size), r.SHA256, r.MainPackage, r.GoVersion)
			fmt.Fprintf(w, "recorded %d Go modules in %s\n", len(r.GoModules), BuildRecordPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.Name, "name", "", "module name (default: the last dot-segment of skill_id)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// PackageCommand is `package [DIR] --key FILE|- [--out FILE]
// [--store-modules] [--json]`. An operator CLI can mount it under another
// name (e.g. set Use to "build [DIR]" for `palyra skills package build`).
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
