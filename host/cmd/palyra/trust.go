package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/signing"
)

func (c *cli) trustCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "trust", Short: "Edit the publisher trust store"}
	cmd.AddCommand(c.trustAddCommand(), c.trustListCommand(), c.trustRemoveCommand(), c.trustRevokeCommand())
	return cmd
}

func (c *cli) trustAddCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "add PUBLISHER KEY",
		Short: "Allowlist a publisher key",
		Long: `Add allowlists KEY for PUBLISHER. KEY is a file holding the public key (SPKI
PEM, as 'palyra-gen keygen' writes it) or the key itself in hex or base64.
An allowlisted publisher is no longer trusted on first use: only its
listed keys verify.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			keyText := []byte(args[1])
			if data, err := os.ReadFile(args[1]); err == nil {
				keyText = data
			}
			pub, err := signing.ParsePublicKey(keyText)
			if err != nil {
				return fmt.Errorf("key %q: %w", args[1], err)
			}
			return c.withHost(cmd, func(h *host.Host) error {
				if err := h.TrustStore().AddTrusted(cmd.Context(), args[0], pub); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "trusted %s key %s\n", args[0], signing.KeyID(pub))
				return nil
			})
		},
	}
}

func (c *cli) trustListCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List allowlisted and pinned publisher keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withHost(cmd, func(h *host.Host) error {
				snap, err := h.TrustStore().Snapshot(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), snap)
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "PUBLISHER\tKIND\tKEY ID\tREVOKED\tPUBLIC KEY")
				for _, k := range snap.Keys {
					fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\n", k.Publisher, k.Kind, k.KeyID, k.Revoked, k.PublicKeyHex)
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the store as JSON")
	return cmd
}

func (c *cli) trustRemoveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "remove PUBLISHER KEYID",
		Short: "Remove a publisher key (allowlisted or pinned) by key id",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withHost(cmd, func(h *host.Host) error {
				if err := h.TrustStore().Remove(cmd.Context(), args[0], args[1]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s key %s\n", args[0], args[1])
				return nil
			})
		},
	}
}

func (c *cli) trustRevokeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke PUBLISHER KEYID",
		Short: "Revoke a publisher key: it never verifies again, and the next check quarantines its skills",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withHost(cmd, func(h *host.Host) error {
				if err := h.TrustStore().Revoke(cmd.Context(), args[0], args[1]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "revoked %s key %s (run 'palyra skills check' to quarantine its skills)\n", args[0], args[1])
				return nil
			})
		},
	}
}
