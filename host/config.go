package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/palyra/palyra-go/internal/journal"
	"github.com/palyra/palyra-go/internal/manifest"
)

// Operator config errors callers tell apart with errors.Is.
var (
	// ErrConfigUndeclared: the key is not one of the properties the
	// manifest's [operator.config] declares.
	ErrConfigUndeclared = errors.New("config key not declared by the skill")
	// ErrConfigType: the value does not parse as the property's declared
	// type, or is not one of its enum_values.
	ErrConfigType = errors.New("config value does not match the declared type")
	// ErrConfigNotSet: unset of a key the operator never set.
	ErrConfigNotSet = errors.New("no operator value to unset")
	// ErrConfigInvalid: the operator's config does not fit the current
	// version (a value an upgrade made undeclared or mistyped, or a
	// required property with neither value nor default); the skill does
	// not run until the operator sets or unsets it.
	ErrConfigInvalid = errors.New("operator config does not fit the skill")
)

// Where a config value comes from (ConfigValue.Source).
const (
	ConfigFromOperator = "operator" // set with SetConfig
	ConfigFromDefault  = "default"  // the manifest's [operator.config] default
	ConfigNotSet       = "unset"    // declared, with no default and no operator value
)

// ConfigValue is one key of a skill's effective operator config (what the
// guest's config_get returns) or of its initial vars.
type ConfigValue struct {
	Key string `json:"key"`
	// Value is what the guest receives; empty when Redacted or not set.
	Value  string `json:"value"`
	Source string `json:"source"`
	// Type, Required and Default are the manifest's declaration, when it
	// declares the key (Default empty when there is none or Redacted).
	Type     string `json:"type,omitempty"`
	Required bool   `json:"required,omitempty"`
	Default  string `json:"default,omitempty"`
	// Redacted values are never shown: the property is marked redacted
	// in [operator.config], or its key looks like a secret's.
	Redacted bool `json:"redacted,omitempty"`
	// SetBy and UpdatedAtUnixMS tell who set the operator value, and when.
	SetBy           string `json:"set_by,omitempty"`
	UpdatedAtUnixMS int64  `json:"updated_at_unix_ms,omitempty"`
	// Problem, when set, is why this key keeps the skill from running.
	Problem string `json:"problem,omitempty"`
}

// ConfigReport is a skill's operator config and initial vars as its
// current version sees them.
type ConfigReport struct {
	SkillID string `json:"skill_id"`
	Version string `json:"version"`
	// Contract: the manifest declares [operator.config], so only its
	// properties may be set, each with its type. Without one, any key may
	// be set and is passed to config_get unchecked.
	Contract bool          `json:"contract"`
	Config   []ConfigValue `json:"config"`
	Vars     []ConfigValue `json:"vars"`
	// Problems keep the skill from running (calls fail with
	// ErrConfigInvalid) until the operator fixes them.
	Problems []string `json:"problems"`
	// Warnings are about the change just made, if any.
	Warnings []string `json:"warnings,omitempty"`
}

// Bounds on what an operator may store: config is for settings, not data.
const (
	maxConfigKeyBytes   = 128
	maxConfigValueBytes = 64 << 10
	// maxInitialVarBytes bounds the initial vars, counted as the runtime
	// counts vars; the rest of the runtime's 1 MiB is the guest's.
	maxInitialVarBytes = 256 << 10
	varOverhead        = 16 + 24 // as internal/runtime counts each var
)

// freeKey is what a key may look like where no contract names the keys
// (a manifest without [operator.config], and vars): shell-friendly
// Extism config and var names.
var freeKey = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// Config reports the effective operator config of the current version of
// skillID — the manifest's defaults overlaid by the operator's values,
// with the source of each — and its initial vars. Redacted values are
// left out: nothing the host returns shows them.
func (h *Host) Config(ctx context.Context, skillID string) (*ConfigReport, error) {
	st, m, es, err := h.configState(ctx, skillID)
	if err != nil {
		return nil, err
	}
	rep, _, _ := effectiveConfig(st, m, es)
	return rep, nil
}

// SetConfig sets the operator's value of one config key of skillID, which
// the guest then reads with config_get instead of the manifest's default.
// When the manifest declares [operator.config], key must be one of its
// properties and value must parse as its type: string (one of enum_values
// when declared), integer, number, boolean ("true" or "false") or
// string_list (a JSON array of strings); the value is stored in canonical
// form. Without [operator.config] any key of [A-Za-z0-9._-] is accepted,
// with a warning, as Extism config is free-form.
//
// The value is kept per skill id, so it carries over upgrades; it goes
// with Remove. The change applies to this Host's next call at once and to
// other processes within Options.JournalPollInterval.
func (h *Host) SetConfig(ctx context.Context, skillID, key, value, principal string) (*ConfigReport, error) {
	return h.changeConfig(ctx, skillID, journal.ConfigKindConfig, key, &value, principal)
}

// UnsetConfig removes the operator's value of one config key of skillID:
// the guest sees the manifest's default again, if there is one. A key
// with no operator value fails with ErrConfigNotSet.
func (h *Host) UnsetConfig(ctx context.Context, skillID, key, principal string) (*ConfigReport, error) {
	return h.changeConfig(ctx, skillID, journal.ConfigKindConfig, key, nil, principal)
}

// SetVar sets the initial value of one of skillID's Extism vars: every
// load of the skill (the first call, and the first after any change to
// it) starts with it, and the guest's var_set changes only its running
// copy. Keys are free-form ([A-Za-z0-9._-]); the initial vars are bounded
// to 256 KiB in all. Like config, vars carry over upgrades and go with
// Remove.
func (h *Host) SetVar(ctx context.Context, skillID, key, value, principal string) (*ConfigReport, error) {
	return h.changeConfig(ctx, skillID, journal.ConfigKindVar, key, &value, principal)
}

// UnsetVar removes the initial value of one var (ErrConfigNotSet if none).
func (h *Host) UnsetVar(ctx context.Context, skillID, key, principal string) (*ConfigReport, error) {
	return h.changeConfig(ctx, skillID, journal.ConfigKindVar, key, nil, principal)
}

// changeConfig sets (value != nil) or unsets one operator value.
func (h *Host) changeConfig(ctx context.Context, skillID string, kind journal.ConfigKind, key string, value *string, principal string) (*ConfigReport, error) {
	st, m, es, err := h.configState(ctx, skillID)
	if err != nil {
		return nil, err
	}
	c := journal.ConfigChange{Kind: kind, Key: key, Unset: value == nil, Principal: h.principal(principal)}
	var warnings []string
	if value != nil {
		if c.Value, c.Redacted, warnings, err = checkConfigChange(st, m, es, kind, key, *value); err != nil {
			return nil, err
		}
	}
	if err := h.journal.SetConfig(ctx, st.SkillID, c); err != nil {
		if errors.Is(err, journal.ErrNotFound) && c.Unset {
			return nil, fmt.Errorf("%s: %s %q: %w", skillID, kind, key, ErrConfigNotSet)
		}
		return nil, err
	}
	h.invalidate(skillID)
	action := "set"
	if c.Unset {
		action = "unset"
	}
	// The key and who, never the value: config is not for secrets, but a
	// value marked redacted must not reach a log either.
	h.log.Info("operator "+string(kind)+" "+action, "skill", skillID, "key", key, "principal", c.Principal)
	st, m, es, err = h.configState(ctx, skillID)
	if err != nil {
		return nil, err
	}
	rep, _, _ := effectiveConfig(st, m, es)
	rep.Warnings = warnings
	return rep, nil
}

// configState reads what a config report is made of.
func (h *Host) configState(ctx context.Context, skillID string) (journal.Status, *Manifest, []journal.ConfigEntry, error) {
	st, err := h.current(ctx, skillID)
	if err != nil {
		return st, nil, nil, err
	}
	m, err := h.installedManifest(st)
	if err != nil {
		return st, nil, nil, err
	}
	es, err := h.journal.Config(ctx, st.SkillID)
	if err != nil {
		return st, nil, nil, err
	}
	return st, m, es, nil
}

// checkConfigChange validates one value for the current version and
// returns it in canonical form, whether it is redacted, and warnings.
func checkConfigChange(st journal.Status, m *Manifest, es []journal.ConfigEntry, kind journal.ConfigKind, key, value string) (string, bool, []string, error) {
	at := fmt.Sprintf("%s %s: %s %q", st.SkillID, st.Version, kind, key)
	if len(key) > maxConfigKeyBytes || len(value) > maxConfigValueBytes {
		return "", false, nil, fmt.Errorf("%s: keys are at most %d bytes, values at most %d", at, maxConfigKeyBytes, maxConfigValueBytes)
	}
	var warnings []string
	redacted := looksSecret(key)
	if redacted {
		warnings = append(warnings, fmt.Sprintf("%s looks like a secret: its value is stored in the journal unencrypted and never shown; secrets belong in 'palyra secrets', granted per key", at))
	}
	if kind == journal.ConfigKindVar {
		if !freeKey.MatchString(key) {
			return "", false, nil, fmt.Errorf("%s: a var name uses only [A-Za-z0-9._-]", at)
		}
		size := int64(len(key)+len(value)) + varOverhead
		for _, e := range es {
			if e.Kind == kind && e.Key != key {
				size += int64(len(e.Key)+len(e.Value)) + varOverhead
			}
		}
		if size > maxInitialVarBytes {
			return "", false, nil, fmt.Errorf("%s: the initial vars would take %d bytes, more than %d", at, size, maxInitialVarBytes)
		}
		return value, redacted, warnings, nil
	}
	c := contract(m)
	if c == nil {
		if !freeKey.MatchString(key) {
			return "", false, nil, fmt.Errorf("%s: a config key uses only [A-Za-z0-9._-]", at)
		}
		warnings = append(warnings, fmt.Sprintf("%s %s declares no [operator.config]: %q is passed to config_get unchecked", st.SkillID, st.Version, key))
		return value, redacted, warnings, nil
	}
	p, ok := c.Properties[key]
	if !ok {
		return "", false, nil, fmt.Errorf("%s: %w (declared: %s)", at, ErrConfigUndeclared, declaredKeys(c))
	}
	canon, err := parseConfigValue(p, value)
	if err != nil {
		return "", false, nil, fmt.Errorf("%s: %w", at, err)
	}
	return canon, redacted || p.Redacted, warnings, nil
}

// contract is the manifest's [operator.config], or nil.
func contract(m *Manifest) *manifest.ConfigContract {
	if m.Operator == nil {
		return nil
	}
	return m.Operator.Config
}

func declaredKeys(c *manifest.ConfigContract) string {
	keys := make([]string, 0, len(c.Properties))
	for k, p := range c.Properties {
		keys = append(keys, k+" ("+string(p.Type)+")")
	}
	if len(keys) == 0 {
		return "none"
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}

// parseConfigValue parses the operator's text as p's type, as Palyra's
// validate_config_value_against_property checks values, and returns the
// string config_get returns.
func parseConfigValue(p manifest.ConfigProperty, s string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("%q is not %s: %w (%s)", s, typeNoun(p.Type), ErrConfigType, why)
	}
	switch p.Type {
	case manifest.ConfigString:
		if len(p.EnumValues) > 0 && !slices.Contains(p.EnumValues, s) {
			return "", fmt.Errorf("%q is not one of %s: %w", s, strings.Join(p.EnumValues, ", "), ErrConfigType)
		}
		return s, nil
	case manifest.ConfigInteger:
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return strconv.FormatInt(i, 10), nil
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return strconv.FormatUint(u, 10), nil
		}
		return "", bad("want a decimal 64-bit integer, like 42")
	case manifest.ConfigNumber:
		// JSON's number syntax: no hex, no "inf", no underscores.
		var f float64
		if err := json.Unmarshal([]byte(s), &f); err != nil || s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) || math.IsInf(f, 0) {
			return "", bad("want a decimal number, like 0.5 or 1e3")
		}
		return s, nil
	case manifest.ConfigBoolean:
		if s == "true" || s == "false" {
			return s, nil
		}
		return "", bad("want true or false")
	case manifest.ConfigStringList:
		var l []string
		if err := json.Unmarshal([]byte(s), &l); err != nil || l == nil {
			return "", bad(`want a JSON array of strings, like ["a","b"]`)
		}
		out, _ := json.Marshal(l)
		return string(out), nil
	}
	return "", fmt.Errorf("declared type %q is unknown: %w", p.Type, ErrConfigType)
}

func typeNoun(t manifest.ConfigValueType) string {
	switch t {
	case manifest.ConfigInteger:
		return "an integer"
	case manifest.ConfigStringList:
		return "a string_list"
	}
	return "a " + string(t)
}

// defaultString is a declared default as config_get returns it: strings
// as they are, a string_list as a JSON array, numbers and booleans as Go
// prints them.
func defaultString(p manifest.ConfigProperty) (string, bool) {
	switch v := p.Default.(type) {
	case nil:
		return "", false
	case string:
		return v, true
	case []string, []any:
		out, err := json.Marshal(v)
		return string(out), err == nil
	default:
		return fmt.Sprint(v), true
	}
}

// looksSecret is Palyra's looks_secretish: a key that names a secret.
func looksSecret(key string) bool {
	k := strings.ToLower(key)
	for _, s := range []string{"secret", "token", "password", "api_key", "client_key"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// effectiveConfig overlays the operator's values on the manifest's
// defaults. It returns the report (redacted values blanked) and, for the
// runtime, the config and initial vars the guest gets; err (wrapping
// ErrConfigInvalid) names the first problem that keeps the skill from
// running: an operator value the current version does not declare (an
// upgrade dropped it) or whose type it no longer accepts, or a required
// property with neither value nor default.
func effectiveConfig(st journal.Status, m *Manifest, es []journal.ConfigEntry) (*ConfigReport, runtimeConfig, error) {
	rep := &ConfigReport{SkillID: st.SkillID, Version: st.Version, Config: []ConfigValue{}, Vars: []ConfigValue{}, Problems: []string{}}
	rc := runtimeConfig{config: map[string]string{}}
	c := contract(m)
	rep.Contract = c != nil
	op := map[string]journal.ConfigEntry{}
	for _, e := range es {
		if e.Kind == journal.ConfigKindConfig {
			op[e.Key] = e
			continue
		}
		if rc.vars == nil {
			rc.vars = map[string][]byte{}
		}
		rc.vars[e.Key] = []byte(e.Value)
		rep.Vars = append(rep.Vars, shown(ConfigValue{Key: e.Key, Value: e.Value, Source: ConfigFromOperator, Redacted: e.Redacted,
			SetBy: e.SetBy, UpdatedAtUnixMS: e.UpdatedAt.UnixMilli()}))
	}
	var keys []string
	if c != nil {
		for k := range c.Properties {
			keys = append(keys, k)
		}
	}
	for k := range op {
		if c == nil || c.Properties[k].Type == "" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := ConfigValue{Key: k, Source: ConfigNotSet}
		var p manifest.ConfigProperty
		if c != nil {
			p = c.Properties[k]
			v.Type, v.Required, v.Redacted = string(p.Type), slices.Contains(c.Required, k), p.Redacted
			if d, ok := defaultString(p); ok {
				v.Default, v.Value, v.Source = d, d, ConfigFromDefault
			}
		}
		if e, ok := op[k]; ok {
			v.Value, v.Source, v.SetBy, v.UpdatedAtUnixMS = e.Value, ConfigFromOperator, e.SetBy, e.UpdatedAt.UnixMilli()
			v.Redacted = v.Redacted || e.Redacted
			switch {
			case c != nil && p.Type == "":
				v.Problem = fmt.Sprintf("operator config %q is not declared in this version's [operator.config] (palyra skills config %s unset %s)", k, st.SkillID, k)
			case c != nil:
				canon, err := parseConfigValue(p, e.Value)
				if err != nil {
					if v.Redacted {
						err = fmt.Errorf("the value is not %s: %w", typeNoun(p.Type), ErrConfigType)
					}
					v.Problem = fmt.Sprintf("operator config %q: %v (palyra skills config %s set %s VALUE)", k, err, st.SkillID, k)
				}
				v.Value = canon
			}
		} else if v.Required && v.Source == ConfigNotSet {
			v.Problem = fmt.Sprintf("operator config %q (%s) is required and has no default (palyra skills config %s set %s VALUE)", k, p.Type, st.SkillID, k)
		}
		if v.Problem != "" {
			rep.Problems = append(rep.Problems, v.Problem)
		} else if v.Source != ConfigNotSet {
			rc.config[k] = v.Value
		}
		rep.Config = append(rep.Config, shown(v))
	}
	var err error
	if len(rep.Problems) > 0 {
		err = fmt.Errorf("%s: %w", rep.Problems[0], ErrConfigInvalid)
	}
	return rep, rc, err
}

// shown blanks what must not be shown of v.
func shown(v ConfigValue) ConfigValue {
	if v.Redacted {
		v.Value, v.Default = "", ""
	}
	return v
}

// runtimeConfig is what the runtime hands the guest.
type runtimeConfig struct {
	config map[string]string
	vars   map[string][]byte
}

// operatorConfig is what a load of st gives the guest: config_get's map
// and the initial vars, or an error wrapping ErrConfigInvalid.
func (h *Host) operatorConfig(ctx context.Context, st journal.Status, m *Manifest) (runtimeConfig, error) {
	es, err := h.journal.Config(ctx, st.SkillID)
	if err != nil {
		return runtimeConfig{}, err
	}
	_, rc, err := effectiveConfig(st, m, es)
	return rc, err
}

// configProblems lists what of the operator's config keeps st from
// running, for Install's warnings.
func (h *Host) configProblems(ctx context.Context, st journal.Status, m *Manifest) []string {
	es, err := h.journal.Config(ctx, st.SkillID)
	if err != nil {
		return []string{"operator config: " + err.Error()}
	}
	rep, _, _ := effectiveConfig(st, m, es)
	return rep.Problems
}
