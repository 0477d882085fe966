package host_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/testskill"
)

// An application opens a state dir, allowlists a publisher key and verifies
// an artifact before doing anything with it.
func ExampleHost_VerifyFile() {
	state, err := os.MkdirTemp("", "palyra-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(state)

	ctx := context.Background()
	h, err := host.Open(ctx, state, host.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()

	pem, err := os.ReadFile("../testdata/palyra-v1/publisher.pub.pem")
	if err != nil {
		log.Fatal(err)
	}
	pub, err := host.ParsePublicKey(pem)
	if err != nil {
		log.Fatal(err)
	}
	if err := h.TrustStore().AddTrusted(ctx, "golden", pub); err != nil {
		log.Fatal(err)
	}

	v, err := h.VerifyFile(ctx, "../testdata/palyra-v1/golden.palyra-skill", host.VerifyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Manifest.SkillID, v.Manifest.Version, v.Decision, v.KeyID)
	// Output: golden.echo 1.0.0 allowlisted ed25519:2ef75dfce7823b5e
}

// An application installs a skill, lists it, and re-checks it later; a
// module changed on disk is quarantined.
func ExampleHost_Install() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "palyra-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	// A small signed skill, as palyra-gen package would write it.
	path, err := testskill.Spec{Publisher: "acme", Name: "echo", Version: "1.0.0"}.Write(tmp)
	if err != nil {
		log.Fatal(err)
	}

	h, err := host.Open(ctx, filepath.Join(tmp, "state"), host.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()

	in, err := h.Install(ctx, path, host.InstallOptions{AllowTOFU: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(in.SkillID, in.Version, in.State, in.TrustDecision)

	// Someone edits the installed module.
	if err := os.WriteFile(filepath.Join(in.Dir, "modules", "echo.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o600); err != nil {
		log.Fatal(err)
	}
	rep, err := h.Check(ctx, "operator:example")
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range rep.Skills {
		fmt.Println(s.SkillID, s.State, s.Quarantined)
	}
	// Output:
	// acme.echo 1.0.0 eligible tofu_newly_pinned
	// acme.echo quarantined true
}

// An application installs a skill, accepting the capabilities it requests,
// and calls one of its tools.
func ExampleHost_Call() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "palyra-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	// A signed skill whose echo tool returns its input.
	path, err := testskill.Spec{Publisher: "acme", Name: "echo", Version: "1.0.0", Module: testskill.EchoModule("echo")}.Write(tmp)
	if err != nil {
		log.Fatal(err)
	}

	h, err := host.Open(ctx, filepath.Join(tmp, "state"), host.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	if _, err := h.Install(ctx, path, host.InstallOptions{AllowTOFU: true, GrantRequested: true}); err != nil {
		log.Fatal(err)
	}

	// By tool name or id; safe from many goroutines.
	out, err := h.Call(ctx, "acme.echo", "echo", []byte(`{"text":"hello"}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(out))
	_, err = h.Call(ctx, "acme.echo", "translate", nil)
	fmt.Println(errors.Is(err, host.ErrNoTool))
	// Output:
	// {"text":"hello"}
	// true
}
