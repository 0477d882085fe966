package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/palyra/palyra-go/host"
)

// grantFlags are the install and grants commands' ways to name grants.
type grantFlags struct {
	requested bool
	grants    []string // KIND:VALUE
}

func (f *grantFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.requested, "grant-requested", false, "grant every capability the manifest requests")
	cmd.Flags().StringArrayVar(&f.grants, "grant", nil, "grant one requested capability: http:HOST, read:ROOT, write:ROOT or secret:SCOPE/KEY (repeatable)")
}

// parse returns the named grants, nil when none were named.
func (f *grantFlags) parse() (*host.Grants, error) {
	if len(f.grants) == 0 {
		return nil, nil
	}
	if f.requested {
		return nil, fmt.Errorf("--grant and --grant-requested exclude each other")
	}
	g := &host.Grants{}
	for _, s := range f.grants {
		kind, val, ok := strings.Cut(s, ":")
		if !ok || val == "" {
			return nil, fmt.Errorf("--grant %q: want KIND:VALUE (http:HOST, read:ROOT, write:ROOT, secret:SCOPE/KEY)", s)
		}
		switch kind {
		case "http":
			g.HTTPHosts = append(g.HTTPHosts, val)
		case "read":
			g.ReadRoots = append(g.ReadRoots, val)
		case "write":
			g.WriteRoots = append(g.WriteRoots, val)
		case "secret":
			i := strings.LastIndex(val, "/")
			if i <= 0 || i == len(val)-1 {
				return nil, fmt.Errorf("--grant %q: want secret:SCOPE/KEY", s)
			}
			g.Secrets = append(g.Secrets, host.SecretGrant{Scope: val[:i], KeyNames: []string{val[i+1:]}})
		default:
			return nil, fmt.Errorf("--grant %q: unknown kind %q (http, read, write, secret)", s, kind)
		}
	}
	return g, nil
}

func (c *cli) skillsGrantsCommand() *cobra.Command {
	var flags grantFlags
	var asJSON, none bool
	cmd := &cobra.Command{
		Use:   "grants ID",
		Short: "Show (or, with --grant/--grant-requested/--none, replace) what a skill may do",
		Long: `Grants shows what the current version of a skill requests, what the operator
granted, what was denied, and the quotas it runs under (the lower of the
manifest's and the policy's). With --grant, --grant-requested or --none it
replaces the grants first.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withHost(cmd, func(h *host.Host) error {
				g, err := flags.parse()
				if err != nil {
					return err
				}
				var rep *host.GrantReport
				switch {
				case none:
					rep, err = h.SetGrants(cmd.Context(), args[0], host.Grants{}, "")
				case flags.requested:
					var cur *host.GrantReport
					if cur, err = h.Grants(cmd.Context(), args[0]); err == nil {
						rep, err = h.SetGrants(cmd.Context(), args[0], cur.Requested, "")
					}
				case g != nil:
					rep, err = h.SetGrants(cmd.Context(), args[0], *g, "")
				default:
					rep, err = h.Grants(cmd.Context(), args[0])
				}
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), rep)
				}
				return printGrants(cmd.OutOrStdout(), rep)
			})
		},
	}
	flags.register(cmd)
	cmd.Flags().BoolVar(&none, "none", false, "revoke every grant")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func printGrants(out io.Writer, r *host.GrantReport) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "%s %s\n", r.SkillID, r.Version)
	line := func(what string, req, got []string) {
		for _, x := range req {
			mark := "denied"
			for _, y := range got {
				if x == y {
					mark = "granted"
				}
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\n", what, x, mark)
		}
	}
	line("http", r.Requested.HTTPHosts, r.Granted.HTTPHosts)
	line("read", r.Requested.ReadRoots, r.Granted.ReadRoots)
	line("write", r.Requested.WriteRoots, r.Granted.WriteRoots)
	for _, s := range r.Requested.Secrets {
		var got []string
		for _, g := range r.Granted.Secrets {
			if g.Scope == s.Scope {
				got = g.KeyNames
			}
		}
		line("secret "+s.Scope, s.KeyNames, got)
	}
	fmt.Fprintf(w, "  timeout\t%d ms\n  memory\t%d bytes\n  fuel\t%d per call\n  tables\t%d elements\n", r.WallClockTimeoutMS, r.MaxMemoryBytes, r.FuelBudget, r.MaxTableElements)
	return w.Flush()
}
