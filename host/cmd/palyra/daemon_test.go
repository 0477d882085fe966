package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/palyra/palyra-go/internal/cmdline"
	"github.com/palyra/palyra-go/internal/identity"
	"github.com/palyra/palyra-go/internal/transport"
)

var listeningRE = regexp.MustCompile(`listening on (\S+) \(CA fingerprint ([0-9a-f]{64})\)`)

// palyra daemon serves a paired device, and SIGTERM stops it with exit 0.
func TestDaemonCommand(t *testing.T) {
	sd := installEcho(t)
	cliOK(t, sd, "identity", "init")
	var pc pairingCodeJSON
	if err := json.Unmarshal([]byte(cliOK(t, sd, "pairing", "code", "--json")), &pc); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr lockedBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- cmdline.Execute(context.Background(), newRootCommand(), append(sd, "daemon", "--listen", "127.0.0.1:0", "--name", "daemon.test"), &stdout, &stderr)
	}()
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil; {
		if m = listeningRE.FindStringSubmatch(stdout.String()); m == nil {
			if time.Now().After(deadline) {
				t.Fatalf("daemon did not start:\n%s%s", stdout.String(), stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	addr := m[1]

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := transport.DialPairing(ctx, addr, transport.PairingDialOptions{ServerName: "daemon.test"})
	if err != nil {
		t.Fatal(err)
	}
	dev, _ := identity.NewDeviceIdentity()
	res, err := identity.Pair(ctx, conn, conn.Binding, pc.Code, dev, identity.KindCLI)
	conn.Close()
	if err != nil {
		t.Fatalf("pair: %v", err)
	}
	if err := conn.VerifyServer(res.CACert); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(res.CACert)
	c, err := transport.Dial(ctx, addr, transport.ClientOptions{
		Certificate: tls.Certificate{Certificate: [][]byte{res.ClientCertDER}, PrivateKey: res.Key},
		RootCAs:     roots, ServerName: "daemon.test",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out, err := c.Call(ctx, &transport.Request{Type: transport.TypeCall, Call: &transport.CallRequest{Skill: "acme.echo", Tool: "echo", Input: []byte("hello")}})
	if err != nil || string(out.Output) != "hello" {
		t.Fatalf("remote call: %v", err)
	}

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("daemon exit %d after SIGTERM:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("daemon still running 10 s after SIGTERM")
	}
	if !strings.Contains(stderr.String(), "daemon: stopped") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
}
