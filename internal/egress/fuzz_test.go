package egress

import (
	"strings"
	"testing"
)

// FuzzHostMatch checks the allowlist matcher's invariants on arbitrary
// entries and hosts: it never panics, a match means what the entry's kind
// says, and case or a trailing dot never change the answer.
func FuzzHostMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"example.com", "example.com"},
		{"*.example.com", "api.example.com"},
		{"*.example.com", "example.com"},
		{"*", "x.test"},
		{"*", "127.0.0.1"},
		{"192.0.2.1", "::ffff:192.0.2.1"},
		{"[2001:db8::1]:8443", "2001:db8::1"},
		{"bücher.example", "xn--bcher-kva.example"},
		{"example.com:8080", "EXAMPLE.COM."},
		{"*.a", "b.a.a"},
		{"a", "0x7f.1"},
		{"api.*.example.com", "api.eu.example.com"},
		{"api.*.example.com", "api.a.b.example.com"},
		{"*.*.b", "x.y.z.b"},
		{"a.*", "a.b"},
		{"a.*.c", "A.B.C."},
	} {
		f.Add(s[0], s[1], true)
	}
	f.Fuzz(func(t *testing.T, entry, hostname string, wildcards bool) {
		r, err := parseRule(entry, wildcards)
		if err != nil {
			return
		}
		if !wildcards && (r.kind == ruleAny || r.kind == ruleSubdomains || r.kind == rulePattern) {
			t.Fatalf("entry %q compiled to a wildcard without AllowWildcards", entry)
		}
		h, err := parseHost(hostname)
		if err != nil {
			return
		}
		if h.addr.IsValid() == (h.name != "") {
			t.Fatalf("host %q parsed to %+v: exactly one of name and addr must be set", hostname, h)
		}
		if strings.ContainsAny(h.name, "*:/@%[] ") {
			t.Fatalf("host %q normalized to %q", hostname, h.name)
		}
		m := r.matchesHost(h)
		if m {
			switch r.kind {
			case ruleExact:
				if h.name != r.name {
					t.Fatalf("exact %q matched %q", r.name, h.name)
				}
			case ruleSubdomains:
				if h.name == r.name || !strings.HasSuffix(h.name, "."+r.name) {
					t.Fatalf("subdomain rule %q matched %q", r.name, h.name)
				}
			case ruleAny:
				if h.addr.IsValid() {
					t.Fatalf("* matched the IP literal %s", h.addr)
				}
			case rulePattern:
				// Each fixed label matches in place, counted from the
				// right; an inner '*' is one label; a first '*' one or
				// more, so the host has at least as many labels.
				hl := strings.Split(h.name, ".")
				if h.addr.IsValid() || len(hl) < len(r.labels) || r.labels[0] != "*" && len(hl) != len(r.labels) {
					t.Fatalf("pattern %v matched %q", r.labels, h.name)
				}
				off := len(hl) - len(r.labels)
				for i, l := range r.labels {
					if l != "*" && hl[off+i] != l || l == "*" && hl[off+i] == "" {
						t.Fatalf("pattern %v matched %q at label %d", r.labels, h.name, i)
					}
				}
			case ruleAddr:
				if h.addr != r.addr {
					t.Fatalf("literal %s matched %s", r.addr, h.addr)
				}
			}
		}
		if h.addr.IsValid() {
			return
		}
		variants := []string{strings.ToUpper(hostname), strings.ToLower(hostname)}
		if !strings.HasSuffix(hostname, ".") {
			variants = append(variants, hostname+".")
		}
		for _, v := range variants {
			if !isASCII(hostname) && v != hostname+"." {
				continue // Unicode case mapping is IDNA's business, not ours
			}
			hv, err := parseHost(v)
			if err != nil {
				t.Fatalf("%q parses but its variant %q does not: %v", hostname, v, err)
			}
			if got := r.matchesHost(hv); got != m {
				t.Fatalf("entry %q: %q matches %v but %q matches %v", entry, hostname, m, v, got)
			}
		}
	})
}
