package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/cmdline"
)

func (c *cli) lifecycleCommands() []*cobra.Command {
	return []*cobra.Command{
		c.skillsInstallCommand(), c.skillsListCommand(), c.skillsInfoCommand(),
		c.skillsCheckCommand(), c.skillsQuarantineCommand(), c.skillsEnableCommand(),
		c.skillsRemoveCommand(), c.skillsAuditCommand(), c.skillsGrantsCommand(),
		c.skillsRunCommand(),
	}
}

func (c *cli) skillsInstallCommand() *cobra.Command {
	var opts host.InstallOptions
	var grants grantFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "install FILE",
		Short: "Verify, audit and install a .palyra-skill artifact",
		Long: `Install verifies the artifact (format, signature, trust store), audits its
Wasm modules and capabilities, checks its [compat] range and that it does
not downgrade the installed version, then extracts it atomically and marks
it eligible. A refused artifact leaves no files and no trust-store change.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withHost(cmd, func(h *host.Host) error {
				g, err := grants.parse()
				if err != nil {
					return err
				}
				opts.Grants, opts.GrantRequested = g, grants.requested
				in, err := h.Install(cmd.Context(), args[0], opts)
				if err != nil {
					if asJSON {
						_ = writeJSON(cmd.OutOrStdout(), map[string]any{"file": args[0], "installed": false, "error": err.Error()})
						return cmdline.Reported(fmt.Errorf("install %s: %w", args[0], hintTOFU(err, opts.AllowTOFU)))
					}
					return fmt.Errorf("install %s: %w", args[0], hintTOFU(err, opts.AllowTOFU))
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), in)
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
				fmt.Fprintf(w, "installed %s %s (%s)\n", in.SkillID, in.Version, in.State)
				switch in.Replaced {
				case "":
				case in.Version:
					fmt.Fprintf(w, "  reinstalled:\tfresh copy of the same version\n")
				default:
					fmt.Fprintf(w, "  replaced:\t%s\n", in.Replaced)
				}
				fmt.Fprintf(w, "  publisher:\t%s\n  trust:\t%s\n  key:\t%s\n  dir:\t%s\n", in.Publisher, in.TrustDecision, in.KeyID, in.Dir)
				warned := map[string]bool{} // withheld shared secrets get a warning below
				for _, s := range in.Withheld {
					warned["secret "+s.Scope+"/"+s.Key] = opts.GrantRequested
				}
				for _, d := range in.Denied {
					if !warned[d] {
						fmt.Fprintf(w, "  not granted:\t%s (grant with 'palyra skills grants %s --grant …')\n", d, in.SkillID)
					}
				}
				for _, warn := range in.Warnings {
					fmt.Fprintf(w, "  warning:\t%s\n", warn)
				}
				if err := w.Flush(); err != nil {
					return err
				}
				if opts.GrantRequested {
					warnWithheld(cmd.ErrOrStderr(), in.SkillID, in.Withheld)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&opts.AllowTOFU, "allow-tofu", false, "pin an unknown publisher's key on first use")
	cmd.Flags().BoolVar(&opts.AllowDowngrade, "allow-downgrade", false, "install an older version, or different content under the installed version")
	grants.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func (c *cli) skillsListCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List installed skills and their states",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withSkills(cmd, func(h skillsBackend) error {
				list, err := h.List(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), list)
				}
				if len(list) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no skills installed")
					return nil
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "SKILL\tVERSION\tSTATE\tPUBLISHER\tTRUST\tREASON")
				for _, s := range list {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", s.SkillID, s.Version, s.State, s.Publisher, s.TrustDecision, oneLine(s.Reason))
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	return cmd
}

func (c *cli) skillsInfoCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "info ID",
		Short: "Show an installed skill: state, signer, tools, history",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withSkills(cmd, func(h skillsBackend) error {
				info, err := h.Info(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), info)
				}
				s := info.Status
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
				fmt.Fprintf(w, "%s %s\t%s\n", s.SkillID, s.Version, s.State)
				if s.Reason != "" {
					fmt.Fprintf(w, "reason:\t%s\n", s.Reason)
				}
				fmt.Fprintf(w, "publisher:\t%s (%s, %s)\n", s.Publisher, s.KeyID, s.TrustDecision)
				fmt.Fprintf(w, "payload:\tsha256:%s\n", s.PayloadSHA256)
				fmt.Fprintf(w, "dir:\t%s\n", info.Dir)
				if m := info.Manifest; m != nil {
					fmt.Fprintln(w, "tools:")
					for _, t := range m.Entrypoints.Tools {
						fmt.Fprintf(w, "  %s\t%s\n", t.Name, t.Description)
					}
				}
				fmt.Fprintln(w, "history:")
				for _, e := range info.Events {
					fmt.Fprintf(w, "  %s\t%s\t%s\t%s → %s\t%s\n", time.UnixMilli(e.AtUnixMS).UTC().Format(time.RFC3339),
						e.Version, e.Kind, orDash(string(e.From)), orDash(string(e.To)), oneLine(e.Reason))
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.ValidArgsFunction = c.completeSkills(false)
	return cmd
}

func (c *cli) skillsCheckCommand() *cobra.Command {
	var asJSON, allowQuarantined bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Re-verify and re-audit every installed skill; quarantine failures",
		Long: `Check re-verifies every installed artifact against the trust store as it is
now (removed or revoked keys fail), compares the files on disk with the
artifact, and re-audits with the current limits and vulnerability feed
(policy audit.vulnerability_feed_hook, read afresh: a newly published
advisory for a module in a skill's SBOM fails it). Anything that fails is
quarantined with the reason. The exit status is 1 while any installed skill
is quarantined, by this run or before it, unless --allow-quarantined is
given: then only a skill this run quarantined makes it 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withHost(cmd, func(h *host.Host) error {
				rep, err := h.Check(cmd.Context(), "")
				if err != nil {
					return err
				}
				if asJSON {
					if err := writeJSON(cmd.OutOrStdout(), rep); err != nil {
						return err
					}
				} else {
					printCheck(cmd.OutOrStdout(), rep)
				}
				var err2 error
				switch already := stillQuarantined(rep); {
				case rep.Quarantined > 0:
					err2 = fmt.Errorf("%d skill(s) quarantined", rep.Quarantined)
				case already > 0 && !allowQuarantined:
					err2 = fmt.Errorf("%d skill(s) still quarantined (see 'palyra skills enable', or pass --allow-quarantined)", already)
				}
				if err2 != nil && asJSON {
					return cmdline.Reported(err2)
				}
				return err2
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().BoolVar(&allowQuarantined, "allow-quarantined", false, "exit 0 when the only quarantined skills were quarantined before this run")
	return cmd
}

// stillQuarantined counts the skills that were quarantined before this check.
func stillQuarantined(rep *host.CheckReport) int {
	n := 0
	for _, r := range rep.Skills {
		if !r.Quarantined && r.State == host.StateQuarantined {
			n++
		}
	}
	return n
}

func printCheck(out io.Writer, rep *host.CheckReport) {
	if len(rep.Skills) == 0 {
		fmt.Fprintln(out, "no skills installed")
		return
	}
	for _, r := range rep.Skills {
		switch {
		case r.Quarantined:
			fmt.Fprintf(out, "QUARANTINED %s %s\n", r.SkillID, r.Version)
		case r.State == host.StateQuarantined:
			fmt.Fprintf(out, "quarantined %s %s (already)\n", r.SkillID, r.Version)
		default:
			fmt.Fprintf(out, "ok          %s %s (%s)\n", r.SkillID, r.Version, r.State)
		}
		for _, reason := range r.Reasons {
			fmt.Fprintf(out, "    %s\n", reason)
		}
	}
}

func (c *cli) skillsQuarantineCommand() *cobra.Command {
	var reason string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "quarantine ID --reason TEXT",
		Short: "Take an installed skill out of service",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withHost(cmd, func(h *host.Host) error {
				if err := h.Quarantine(cmd.Context(), args[0], reason, ""); err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"skill_id": args[0], "state": host.StateQuarantined, "reason": reason})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "quarantined %s: %s\n", args[0], reason)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded in the journal; required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	_ = cmd.MarkFlagRequired("reason")
	cmd.ValidArgsFunction = c.completeSkills(false)
	return cmd
}

func (c *cli) skillsEnableCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "enable ID",
		Short: "Return a quarantined skill to service after a fresh verify + audit",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withHost(cmd, func(h *host.Host) error {
				if err := h.Enable(cmd.Context(), args[0], ""); err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"skill_id": args[0], "state": host.StateEligible})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "enabled %s (eligible)\n", args[0])
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.ValidArgsFunction = c.completeSkills(false)
	return cmd
}

func (c *cli) skillsRemoveCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "remove ID",
		Short: "Uninstall a skill (its history stays in the journal)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withHost(cmd, func(h *host.Host) error {
				if err := h.Remove(cmd.Context(), args[0], ""); err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"skill_id": args[0], "removed": true})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", args[0])
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.ValidArgsFunction = c.completeSkills(false)
	return cmd
}

func (c *cli) skillsAuditCommand() *cobra.Command {
	var artifactPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "audit (ID | --artifact FILE)",
		Short: "Print the static security audit of an installed skill or an artifact",
		Args: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 1) == (artifactPath != "") {
				return cmdline.Usagef("give an installed skill ID or --artifact FILE")
			}
			return cobra.MaximumNArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withHost(cmd, func(h *host.Host) error {
				var rep *host.AuditReport
				var err error
				if artifactPath != "" {
					rep, err = h.AuditArtifact(cmd.Context(), artifactPath)
				} else {
					rep, err = h.AuditInstalled(cmd.Context(), args[0])
				}
				if err != nil {
					return err
				}
				if asJSON {
					if err := writeJSON(cmd.OutOrStdout(), rep); err != nil {
						return err
					}
				} else {
					w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
					fmt.Fprintf(w, "audit of %s %s: passed=%v\n", rep.SkillID, rep.Version, rep.Passed)
					for _, ch := range rep.Checks {
						fmt.Fprintf(w, "  %s\t%s\t%s\n", strings.ToUpper(string(ch.Status)), ch.CheckID, ch.Message)
					}
					w.Flush()
				}
				if !rep.Passed {
					err := fmt.Errorf("audit failed: %d failing check(s)", len(rep.Failures()))
					if asJSON {
						return cmdline.Reported(err)
					}
					return err
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&artifactPath, "artifact", "", "audit this .palyra-skill file instead of an installed skill")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.ValidArgsFunction = c.completeSkills(false)
	return cmd
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 100 {
		return s[:97] + "..."
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
