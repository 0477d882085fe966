package host_test

import (
	"errors"
	"fmt"
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

const sharedSecretCaps = `secrets = [
  { scope = "skill:acme.echo", key_names = ["token"] },
  { scope = "global", key_names = ["api_key"] },
  { scope = "principal:admin", key_names = ["pw"] },
  { scope = "channel:discord:acct_1", key_names = ["bot"] },
]`

// TestGrantRequestedWithholdsSharedSecrets: granting "what is requested"
// used to grant global, principal and channel secrets too, silently; it
// now grants only the skill's own skill:ID secrets and names the others
// with how to grant them.
func TestGrantRequestedWithholdsSharedSecrets(t *testing.T) {
	spec := skillSpec{Key: newKey(t), Capabilities: sharedSecretCaps}
	own := []host.SecretGrant{{Scope: "skill:acme.echo", KeyNames: []string{"token"}}}
	wantWithheld := []string{"channel:discord:acct_1/bot=secret:channel:discord:acct_1/bot", "global/api_key=secret:global/api_key", "principal:admin/pw=secret:principal:admin/pw"}
	withheldOf := func(w []host.SecretAccess) []string {
		var out []string
		for _, s := range w {
			if !s.Shared || s.Granted {
				t.Errorf("withheld %+v is not a shared secret not granted", s)
			}
			out = append(out, s.Scope+"/"+s.Key+"="+s.Grant)
		}
		return out
	}

	h := openHost(t, t.TempDir(), host.Options{})
	in, err := h.Install(ctx, spec.File(t), host.InstallOptions{AllowTOFU: true, GrantRequested: true})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in.Granted.Secrets, own) {
		t.Fatalf("GrantRequested granted secrets %+v, want only %+v", in.Granted.Secrets, own)
	}
	if got := withheldOf(in.Withheld); !reflect.DeepEqual(got, wantWithheld) {
		t.Fatalf("withheld %q, want %q", got, wantWithheld)
	}
	if !reflect.DeepEqual(in.Denied, []string{"secret channel:discord:acct_1/bot", "secret global/api_key", "secret principal:admin/pw"}) {
		t.Errorf("denied %q", in.Denied)
	}

	rep, err := h.Grants(ctx, "acme.echo")
	if err != nil {
		t.Fatal(err)
	}
	if got := withheldOf(rep.Withheld); !reflect.DeepEqual(got, wantWithheld) {
		t.Fatalf("report withheld %q, want %q", got, wantWithheld)
	}
	readable := func(r *host.GrantReport) []string {
		var out []string
		for _, s := range r.Secrets {
			if s.Granted {
				out = append(out, s.Scope+"/"+s.Key)
			}
		}
		return out
	}
	if got := readable(rep); !reflect.DeepEqual(got, []string{"skill:acme.echo/token"}) || len(rep.Secrets) != 4 {
		t.Fatalf("report secrets %+v", rep.Secrets)
	}

	// Named, a shared secret is granted, with or without the rest.
	rep, err = h.GrantRequested(ctx, "acme.echo", host.Grants{Secrets: []host.SecretGrant{{Scope: "global", KeyNames: []string{"api_key"}}}}, "operator:test")
	if err != nil {
		t.Fatal(err)
	}
	if got := readable(rep); !reflect.DeepEqual(got, []string{"global/api_key", "skill:acme.echo/token"}) || len(rep.Withheld) != 2 {
		t.Fatalf("after naming global/api_key: readable %q, withheld %+v", got, rep.Withheld)
	}
	if got, _ := h.Grants(ctx, "acme.echo"); !reflect.DeepEqual(readable(got), readable(rep)) {
		t.Fatalf("not stored: %+v", got.Secrets)
	}
	h2 := openHost(t, t.TempDir(), host.Options{})
	in, err = h2.Install(ctx, spec.File(t), host.InstallOptions{AllowTOFU: true, GrantRequested: true,
		Grants: &host.Grants{Secrets: []host.SecretGrant{{Scope: "principal:admin", KeyNames: []string{"pw"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []host.SecretGrant{{Scope: "principal:admin", KeyNames: []string{"pw"}}, own[0]}
	if !reflect.DeepEqual(in.Granted.Secrets, want) || len(in.Withheld) != 2 {
		t.Fatalf("GrantRequested + Grants: %+v, withheld %+v", in.Granted.Secrets, in.Withheld)
	}
}

// TestForeignSkillSecretScope: a skill whose manifest requested
// skill:victim.app used to be granted it by --grant-requested and read
// victim.app's secret. The audit now refuses the install, naming both
// skills, and no grant can name another skill's scope.
func TestForeignSkillSecretScope(t *testing.T) {
	state := t.TempDir()
	h := openHost(t, state, host.Options{})
	if err := h.SetSecret(ctx, "skill:victim.app", "api_key", []byte("victim-key")); err != nil {
		t.Fatal(err)
	}
	spec := skillSpec{Key: newKey(t), Capabilities: `
[[capabilities.secrets]]
scope = "skill:victim.app"
key_names = ["api_key"]`}
	_, err := h.Install(ctx, spec.File(t), host.InstallOptions{AllowTOFU: true, GrantRequested: true})
	var ae *host.AuditError
	if !errors.As(err, &ae) || !errors.Is(err, host.ErrAuditFailed) {
		t.Fatalf("install requesting another skill's secrets: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "manifest_secret_owner") || !strings.Contains(msg, "'acme.echo'") || !strings.Contains(msg, "victim.app") {
		t.Fatalf("refusal does not name both skills: %v", err)
	}
	if list, _ := h.List(ctx); len(list) != 0 {
		t.Fatalf("installed: %+v", list)
	}
	entries, err := h.SecretReaders(ctx)
	if err != nil || len(entries) != 1 || len(entries[0].Readers) != 0 {
		t.Fatalf("secret readers: %+v, %v", entries, err)
	}

	// No grant names another skill's scope.
	ownSpec := skillSpec{Key: spec.Key, Capabilities: `
[[capabilities.secrets]]
scope = "skill:acme.echo"
key_names = ["api_key"]`}
	if _, err := h.Install(ctx, ownSpec.File(t), host.InstallOptions{AllowTOFU: true,
		Grants: &host.Grants{Secrets: []host.SecretGrant{{Scope: "skill:victim.app", KeyNames: []string{"api_key"}}}}}); !errors.Is(err, host.ErrForeignSecretScope) {
		t.Fatalf("install granting another skill's scope: %v", err)
	}
	if _, err := h.Install(ctx, ownSpec.File(t), host.InstallOptions{AllowTOFU: true, GrantRequested: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.SetGrants(ctx, "acme.echo", host.Grants{Secrets: []host.SecretGrant{{Scope: "skill:victim.app", KeyNames: []string{"api_key"}}}}, ""); !errors.Is(err, host.ErrForeignSecretScope) || !strings.Contains(err.Error(), "skill:victim.app") {
		t.Fatalf("SetGrants of another skill's scope: %v", err)
	}
	// A grant an older version recorded is not a reader.
	if err := host.ForceGrants(ctx, h, "acme.echo", host.Grants{Secrets: []host.SecretGrant{{Scope: "skill:victim.app", KeyNames: []string{"api_key"}}}}); err != nil {
		t.Fatal(err)
	}
	if entries, err := h.SecretReaders(ctx); err != nil || len(entries) != 1 || len(entries[0].Readers) != 0 {
		t.Fatalf("secret readers with a stale foreign grant: %+v, %v", entries, err)
	}
}

func TestSecretReaders(t *testing.T) {
	h := openHost(t, t.TempDir(), host.Options{})
	for _, r := range []string{"global/api_key", "global/other", "skill:acme.echo/token", "skill:acme.two/token"} {
		ref, _ := host.ParseSecretRef(r)
		if err := h.SetSecret(ctx, ref.Scope, ref.Key, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	key := newKey(t)
	one := skillSpec{Key: key, Capabilities: sharedSecretCaps}
	two := skillSpec{Key: key, Name: "two", Capabilities: `secrets = [
  { scope = "skill:acme.two", key_names = ["token"] },
  { scope = "global", key_names = ["api_key"] },
]`}
	if _, err := h.Install(ctx, one.File(t), host.InstallOptions{AllowTOFU: true, GrantRequested: true,
		Grants: &host.Grants{Secrets: []host.SecretGrant{{Scope: "global", KeyNames: []string{"api_key"}}, {Scope: "principal:admin", KeyNames: []string{"pw"}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Install(ctx, two.File(t), host.InstallOptions{GrantRequested: true,
		Grants: &host.Grants{Secrets: []host.SecretGrant{{Scope: "global", KeyNames: []string{"api_key"}}}}}); err != nil {
		t.Fatal(err)
	}
	if err := h.Quarantine(ctx, "acme.two", "test", ""); err != nil {
		t.Fatal(err)
	}
	entries, err := h.SecretReaders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		line := fmt.Sprintf("%s/%s stored=%v:", e.Scope, e.Key, e.Stored)
		for _, r := range e.Readers {
			line += " " + r.SkillID + "@" + string(r.State)
		}
		got = append(got, line)
	}
	want := []string{
		"global/api_key stored=true: acme.echo@eligible acme.two@quarantined",
		"global/other stored=true:",
		"principal:admin/pw stored=false: acme.echo@eligible",
		"skill:acme.echo/token stored=true: acme.echo@eligible",
		"skill:acme.two/token stored=true: acme.two@quarantined",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("secret readers:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
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
