package gen

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/palyra/palyra-go/internal/cmdline"
	"github.com/palyra/palyra-go/templates"
)

// NewCommand is `new skill NAME [--dir D] [--publisher P] [--template T]
// [--module M] [--palyra-dir PATH] [--force] [--json]`.
func NewCommand() *cobra.Command {
	newCmd := &cobra.Command{
		Use:   "new",
		Short: "Create a new skill repository from a template",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmdline.Usagef("say what to create: palyra-gen new skill NAME")
		},
	}
	var opts ScaffoldOptions
	var asJSON bool
	skill := &cobra.Command{
		Use:   "skill NAME",
		Short: "Scaffold a Go skill: skill.toml, typed tools, unit test, go.mod, go:generate",
		Long: "Scaffold a Go skill repository in --dir (default ./NAME). Its skill_id is\n" +
			"PUBLISHER.NAME. The new go.mod has palyra-gen as a tool and, since palyra-go is\n" +
			"not published, replaces it with a local checkout (--palyra-dir, by default the\n" +
			"one palyra-gen was built from). Generated bindings and go.sum are written too,\n" +
			"so the repository builds and tests right away. Nothing is written if any step\n" +
			"fails. Templates: " + templateNames() + " (see palyra-gen templates list).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := Scaffold(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(w, res)
			}
			fmt.Fprintf(w, "created %s in %s from the %s template\n", res.SkillID, res.Dir, res.Template)
			for _, f := range res.Files {
				fmt.Fprintf(w, "  %s\n", f)
			}
			fmt.Fprintf(w, "tools: %s\n", strings.Join(res.Tools, ", "))
			fmt.Fprintf(w, "next: cd %s && go test ./... && go tool palyra-gen build\n", res.Dir)
			return nil
		},
	}
	f := skill.Flags()
	f.StringVar(&opts.Dir, "dir", "", "directory to create (default ./NAME)")
	f.StringVar(&opts.Publisher, "publisher", DefaultPublisher, "publisher; the skill_id is PUBLISHER.NAME")
	f.StringVar(&opts.Template, "template", templates.Default, "template: "+templateNames())
	f.StringVar(&opts.Module, "module", "", "Go module path (default NAME)")
	f.StringVar(&opts.PalyraDir, "palyra-dir", "", "local palyra-go checkout for the replace directive (default: the one palyra-gen was built from)")
	f.BoolVar(&opts.Force, "force", false, "write into a non-empty directory, replacing files of the same names")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	_ = skill.RegisterFlagCompletionFunc("template", completeTemplates)
	newCmd.AddCommand(skill)
	return newCmd
}

// completeTemplates completes --template with the template names.
func completeTemplates(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	for _, t := range templates.List() {
		out = append(out, cobra.CompletionWithDesc(t.Name, t.Description))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func templateNames() string {
	var names []string
	for _, t := range templates.List() {
		names = append(names, t.Name)
	}
	return strings.Join(names, ", ")
}

// TemplatesCommand is `templates list [--json]`.
func TemplatesCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "templates",
		Short: "List the skill templates of palyra-gen new skill",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmdline.Usagef("say what to do: palyra-gen templates list")
		},
	}
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the skill templates",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(w, templates.List())
			}
			for _, t := range templates.List() {
				caps := "none"
				if len(t.Capabilities) > 0 {
					caps = strings.Join(t.Capabilities, ", ")
				}
				def := ""
				if t.Name == templates.Default {
					def = " (default)"
				}
				fmt.Fprintf(w, "%-6s %s%s\n       capabilities: %s\n", t.Name, t.Description, def, caps)
			}
			return nil
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print the templates as JSON")
	root.AddCommand(list)
	return root
}

// GenerateCommand is `generate [DIR] [--check] [--json]`, which
// //go:generate runs in a skill's package directory.
func GenerateCommand() *cobra.Command {
	var opts GenerateOptions
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "generate [DIR]",
		Short: "Write tool wrappers (" + GeneratedFile + ") and skill.toml tool tables from //palyra:tool functions",
		Long: "Generate loads the Go package in DIR, finds the functions marked //palyra:tool\n" +
			"and writes " + GeneratedFile + " (a //go:wasmexport wrapper per tool that decodes\n" +
			"its JSON input strictly and encodes its output) and the [[entrypoints.tools]]\n" +
			"tables of skill.toml, with JSON Schemas derived from the Go types. The rest of\n" +
			"skill.toml, comments included, is left as it is, as are the tools' risk flags.\n" +
			"With --check nothing is written, and the command fails if a file is stale.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := Generate(cmd.Context(), dirArg(args), opts)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(w, res)
			}
			var names []string
			for _, t := range res.Tools {
				names = append(names, t.Name)
			}
			switch {
			case opts.Check:
				fmt.Fprintf(w, "up to date: %s (tools: %s)\n", strings.Join(res.Files, ", "), strings.Join(names, ", "))
			case len(res.Changed) == 0:
				fmt.Fprintf(w, "unchanged: %s (tools: %s)\n", strings.Join(res.Files, ", "), strings.Join(names, ", "))
			default:
				fmt.Fprintf(w, "wrote %s (tools: %s)\n", strings.Join(res.Changed, ", "), strings.Join(names, ", "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&opts.Check, "check", false, "write nothing; fail if a generated file is stale (for CI)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// ClientCommand is `client (--manifest FILE | --artifact FILE) --package
// NAME --out DIR [--json]`.
func ClientCommand() *cobra.Command {
	var opts ClientOptions
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "client (--manifest skill.toml | --artifact FILE) --package NAME --out DIR",
		Short: "Generate a typed Go client for a skill's tools",
		Long: "Client writes DIR/" + ClientFile + ": a Go package with one typed method per tool\n" +
			"of the skill, over a Caller interface that a Palyra host satisfies, and Go types\n" +
			"generated from the tools' JSON Schemas. With --artifact, skill.toml is read from\n" +
			"a .palyra-skill file whose integrity is verified; whether its publisher is\n" +
			"trusted is not checked, since generating code runs nothing from it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := GenerateClient(cmd.Context(), opts)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(w, res)
			}
			fmt.Fprintf(w, "wrote %s: package %s for %s %s\n", res.File, res.Package, res.SkillID, res.Version)
			fmt.Fprintf(w, "methods: %s\n", strings.Join(res.Methods, ", "))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Manifest, "manifest", "", "skill.toml to read")
	f.StringVar(&opts.Artifact, "artifact", "", ".palyra-skill artifact to read skill.toml from")
	f.StringVar(&opts.Package, "package", "", "Go package name of the client (required)")
	f.StringVar(&opts.Out, "out", "", "directory to write the client into (required)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.MarkFlagsOneRequired("manifest", "artifact")
	cmd.MarkFlagsMutuallyExclusive("manifest", "artifact")
	_ = cmd.MarkFlagRequired("package")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
