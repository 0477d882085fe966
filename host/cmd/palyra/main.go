// Command palyra is the operator CLI of palyra-go: it verifies, inspects,
// installs, checks and runs signed skills, edits the publisher trust store
// and stores the secrets skills may be granted, all in one state directory.
//
// Exit status: 0 on success, 1 when a command fails, 2 for a wrong command
// line (see package internal/cmdline).
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/palyra/palyra-go/internal/cmdline"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cmdline.Execute(ctx, newRootCommand(), nil, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
