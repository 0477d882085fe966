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
// grants if given (which must be requested), everything requested with
// GrantRequested, else the previous version's grants that the new version
// still requests, else nothing.
func (h *Host) grantsForInstall(ctx context.Context, m *Manifest, prev journal.Status, opts InstallOptions) (Grants, error) {
	req := Requested(m)
	switch {
	case opts.GrantRequested:
		return req, nil
	case opts.Grants != nil:
		g := opts.Grants.normalize()
		if err := g.within(req); err != nil {
			return Grants{}, fmt.Errorf("%s %s: %w", m.SkillID, m.Version, err)
		}
		return g, nil
	case prev.Version != "" && prev.State != journal.StateRemoved:
		old, err := h.storedGrants(ctx, prev)
		if err != nil {
			return Grants{}, err
		}
		return old.intersect(req), nil
	}
	return Grants{}.normalize(), nil
}
