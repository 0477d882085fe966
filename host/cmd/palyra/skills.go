package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/palyra/palyra-go/gen"
	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/cmdline"
)

func (c *cli) skillsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "skills", Short: "Verify, install, check and manage skills"}
	cmd.AddCommand(c.skillsVerifyCommand(), c.skillsInspectCommand(), skillsPackageCommand())
	cmd.AddCommand(c.lifecycleCommands()...)
	cmd.AddCommand(c.skillsConfigCommand(), c.skillsVarsCommand()) // config.go
	return cmd
}

func (c *cli) skillsVerifyCommand() *cobra.Command {
	var allowTOFU, asJSON bool
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Verify a .palyra-skill artifact against the trust store",
		Long: `Verify checks every rule of the artifact format (ZIP structure, entry set,
integrity list, payload digest, Ed25519 signature, publisher), then the
manifest's [compat] range against this host (required_protocol_major,
min_palyra_version, max_palyra_version, as Palyra's verify does), and then
the trust store. It exits 0 only for a trusted, compatible artifact. With --allow-tofu an
unknown publisher's key is pinned on first use; nothing is written when
verification fails.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withHost(cmd, func(h *host.Host) error {
				// Nothing is extracted: the modules and assets need only be checked.
				v, err := h.VerifyFile(cmd.Context(), args[0], host.VerifyOptions{AllowTOFU: allowTOFU, MetadataOnly: true})
				if err != nil {
					if asJSON {
						_ = writeJSON(cmd.OutOrStdout(), map[string]any{"file": args[0], "trusted": false, "error": err.Error()})
						return cmdline.Reported(fmt.Errorf("verify %s: %w", args[0], hintTOFU(err, allowTOFU)))
					}
					return fmt.Errorf("verify %s: %w", args[0], hintTOFU(err, allowTOFU))
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), map[string]any{
						"file": args[0], "trusted": true,
						"skill_id": v.Manifest.SkillID, "version": v.Manifest.Version, "publisher": v.Manifest.Publisher,
						"trust_decision": v.Decision, "key_id": v.KeyID, "payload_sha256": v.PayloadSHA256,
					})
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
				fmt.Fprintf(w, "verified %s %s\n", v.Manifest.SkillID, v.Manifest.Version)
				fmt.Fprintf(w, "  publisher:\t%s\n", v.Manifest.Publisher)
				fmt.Fprintf(w, "  trust:\t%s\n", v.Decision)
				fmt.Fprintf(w, "  key:\t%s\n", v.KeyID)
				fmt.Fprintf(w, "  payload:\tsha256:%s\n", v.PayloadSHA256)
				return w.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&allowTOFU, "allow-tofu", false, "pin an unknown publisher's key on first use")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// hintTOFU adds the flag an operator most likely wants to an untrusted-publisher error.
func hintTOFU(err error, allowTOFU bool) error {
	if errors.Is(err, host.ErrUntrustedPublisher) && !allowTOFU {
		return fmt.Errorf("%w (add the key with 'palyra trust add', or pass --allow-tofu to pin it on first use)", err)
	}
	return err
}

func (c *cli) skillsInspectCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Describe an artifact without trusting it",
		Long: `Inspect checks the artifact's structure, integrity and signature against the
key the artifact carries — which proves it is intact, not who made it — and
prints its manifest, signer, modules with the guest ABI each is written for
(extism or palyra-native), SBOM components and provenance builder. The
trust store is neither read nor written.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			in, err := host.InspectArtifact(cmd.Context(), bytes.NewReader(data), int64(len(data)))
			if err != nil {
				return fmt.Errorf("inspect %s: %w", args[0], err)
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), in)
			}
			m := in.Manifest
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintf(w, "%s %s\t%s\n", m.SkillID, m.Version, m.Name)
			fmt.Fprintf(w, "publisher:\t%s (not checked against the trust store)\n", m.Publisher)
			fmt.Fprintf(w, "signer key:\t%s\n", in.KeyID)
			fmt.Fprintf(w, "payload:\tsha256:%s\n", in.PayloadSHA256)
			fmt.Fprintf(w, "provenance builder:\t%s\n", in.Builder)
			fmt.Fprintln(w, "tools:")
			for _, t := range m.Entrypoints.Tools {
				fmt.Fprintf(w, "  %s\t%s\t%s\n", t.ID, t.Name, t.Description)
			}
			fmt.Fprintln(w, "entries:")
			for _, e := range in.Entries {
				fmt.Fprintf(w, "  %s\t%d bytes\tsha256:%s\n", e.Path, e.Size, e.SHA256)
			}
			fmt.Fprintln(w, "modules:")
			for _, mod := range in.Modules {
				switch {
				case mod.Error != "":
					fmt.Fprintf(w, "  %s\t%s\t%s\n", mod.Path, mod.ABI, mod.Error)
				case mod.Entrypoint != "":
					fmt.Fprintf(w, "  %s\t%s\tentrypoint %s\n", mod.Path, mod.ABI, mod.Entrypoint)
				default:
					fmt.Fprintf(w, "  %s\t%s\n", mod.Path, mod.ABI)
				}
			}
			fmt.Fprintf(w, "sbom components: %d\n", len(in.Components))
			for _, p := range in.Components {
				ref := p.PURL
				if ref == "" {
					ref = p.Name
				}
				fmt.Fprintf(w, "  %s\t%s\t%s\n", p.Type, ref, p.Version)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the inspection as JSON")
	return cmd
}

// skillsPackageCommand is `palyra skills package [DIR]`: the same command
// as `palyra-gen package`, mounted under the operator CLI. The seed's
// `palyra skills package build [DIR]` still works, as a hidden alias (a
// skill dir named build is then given as ./build).
func skillsPackageCommand() *cobra.Command {
	cmd := gen.PackageCommand()
	cmd.Short += " (as palyra-gen package)"
	build := gen.PackageCommand()
	build.Use = "build [DIR]"
	build.Hidden = true
	cmd.AddCommand(build)
	return cmd
}
