// Command palyra is the operator CLI of palyra-go: it verifies, inspects,
// installs, checks and runs signed skills, edits the publisher trust store
// and stores the secrets skills may be granted, all in one state directory.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cmd := newRootCommand()
	if err := cmd.ExecuteContext(ctx); err != nil {
		var ee exitError
		if !errors.As(err, &ee) || !ee.silent {
			fmt.Fprintln(os.Stderr, "palyra:", err)
		}
		os.Exit(1)
	}
}

// exitError ends the command with a non-zero status; silent means the
// command already told the user why.
type exitError struct {
	err    error
	silent bool
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }
