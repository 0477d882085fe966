package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/cmdline"
)

// maxCLIInput bounds the input read from a file or stdin.
const maxCLIInput = 64 << 20

func (c *cli) skillsRunCommand() *cobra.Command {
	var inputFlag, inputFile string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "run ID TOOL [--input JSON | --input-file F | -]",
		Short: "Call a tool of an installed, eligible skill and print its output",
		Long: `Run calls TOOL (a tool id or name from the manifest) of the current version of
skill ID with the capabilities the operator granted, and prints the output.
The input is --input's text, the contents of --input-file, or standard input
with --input -, --input-file - or a last argument "-"; with none, the input
is empty. A tool of a
Palyra-native module gets no input (it is ignored: Palyra's ABI has none);
its output is {"exit_code":N}, N being what its entrypoint returned.

The guest's log records go to standard error, with control characters
escaped (as \x1b, \u202e) so that they cannot act on the terminal, and so
is its error message; the output is printed as it is. With --json, one JSON
object is printed instead: the output (as JSON when it is JSON, else as text
or base64), the duration, the guest's logs and the call id.`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			input, err := readRunInput(cmd, args, inputFlag, inputFile)
			if err != nil {
				return err
			}
			return c.withSkills(cmd, func(h skillsBackend) error {
				res, err := h.Run(cmd.Context(), args[0], args[1], input)
				if asJSON {
					return printRunJSON(cmd.OutOrStdout(), args[0], args[1], res, err)
				}
				// The guest's text is escaped: it could otherwise move the
				// cursor, rewrite lines or print one that looks like ours.
				if res != nil {
					for _, l := range res.Logs {
						fmt.Fprintf(cmd.ErrOrStderr(), "%s %s: %s\n", l.Level, logSource(l), termSafe(l.Message))
					}
				}
				if err != nil {
					return termSafeError{err}
				}
				out := cmd.OutOrStdout()
				out.Write(res.Output)
				if len(res.Output) > 0 && res.Output[len(res.Output)-1] != '\n' {
					fmt.Fprintln(out)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&inputFlag, "input", "", "the input, as text (usually JSON); - reads standard input")
	cmd.Flags().StringVar(&inputFile, "input-file", "", "read the input from this file; - reads standard input")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result, duration and logs as JSON")
	cmd.ValidArgsFunction = c.completeSkills(true)
	return cmd
}

func readRunInput(cmd *cobra.Command, args []string, inputFlag, inputFile string) ([]byte, error) {
	fromStdin := len(args) == 3
	if fromStdin && args[2] != "-" {
		return nil, cmdline.Usagef("unexpected argument %q (the input comes from --input, --input-file or -)", args[2])
	}
	n := 0
	for _, set := range []bool{cmd.Flags().Changed("input"), inputFile != "", fromStdin} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, cmdline.Usagef("give the input one way: --input, --input-file or -")
	}
	var r io.Reader
	switch {
	case cmd.Flags().Changed("input") && inputFlag == "-", inputFile == "-", fromStdin:
		r = cmd.InOrStdin()
	case cmd.Flags().Changed("input"):
		return []byte(inputFlag), nil
	case inputFile != "":
		f, err := os.Open(inputFile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	default:
		return nil, nil
	}
	data, err := io.ReadAll(io.LimitReader(r, maxCLIInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading the input: %w", err)
	}
	if len(data) > maxCLIInput {
		return nil, fmt.Errorf("input larger than %d bytes", maxCLIInput)
	}
	return data, nil
}

func logSource(l host.GuestLog) string {
	if l.Stream != "" {
		return l.Stream
	}
	return "log"
}

// runJSON is what `skills run --json` prints.
type runJSON struct {
	SkillID      string          `json:"skill_id"`
	Version      string          `json:"version"`
	Tool         string          `json:"tool"`
	CallID       uint64          `json:"call_id"`
	OK           bool            `json:"ok"`
	Error        string          `json:"error,omitempty"`
	Output       json.RawMessage `json:"output,omitempty"`
	OutputText   *string         `json:"output_text,omitempty"`
	OutputBase64 []byte          `json:"output_base64,omitempty"`
	DurationMS   float64         `json:"duration_ms"`
	// Which instance ran the call: in one palyra process every call
	// starts instance 1 of its module.
	Module        string          `json:"module,omitempty"`
	Instance      uint64          `json:"instance,omitempty"`
	InstanceCalls uint64          `json:"instance_calls,omitempty"`
	FuelConsumed  uint64          `json:"fuel_consumed"`
	Logs          []host.GuestLog `json:"logs"`
}

func printRunJSON(w io.Writer, skillID, tool string, res *host.CallResult, callErr error) error {
	if res == nil { // the call never started: not installed, no such tool…
		if err := writeJSON(w, runJSON{SkillID: skillID, Tool: tool, Error: callErr.Error(), Logs: []host.GuestLog{}}); err != nil {
			return err
		}
		return cmdline.Reported(termSafeError{callErr})
	}
	out := runJSON{
		SkillID: res.SkillID, Version: res.Version, Tool: res.Tool, CallID: res.CallID,
		OK: callErr == nil, DurationMS: float64(res.Duration.Microseconds()) / 1000, Logs: res.Logs,
		Module: res.Module, Instance: res.Instance, InstanceCalls: res.InstanceCalls, FuelConsumed: res.FuelConsumed,
	}
	switch o := res.Output; {
	case callErr != nil:
		out.Error = callErr.Error()
	case json.Valid(o) && len(bytes.TrimSpace(o)) > 0:
		out.Output = o
	case utf8.Valid(o):
		s := string(o)
		out.OutputText = &s
	default:
		out.OutputBase64 = o
	}
	if err := writeJSON(w, out); err != nil {
		return err
	}
	if callErr != nil {
		return cmdline.Reported(termSafeError{callErr})
	}
	return nil
}

func (c *cli) secretsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "secrets", Short: "Store the secrets skills may be granted"}
	cmd.AddCommand(c.secretsSetCommand(), c.secretsListCommand(), c.secretsDeleteCommand())
	return cmd
}

func (c *cli) secretsSetCommand() *cobra.Command {
	var raw, asJSON bool
	cmd := &cobra.Command{
		Use:   "set SCOPE/KEY",
		Short: "Store a secret, read from standard input",
		Long: `Set reads the secret's value from standard input (so it never appears in the
process list or shell history) and stores it encrypted in the state dir.
SCOPE is global, principal:ID, channel:ID or skill:ID. One trailing newline
is removed, as 'echo' adds it; --raw keeps the input exactly.

A skill reads it only if its manifest requests the key and the operator
granted it (palyra skills grants).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := host.ParseSecretRef(args[0])
			if err != nil {
				return err
			}
			value, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20+1))
			if err != nil {
				return fmt.Errorf("reading the secret: %w", err)
			}
			if !raw {
				value = bytes.TrimSuffix(value, []byte("\n"))
				value = bytes.TrimSuffix(value, []byte("\r"))
			}
			if len(value) == 0 {
				return errors.New("empty secret on standard input")
			}
			return c.withHost(cmd, func(h *host.Host) error {
				if err := h.SetSecret(cmd.Context(), ref.Scope, ref.Key, value); err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"scope": ref.Scope, "key": ref.Key, "stored": true, "bytes": len(value)})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "stored %s (%d bytes)\n", ref, len(value))
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&raw, "raw", false, "keep a trailing newline")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func (c *cli) secretsListCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List secrets and the skills that can read each (names only, never values)",
		Long: `List shows every stored secret, and every secret granted to a skill but not
stored yet, with the installed skills granted it: which skill can read which
secret. A skill runs, and so reads, only while eligible. For one skill's
view, see 'palyra skills grants ID'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withHost(cmd, func(h *host.Host) error {
				entries, err := h.SecretReaders(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), entries)
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "SCOPE\tKEY\tSTORED\tREADABLE BY")
				for _, e := range entries {
					stored := "yes"
					if !e.Stored {
						stored = "no"
					}
					readers := "-"
					if len(e.Readers) > 0 {
						names := make([]string, len(e.Readers))
						for i, r := range e.Readers {
							names[i] = r.SkillID
							if r.State != host.StateEligible {
								names[i] += " (" + string(r.State) + ")"
							}
						}
						readers = strings.Join(names, ", ")
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Scope, e.Key, stored, readers)
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func (c *cli) secretsDeleteCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "delete SCOPE/KEY",
		Short: "Delete a stored secret",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := host.ParseSecretRef(args[0])
			if err != nil {
				return err
			}
			return c.withHost(cmd, func(h *host.Host) error {
				if err := h.DeleteSecret(cmd.Context(), ref.Scope, ref.Key); err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"scope": ref.Scope, "key": ref.Key, "deleted": true})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", ref)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}
