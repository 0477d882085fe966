package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"os/user"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/cmdline"
)

// cli holds the global flags shared by every subcommand.
type cli struct {
	stateDir string
	// remote is --remote: the daemon skills run|list|info talk to.
	remote string
}

func newRootCommand() *cobra.Command {
	c := &cli{}
	root := &cobra.Command{
		Use:           "palyra",
		Short:         "Operate palyra skills: verify, install, check, run; trust publishers; store secrets; pair devices",
		SilenceUsage:  true,
		SilenceErrors: true,
		Long: `Palyra operates signed skills: verify, install, check and run them, trust
their publishers and store the secrets they may be granted, all in one state
directory. The same state directory holds this machine's device identity and
internal CA (palyra identity), the one-time codes that pair other devices
with it (palyra pairing) and the registry of paired devices (palyra
devices: list, approve, reject, revoke). Every command that reports or
changes state takes --json.

` + cmdline.ExitCodesHelp,
	}
	root.PersistentFlags().StringVar(&c.stateDir, "state-dir", "", "state directory (default $"+host.EnvStateDir+", else palyra under the user config dir)")
	root.AddCommand(c.skillsCommand(), c.trustCommand(), c.secretsCommand(), c.identityCommand(), c.pairingCommand(), c.devicesCommand())
	root.AddCommand(c.daemonCommand(), c.pairCommand(), c.nodeCommand())
	root.AddCommand(c.mcpCommand())
	root.PersistentFlags().StringVar(&c.remote, "remote", "", "run skills run|list|info on the paired daemon at this UDP host:port (see palyra pair)")
	root.PersistentPreRunE = c.checkRemote
	cmdline.AddVersion(root)
	cmdline.Harden(root)
	return root
}

// openHost opens the state dir named by --state-dir, $PALYRA_HOME or the default.
func (c *cli) openHost(ctx context.Context) (*host.Host, error) {
	dir, err := c.stateDirPath()
	if err != nil {
		return nil, err
	}
	return host.Open(ctx, dir, host.Options{Principal: operatorPrincipal()})
}

// stateDirPath is --state-dir, else $PALYRA_HOME, else the default.
func (c *cli) stateDirPath() (string, error) {
	if c.stateDir != "" {
		return c.stateDir, nil
	}
	return host.DefaultStateDir()
}

// stateDirExists reports whether the state dir exists; completion reads
// it only then, since opening it would create it.
func (c *cli) stateDirExists() bool {
	dir, err := c.stateDirPath()
	if err != nil {
		return false
	}
	_, err = os.Stat(dir)
	return err == nil
}

// openService opens the state dir for a long-running command (daemon,
// node) as principal: logs go to standard error (JSON lines with
// logJSON), and the context ends on SIGTERM or SIGINT. The caller calls
// stop and closes the host.
func (c *cli) openService(cmd *cobra.Command, principal string, logJSON bool) (context.Context, context.CancelFunc, *host.Host, *slog.Logger, error) {
	var handler slog.Handler = slog.NewTextHandler(cmd.ErrOrStderr(), nil)
	if logJSON {
		handler = slog.NewJSONHandler(cmd.ErrOrStderr(), nil)
	}
	log := slog.New(handler)
	dir, err := c.stateDirPath()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	h, err := host.Open(ctx, dir, host.Options{Principal: principal, Logger: log})
	if err != nil {
		stop()
		return nil, nil, nil, nil, err
	}
	return ctx, stop, h, log, nil
}

// withHost runs fn on the opened state dir and closes it after.
func (c *cli) withHost(cmd *cobra.Command, fn func(h *host.Host) error) error {
	h, err := c.openHost(cmd.Context())
	if err != nil {
		return err
	}
	defer h.Close()
	return fn(h)
}

// operatorPrincipal names the person at the CLI in the journal.
func operatorPrincipal() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "operator:" + u.Username
	}
	return "operator:cli"
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// completeSkills completes the first argument with the installed skill ids
// and, when withTools, the second with the tool ids and names of that
// skill. It reads the state dir only when it exists: completing must not
// create one.
func (c *cli) completeSkills(withTools bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 1 || (len(args) == 1 && !withTools) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		if !c.stateDirExists() {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		_ = c.withHost(cmd, func(h *host.Host) error {
			if len(args) == 0 {
				list, err := h.List(cmd.Context())
				for _, s := range list {
					out = append(out, cobra.CompletionWithDesc(s.SkillID, s.Version+" "+string(s.State)))
				}
				return err
			}
			info, err := h.Info(cmd.Context(), args[0])
			if err != nil || info.Manifest == nil {
				return err
			}
			for _, t := range info.Manifest.Entrypoints.Tools {
				out = append(out, cobra.CompletionWithDesc(t.ID, t.Description))
				if t.Name != "" && t.Name != t.ID {
					out = append(out, cobra.CompletionWithDesc(t.Name, t.Description))
				}
			}
			return nil
		})
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
