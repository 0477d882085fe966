package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func stateArgs(t *testing.T) (string, []string) {
	t.Helper()
	state := filepath.Join(t.TempDir(), "state")
	return state, []string{"--state-dir", state}
}

// cliOK runs palyra and fails the test unless it exits 0.
func cliOK(t *testing.T, sd []string, args ...string) string {
	t.Helper()
	out, errOut, code := execCLI(t, "", append(sd, args...)...)
	if code != 0 {
		t.Fatalf("palyra %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
	}
	return out
}

var (
	hex64   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	ulidRE  = regexp.MustCompile(`^[0-7][0-9A-HJKMNP-TV-Z]{25}$`)
	codeRE  = regexp.MustCompile(`(?m)^pairing code:\s+(\d{6})$`)
	tokenRE = regexp.MustCompile(`(?m)^token:\s+([0-7][0-9A-HJKMNP-TV-Z]{25}\.[0-9a-f]{32})$`)
)

func TestIdentityInitIsIdempotent(t *testing.T) {
	state, sd := stateArgs(t)

	// show creates nothing and says what to do.
	out, errOut, code := execCLI(t, "", append(sd, "identity", "show")...)
	if code != 1 || !strings.Contains(errOut, "palyra identity init") {
		t.Fatalf("show before init: exit %d, stdout %q, stderr %q; want exit 1 naming 'palyra identity init'", code, out, errOut)
	}

	type report struct {
		DeviceID      string    `json:"device_id"`
		Fingerprint   string    `json:"fingerprint"`
		CAFingerprint string    `json:"ca_fingerprint"`
		CASubject     string    `json:"ca_subject"`
		CANotAfter    time.Time `json:"ca_not_after"`
		Created       *bool     `json:"created"`
	}
	decode := func(out string) report {
		t.Helper()
		var r report
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%v in %s", err, out)
		}
		return r
	}
	first := decode(cliOK(t, sd, "identity", "init", "--json"))
	if first.Created == nil || !*first.Created || !ulidRE.MatchString(first.DeviceID) || !hex64.MatchString(first.Fingerprint) ||
		!hex64.MatchString(first.CAFingerprint) || first.CASubject != "Palyra Internal CA" || first.CANotAfter.Before(time.Now().AddDate(9, 0, 0)) {
		t.Fatalf("first init: %+v", first)
	}
	second := decode(cliOK(t, sd, "identity", "init", "--json"))
	if second.Created == nil || *second.Created {
		t.Errorf("second init says created: %+v", second)
	}
	second.Created = first.Created
	if second != first {
		t.Errorf("second init changed the identity:\n%+v\n%+v", first, second)
	}
	shown := decode(cliOK(t, sd, "identity", "show", "--json"))
	if shown.Created != nil {
		t.Errorf("show reports created: %+v", shown)
	}
	shown.Created = first.Created
	if shown != first {
		t.Errorf("show = %+v, want %+v", shown, first)
	}
	human := cliOK(t, sd, "identity", "show")
	for _, want := range []string{first.DeviceID, first.Fingerprint, first.CAFingerprint} {
		if !strings.Contains(human, want) {
			t.Errorf("show lacks %s:\n%s", want, human)
		}
	}
	if out := cliOK(t, sd, "identity", "init"); !strings.Contains(out, "exist already") || !strings.Contains(out, first.DeviceID) {
		t.Errorf("init again:\n%s", out)
	}
	checkStateModes(t, state)
}

// checkStateModes: everything identity keeps is 0600 in 0700 directories.
func checkStateModes(t *testing.T, state string) {
	t.Helper()
	var files int
	for _, dir := range []string{filepath.Join(state, "secrets"), filepath.Join(state, "identity")} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			want := fs.FileMode(0o600)
			if d.IsDir() {
				want = 0o700
			} else {
				files++
			}
			if fi.Mode().Perm() != want || !(d.IsDir() || fi.Mode().IsRegular()) {
				t.Errorf("%s has mode %v, want %v", path, fi.Mode(), want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The device identity, the CA key and certificate, and the master key.
	if files < 4 {
		t.Errorf("found %d files under secrets/ and identity/, want at least 4", files)
	}
}

type pairingCodeJSON struct {
	ID              string    `json:"id"`
	Code            string    `json:"code"`
	Token           string    `json:"token"`
	Kind            string    `json:"kind"`
	RequireApproval bool      `json:"require_approval"`
	CreatedAt       time.Time `json:"created_at"`
	ExpiresAt       time.Time `json:"expires_at"`
}

func TestPairingCode(t *testing.T) {
	state, sd := stateArgs(t)
	// No init first: minting makes the identity.
	out := cliOK(t, sd, "pairing", "code")
	code, token := codeRE.FindStringSubmatch(out), tokenRE.FindStringSubmatch(out)
	if code == nil || token == nil || !strings.Contains(out, "kind:") || !strings.Contains(out, "(in 10m0s)") ||
		!strings.Contains(out, "shown only this once") || strings.Contains(out, "approval:") {
		t.Fatalf("pairing code printed:\n%s", out)
	}
	if strings.Count(out, code[1]) != 1 || strings.Count(out, token[1]) != 1 {
		t.Errorf("code or token printed more than once:\n%s", out)
	}

	var j pairingCodeJSON
	out = cliOK(t, sd, "pairing", "code", "--json", "--kind", "desktop", "--ttl", "5m", "--approval")
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if !regexp.MustCompile(`^\d{6}$`).MatchString(j.Code) || !strings.HasPrefix(j.Token, j.ID+".") || !tokenRE.MatchString("token: "+j.Token) ||
		j.Kind != "desktop" || !j.RequireApproval || j.ExpiresAt.Sub(j.CreatedAt) != 5*time.Minute {
		t.Errorf("pairing code --json: %+v", j)
	}
	// A TTL out of range is clamped, not refused.
	out = cliOK(t, sd, "pairing", "code", "--json", "--ttl", "1s")
	var short pairingCodeJSON
	if err := json.Unmarshal([]byte(out), &short); err != nil || short.ExpiresAt.Sub(short.CreatedAt) != 30*time.Second {
		t.Errorf("--ttl 1s: %+v, %v; want clamped to 30s", short, err)
	}

	// Nothing shows a code or token again, and none is stored in clear.
	for _, args := range [][]string{{"devices", "list"}, {"devices", "list", "--json"}, {"identity", "show", "--json"}, {"pairing", "list", "--json"}} {
		if out := cliOK(t, sd, args...); strings.Contains(out, token[1]) || strings.Contains(out, j.Token) {
			t.Errorf("palyra %v shows a token:\n%s", args, out)
		}
	}
	// pairing list shows the codes by id, never their secrets.
	out = cliOK(t, sd, "pairing", "list")
	if !strings.Contains(out, j.ID) || !strings.Contains(out, "0/5") || strings.Count(out, "\n") != 4 || strings.Contains(out, j.Code) {
		t.Errorf("pairing list:\n%s", out)
	}
	var listed []map[string]any
	out = cliOK(t, sd, "pairing", "list", "--json")
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 3 || strings.Contains(out, j.Token) || strings.Contains(out, `"code"`) {
		t.Errorf("pairing list --json: %v\n%s", err, out)
	}
	secrets := [][]byte{[]byte(token[1]), []byte(j.Token), []byte(strings.SplitN(j.Token, ".", 2)[1])}
	err := filepath.WalkDir(state, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(data, s) {
				t.Errorf("%s holds a pairing token in clear", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkStateModes(t, state)
}

func TestPairingCodeUsage(t *testing.T) {
	_, sd := stateArgs(t)
	for _, args := range [][]string{
		{"pairing", "code", "--kind", "phone"},
		{"pairing", "code", "--ttl", "-1m"},
		{"pairing", "code", "--ttl", "soon"},
		{"pairing", "code", "123456"}, // a code is never taken from argv
		{"devices", "revoke"},
		{"devices", "approve", "a", "b"},
	} {
		if out, errOut, code := execCLI(t, "", append(sd, args...)...); code != 2 {
			t.Errorf("palyra %v: exit %d, stdout %q, stderr %q; want 2", args, code, out, errOut)
		}
	}
}

func TestDevicesUnknownID(t *testing.T) {
	_, sd := stateArgs(t)
	cliOK(t, sd, "identity", "init")
	if out := cliOK(t, sd, "devices", "list"); !strings.Contains(out, "no devices") {
		t.Errorf("devices list on an empty registry:\n%s", out)
	}
	if out := cliOK(t, sd, "devices", "list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("devices list --json on an empty registry: %q, want []", out)
	}
	const id = "01JZZZZZZZZZZZZZZZZZZZZZZZ"
	for _, args := range [][]string{
		{"devices", "revoke", id, "--reason", "lost"},
		{"devices", "approve", id},
		{"devices", "reject", id, "--reason", "not mine"},
		{"devices", "revoke", "not-a-device"},
	} {
		out, errOut, code := execCLI(t, "", append(sd, args...)...)
		if code != 1 || !strings.Contains(errOut, args[2]) || !strings.Contains(errOut, "unknown device") {
			t.Errorf("palyra %v: exit %d, stdout %q, stderr %q; want exit 1 naming the unknown device", args, code, out, errOut)
		}
		out, _, code = execCLI(t, "", append(sd, append(args, "--json")...)...)
		var obj map[string]any
		if code != 1 || json.Unmarshal([]byte(out), &obj) != nil || !strings.Contains(obj["error"].(string), args[2]) {
			t.Errorf("palyra %v --json: exit %d, stdout %q; want a JSON error naming the device", args, code, out)
		}
	}
}

// Devices commands on a state dir without an identity fail and create
// none.
func TestDevicesWithoutIdentity(t *testing.T) {
	state, sd := stateArgs(t)
	out, errOut, code := execCLI(t, "", append(sd, "devices", "list")...)
	if code != 1 || !strings.Contains(errOut, "palyra identity init") {
		t.Fatalf("devices list without identity: exit %d, %q %q", code, out, errOut)
	}
	entries, _ := os.ReadDir(filepath.Join(state, "secrets"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "identity@") {
			t.Errorf("devices list created %s", e.Name())
		}
	}
}
