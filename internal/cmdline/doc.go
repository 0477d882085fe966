// Package cmdline holds what palyra and palyra-gen do the same way at the
// command line, so that a script can rely on it for both:
//
//   - exit status: 0 success, 1 the command ran and failed, 2 the command
//     line was wrong (unknown command or subcommand, unknown or bad flag,
//     wrong number of arguments, a missing required flag). [Execute]
//     computes it; commands mark their own usage errors with [Usagef].
//   - an unknown subcommand of a command group is an error (exit 2) naming
//     the closest commands, never the group's help with exit 0 ([Harden]).
//   - with --json, a failure prints one JSON object {"error": …,
//     "command": …, "exit_code": …} on standard output, unless the
//     command already printed its own result object carrying the error
//     ([Reported]); the message also goes to standard error.
//   - --version and `version [--json]` print the module version and the VCS
//     revision, time and modified flag recorded in the binary
//     ([ReadVersion]).
package cmdline
