package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/cmdline"
	"github.com/palyra/palyra-go/internal/identity"
)

// identityReport is what identity init and show print.
type identityReport struct {
	DeviceID      string    `json:"device_id"`
	Fingerprint   string    `json:"fingerprint"`
	CAFingerprint string    `json:"ca_fingerprint"`
	CASubject     string    `json:"ca_subject"`
	CANotAfter    time.Time `json:"ca_not_after"`
	// Created: init made the identity or the CA just now.
	Created *bool `json:"created,omitempty"`
}

func newIdentityReport(id *host.Identity) identityReport {
	return identityReport{
		DeviceID:      id.Device.ID(),
		Fingerprint:   id.Device.Fingerprint(),
		CAFingerprint: id.CAFingerprint(),
		CASubject:     id.CA.Root().Subject.CommonName,
		CANotAfter:    id.CA.Root().NotAfter.UTC(),
	}
}

func (r identityReport) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "device id:\t%s\n", r.DeviceID)
	fmt.Fprintf(tw, "fingerprint:\t%s\n", r.Fingerprint)
	fmt.Fprintf(tw, "CA:\t%s, valid until %s\n", termSafe(r.CASubject), r.CANotAfter.Format(time.RFC3339))
	fmt.Fprintf(tw, "CA fingerprint:\t%s\n", r.CAFingerprint)
	tw.Flush()
}

func (c *cli) identityCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "identity", Short: "Create and show this machine's device identity and CA"}
	cmd.AddCommand(c.identityInitCommand(), c.identityShowCommand())
	return cmd
}

func (c *cli) identityInitCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the device identity and the internal CA, if absent",
		Long: `Init gives the state dir a device identity (a ULID and an Ed25519 key) and an
internal certificate authority (an ECDSA P-256 root) that certifies paired
devices, unless it has them already: running it again changes nothing and
prints the same identity. Both are kept encrypted in the state dir's secret
store, in a scope no skill can be granted. It prints the device id, the
fingerprint of its public key and the CA's fingerprint, never a key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withHost(cmd, func(h *host.Host) error {
				id, created, err := h.InitIdentity(cmd.Context())
				if err != nil {
					return err
				}
				r := newIdentityReport(id)
				if asJSON {
					r.Created = &created
					return writeJSON(cmd.OutOrStdout(), r)
				}
				if created {
					fmt.Fprintln(cmd.OutOrStdout(), "created the device identity and CA")
				} else {
					fmt.Fprintln(cmd.OutOrStdout(), "the device identity and CA exist already")
				}
				r.print(cmd.OutOrStdout())
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the identity as JSON")
	return cmd
}

func (c *cli) identityShowCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show the device identity and the CA",
		Long: `Show prints the device id, the fingerprint of its public key, and the CA's
name, expiry and fingerprint. It creates nothing: without an identity it
fails and says to run 'palyra identity init'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withHost(cmd, func(h *host.Host) error {
				id, err := h.Identity(cmd.Context())
				if err != nil {
					return err
				}
				r := newIdentityReport(id)
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), r)
				}
				r.print(cmd.OutOrStdout())
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the identity as JSON")
	return cmd
}

func (c *cli) pairingCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "pairing", Short: "Mint one-time codes that let a device pair with this machine"}
	cmd.AddCommand(c.pairingCodeCommand(), c.pairingListCommand())
	return cmd
}

func (c *cli) pairingListCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the active pairing codes (never a code or token)",
		Long: `List shows the pairing codes that have not expired: their id (the first part
of the token, not secret), the kind of device each is for, whether it needs
approval, its expiry and the attempts counted on it. A code that used up its
5 attempts is burnt and pairs no device. The codes and tokens themselves are
never shown again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withManager(cmd, func(m *identity.Manager) error {
				codes, err := m.Codes(cmd.Context())
				if err != nil {
					return err
				}
				if codes == nil {
					codes = []identity.CodeInfo{}
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), codes)
				}
				if len(codes) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no active pairing codes")
					return nil
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "CODE ID\tKIND\tAPPROVAL\tEXPIRES\tATTEMPTS")
				for _, pc := range codes {
					approval := "no"
					if pc.RequireApproval {
						approval = "yes"
					}
					attempts := fmt.Sprintf("%d/%d", pc.Attempts, identity.MaxCodeAttempts)
					if pc.Burnt {
						attempts += " (burnt)"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", termSafe(pc.ID), termSafe(string(pc.Kind)), approval,
						pc.ExpiresAt.UTC().Format(time.RFC3339), attempts)
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the codes as JSON")
	return cmd
}

func (c *cli) pairingCodeCommand() *cobra.Command {
	var (
		ttl      time.Duration
		kind     string
		approval bool
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "code",
		Short: "Mint a one-time pairing code (shown once)",
		Long: `Code mints a one-time pairing code and prints it, with its longer token form
(for a QR code or URL) and its expiry. This is the only time either is
shown: nothing prints or logs them again. Give one of them to the person at
the device; its client reads the code from its terminal or standard input,
never from its command line.

The code lasts --ttl (default 10m, clamped to 30s-24h) and is burnt after
5 attempts; the one that proves it uses it up. It pairs only a device of
--kind (cli, desktop or node), which gets a 24-hour client certificate and
the CA certificate to pin. With --approval the device waits as pending
until 'palyra devices approve' or 'palyra devices reject'. 'palyra pairing
list' shows the active codes, by id only.

The device identity and CA are created first if the state dir has none.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if ttl < 0 {
				return cmdline.Usagef("--ttl %v is negative", ttl)
			}
			k, err := identity.ParseClientKind(kind)
			if err != nil {
				return &cmdline.UsageError{Err: fmt.Errorf("--kind: %w", err)}
			}
			return c.withHost(cmd, func(h *host.Host) error {
				id, _, err := h.InitIdentity(cmd.Context())
				if err != nil {
					return err
				}
				code, err := id.Manager.MintCode(cmd.Context(), identity.CodeOptions{TTL: ttl, Kind: k, RequireApproval: approval})
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), code)
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
				fmt.Fprintf(w, "pairing code:\t%s\n", code.Code)
				fmt.Fprintf(w, "token:\t%s\n", code.Token)
				fmt.Fprintf(w, "kind:\t%s\n", code.Kind)
				fmt.Fprintf(w, "expires:\t%s (in %s)\n", code.ExpiresAt.UTC().Format(time.RFC3339), code.ExpiresAt.Sub(code.CreatedAt).Round(time.Second))
				if code.RequireApproval {
					fmt.Fprintf(w, "approval:\trequired ('palyra devices approve ID' once the device has proved the code)\n")
				}
				w.Flush()
				fmt.Fprintln(cmd.OutOrStdout(), "The code and token are shown only this once.")
				return nil
			})
		},
	}
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "how long the code lasts (default 10m; clamped to 30s-24h)")
	cmd.Flags().StringVar(&kind, "kind", string(identity.KindCLI), "the kind of device the code is for: cli, desktop or node")
	cmd.Flags().BoolVar(&approval, "approval", false, "hold the device as pending until an operator approves it")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the code as JSON")
	return cmd
}

func (c *cli) devicesCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "devices", Short: "List, approve, reject and revoke paired devices"}
	cmd.AddCommand(c.devicesListCommand(), c.devicesApproveCommand(), c.devicesRejectCommand(), c.devicesRevokeCommand())
	return cmd
}

// withManager runs fn with the state dir's identity Manager.
func (c *cli) withManager(cmd *cobra.Command, fn func(m *identity.Manager) error) error {
	return c.withHost(cmd, func(h *host.Host) error {
		id, err := h.Identity(cmd.Context())
		if err != nil {
			return err
		}
		return fn(id.Manager)
	})
}

// deviceError makes sure a failure about one device names it, and says
// plainly when there is no such device.
func deviceError(deviceID string, err error) error {
	if errors.Is(err, identity.ErrUnknownDevice) {
		return &messageError{msg: fmt.Sprintf("unknown device %q (see 'palyra devices list')", deviceID), err: err}
	}
	if err == nil || strings.Contains(err.Error(), deviceID) {
		return err
	}
	return fmt.Errorf("device %q: %w", deviceID, err)
}

// messageError shows msg in place of err's own message; errors.Is still
// sees err.
type messageError struct {
	msg string
	err error
}

func (e *messageError) Error() string { return e.msg }
func (e *messageError) Unwrap() error { return e.err }

func (c *cli) devicesListCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the devices that paired or are pending",
		Long: `List shows every device in the registry: its id, kind, state (pending,
approved, rejected, completed or revoked), the start of its identity
fingerprint, when it paired, its certificates (valid of issued) and why it
was revoked or rejected. --json gives every field in full.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withManager(cmd, func(m *identity.Manager) error {
				devices, err := m.Devices(cmd.Context())
				if err != nil {
					return err
				}
				if devices == nil {
					devices = []identity.Device{}
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), devices)
				}
				if len(devices) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no devices (mint a code with 'palyra pairing code')")
					return nil
				}
				now := time.Now()
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "DEVICE ID\tKIND\tSTATE\tFINGERPRINT\tPAIRED\tCERTS\tREASON")
				for _, d := range devices {
					valid := 0
					for _, cr := range d.Certificates {
						if !cr.Revoked && now.Before(cr.NotAfter) {
							valid++
						}
					}
					fp := d.IdentityFingerprint
					if len(fp) > 16 {
						fp = fp[:16] + "…"
					}
					paired := "-"
					if !d.PairedAt.IsZero() {
						paired = d.PairedAt.UTC().Format(time.RFC3339)
					}
					reason := "-"
					switch {
					case d.State == identity.DeviceRevoked && d.RevokeReason != "":
						reason = termSafe(d.RevokeReason)
					case d.State == identity.DeviceRejected && d.RejectReason != "":
						reason = termSafe(d.RejectReason)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\n", termSafe(d.ID), termSafe(string(d.Kind)), termSafe(string(d.State)),
						termSafe(fp), paired, valid, len(d.Certificates), reason)
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the devices as JSON")
	return cmd
}

// deviceAction is approve, reject or revoke.
type deviceAction struct {
	use, short, long string
	state            identity.DeviceState
	withReason       bool
	do               func(cmd *cobra.Command, m *identity.Manager, id, reason string) error
}

func (c *cli) deviceActionCommand(a deviceAction) *cobra.Command {
	var reason string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   a.use,
		Short: a.short,
		Long:  a.long,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			return c.withManager(cmd, func(m *identity.Manager) error {
				if err := a.do(cmd, m, id, reason); err != nil {
					return deviceError(id, err)
				}
				if asJSON {
					out := map[string]any{"device_id": id, "state": a.state}
					if reason != "" {
						out["reason"] = reason
					}
					return writeJSON(cmd.OutOrStdout(), out)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "device %s %s\n", termSafe(id), a.state)
				return nil
			})
		},
		ValidArgsFunction: c.completeDevices,
	}
	if a.withReason {
		cmd.Flags().StringVar(&reason, "reason", "", "why, kept in the registry and shown by 'devices list'")
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func (c *cli) devicesApproveCommand() *cobra.Command {
	return c.deviceActionCommand(deviceAction{
		use:   "approve ID",
		short: "Let a pending device finish pairing",
		long: `Approve lets a device that proved a pairing code minted with --approval, and
waits as pending, receive its client certificate. Compare its fingerprint
('palyra devices list') with the one the device shows before approving.`,
		state: identity.DeviceApproved,
		do: func(cmd *cobra.Command, m *identity.Manager, id, _ string) error {
			return m.Approve(cmd.Context(), id)
		},
	})
}

func (c *cli) devicesRejectCommand() *cobra.Command {
	return c.deviceActionCommand(deviceAction{
		use:   "reject ID",
		short: "Refuse a pending device",
		long: `Reject refuses a device that waits as pending: its pairing fails and it gets
no certificate. The reason is kept in the registry.`,
		state:      identity.DeviceRejected,
		withReason: true,
		do: func(cmd *cobra.Command, m *identity.Manager, id, reason string) error {
			return m.Reject(cmd.Context(), id, reason)
		},
	})
}

func (c *cli) devicesRevokeCommand() *cobra.Command {
	return c.deviceActionCommand(deviceAction{
		use:   "revoke ID",
		short: "Revoke a device and every certificate issued to it",
		long: `Revoke marks the device and all its certificates revoked: every later TLS
handshake that presents one of them is refused, resumed sessions included.
The device must pair again, with a new code, to connect again.`,
		state:      identity.DeviceRevoked,
		withReason: true,
		do: func(cmd *cobra.Command, m *identity.Manager, id, reason string) error {
			return m.Revoke(cmd.Context(), id, reason)
		},
	})
}

// completeDevices completes a device id from the registry, reading the
// state dir only when it has an identity (completing creates nothing).
func (c *cli) completeDevices(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	if !c.stateDirExists() {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	_ = c.withManager(cmd, func(m *identity.Manager) error {
		devices, err := m.Devices(cmd.Context())
		for _, d := range devices {
			out = append(out, cobra.CompletionWithDesc(d.ID, string(d.Kind)+" "+string(d.State)))
		}
		return err
	})
	return out, cobra.ShellCompDirectiveNoFileComp
}
