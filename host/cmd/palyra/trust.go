package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

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
	var force, asJSON bool
	cmd := &cobra.Command{
		Use:   "add PUBLISHER KEY",
		Short: "Allowlist a publisher key",
		Long: `Add allowlists KEY for PUBLISHER. KEY is a file holding the public key (SPKI
PEM, as 'palyra-gen keygen' writes it) or the key itself in hex or base64.
An allowlisted publisher is no longer trusted on first use: only its
listed keys verify.

A revoked key is refused. --force lifts its revocation and allowlists it;
the lifted revocation stays on record in trust-revocations.json.`,
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
				store := h.TrustStore()
				add := store.AddTrusted
				if force {
					add = store.Reinstate
				}
				if err := add(cmd.Context(), args[0], pub); err != nil {
					if errors.Is(err, host.ErrKeyRevoked) {
						return fmt.Errorf("%w (use --force to lift the revocation)", err)
					}
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"publisher": args[0], "key_id": signing.KeyID(pub), "trusted": true})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "trusted %s key %s\n", args[0], signing.KeyID(pub))
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "lift the key's revocation, if it has one (recorded)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
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
				if err := w.Flush(); err != nil {
					return err
				}
				// Revoked keys are no longer in the lists above.
				for _, r := range snap.Revocations {
					fmt.Fprintf(cmd.OutOrStdout(), "revoked: %s key %s at %s\n", r.Publisher, r.KeyID, time.UnixMilli(r.RevokedAtUnixMS).UTC().Format(time.RFC3339))
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the store as JSON")
	return cmd
}

func (c *cli) trustRemoveCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "remove PUBLISHER KEY",
		Short: "Remove a publisher key (allowlisted or pinned): KEY is its key id, or the key as trust add takes it",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withHost(cmd, func(h *host.Host) error {
				args[1] = keyIDArg(args[1])
				if err := h.TrustStore().Remove(cmd.Context(), args[0], args[1]); err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"publisher": args[0], "key_id": args[1], "removed": true})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s key %s\n", args[0], args[1])
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func (c *cli) trustRevokeCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "revoke PUBLISHER KEY",
		Short: "Revoke a publisher key: it never verifies again, and the next check quarantines its skills",
		Long: `Revoke records KEYID in trust-revocations.json and takes it out of every
allowlist and TOFU pin in trust-store.json, so that Palyra, reading the same
store, stops trusting it too. The publisher is not trusted on first use
again: allowlist its next key with 'palyra trust add'. A revoked key is
re-added only with 'palyra trust add --force'. KEY is the key id
(ed25519:…, as 'palyra trust list' shows it), or the key as 'palyra trust
add' takes it (a public key file, hex or base64). A key the store does not
hold is an error, as for remove.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withHost(cmd, func(h *host.Host) error {
				args[1] = keyIDArg(args[1])
				if err := h.TrustStore().Revoke(cmd.Context(), args[0], args[1]); err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"publisher": args[0], "key_id": args[1], "revoked": true})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "revoked %s key %s (run 'palyra skills check' to quarantine its skills)\n", args[0], args[1])
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// keyIDArg returns the key id an argument names: a key id as it is, or
// the id of a public key given as trust add takes it (file, hex, base64).
func keyIDArg(arg string) string {
	if strings.HasPrefix(arg, "ed25519:") {
		return arg
	}
	text := []byte(arg)
	if data, err := os.ReadFile(arg); err == nil {
		text = data
	}
	if pub, err := signing.ParsePublicKey(text); err == nil {
		return signing.KeyID(pub)
	}
	return arg
}
