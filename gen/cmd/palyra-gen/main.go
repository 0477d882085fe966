// Command palyra-gen is the skill author's CLI: new skill, templates list,
// generate, client, keygen, build and package. It is a thin layer over
// package gen; see there for what each step does.
//
// Exit status: 0 on success, 1 when a command fails, 2 for a wrong command
// line.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/palyra/palyra-go/gen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := gen.Main(ctx, nil, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
