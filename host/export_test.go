package host

import (
	"context"
	"encoding/json"
	"net/netip"
)

// SetCrashPoint lets tests stop an install at a named step.
func SetCrashPoint(o *Options, f func(step string)) { o.crashPoint = f }

// SetResolver replaces DNS for skills' HTTP egress.
func SetResolver(o *Options, r interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}) {
	o.resolver = r
}

// SetLoadHook calls f when a skill's load starts, in the goroutine that
// loads it; ctx ends when the host closes.
func SetLoadHook(o *Options, f func(ctx context.Context, skillID string)) { o.loadHook = f }

// SecretValue reads a stored secret as the host's secret store sees it,
// with no grant check (the host itself never hands a value out but to a
// granted skill).
func SecretValue(ctx context.Context, h *Host, scope, key string) ([]byte, error) {
	s, err := h.secretStore()
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, scope, key)
}

// ForceGrants records g as the grants of a skill's current version
// without any check, as a state dir written by an older version (which
// granted what was requested, whoever's secrets it named) may hold.
func ForceGrants(ctx context.Context, h *Host, skillID string, g Grants) error {
	st, err := h.current(ctx, skillID)
	if err != nil {
		return err
	}
	data, err := json.Marshal(g.normalize())
	if err != nil {
		return err
	}
	if err := h.journal.SetGrants(ctx, st.SkillID, st.Version, data, "test", "forced"); err != nil {
		return err
	}
	h.invalidate(skillID)
	return nil
}
