package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palyra/palyra-go/internal/cmdline"
)

// startDaemon runs `palyra daemon` in-process on sd and returns its
// address; it stops when the test ends.
func startDaemon(t *testing.T, sd []string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- cmdline.Execute(ctx, newRootCommand(), append(sd, "daemon", "--listen", "127.0.0.1:0"), &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exit:
		case <-time.After(10 * time.Second):
			t.Error("daemon still running 10 s after its context ended")
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if m := listeningRE.FindStringSubmatch(stdout.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not start:\n%s%s", stdout.String(), stderr.String())
		}
	}
}

// As a user would: palyra daemon + palyra pairing code + palyra pair
// (code on stdin) + palyra --remote … skills run|list|info print what the
// local commands print and exit as they do.
func TestPairAndRemoteCommands(t *testing.T) {
	sd := installEcho(t)
	cliOK(t, sd, "identity", "init")
	addr := startDaemon(t, sd)
	var pc pairingCodeJSON
	if err := json.Unmarshal([]byte(cliOK(t, sd, "pairing", "code", "--json")), &pc); err != nil {
		t.Fatal(err)
	}
	client := []string{"--state-dir", filepath.Join(t.TempDir(), "client")}

	// The code is never taken from argv.
	if out, errOut, code := execCLI(t, "", append(client, "pair", addr, pc.Code)...); code != cmdline.ExitUsage || !strings.Contains(errOut, "never from the command line") {
		t.Fatalf("pair with the code on argv: exit %d\n%s%s", code, out, errOut)
	}
	// --remote on a command that has no remote form is a usage error.
	if _, errOut, code := execCLI(t, "", append(client, "--remote", addr, "skills", "install", "x")...); code != cmdline.ExitUsage || !strings.Contains(errOut, "--remote applies to skills run, list and info") {
		t.Fatalf("--remote skills install: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := execCLI(t, "", append(client, "--remote", addr, "skills", "list")...); code != cmdline.ExitFailure || !strings.Contains(errOut, "not paired") {
		t.Fatalf("--remote before pairing: exit %d\n%s", code, errOut)
	}

	out, errOut, code := execCLI(t, pc.Code+"\n", append(client, "pair", addr)...)
	if code != 0 || !strings.Contains(out, "paired with "+addr) {
		t.Fatalf("pair: exit %d\n%s%s", code, out, errOut)
	}
	remote := append(append([]string(nil), client...), "--remote", addr)

	for _, args := range [][]string{
		{"skills", "run", "acme.echo", "echo", "--input", `{"hello":"remote"}`},
		{"skills", "list"},
		{"skills", "list", "--json"},
		{"skills", "info", "acme.echo", "--json"},
		{"skills", "run", "acme.nope", "echo", "--input", "{}"},
		{"skills", "run", "acme.echo", "nope", "--input", "{}"},
		{"skills", "run", "acme.nope", "echo", "--json"},
		{"skills", "info", "acme.nope"},
	} {
		lo, le, lc := execCLI(t, "", append(append([]string(nil), sd...), args...)...)
		ro, re, rc := execCLI(t, "", append(append([]string(nil), remote...), args...)...)
		if lc != rc || lo != ro || le != re {
			t.Errorf("%v:\nlocal  exit %d\n%s%s\nremote exit %d\n%s%s", args, lc, lo, le, rc, ro, re)
		}
	}
	// --json run: the same fields, the daemon's call id and timing.
	ro := cliOK(t, remote, "skills", "run", "acme.echo", "echo", "--json", "--input", `{"a":1}`)
	var got runJSON
	if err := json.Unmarshal([]byte(ro), &got); err != nil || !got.OK || strings.Join(strings.Fields(string(got.Output)), "") != `{"a":1}` || got.SkillID != "acme.echo" || got.Version != "1.0.0" {
		t.Fatalf("remote run --json: %v\n%s", err, ro)
	}
}
