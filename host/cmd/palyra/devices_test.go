package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/identity"
)

// lockedBuffer is a log sink written by the daemon's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// pairOverPipe pairs a fresh device with the daemon's Manager over
// net.Pipe (a fake channel binding on both ends), the secret being what
// `palyra pairing code` printed. It returns the device and the outcome.
func pairOverPipe(ctx context.Context, m *identity.Manager, secret string, kind identity.ClientKind) (*identity.DeviceIdentity, *identity.PairResult, error) {
	dev, err := identity.NewDeviceIdentity()
	if err != nil {
		return nil, nil, err
	}
	daemonEnd, deviceEnd := net.Pipe()
	defer daemonEnd.Close()
	defer deviceEnd.Close()
	binding := []byte("test channel binding 0123456789abcdef")
	served := make(chan error, 1)
	go func() {
		_, err := m.ServePairing(ctx, daemonEnd, "pipe", binding)
		daemonEnd.Close()
		served <- err
	}()
	res, err := identity.Pair(ctx, deviceEnd, binding, secret, dev, kind)
	deviceEnd.Close()
	<-served
	return dev, res, err
}

func listDevices(t *testing.T, sd []string) []identity.Device {
	t.Helper()
	var devices []identity.Device
	out := cliOK(t, sd, "devices", "list", "--json")
	if err := json.Unmarshal([]byte(out), &devices); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	return devices
}

// A device paired over net.Pipe with a code from `palyra pairing code`
// shows in `devices list`; approve, reject and revoke act on it, and a
// revoked device's certificate fails the revocation hook. The daemon logs
// no code or token.
func TestDevicesAfterPairing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	state, sd := stateArgs(t)
	cliOK(t, sd, "identity", "init")

	// The daemon: another Host on the same state dir, logging.
	var logs lockedBuffer
	daemon, err := host.Open(ctx, state, host.Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer daemon.Close()
	id, err := daemon.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var secrets []string
	mint := func(args ...string) pairingCodeJSON {
		t.Helper()
		var pc pairingCodeJSON
		if err := json.Unmarshal([]byte(cliOK(t, sd, append([]string{"pairing", "code", "--json"}, args...)...)), &pc); err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, pc.Code, pc.Token)
		return pc
	}

	// 1. Without approval, by the 6-digit code.
	pc := mint("--kind", "desktop")
	dev, res, err := pairOverPipe(ctx, id.Manager, pc.Code, identity.KindDesktop)
	if err != nil {
		t.Fatalf("pairing: %v", err)
	}
	devices := listDevices(t, sd)
	if len(devices) != 1 || devices[0].ID != dev.ID() || devices[0].State != identity.DeviceCompleted || devices[0].Kind != identity.KindDesktop ||
		devices[0].IdentityFingerprint != dev.Fingerprint() || len(devices[0].Certificates) != 1 || devices[0].Certificates[0].Revoked {
		t.Fatalf("devices list after pairing: %+v", devices)
	}
	out := cliOK(t, sd, "devices", "list")
	row := strings.Fields(strings.Split(strings.TrimSpace(out), "\n")[1])
	if len(row) != 7 || row[0] != dev.ID() || row[1] != "desktop" || row[2] != "completed" || !strings.HasPrefix(dev.Fingerprint(), strings.TrimSuffix(row[3], "…")) ||
		row[5] != "1/1" || row[6] != "-" {
		t.Errorf("devices list:\n%s", out)
	}
	if err := id.Manager.CheckCertificate(ctx, res.ClientCert); err != nil {
		t.Fatalf("hook refuses a fresh certificate: %v", err)
	}

	// 2. With approval, by the token: pending until approved.
	pc = mint("--approval")
	type outcome struct {
		dev *identity.DeviceIdentity
		res *identity.PairResult
		err error
	}
	waitPending := func() string {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			for _, d := range listDevices(t, sd) {
				if d.State == identity.DevicePending {
					return d.ID
				}
			}
		}
		t.Fatal("no device became pending")
		return ""
	}
	done := make(chan outcome, 1)
	go func() {
		d, r, err := pairOverPipe(ctx, id.Manager, pc.Token, identity.KindCLI)
		done <- outcome{d, r, err}
	}()
	pending := waitPending()
	if out := cliOK(t, sd, "devices", "approve", pending, "--json"); !strings.Contains(out, `"state": "approved"`) {
		t.Errorf("approve --json: %s", out)
	}
	got := <-done
	if got.err != nil || got.dev.ID() != pending {
		t.Fatalf("approved pairing: %v (device %s, pending %s)", got.err, got.dev.ID(), pending)
	}
	// Approving again: it is no longer pending.
	if out, errOut, code := execCLI(t, "", append(sd, "devices", "approve", pending)...); code != 1 || !strings.Contains(errOut, pending) {
		t.Errorf("second approve: exit %d, %q %q", code, out, errOut)
	}

	// 3. With approval, rejected.
	pc = mint("--approval", "--kind", "node")
	go func() {
		d, r, err := pairOverPipe(ctx, id.Manager, pc.Code, identity.KindNode)
		done <- outcome{d, r, err}
	}()
	pending = waitPending()
	cliOK(t, sd, "devices", "reject", pending, "--reason", "not mine")
	if got := <-done; !errors.Is(got.err, identity.ErrPairingRejected) {
		t.Fatalf("rejected pairing = %v, want ErrPairingRejected", got.err)
	}

	// A wrong token for a live code fails and counts an attempt on it,
	// which pairing list shows.
	pc = mint()
	wrong := pc.ID + "." + strings.Repeat("0", 32)
	if _, _, err := pairOverPipe(ctx, id.Manager, wrong, identity.KindCLI); !errors.Is(err, identity.ErrPairingFailed) {
		t.Fatalf("pairing with a wrong token = %v, want ErrPairingFailed", err)
	}
	if out := cliOK(t, sd, "pairing", "list"); !regexp.MustCompile(`(?m)^` + pc.ID + `\s.*\s1/5$`).MatchString(out) {
		t.Errorf("pairing list after one wrong attempt on %s:\n%s", pc.ID, out)
	}

	// 4. Revoke the first device: the hook refuses its certificate.
	if out := cliOK(t, sd, "devices", "revoke", dev.ID(), "--reason", "laptop lost"); !strings.Contains(out, dev.ID()+" revoked") {
		t.Errorf("revoke: %s", out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for err = id.Manager.CheckCertificate(ctx, res.ClientCert); err == nil && time.Now().Before(deadline); err = id.Manager.CheckCertificate(ctx, res.ClientCert) {
		time.Sleep(50 * time.Millisecond) // another process's revocation shows within SnapshotMaxAge
	}
	if !errors.Is(err, identity.ErrDeviceRevoked) && !errors.Is(err, identity.ErrCertificateRevoked) {
		t.Fatalf("hook after revoke = %v, want a revocation error", err)
	}
	out = cliOK(t, sd, "devices", "list")
	for _, want := range []string{"revoked", "laptop lost", "rejected", "not mine", "0/1"} {
		if !strings.Contains(out, want) {
			t.Errorf("devices list lacks %q:\n%s", want, out)
		}
	}
	devices = listDevices(t, sd)
	if len(devices) != 3 {
		t.Errorf("devices: %+v", devices)
	}

	// Neither the daemon's log nor any listing shows a code or token.
	all := logs.String() + out + cliOK(t, sd, "devices", "list", "--json")
	for _, s := range secrets {
		// Whole words only: a 6-digit code may well occur inside a
		// serial number or a timestamp's nanoseconds.
		if regexp.MustCompile(`\b` + regexp.QuoteMeta(s) + `\b`).MatchString(all) {
			t.Errorf("pairing secret %q appears in the daemon's log or a listing", s)
		}
	}
	if !strings.Contains(logs.String(), "pairing completed") {
		t.Errorf("the daemon logged no pairing event, so the check above proves nothing:\n%s", logs.String())
	}
	checkStateModes(t, state)
}
