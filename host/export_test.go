package host

import (
	"context"
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
