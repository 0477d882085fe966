package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/palyra/palyra-go/internal/journal"
	"github.com/palyra/palyra-go/internal/manifest"
	"github.com/palyra/palyra-go/internal/runtime"
)

// Grants are what the operator lets one installed skill version do: a
// subset of what its manifest requests. A capability a skill requested but
// was not granted fails its call with an error naming it.
type Grants struct {
	// HTTPHosts are granted entries of capabilities.http_egress_allowlist.
	HTTPHosts []string `json:"http_hosts"`
	// ReadRoots and WriteRoots are granted filesystem roots, relative to
	// the skill's data dir.
	ReadRoots  []string `json:"read_roots"`
	WriteRoots []string `json:"write_roots"`
	// Secrets are granted secret keys, by scope.
	Secrets []SecretGrant `json:"secrets"`
}

// SecretGrant grants the named keys of one secret scope.
type SecretGrant struct {
	Scope    string   `json:"scope"`
	KeyNames []string `json:"key_names"`
}

// ErrNotRequested: a grant names a capability the manifest does not request.
var ErrNotRequested = errors.New("capability not requested by the skill")

// ErrForeignSecretScope: a grant names another skill's skill:ID secret
// scope. Those secrets are that skill's alone; no grant reaches them.
var ErrForeignSecretScope = errors.New("secret scope belongs to another skill")

// ownSecretScope is the secret scope that belongs to a skill.
func ownSecretScope(skillID string) string { return "skill:" + skillID }

// foreignSecretScope reports whether scope is another skill's skill:ID.
func foreignSecretScope(skillID, scope string) bool {
	return strings.HasPrefix(scope, "skill:") && scope != ownSecretScope(skillID)
}

// checkOwnSecrets refuses grants of another skill's secrets.
func (g Grants) checkOwnSecrets(skillID string) error {
	var bad []string
	for _, s := range g.Secrets {
		if foreignSecretScope(skillID, s.Scope) {
			bad = append(bad, s.Scope)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s may not be granted %s: %w", skillID, strings.Join(bad, ", "), ErrForeignSecretScope)
	}
	return nil
}

// ErrWildcardNotAllowed: a grant names a wildcard host ("*.example.com",
// "api.*.example.com") while the policy's audit.allow_wildcard_capabilities
// is off.
var ErrWildcardNotAllowed = errors.New("wildcard capability not allowed by policy")

// wildcardsAllowed checks that g grants a wildcard host only under a
// policy that allows wildcard capabilities: a policy tightened after
// install must not leave a skill able to be granted one.
func (h *Host) wildcardsAllowed(g Grants) error {
	if h.auditPolicy().AllowWildcardCapabilities {
		return nil
	}
	var w []string
	for _, x := range g.HTTPHosts {
		if strings.Contains(x, "*") {
			w = append(w, "http "+x)
		}
	}
	if len(w) > 0 {
		return fmt.Errorf("%s: %w (audit.allow_wildcard_capabilities is off)", strings.Join(w, ", "), ErrWildcardNotAllowed)
	}
	return nil
}

// SecretAccess is one secret key a skill requests, and whether it may
// read it.
type SecretAccess struct {
	Scope string `json:"scope"`
	// Key is a key name, or a pattern with '*' (wildcard_opt_in.secrets).
	Key     string `json:"key"`
	Granted bool   `json:"granted"`
	// Shared: the scope is global, principal:ID or channel:ID, not the
	// skill's own skill:ID. Shared secrets are granted only by an
	// operator naming them, never by granting "what is requested".
	Shared bool `json:"shared"`
	// Foreign: the scope is another skill's skill:ID, which no grant
	// reaches (an install from before the audit refused such requests).
	Foreign bool `json:"foreign,omitempty"`
	// Grant is the palyra CLI's --grant value that grants it (empty when
	// Foreign).
	Grant string `json:"grant,omitempty"`
}

// defaultGrants is what granting "what is requested" grants
// (InstallOptions.GrantRequested, Host.GrantRequested): everything m
// requests except secrets outside the skill's own skill:ID scope. Those
// are shared with other skills and people, and granted only by name.
func defaultGrants(m *Manifest) Grants {
	g := Requested(m)
	g.Secrets = slices.DeleteFunc(g.Secrets, func(s SecretGrant) bool { return s.Scope != ownSecretScope(m.SkillID) })
	return g.normalize()
}

// secretAccess lists, for each secret key m requests, whether g grants it.
func secretAccess(m *Manifest, g Grants) []SecretAccess {
	out := []SecretAccess{}
	for _, s := range Requested(m).Secrets {
		i := slices.IndexFunc(g.Secrets, func(x SecretGrant) bool { return x.Scope == s.Scope })
		for _, k := range s.KeyNames {
			a := SecretAccess{
				Scope: s.Scope, Key: k,
				Granted: i >= 0 && slices.Contains(g.Secrets[i].KeyNames, k),
				Shared:  !strings.HasPrefix(s.Scope, "skill:"),
				Foreign: foreignSecretScope(m.SkillID, s.Scope),
			}
			if !a.Foreign {
				a.Grant = "secret:" + s.Scope + "/" + k
			} else {
				a.Granted = false // the runtime drops such grants
			}
			out = append(out, a)
		}
	}
	return out
}

// withheld are the shared secrets m requests that g does not grant.
func withheld(m *Manifest, g Grants) []SecretAccess {
	out := []SecretAccess{}
	for _, a := range secretAccess(m, g) {
		if a.Shared && !a.Granted {
			out = append(out, a)
		}
	}
	return out
}

// Requested returns everything m's capabilities ask for, as Grants.
func Requested(m *Manifest) Grants {
	c := m.Capabilities
	g := Grants{
		HTTPHosts:  slices.Clone(c.HTTPEgressAllowlist),
		ReadRoots:  slices.Clone(c.Filesystem.ReadRoots),
		WriteRoots: slices.Clone(c.Filesystem.WriteRoots),
	}
	for _, s := range c.Secrets {
		g.Secrets = append(g.Secrets, SecretGrant{Scope: s.Scope, KeyNames: slices.Clone(s.KeyNames)})
	}
	return g.normalize()
}

// normalize sorts and deduplicates, and turns nil lists into empty ones so
// the stored JSON says [] rather than null.
func (g Grants) normalize() Grants {
	clean := func(s []string) []string {
		s = slices.Clone(s)
		slices.Sort(s)
		s = slices.Compact(s)
		if s == nil {
			s = []string{}
		}
		return s
	}
	out := Grants{HTTPHosts: clean(g.HTTPHosts), ReadRoots: clean(g.ReadRoots), WriteRoots: clean(g.WriteRoots), Secrets: []SecretGrant{}}
	byScope := map[string][]string{}
	for _, s := range g.Secrets {
		byScope[s.Scope] = append(byScope[s.Scope], s.KeyNames...)
	}
	for scope, keys := range byScope {
		if keys = clean(keys); len(keys) > 0 {
			out.Secrets = append(out.Secrets, SecretGrant{Scope: scope, KeyNames: keys})
		}
	}
	slices.SortFunc(out.Secrets, func(a, b SecretGrant) int { return strings.Compare(a.Scope, b.Scope) })
	return out
}

// within checks that g asks only for what req requests.
func (g Grants) within(req Grants) error {
	var extra []string
	for _, h := range g.HTTPHosts {
		if !slices.Contains(req.HTTPHosts, h) {
			extra = append(extra, "http "+h)
		}
	}
	for _, r := range g.ReadRoots {
		if !slices.Contains(req.ReadRoots, r) {
			extra = append(extra, "read root "+r)
		}
	}
	for _, r := range g.WriteRoots {
		if !slices.Contains(req.WriteRoots, r) {
			extra = append(extra, "write root "+r)
		}
	}
	for _, s := range g.Secrets {
		i := slices.IndexFunc(req.Secrets, func(r SecretGrant) bool { return r.Scope == s.Scope })
		for _, k := range s.KeyNames {
			if i < 0 || !slices.Contains(req.Secrets[i].KeyNames, k) {
				extra = append(extra, "secret "+s.Scope+"/"+k)
			}
		}
	}
	if len(extra) > 0 {
		return fmt.Errorf("%s: %w", strings.Join(extra, ", "), ErrNotRequested)
	}
	return nil
}

// intersect keeps what g grants that req still requests (for an upgrade
// that carries the operator's grants over to a new version).
func (g Grants) intersect(req Grants) Grants {
	keep := func(have, want []string) []string {
		var out []string
		for _, x := range have {
			if slices.Contains(want, x) {
				out = append(out, x)
			}
		}
		return out
	}
	out := Grants{
		HTTPHosts:  keep(g.HTTPHosts, req.HTTPHosts),
		ReadRoots:  keep(g.ReadRoots, req.ReadRoots),
		WriteRoots: keep(g.WriteRoots, req.WriteRoots),
	}
	for _, s := range g.Secrets {
		if i := slices.IndexFunc(req.Secrets, func(r SecretGrant) bool { return r.Scope == s.Scope }); i >= 0 {
			out.Secrets = append(out.Secrets, SecretGrant{Scope: s.Scope, KeyNames: keep(s.KeyNames, req.Secrets[i].KeyNames)})
		}
	}
	return out.normalize()
}

// denied lists what req requests that g does not grant.
func (g Grants) denied(req Grants) []string {
	var out []string
	for _, h := range req.HTTPHosts {
		if !slices.Contains(g.HTTPHosts, h) {
			out = append(out, "http "+h)
		}
	}
	for _, r := range req.ReadRoots {
		if !slices.Contains(g.ReadRoots, r) {
			out = append(out, "read root "+r)
		}
	}
	for _, r := range req.WriteRoots {
		if !slices.Contains(g.WriteRoots, r) {
			out = append(out, "write root "+r)
		}
	}
	for _, s := range req.Secrets {
		i := slices.IndexFunc(g.Secrets, func(x SecretGrant) bool { return x.Scope == s.Scope })
		for _, k := range s.KeyNames {
			if i < 0 || !slices.Contains(g.Secrets[i].KeyNames, k) {
				out = append(out, "secret "+s.Scope+"/"+k)
			}
		}
	}
	return out
}

// Policy is the operator's policy for running skills, read from
// <state>/policy.json when present. Each quota a skill gets is the lower of
// its manifest's and the policy's; zero fields take the defaults.
type Policy struct {
	// MaxWallClockTimeoutMS caps any call's run time (default 30000).
	MaxWallClockTimeoutMS uint64 `json:"max_wall_clock_timeout_ms,omitempty"`
	// MaxMemoryBytes caps a skill's memory, kernel included (default 64 MiB).
	MaxMemoryBytes uint64 `json:"max_memory_bytes,omitempty"`
	// AllowPrivateNetwork lets granted HTTP hosts resolve to loopback,
	// private and link-local addresses (never to metadata addresses).
	AllowPrivateNetwork bool `json:"allow_private_network,omitempty"`
	// HTTPPorts are the ports granted HTTP hosts may be reached on
	// (default 80 and 443).
	HTTPPorts []int `json:"http_ports,omitempty"`
	// MaxHTTPResponseBytes caps one HTTP response body (default 4 MiB).
	MaxHTTPResponseBytes int64 `json:"max_http_response_bytes,omitempty"`
	// InstancesPerSkill bounds the warm instances kept per skill module
	// (default 4).
	InstancesPerSkill int `json:"instances_per_skill,omitempty"`
	// LogLevel is the most verbose guest log level passed on: trace,
	// debug, info (default), warn, error.
	LogLevel string `json:"log_level,omitempty"`
	// FuelBudget caps the fuel of any call, in wasmtime fuel units
	// (default 10,000,000, Palyra's).
	FuelBudget uint64 `json:"fuel_budget,omitempty"`
	// MaxTableElements caps the table elements of an instance, summed over
	// its tables (default 100,000, Palyra's); they count in the memory
	// quota too.
	MaxTableElements int64 `json:"max_table_elements,omitempty"`
	// MaxOpenFiles caps the files an instance holds open (default 256).
	MaxOpenFiles int `json:"max_open_files,omitempty"`
	// MaxLogRecordsPerCall and MaxLogBytesPerCall cap what one call may
	// log (defaults 1000 records, 256 KiB).
	MaxLogRecordsPerCall int   `json:"max_log_records_per_call,omitempty"`
	MaxLogBytesPerCall   int64 `json:"max_log_bytes_per_call,omitempty"`
	// MaxWriteRootBytes caps the bytes a skill's write roots may hold,
	// summed (default 64 MiB).
	MaxWriteRootBytes int64 `json:"max_write_root_bytes,omitempty"`
	// Audit limits the static audit.
	Audit *AuditPolicy `json:"audit,omitempty"`
	// ToolSchemas is what a call does with an input or output that breaks
	// its tool's schema: SchemaEnforce ("enforce", the default: refuse),
	// SchemaWarn ("warn": log and go on) or SchemaOff ("off": no check).
	ToolSchemas string `json:"tool_schemas,omitempty"`
}

// DefaultMaxWriteRootBytes is the default of Policy.MaxWriteRootBytes.
const DefaultMaxWriteRootBytes = 64 << 20

// policyFileName is the operator policy's file in the state dir.
const policyFileName = "policy.json"

func (p Policy) withDefaults() Policy {
	if p.MaxWallClockTimeoutMS == 0 {
		p.MaxWallClockTimeoutMS = manifest.DefaultWallClockTimeoutMS
	}
	if p.MaxMemoryBytes == 0 {
		p.MaxMemoryBytes = manifest.DefaultMaxMemoryBytes
	}
	if p.MaxHTTPResponseBytes == 0 {
		p.MaxHTTPResponseBytes = 4 << 20
	}
	if p.InstancesPerSkill == 0 {
		p.InstancesPerSkill = 4
	}
	if p.LogLevel == "" {
		p.LogLevel = "info"
	}
	if p.FuelBudget == 0 {
		p.FuelBudget = manifest.DefaultFuelBudget
	}
	if p.MaxTableElements <= 0 {
		p.MaxTableElements = runtime.DefaultMaxTableElements
	}
	// MaxOpenFiles and the log bounds: 0 passes to the runtime, whose
	// defaults they are.
	if p.MaxWriteRootBytes <= 0 {
		p.MaxWriteRootBytes = DefaultMaxWriteRootBytes
	}
	return p
}

// readPolicy reads <state>/policy.json strictly; a missing file is the
// default policy.
func readPolicy(stateDir string) (Policy, error) {
	path := filepath.Join(stateDir, policyFileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Policy{}, nil
	}
	if err != nil {
		return Policy{}, err
	}
	var p Policy
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Policy{}, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// GrantReport shows, for the current version of a skill, what it requests,
// what the operator granted, and the limits it runs under.
type GrantReport struct {
	SkillID   string   `json:"skill_id"`
	Version   string   `json:"version"`
	Requested Grants   `json:"requested"`
	Granted   Grants   `json:"granted"`
	Denied    []string `json:"denied"`
	// Secrets lists every secret key the skill requests and whether it
	// can read it.
	Secrets []SecretAccess `json:"secrets"`
	// Withheld are the requested shared secrets (global, principal:ID,
	// channel:ID) not granted: granting "what is requested" leaves them
	// out, and only granting them by name (SetGrants, --grant) lets the
	// skill read them.
	Withheld []SecretAccess `json:"withheld"`
	// Effective quotas: the lower of the manifest's and the policy's.
	WallClockTimeoutMS uint64 `json:"wall_clock_timeout_ms"`
	MaxMemoryBytes     uint64 `json:"max_memory_bytes"`
	// FuelBudget is the fuel each call may consume, in wasmtime's units.
	FuelBudget uint64 `json:"fuel_budget"`
	// MaxTableElements bounds an instance's table elements.
	MaxTableElements int64 `json:"max_table_elements"`
}

// Grants reports the grants of the current version of an installed skill.
func (h *Host) Grants(ctx context.Context, skillID string) (*GrantReport, error) {
	st, err := h.current(ctx, skillID)
	if err != nil {
		return nil, err
	}
	m, err := h.installedManifest(st)
	if err != nil {
		return nil, err
	}
	g, err := h.storedGrants(ctx, st)
	if err != nil {
		return nil, err
	}
	return h.grantReport(st, m, g), nil
}

func (h *Host) grantReport(st journal.Status, m *Manifest, g Grants) *GrantReport {
	req := Requested(m)
	p := h.policy.withDefaults()
	q := m.Capabilities.Quotas
	denied := g.denied(req)
	if denied == nil {
		denied = []string{}
	}
	return &GrantReport{
		SkillID: st.SkillID, Version: st.Version, Requested: req, Granted: g, Denied: denied,
		Secrets: secretAccess(m, g), Withheld: withheld(m, g),
		WallClockTimeoutMS: min(q.WallClockTimeoutMS, p.MaxWallClockTimeoutMS),
		MaxMemoryBytes:     min(q.MaxMemoryBytes, p.MaxMemoryBytes),
		FuelBudget:         min(q.FuelBudget, p.FuelBudget),
		MaxTableElements:   p.MaxTableElements,
	}
}

// SetGrants replaces the grants of the current version of a skill; g must
// ask only for what the manifest requests.
func (h *Host) SetGrants(ctx context.Context, skillID string, g Grants, principal string) (*GrantReport, error) {
	st, err := h.current(ctx, skillID)
	if err != nil {
		return nil, err
	}
	m, err := h.installedManifest(st)
	if err != nil {
		return nil, err
	}
	g = g.normalize()
	if err := g.checkOwnSecrets(st.SkillID); err != nil {
		return nil, err
	}
	if err := g.within(Requested(m)); err != nil {
		return nil, fmt.Errorf("%s %s: %w", skillID, st.Version, err)
	}
	if err := h.wildcardsAllowed(g); err != nil {
		return nil, fmt.Errorf("%s %s: %w", skillID, st.Version, err)
	}
	data, _ := json.Marshal(g)
	if err := h.journal.SetGrants(ctx, st.SkillID, st.Version, data, h.principal(principal), "grants changed"); err != nil {
		return nil, err
	}
	h.invalidate(skillID)
	return h.grantReport(st, m, g), nil
}

// GrantRequested replaces the grants of the current version of a skill
// with what its manifest requests, except shared secrets (global,
// principal:ID, channel:ID), plus also, which must be requested and may
// name shared secrets. The report's Withheld lists the shared secrets
// still not granted.
func (h *Host) GrantRequested(ctx context.Context, skillID string, also Grants, principal string) (*GrantReport, error) {
	st, err := h.current(ctx, skillID)
	if err != nil {
		return nil, err
	}
	m, err := h.installedManifest(st)
	if err != nil {
		return nil, err
	}
	return h.SetGrants(ctx, skillID, defaultGrants(m).union(also), principal)
}

// union is what g or o grants.
func (g Grants) union(o Grants) Grants {
	return Grants{
		HTTPHosts:  append(slices.Clone(g.HTTPHosts), o.HTTPHosts...),
		ReadRoots:  append(slices.Clone(g.ReadRoots), o.ReadRoots...),
		WriteRoots: append(slices.Clone(g.WriteRoots), o.WriteRoots...),
		Secrets:    append(slices.Clone(g.Secrets), o.Secrets...),
	}.normalize()
}

func (h *Host) storedGrants(ctx context.Context, st journal.Status) (Grants, error) {
	data, err := h.journal.Grants(ctx, st.SkillID, st.Version)
	if errors.Is(err, journal.ErrNoGrants) {
		return Grants{}.normalize(), nil
	}
	if err != nil {
		return Grants{}, err
	}
	var g Grants
	if err := json.Unmarshal(data, &g); err != nil {
		return Grants{}, fmt.Errorf("grants of %s %s: %w", st.SkillID, st.Version, err)
	}
	return g.normalize(), nil
}

// installedManifest reads the manifest of an installed version. It is
// checked against the artifact by Check; for grants, what the operator
// sees is what the journal-verified install wrote.
func (h *Host) installedManifest(st journal.Status) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(h.versionDir(st.SkillID, st.Version), "skill.toml"))
	if err != nil {
		return nil, err
	}
	return manifest.Parse(data)
}

// grantsForInstall decides what a new install is granted: the explicit
// grants if given (which must be requested), with GrantRequested also
// everything requested but shared secrets, else the previous version's
// grants that the new version still requests, else nothing.
func (h *Host) grantsForInstall(ctx context.Context, m *Manifest, prev journal.Status, opts InstallOptions) (Grants, error) {
	req := Requested(m)
	g := Grants{}.normalize()
	switch {
	case opts.Grants != nil || opts.GrantRequested:
		if opts.Grants != nil {
			g = opts.Grants.normalize()
		}
		if opts.GrantRequested {
			g = g.union(defaultGrants(m))
		}
	case prev.Version != "" && prev.State != journal.StateRemoved:
		old, err := h.storedGrants(ctx, prev)
		if err != nil {
			return Grants{}, err
		}
		g = old.intersect(req)
	}
	if err := g.checkOwnSecrets(m.SkillID); err != nil {
		return Grants{}, err
	}
	if err := g.within(req); err != nil {
		return Grants{}, fmt.Errorf("%s %s: %w", m.SkillID, m.Version, err)
	}
	return g, nil
}
