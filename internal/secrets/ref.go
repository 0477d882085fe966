package secrets

import (
	"fmt"
	"strings"
)

// Length limits, chosen so that every file name fits in 255 bytes.
const (
	MaxScopeLen = 128
	MaxKeyLen   = 63
)

// Ref names one secret: a Palyra secret scope and a key name within it.
type Ref struct {
	Scope string // global | principal:ID | channel:ID | skill:ID
	Key   string
}

// String returns the SCOPE/KEY form ParseRef reads.
func (r Ref) String() string { return r.Scope + "/" + r.Key }

// ParseRef reads "SCOPE/KEY".
func ParseRef(s string) (Ref, error) {
	scope, key, ok := strings.Cut(s, "/")
	if !ok {
		return Ref{}, fmt.Errorf("%w: %q is not SCOPE/KEY", ErrInvalidRef, s)
	}
	r := Ref{Scope: scope, Key: key}
	if err := r.validate(); err != nil {
		return Ref{}, err
	}
	return r, nil
}

// validate applies Palyra's scope rule (an id is [a-z0-9._:-]) and the key
// rule [A-Za-z0-9._:-]: ':' because the manifest allows it in key_names.
func (r Ref) validate() error {
	if msg := scopeProblem(r.Scope); msg != "" {
		return fmt.Errorf("%w: scope %q %s", ErrInvalidRef, r.Scope, msg)
	}
	if msg := keyProblem(r.Key); msg != "" {
		return fmt.Errorf("%w: key %q %s", ErrInvalidRef, r.Key, msg)
	}
	return nil
}

func scopeProblem(s string) string {
	if len(s) > MaxScopeLen {
		return fmt.Sprintf("is longer than %d bytes", MaxScopeLen)
	}
	if s == "global" {
		return ""
	}
	for _, prefix := range []string{"principal:", "channel:", "skill:"} {
		id, ok := strings.CutPrefix(s, prefix)
		if !ok {
			continue
		}
		if id == "" {
			return "has an empty id"
		}
		for i := 0; i < len(id); i++ {
			if c := id[i]; !(isLowerOrDigit(c) || c == '.' || c == '_' || c == '-' || c == ':') {
				return "has an id outside [a-z0-9._:-]"
			}
		}
		return ""
	}
	return "must be global, principal:<id>, channel:<id> or skill:<id>"
}

func keyProblem(k string) string {
	if k == "" {
		return "is empty"
	}
	if len(k) > MaxKeyLen {
		return fmt.Sprintf("is longer than %d bytes", MaxKeyLen)
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !(isLowerOrDigit(c) || c >= 'A' && c <= 'Z' || c == '.' || c == '_' || c == '-' || c == ':') {
			return "must use only [A-Za-z0-9._:-]"
		}
	}
	return ""
}

func isLowerOrDigit(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// fileName encodes a valid Ref as a file name. The encoding is injective
// and its output safe on every filesystem, case-insensitive ones included:
// [a-z0-9._-] stand for themselves, an upper-case letter becomes '^' and
// the letter in lower case, ':' becomes '=', and '@' separates scope from
// key. The name never starts with '.' (every scope starts with a letter),
// so it is never ".", "..", or one of the store's hidden temporary files.
func fileName(r Ref) string {
	var b strings.Builder
	b.Grow(len(r.Scope) + 1 + 2*len(r.Key))
	encodeTo(&b, r.Scope)
	b.WriteByte('@')
	encodeTo(&b, r.Key)
	return b.String()
}

func encodeTo(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'A' && c <= 'Z':
			b.WriteByte('^')
			b.WriteByte(c + 'a' - 'A')
		case c == ':':
			b.WriteByte('=')
		default:
			b.WriteByte(c)
		}
	}
}

// parseFileName inverts fileName; ok is false for any name fileName
// cannot have produced.
func parseFileName(name string) (Ref, bool) {
	scope, key, ok := strings.Cut(name, "@")
	if !ok {
		return Ref{}, false
	}
	r := Ref{Scope: decode(scope), Key: decode(key)}
	if r.validate() != nil || fileName(r) != name {
		return Ref{}, false
	}
	return r, true
}

func decode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '^' && i+1 < len(s) && s[i+1] >= 'a' && s[i+1] <= 'z':
			b.WriteByte(s[i+1] - 'a' + 'A')
			i++
		case c == '=':
			b.WriteByte(':')
		default:
			// Anything fileName would not write (a stray '^', '@', '/')
			// is kept, so that validate or the round-trip check refuses it.
			b.WriteByte(c)
		}
	}
	return b.String()
}
