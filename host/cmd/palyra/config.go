package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/palyra/palyra-go/host"
)

// configStore is what the config and vars commands edit: one of the
// host's two operator stores.
type configStore struct {
	noun        string // "config", "var"
	set         func(h *host.Host, ctx context.Context, id, key, value string) (*host.ConfigReport, error)
	unset       func(h *host.Host, ctx context.Context, id, key string) (*host.ConfigReport, error)
	entries     func(r *host.ConfigReport) []host.ConfigValue
	short, long string
}

func (c *cli) skillsConfigCommand() *cobra.Command {
	return c.operatorStoreCommand("config", configStore{
		noun: "config",
		set: func(h *host.Host, ctx context.Context, id, key, value string) (*host.ConfigReport, error) {
			return h.SetConfig(ctx, id, key, value, "")
		},
		unset: func(h *host.Host, ctx context.Context, id, key string) (*host.ConfigReport, error) {
			return h.UnsetConfig(ctx, id, key, "")
		},
		entries: func(r *host.ConfigReport) []host.ConfigValue { return r.Config },
		short:   "Show or change the operator config a skill reads with config_get",
		long: `Config shows or changes the values a skill's guest reads with Extism's
config_get: the defaults of its manifest's [operator.config], overlaid by the
operator's values.

  palyra skills config ID                    list (same as: list)
  palyra skills config ID list [--json]      every key: value, source, type
  palyra skills config ID set KEY VALUE      set the operator's value
  palyra skills config ID unset KEY          back to the manifest's default

When the manifest declares [operator.config], only its properties may be set
and VALUE must parse as the property's type: string (one of enum_values when
declared), integer (42), number (0.5, 1e3), boolean (true or false) or
string_list (a JSON array of strings: '["a","b"]'). A VALUE that starts with
'-' follows '--': palyra skills config ID set offset -- -1. Without
[operator.config] any key of [A-Za-z0-9._-] may be set, with a warning: it
reaches config_get unchecked.

Values are kept in the journal per skill id: they carry over upgrades and go
with 'palyra skills remove'. Every change is an event in 'palyra skills info'
naming who changed which key. Config is not for secrets (use 'palyra
secrets'): values of properties marked redacted, or whose key looks like a
secret's, are stored but never shown. A value an upgrade no longer accepts,
or a required property with no value, keeps the skill from running until it
is set or unset; 'list' names the problem.`,
	})
}

func (c *cli) skillsVarsCommand() *cobra.Command {
	return c.operatorStoreCommand("vars", configStore{
		noun: "var",
		set: func(h *host.Host, ctx context.Context, id, key, value string) (*host.ConfigReport, error) {
			return h.SetVar(ctx, id, key, value, "")
		},
		unset: func(h *host.Host, ctx context.Context, id, key string) (*host.ConfigReport, error) {
			return h.UnsetVar(ctx, id, key, "")
		},
		entries: func(r *host.ConfigReport) []host.ConfigValue { return r.Vars },
		short:   "Show or change the initial Extism vars of a skill",
		long: `Vars shows or changes the initial values of a skill's Extism vars (var_get):
every load of the skill starts with them, and the guest's var_set changes only
its running copy (a load happens on the first call and after any change to
the skill: upgrade, grants, config, vars).

  palyra skills vars ID                      list (same as: list)
  palyra skills vars ID list [--json]
  palyra skills vars ID set KEY VALUE
  palyra skills vars ID unset KEY

Keys use [A-Za-z0-9._-]; the initial vars take at most 256 KiB in all. Like
config, they carry over upgrades, go with 'palyra skills remove', and each
change is an event.`,
	})
}

// operatorStoreCommand is `skills NAME ID [list | set KEY VALUE | unset KEY]`.
func (c *cli) operatorStoreCommand(name string, s configStore) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   name + " ID [list | set KEY VALUE | unset KEY]",
		Short: s.short,
		Long:  s.long,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("skills %s: want a skill id", name)
			}
			verb, rest := "list", 0
			if len(args) > 1 {
				verb, rest = args[1], len(args)-2
			}
			want := map[string]int{"list": 0, "set": 2, "unset": 1}
			n, ok := want[verb]
			switch {
			case !ok:
				return fmt.Errorf("skills %s %s: unknown action %q (list, set KEY VALUE, unset KEY)", name, args[0], verb)
			case rest != n:
				return fmt.Errorf("skills %s %s %s: want %d argument(s) after %q, got %d", name, args[0], verb, n, verb, rest)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withHost(cmd, func(h *host.Host) error {
				id, verb := args[0], "list"
				if len(args) > 1 {
					verb = args[1]
				}
				var rep *host.ConfigReport
				var err error
				switch verb {
				case "list":
					rep, err = h.Config(cmd.Context(), id)
				case "set":
					rep, err = s.set(h, cmd.Context(), id, args[2], args[3])
				case "unset":
					rep, err = s.unset(h, cmd.Context(), id, args[2])
				}
				if err != nil {
					return err
				}
				for _, w := range rep.Warnings {
					fmt.Fprintln(cmd.ErrOrStderr(), "warning:", termSafe(w))
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), rep)
				}
				out := cmd.OutOrStdout()
				switch verb {
				case "set":
					v := find(s.entries(rep), args[2])
					shown := v.Value
					if v.Redacted {
						shown = "[redacted]"
					}
					fmt.Fprintf(out, "%s %s: %s %s = %s\n", rep.SkillID, rep.Version, s.noun, args[2], termSafe(shown))
				case "unset":
					fmt.Fprintf(out, "%s %s: %s %s unset", rep.SkillID, rep.Version, s.noun, args[2])
					if v := find(s.entries(rep), args[2]); v.Source == host.ConfigFromDefault && !v.Redacted {
						fmt.Fprintf(out, " (default %s)", termSafe(v.Value))
					}
					fmt.Fprintln(out)
				default:
					if err := printConfig(out, s.entries(rep)); err != nil {
						return err
					}
				}
				for _, p := range rep.Problems {
					fmt.Fprintln(cmd.ErrOrStderr(), "problem:", termSafe(p))
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the skill's config and vars as JSON")
	return cmd
}

func find(vs []host.ConfigValue, key string) host.ConfigValue {
	for _, v := range vs {
		if v.Key == key {
			return v
		}
	}
	return host.ConfigValue{}
}

// printConfig prints one line per key: KEY VALUE SOURCE TYPE, "-" for no
// value, [redacted] for a value never shown.
func printConfig(out io.Writer, vs []host.ConfigValue) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "KEY\tVALUE\tSOURCE\tTYPE")
	for _, v := range vs {
		val := termSafe(v.Value)
		switch {
		case v.Redacted && v.Source != host.ConfigNotSet:
			val = "[redacted]"
		case v.Source == host.ConfigNotSet:
			val = "-"
		}
		typ := v.Type
		if typ == "" {
			typ = "-"
		}
		if v.Required {
			typ += " (required)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", termSafe(v.Key), val, v.Source, typ)
	}
	return w.Flush()
}
