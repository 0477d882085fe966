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
	cmd.Flags().BoolVar(&f.requested, "grant-requested", false, "grant what the manifest requests, except shared secrets (global, principal:ID, channel:ID): those only by --grant")
	cmd.Flags().StringArrayVar(&f.grants, "grant", nil, "grant one requested capability: http:HOST, read:ROOT, write:ROOT or secret:SCOPE/KEY (repeatable)")
}

// parse returns the named grants, nil when none were named.
func (f *grantFlags) parse() (*host.Grants, error) {
	if len(f.grants) == 0 {
		return nil, nil
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
granted, what was denied, which secrets it can read, and the quotas it runs
under (the lower of the manifest's and the policy's). With --grant,
--grant-requested or --none it replaces the grants first.

--grant-requested grants everything requested except shared secrets (scopes
global, principal:ID, channel:ID): a skill gets only its own skill:ID
secrets that way, and a warning names each shared secret left out. Grant
those by name, alone or with --grant-requested:
  palyra skills grants ID --grant-requested --grant secret:global/api_key
'palyra secrets list' shows, for every secret, the skills that can read it.`,
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
					var also host.Grants
					if g != nil {
						also = *g
					}
					rep, err = h.GrantRequested(cmd.Context(), args[0], also, "")
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
				if err := printGrants(cmd.OutOrStdout(), rep); err != nil {
					return err
				}
				if flags.requested {
					warnWithheld(cmd.ErrOrStderr(), rep.SkillID, rep.Withheld)
				}
				return nil
			})
		},
	}
	flags.register(cmd)
	cmd.Flags().BoolVar(&none, "none", false, "revoke every grant")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.ValidArgsFunction = c.completeSkills(false)
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
	for _, s := range r.Secrets {
		mark, note := "denied", ""
		switch {
		case s.Foreign:
			note = "\t(another skill's secret: never granted)"
		case s.Granted:
			mark = "granted"
			note = "\t(the skill can read it)"
		case s.Shared:
			note = "\t(shared: grant by name with --grant " + s.Grant + ")"
		}
		fmt.Fprintf(w, "  secret\t%s/%s\t%s%s\n", s.Scope, s.Key, mark, note)
	}
	fmt.Fprintf(w, "  timeout\t%d ms\n  memory\t%d bytes\n  fuel\t%d per call\n  tables\t%d elements\n", r.WallClockTimeoutMS, r.MaxMemoryBytes, r.FuelBudget, r.MaxTableElements)
	return w.Flush()
}

// warnWithheld tells the operator which requested shared secrets granting
// "what is requested" left out, and how to grant each.
func warnWithheld(w io.Writer, skillID string, withheld []host.SecretAccess) {
	for _, s := range withheld {
		fmt.Fprintf(w, "warning: --grant-requested does not grant shared secret %s/%s; to let %s read it: palyra skills grants %s --grant %s\n",
			s.Scope, s.Key, skillID, skillID, s.Grant)
	}
}
