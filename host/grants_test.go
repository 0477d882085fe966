package host_test

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/palyra/palyra-go/host"
)

const requestingCaps = `http_egress_allowlist = ["api.example.com", "cdn.example.com"]
secrets = [{ scope = "skill:acme.echo", key_names = ["token", "other"] }]
filesystem = { read_roots = ["in"], write_roots = ["out"] }`

func TestGrantsAtInstall(t *testing.T) {
	requested := host.Grants{
		HTTPHosts: []string{"api.example.com", "cdn.example.com"}, ReadRoots: []string{"in"}, WriteRoots: []string{"out"},
		Secrets: []host.SecretGrant{{Scope: "skill:acme.echo", KeyNames: []string{"other", "token"}}},
	}
	key := newKey(t)
	spec := skillSpec{Key: key, Capabilities: requestingCaps}

	t.Run("nothing granted by default", func(t *testing.T) {
		h := openHost(t, t.TempDir(), host.Options{})
		in, err := h.Install(ctx, spec.File(t), host.InstallOptions{AllowTOFU: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(in.Granted.HTTPHosts)+len(in.Granted.Secrets)+len(in.Granted.ReadRoots) != 0 || len(in.Denied) != 6 {
			t.Fatalf("default grants: %+v denied %v", in.Granted, in.Denied)
		}
	})
	t.Run("everything requested", func(t *testing.T) {
		h := openHost(t, t.TempDir(), host.Options{})
		in, err := h.Install(ctx, spec.File(t), host.InstallOptions{AllowTOFU: true, GrantRequested: true})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(in.Granted, requested) || len(in.Denied) != 0 {
			t.Fatalf("granted %+v, want %+v; denied %v", in.Granted, requested, in.Denied)
		}
	})
	t.Run("a grant not requested is refused without trace", func(t *testing.T) {
		state := t.TempDir()
		h := openHost(t, state, host.Options{})
		before := tree(t, state)
		_, err := h.Install(ctx, spec.File(t), host.InstallOptions{AllowTOFU: true,
			Grants: &host.Grants{HTTPHosts: []string{"evil.example.net"}}})
		if !errors.Is(err, host.ErrNotRequested) || !strings.Contains(err.Error(), "evil.example.net") {
			t.Fatalf("got %v", err)
		}
		if after := tree(t, state); strings.Join(after, ",") != strings.Join(before, ",") {
			t.Fatalf("files written: %v", after)
		}
	})
	t.Run("subset, upgrade carries over, SetGrants replaces", func(t *testing.T) {
		h := openHost(t, t.TempDir(), host.Options{Policy: &host.Policy{MaxMemoryBytes: 1 << 19, MaxWallClockTimeoutMS: 60_000, FuelBudget: 123_456}})
		_, err := h.Install(ctx, spec.File(t), host.InstallOptions{AllowTOFU: true,
			Grants: &host.Grants{HTTPHosts: []string{"cdn.example.com", "api.example.com"}, Secrets: []host.SecretGrant{{Scope: "skill:acme.echo", KeyNames: []string{"token"}}}}})
		if err != nil {
			t.Fatal(err)
		}
		// Version 2 no longer requests cdn.example.com: that grant lapses.
		v2 := skillSpec{Key: key, Version: "2.0.0", Capabilities: strings.Replace(requestingCaps, `, "cdn.example.com"`, "", 1)}
		in, err := h.Install(ctx, v2.File(t), host.InstallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := host.Grants{HTTPHosts: []string{"api.example.com"}, ReadRoots: []string{}, WriteRoots: []string{},
			Secrets: []host.SecretGrant{{Scope: "skill:acme.echo", KeyNames: []string{"token"}}}}
		if !reflect.DeepEqual(in.Granted, want) {
			t.Fatalf("carried over %+v, want %+v", in.Granted, want)
		}
		rep, err := h.Grants(ctx, "acme.echo")
		if err != nil {
			t.Fatal(err)
		}
		// Quotas: the lower of manifest (1 MiB, 30 s, 10 M fuel) and policy
		// (512 KiB, 60 s, 123,456 fuel); tables: the policy's default.
		if rep.MaxMemoryBytes != 1<<19 || rep.WallClockTimeoutMS != 30_000 || rep.FuelBudget != 123_456 || rep.MaxTableElements != 100_000 {
			t.Fatalf("report: %+v", rep)
		}
		if _, err := h.SetGrants(ctx, "acme.echo", host.Grants{WriteRoots: []string{"elsewhere"}}, ""); !errors.Is(err, host.ErrNotRequested) {
			t.Fatalf("SetGrants outside the request: %v", err)
		}
		rep, err = h.SetGrants(ctx, "acme.echo", host.Grants{WriteRoots: []string{"out"}}, "operator:test")
		if err != nil || !reflect.DeepEqual(rep.Granted.WriteRoots, []string{"out"}) || len(rep.Granted.HTTPHosts) != 0 {
			t.Fatalf("SetGrants: %+v %v", rep, err)
		}
		if got, _ := h.Grants(ctx, "acme.echo"); !reflect.DeepEqual(got.Granted, rep.Granted) {
			t.Fatalf("grants not stored: %+v", got)
		}
	})
}

func TestPolicyFile(t *testing.T) {
	state := t.TempDir()
	os.WriteFile(state+"/policy.json", []byte(`{"max_memory_bytes": 65536, "unknown_key": 1}`), 0o600)
	if _, err := host.Open(ctx, state, host.Options{}); err == nil || !strings.Contains(err.Error(), "unknown_key") {
		t.Fatalf("policy with an unknown key: %v", err)
	}
	os.WriteFile(state+"/policy.json", []byte(`{"max_memory_bytes": 131072}`), 0o600)
	h := openHost(t, state, host.Options{})
	if _, err := h.Install(ctx, skillSpec{}.File(t), host.InstallOptions{AllowTOFU: true}); err != nil {
		t.Fatal(err)
	}
	rep, err := h.Grants(ctx, "acme.echo")
	if err != nil || rep.MaxMemoryBytes != 131072 {
		t.Fatalf("policy not applied: %+v %v", rep, err)
	}
}

// TestWildcardHostGrants: Palyra's "api.*.example.com" form installs and is
// granted under a policy that allows wildcard capabilities; under one that
// does not (tightened after install), granting it is refused, naming the
// host, and a grant already stored does not reach the egress policy.
func TestWildcardHostGrants(t *testing.T) {
	state := t.TempDir()
	spec := skillSpec{Key: newKey(t), Capabilities: `http_egress_allowlist = ["api.*.example.com", "plain.example.com"]
wildcard_opt_in = { http_egress = true }`}
	allow := host.DefaultAuditPolicy()
	allow.AllowWildcardCapabilities = true
	h := openHost(t, state, host.Options{Policy: &host.Policy{Audit: &allow}})
	in, err := h.Install(ctx, spec.File(t), host.InstallOptions{AllowTOFU: true, GrantRequested: true})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in.Granted.HTTPHosts, []string{"api.*.example.com", "plain.example.com"}) {
		t.Fatalf("granted %v", in.Granted.HTTPHosts)
	}
	if _, err := h.Call(ctx, "acme.echo", "echo", nil); err != nil {
		t.Fatalf("call with the wildcard granted: %v", err)
	}
	h.Close()

	// The same state dir under the default policy (no wildcards).
	h = openHost(t, state, host.Options{})
	if _, err := h.Call(ctx, "acme.echo", "echo", nil); !errors.Is(err, host.ErrWildcardNotAllowed) {
		t.Fatalf("call with a stored wildcard grant, policy now without wildcards: %v", err)
	}
	_, err = h.SetGrants(ctx, "acme.echo", host.Grants{HTTPHosts: []string{"api.*.example.com"}}, "")
	if !errors.Is(err, host.ErrWildcardNotAllowed) || !strings.Contains(err.Error(), "api.*.example.com") {
		t.Fatalf("SetGrants of a wildcard host without policy: %v", err)
	}
	if _, err := h.SetGrants(ctx, "acme.echo", host.Grants{HTTPHosts: []string{"plain.example.com"}}, ""); err != nil {
		t.Fatalf("SetGrants of a plain host: %v", err)
	}
}
