package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/cmdline"
	"github.com/palyra/palyra-go/internal/identity"
	"github.com/palyra/palyra-go/internal/transport"
)

// waitOutput waits for want in b, or fails with both outputs.
func waitOutput(t *testing.T, what string, b, errb *lockedBuffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(b.String(), want); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q in\n%s%s", what, want, b.String(), errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// palyra node --join: a second state dir paired as node, with the same
// signed skill, runs the daemon's calls (ran_on = its device id); when the
// daemon restarts, the node reconnects by itself and runs them again;
// once its device is revoked it exits 1 and calls run on the daemon
// again.
func TestNodeCommand(t *testing.T) {
	sd := installEcho(t)
	art := filepath.Join(filepath.Dir(sd[1]), "acme.echo-1.0.0.palyra-skill")
	cliOK(t, sd, "identity", "init")

	// The daemon runs under a context of its own, so that it can be
	// restarted while the node (in the same test process) goes on.
	var dOut, dErr *lockedBuffer
	var dExit chan int
	startDaemon := func(ctx context.Context, listen string) {
		dOut, dErr, dExit = &lockedBuffer{}, &lockedBuffer{}, make(chan int, 1)
		go func() {
			dExit <- cmdline.Execute(ctx, newRootCommand(), append(sd, "daemon", "--listen", listen, "--name", "daemon.test"), dOut, dErr)
		}()
		waitOutput(t, "daemon", dOut, dErr, "listening on ")
	}
	firstCtx, stopFirst := context.WithCancel(context.Background())
	defer stopFirst()
	startDaemon(firstCtx, "127.0.0.1:0")
	addr := listeningRE.FindStringSubmatch(dOut.String())[1]

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pair := func(dir string, kind identity.ClientKind) *host.RemoteCredentials {
		t.Helper()
		var pc pairingCodeJSON
		if err := json.Unmarshal([]byte(cliOK(t, sd, "pairing", "code", "--kind", string(kind), "--json")), &pc); err != nil {
			t.Fatal(err)
		}
		h, err := host.Open(ctx, dir, host.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		creds, err := h.PairRemote(ctx, addr, pc.Code, host.PairOptions{Kind: kind, ServerName: "daemon.test"})
		if err != nil {
			t.Fatalf("pair as %s: %v", kind, err)
		}
		return creds
	}

	// Without pairing as node, node refuses to start.
	nodeDir := filepath.Join(t.TempDir(), "node")
	nsd := []string{"--state-dir", nodeDir}
	cliOK(t, nsd, "skills", "install", "--allow-tofu", art)
	if _, _, code := execCLI(t, "", append(nsd, "node", "--join", addr)...); code == 0 {
		t.Fatal("node --join without credentials exited 0")
	}
	nodeCreds := pair(nodeDir, identity.KindNode)

	var nOut, nErr lockedBuffer
	nExit := make(chan int, 1)
	go func() {
		nExit <- cmdline.Execute(context.Background(), newRootCommand(), append(nsd, "node", "--join", addr), &nOut, &nErr)
	}()
	waitOutput(t, "node", &nOut, &nErr, "joined "+addr+" as node "+nodeCreds.DeviceID)

	cli := pair(filepath.Join(t.TempDir(), "cli"), identity.KindCLI)
	roots := x509.NewCertPool()
	roots.AddCert(cli.CA)
	c, err := transport.Dial(ctx, addr, transport.ClientOptions{
		Certificate: tls.Certificate{Certificate: [][]byte{cli.Cert.Raw}, PrivateKey: cli.Key},
		RootCAs:     roots, ServerName: "daemon.test",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c.Close() }()
	waitRanOnNode := func() {
		t.Helper()
		var ranOn string
		for deadline := time.Now().Add(15 * time.Second); ranOn != nodeCreds.DeviceID; {
			res, err := c.Call(ctx, &transport.Request{Type: transport.TypeCall, Call: &transport.CallRequest{Skill: "acme.echo", Tool: "echo", Input: []byte("hello")}})
			if err != nil || string(res.Output) != "hello" {
				t.Fatalf("remote call: %v", err)
			}
			var data struct {
				RanOn string `json:"ran_on"`
			}
			_ = json.Unmarshal(res.Data, &data)
			ranOn = data.RanOn
			if time.Now().After(deadline) {
				t.Fatalf("calls ran on %q, never on the node %s\n%s", ranOn, nodeCreds.DeviceID, nErr.String())
			}
			time.Sleep(50 * time.Millisecond) // the offer may not have arrived yet
		}
	}
	waitRanOnNode()

	// The daemon restarts on the same address: the node, still running,
	// connects again by itself and offers again.
	stopFirst()
	if code := <-dExit; code != 0 {
		t.Fatalf("daemon exit %d when stopped:\n%s", code, dErr.String())
	}
	startDaemon(context.Background(), addr)
	c.Close()
	if c, err = transport.Dial(ctx, addr, transport.ClientOptions{
		Certificate: tls.Certificate{Certificate: [][]byte{cli.Cert.Raw}, PrivateKey: cli.Key},
		RootCAs:     roots, ServerName: "daemon.test",
	}); err != nil {
		t.Fatal(err)
	}
	waitRanOnNode()
	if !strings.Contains(nErr.String(), "node: disconnected, reconnecting") {
		t.Errorf("the node's log does not say it reconnected:\n%s", nErr.String())
	}

	// Revoking the node cuts it; it stops for good (exit 1) and calls run
	// on the daemon again.
	cliOK(t, sd, "devices", "revoke", nodeCreds.DeviceID, "--reason", "node retired")
	select {
	case code := <-nExit:
		if code == 0 || !strings.Contains(nErr.String(), "refused this node") {
			t.Fatalf("revoked node: exit %d\n%s", code, nErr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("revoked node still running\n%s", nErr.String())
	}
	// A call racing the revocation may still be routed to the closing
	// connection and fail as lost; the next ones run here.
	for i := 0; ; i++ {
		res, err := c.Call(ctx, &transport.Request{Type: transport.TypeCall, Call: &transport.CallRequest{Skill: "acme.echo", Tool: "echo", Input: []byte("hello")}})
		if err == nil && strings.Contains(string(res.Data), `"ran_on":"local"`) {
			break
		}
		if i == 20 || (err != nil && !strings.Contains(err.Error(), "node running the call was lost")) {
			t.Fatalf("call after the node was revoked: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-dExit:
		if code != 0 {
			t.Fatalf("daemon exit %d after SIGTERM:\n%s", code, dErr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("daemon still running 15 s after SIGTERM")
	}
}
