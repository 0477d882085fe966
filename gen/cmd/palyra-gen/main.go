// Command palyra-gen is the skill author's CLI: new skill, templates list,
// generate, client, keygen, build and package. It is a thin layer over
// package gen; see there for what each step does.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/palyra/palyra-go/gen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := gen.Command().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "palyra-gen:", err)
		os.Exit(1)
	}
}
