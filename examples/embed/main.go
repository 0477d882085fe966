// Command embed is a Go program that embeds a Palyra host: it opens a
// state directory, installs a signed skill artifact and calls the skill
// through the typed client palyra-gen generated from its manifest.
//
//	go run ./examples/embed [-state DIR] [-text TEXT] palyra.echo-0.1.0.palyra-skill
//
// The artifact is the echo example, built and signed by palyra-gen (make
// demo does it). Its publisher is trusted on first use, and it is granted
// what it requests: a program that embeds the host decides both, as an
// operator does with palyra skills install.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/palyra/palyra-go/examples/embed/echoclient"
	"github.com/palyra/palyra-go/host"
)

func main() {
	if err := run(context.Background(), os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, stdout io.Writer, args []string) error {
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	state := fs.String("state", "", "state directory (default: a temporary one, removed at exit)")
	text := fs.String("text", "hello from an embedding program", "text to echo")
	verbose := fs.Bool("v", false, "log the host's decisions to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: embed [-state DIR] [-text TEXT] ARTIFACT")
	}
	if *state == "" {
		dir, err := os.MkdirTemp("", "palyra-embed-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*state = dir
	}

	opts := host.Options{Principal: "example:embed"}
	if *verbose {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	h, err := host.Open(ctx, *state, opts)
	if err != nil {
		return err
	}
	defer h.Close()

	inst, err := h.Install(ctx, fs.Arg(0), host.InstallOptions{AllowTOFU: true, GrantRequested: true})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "installed %s %s (%s, key %s)\n", inst.SkillID, inst.Version, inst.TrustDecision, inst.KeyID)

	// *host.Host is the client's Caller: every typed call is a host.Call.
	echo := echoclient.New(h)
	out, err := echo.Echo(ctx, echoclient.EchoInput{Text: *text})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "echo: %s\n", out.Text)
	return nil
}
