package cmdline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Exit statuses shared by palyra and palyra-gen.
const (
	ExitOK      = 0
	ExitFailure = 1 // the command ran and failed
	ExitUsage   = 2 // the command line was wrong
)

// ExitCodesHelp documents the exit statuses in a root command's long help.
const ExitCodesHelp = `Exit status: 0 on success; 1 when the command ran and failed; 2 when the
command line is wrong (unknown command, unknown flag, wrong arguments).
With --json a failure also prints {"error": "...", ...} on standard output.`

// UsageError is a wrong command line: Execute exits 2 for it.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// reportedError is a failure whose output already says what went wrong.
type reportedError struct{ err error }

func (e *reportedError) Error() string { return e.err.Error() }
func (e *reportedError) Unwrap() error { return e.err }

// Reported marks err as already reported on stdout by the command's own
// JSON result (which carries the error, or a report that shows it):
// Execute exits non-zero and prints the message on stderr, but adds no
// JSON error object after the result.
func Reported(err error) error {
	if err == nil {
		return nil
	}
	return &reportedError{err: err}
}

// Harden makes cmd and every command under it behave as the package doc
// says: argument-count errors and flag errors become UsageErrors, and a
// command with subcommands and no argument check of its own (a group)
// refuses an unknown subcommand instead of printing its help with exit 0.
// Call it once on the root, after every command is added.
func Harden(root *cobra.Command) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Err: err} })
	harden(root)
	// `help TYPO` printed "Unknown help topic" and exited 0.
	root.InitDefaultHelpCmd()
	for _, c := range root.Commands() {
		if c.Name() == "help" && c.Run != nil {
			run := c.Run
			c.Run = nil
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if target, rest, err := cmd.Root().Find(args); err != nil || target == nil || len(rest) > 0 {
					return Usagef("unknown help topic %q (see '%s --help')", strings.Join(args, " "), cmd.Root().Name())
				}
				run(cmd, args)
				return nil
			}
		}
	}
}

func harden(cmd *cobra.Command) {
	switch {
	case cmd.HasSubCommands() && !cmd.Runnable():
		cmd.Args = unknownSubcommand
		cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	case cmd.HasSubCommands() && cmd.Args == nil:
		cmd.Args = unknownSubcommand
	}
	if args := cmd.Args; args != nil {
		cmd.Args = func(cmd *cobra.Command, a []string) error {
			if err := args(cmd, a); err != nil {
				var ue *UsageError
				if errors.As(err, &ue) {
					return err
				}
				return &UsageError{Err: fmt.Errorf("%w (usage: %s)", err, cmd.UseLine())}
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		harden(sub)
	}
}

// unknownSubcommand is a group's argument check: any argument is a
// subcommand that does not exist.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, applied only by its own lookup
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return &UsageError{Err: fmt.Errorf("%s (see '%s --help')", msg, cmd.CommandPath())}
}

// ExitCode is the exit status for err: 0 for nil, 2 for a wrong command
// line, 1 for anything else.
func ExitCode(err error) int {
	var ue *UsageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		return ExitUsage
	}
	// cobra's own command-line errors are not typed.
	msg := err.Error()
	for _, p := range []string{"unknown command ", "required flag(s) ", "if any flags in the group ", "at least one of the flags in the group "} {
		if strings.HasPrefix(msg, p) {
			return ExitUsage
		}
	}
	return ExitFailure
}

// Execute runs root with args (nil: os.Args[1:]) and returns the exit
// status. A failure is printed on stderr as "NAME: message" and, when the
// command that failed was given --json, as a JSON object on stdout,
// unless the command's own JSON result reported it (Reported).
func Execute(ctx context.Context, root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	root.SetOut(stdout)
	root.SetErr(stderr)
	if args != nil {
		root.SetArgs(args)
	}
	// cobra adds its completion command when it executes; it is added here,
	// once the output is set (the command keeps the writer it is made
	// with), to be hardened like the rest.
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			harden(c)
		}
	}
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	code := ExitCode(err)
	fmt.Fprintf(stderr, "%s: %v\n", root.Name(), err)
	var rep *reportedError
	if !errors.As(err, &rep) && wantsJSON(cmd, args) {
		_ = writeJSON(stdout, ErrorObject{Error: err.Error(), Command: cmd.CommandPath(), ExitCode: code})
	}
	return code
}

// ErrorObject is what a failing command prints on stdout with --json.
type ErrorObject struct {
	Error    string `json:"error"`
	Command  string `json:"command"`
	ExitCode int    `json:"exit_code"`
}

// wantsJSON reports whether cmd was given --json. When the flags did not
// parse, the raw arguments are looked at instead.
func wantsJSON(cmd *cobra.Command, args []string) bool {
	if cmd != nil {
		if f := cmd.Flags().Lookup("json"); f != nil && f.Changed {
			return f.Value.String() == "true"
		}
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--json" || a == "--json=true" {
			return true
		}
	}
	return false
}

// WriteJSON prints v as indented JSON.
func WriteJSON(w io.Writer, v any) error { return writeJSON(w, v) }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
