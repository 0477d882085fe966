package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/cmdline"
	"github.com/palyra/palyra-go/internal/identity"
)

// maxSecretLine bounds the line a pairing code or token is read from.
const maxSecretLine = 4096

func (c *cli) pairCommand() *cobra.Command {
	var (
		kind, name string
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "pair ADDR",
		Short: "Pair this machine with a palyra daemon (the code is read from the terminal or stdin)",
		Long: `Pair pairs this machine with the palyra daemon listening at ADDR (UDP
host:port) using a one-time code or token its operator minted there with
'palyra pairing code'. The code is read from the terminal, or from standard
input when it is piped: never from the command line, where other users of
the machine could read it in the process list and shell history.

The exchange runs over a TLS connection that cannot verify the daemon yet,
bound to that connection so that a relay fails; once it succeeds, the
daemon's certificate must chain to the CA it returned and name --name
(default localhost), or nothing is kept. The client certificate, its key
and the daemon's CA are stored in this state dir's secret store, under the
address; 'palyra --remote ADDR skills run|list|info' then uses them, and
renews the certificate before it expires. This machine's device identity
is created first if the state dir has none.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return cmdline.Usagef("pair takes only ADDR: the pairing code is read from the terminal or standard input, never from the command line")
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := identity.ParseClientKind(kind)
			if err != nil {
				return &cmdline.UsageError{Err: fmt.Errorf("--kind: %w", err)}
			}
			secret, err := readSecret(cmd.InOrStdin(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return c.withHost(cmd, func(h *host.Host) error {
				creds, err := h.PairRemote(cmd.Context(), args[0], secret, host.PairOptions{Kind: k, ServerName: name})
				if err != nil {
					return err
				}
				out := pairJSON{Addr: creds.Addr, DeviceID: creds.DeviceID, Kind: string(creds.Kind), ServerName: creds.ServerName,
					NotAfter: creds.Cert.NotAfter.UTC().Format("2006-01-02T15:04:05Z"), CAFingerprint: fingerprint(creds.CA.Raw)}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), out)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "paired with %s as device %s (%s); CA fingerprint %s; certificate until %s\n",
					out.Addr, out.DeviceID, out.Kind, out.CAFingerprint, out.NotAfter)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&kind, "kind", string(identity.KindCLI), "what this machine pairs as: cli, desktop or node (the code's kind)")
	cmd.Flags().StringVar(&name, "name", "localhost", "the name the daemon's certificate must carry (its palyra daemon --name)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the pairing as JSON")
	return cmd
}

// fingerprint is lowercase hex(sha256(der)), as palyra identity show
// prints the CA's.
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// pairJSON is what `palyra pair --json` prints (never the key).
type pairJSON struct {
	Addr          string `json:"addr"`
	DeviceID      string `json:"device_id"`
	Kind          string `json:"kind"`
	ServerName    string `json:"server_name"`
	NotAfter      string `json:"not_after"`
	CAFingerprint string `json:"ca_fingerprint"`
}

// readSecret reads one line, the pairing code or token, prompting on
// stderr. Surrounding space is dropped.
func readSecret(in io.Reader, prompt io.Writer) (string, error) {
	fmt.Fprint(prompt, "pairing code or token: ")
	line, err := bufio.NewReaderSize(io.LimitReader(in, maxSecretLine), maxSecretLine).ReadString('\n')
	fmt.Fprintln(prompt)
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("reading the pairing code: %w", err)
	}
	s := strings.TrimSpace(line)
	if s == "" {
		return "", fmt.Errorf("no pairing code on standard input")
	}
	return s, nil
}

// remoteSkills are the commands --remote applies to.
var remoteSkills = map[string]bool{"palyra skills run": true, "palyra skills list": true, "palyra skills info": true}

// checkRemote refuses --remote on a command that cannot run against a
// daemon (everything but skills run|list|info, help and version).
func (c *cli) checkRemote(cmd *cobra.Command, _ []string) error {
	if c.remote == "" {
		return nil
	}
	p := cmd.CommandPath()
	if remoteSkills[p] || cmd.Name() == "help" || cmd.Name() == "version" || strings.HasPrefix(p, "palyra completion") || strings.HasPrefix(p, "palyra __complete") {
		return nil
	}
	return cmdline.Usagef("'%s' runs on this machine's state dir only; --remote applies to skills run, list and info", p)
}

// skillsBackend is what skills run|list|info use: the local Host, or a
// daemon's (*host.Remote) with --remote. The two print alike.
type skillsBackend interface {
	Run(ctx context.Context, skillID, tool string, input []byte) (*host.CallResult, error)
	List(ctx context.Context) ([]host.SkillStatus, error)
	Info(ctx context.Context, skillID string) (*host.SkillInfo, error)
}

// withSkills runs fn on the local state dir's Host, or with --remote on a
// connection to that daemon made with the credentials 'palyra pair'
// stored in the local state dir.
func (c *cli) withSkills(cmd *cobra.Command, fn func(b skillsBackend) error) error {
	if c.remote == "" {
		return c.withHost(cmd, func(h *host.Host) error { return fn(h) })
	}
	return c.withHost(cmd, func(h *host.Host) error {
		r, err := h.Dial(cmd.Context(), c.remote)
		if err != nil {
			return err
		}
		defer r.Close()
		return fn(r)
	})
}
