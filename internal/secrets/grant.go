package secrets

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Grant is one granted capabilities.secrets entry: key names within one
// scope, as in the manifest's SecretScope. A key name may contain '*',
// matching any run of key characters (the manifest allows that with
// wildcard_opt_in.secrets); the scope is always exact.
type Grant struct {
	Scope    string
	KeyNames []string
}

// Getter reads a secret on a skill's behalf: what the runtime's
// palyra_secret_get host function calls.
type Getter func(ctx context.Context, scope, key string) ([]byte, error)

// Granted returns a Getter that reads from s only the secrets that grants
// cover. Anything else fails with an error wrapping ErrSecretNotGranted
// that names the scope and key, without touching the store, so a skill
// cannot even learn whether an ungranted secret exists. A granted secret
// that is not stored fails with ErrNotFound, never an empty value. grants
// is copied.
func (s *Store) Granted(grants []Grant) Getter {
	own := make([]Grant, len(grants))
	for i, g := range grants {
		own[i] = Grant{Scope: g.Scope, KeyNames: slices.Clone(g.KeyNames)}
	}
	return func(ctx context.Context, scope, key string) ([]byte, error) {
		r := Ref{Scope: scope, Key: key}
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("secrets: %w", err)
		}
		if !covers(own, r) {
			return nil, fmt.Errorf("secrets: %w: %s (the skill's capabilities.secrets do not list it)", ErrSecretNotGranted, r)
		}
		return s.Get(ctx, scope, key)
	}
}

func covers(grants []Grant, r Ref) bool {
	return slices.ContainsFunc(grants, func(g Grant) bool { return g.Covers(r) })
}

// Covers reports whether g grants r: the same scope, and a key name or
// pattern matching r's key.
func (g Grant) Covers(r Ref) bool {
	return g.Scope == r.Scope && slices.ContainsFunc(g.KeyNames, func(p string) bool { return matchKey(p, r.Key) })
}

// matchKey matches a key name against a pattern in which '*' stands for
// any run of characters, including none. Key names hold no other
// metacharacters.
func matchKey(pattern, key string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == key
	}
	parts := strings.Split(pattern, "*")
	first, last := parts[0], parts[len(parts)-1]
	if len(key) < len(first)+len(last) || !strings.HasPrefix(key, first) || !strings.HasSuffix(key, last) {
		return false
	}
	middle := key[len(first) : len(key)-len(last)]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(middle, p)
		if i < 0 {
			return false
		}
		middle = middle[i+len(p):]
	}
	return true
}
