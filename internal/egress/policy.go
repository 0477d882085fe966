package egress

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/idna"
)

// Defaults applied by [New] to zero fields of a [Policy].
const (
	DefaultMaxRequestBytes  = 4 << 20
	DefaultMaxResponseBytes = 4 << 20
	DefaultMaxRedirects     = 5
	DefaultTimeout          = 30 * time.Second
)

// Policy is the egress a skill was granted. The zero value allows nothing.
type Policy struct {
	// AllowedHosts lists the hosts a request may go to, each one of
	//
	//	example.com         that host exactly (any case, with or without a trailing dot)
	//	example.com:8443    that host on that port only
	//	*.example.com       any subdomain of example.com, not example.com itself
	//	api.*.example.com   '*' as a later label: exactly one label there
	//	                    (api.eu.example.com, not api.a.b.example.com)
	//	*                   any host name (not an IP literal)
	//	192.0.2.7, [2001:db8::7]:8443
	//	                    an IP literal, which a URL may then name literally
	//
	// Wildcard entries need AllowWildcards (the manifest's
	// wildcard_opt_in.http_egress); without it New refuses them rather than
	// silently ignoring them. Internationalized names are compared in
	// their ASCII (punycode) form.
	AllowedHosts   []string
	AllowWildcards bool

	// AllowedSchemes is a subset of "http" and "https"; nil means both.
	AllowedSchemes []string
	// AllowedPorts are the ports an entry without its own port allows;
	// nil means 80 and 443. An entry "host:port" allows that host on that
	// port only, and adds the port for no other entry.
	AllowedPorts []int

	// AllowPrivateAddresses lets requests reach loopback, private,
	// link-local, shared (CGNAT) and other non-public addresses. Operator
	// policy, false by default. Cloud metadata endpoints, unspecified,
	// multicast and broadcast addresses stay refused even then.
	AllowPrivateAddresses bool

	// Size limits; 0 means the default, a negative value is invalid.
	MaxRequestBytes  int64
	MaxResponseBytes int64
	// MaxRedirects is how many redirects one call may follow; 0 means
	// DefaultMaxRedirects, a negative value means none.
	MaxRedirects int
	// Timeout bounds a whole call (resolution, connection, redirects and
	// reading the body) on top of the caller's context; 0 means
	// DefaultTimeout.
	Timeout time.Duration

	// RootCAs verifies servers' certificates; nil means the system roots.
	RootCAs *x509.CertPool
	// Resolver resolves host names; nil means net.DefaultResolver. It is
	// asked for the fully-qualified name, with a trailing dot, so that
	// resolver search domains never apply.
	Resolver Resolver
	// DialContext, if set, replaces the network dial. It is called only
	// with an "ip:port" address that passed every check; tests use it to
	// map addresses onto loopback servers.
	DialContext func(ctx context.Context, network, address string) (net.Conn, error)
}

// Resolver resolves a host name to IP addresses. *net.Resolver implements
// it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

type ruleKind uint8

const (
	ruleExact      ruleKind = iota // host equals name
	ruleSubdomains                 // host ends in "." + name
	ruleAny                        // any host name
	ruleAddr                       // an IP literal equal to addr
	rulePattern                    // labels, "*" standing for one label (a first "*" for one or more)
)

// rule is one compiled allowlist entry.
type rule struct {
	kind   ruleKind
	name   string     // normalized host name (ruleExact, ruleSubdomains)
	labels []string   // normalized labels, "*" for a wildcard (rulePattern)
	addr   netip.Addr // unmapped (ruleAddr)
	port   uint16     // 0: any of the policy's AllowedPorts
	entry  string     // as written, for messages
}

// host is a request's host, normalized: either a name or an IP literal.
type host struct {
	name string     // lower-case ASCII, no trailing dot; "" for a literal
	addr netip.Addr // valid for an IP literal
}

func (h host) String() string {
	if h.addr.IsValid() {
		return h.addr.String()
	}
	return h.name
}

// parseRule compiles one AllowedHosts entry.
func parseRule(entry string, wildcards bool) (rule, error) {
	bad := func(why string) (rule, error) {
		return rule{}, fmt.Errorf("%w: allowlist entry %q: %s", ErrInvalidPolicy, entry, why)
	}
	if entry == "" {
		return bad("empty")
	}
	if strings.ContainsAny(entry, "/@?#%\\ \t\r\n") {
		return bad("must be a host, optionally with :port, not a URL")
	}
	r := rule{entry: entry}
	hostPart, portPart, hasPort := entry, "", false
	switch {
	case strings.HasPrefix(entry, "["):
		end := strings.IndexByte(entry, ']')
		if end < 0 {
			return bad("unterminated [")
		}
		hostPart, portPart = entry[1:end], entry[end+1:]
		a, err := netip.ParseAddr(hostPart)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return bad("brackets must hold an IPv6 address without a zone")
		}
		if portPart != "" {
			p, ok := strings.CutPrefix(portPart, ":")
			if !ok {
				return bad("unexpected text after ]")
			}
			portPart, hasPort = p, true
		}
	case isAddr(entry):
		// An unbracketed IPv6 literal has colons but no port.
	default:
		if i := strings.LastIndexByte(entry, ':'); i >= 0 {
			hostPart, portPart, hasPort = entry[:i], entry[i+1:], true
		}
	}
	if hasPort {
		p, err := parsePort(portPart)
		if err != nil {
			return bad(err.Error())
		}
		r.port = p
	}
	switch {
	case hostPart == "*":
		if !wildcards {
			return bad("a wildcard needs AllowWildcards (wildcard_opt_in.http_egress)")
		}
		r.kind = ruleAny
		return r, nil
	case strings.HasPrefix(hostPart, "*.") && !strings.Contains(hostPart[2:], "*"):
		if !wildcards {
			return bad("a wildcard needs AllowWildcards (wildcard_opt_in.http_egress)")
		}
		h, err := parseHost(hostPart[2:])
		if err != nil {
			return bad(err.Error())
		}
		if h.addr.IsValid() {
			return bad("a wildcard applies to domain names, not IP addresses")
		}
		r.kind, r.name = ruleSubdomains, h.name
		return r, nil
	case strings.Contains(hostPart, "*"):
		if !wildcards {
			return bad("a wildcard needs AllowWildcards (wildcard_opt_in.http_egress)")
		}
		labels, err := parsePattern(hostPart)
		if err != nil {
			return bad(err.Error())
		}
		r.kind, r.labels = rulePattern, labels
		return r, nil
	}
	h, err := parseHost(hostPart)
	if err != nil {
		return bad(err.Error())
	}
	if h.addr.IsValid() {
		r.kind, r.addr = ruleAddr, h.addr
	} else {
		r.kind, r.name = ruleExact, h.name
	}
	return r, nil
}

// parsePattern normalizes a host pattern with '*' labels other than the
// leading-only "*.<domain>" form: every '*' must be a whole label, and the
// other labels are normalized as parseHost does a name.
func parsePattern(s string) ([]string, error) {
	raw := strings.Split(strings.TrimSuffix(s, "."), ".")
	stand := make([]string, len(raw))
	for i, l := range raw {
		switch {
		case l == "*":
			stand[i] = "x" // a valid label, put back after normalizing
		case strings.Contains(l, "*"):
			return nil, fmt.Errorf(`a wildcard must be a whole label ("*.example.com", "api.*.example.com"), not part of %q`, l)
		default:
			stand[i] = l
		}
	}
	h, err := parseHost(strings.Join(stand, "."))
	if err != nil {
		return nil, err
	}
	if h.addr.IsValid() {
		return nil, fmt.Errorf("a wildcard applies to domain names, not IP addresses")
	}
	labels := strings.Split(h.name, ".")
	if len(labels) != len(raw) {
		// IDNA mapping turned some character into a dot.
		return nil, fmt.Errorf("host pattern %q changes its labels when mapped to ASCII", s)
	}
	for i, l := range raw {
		if l == "*" {
			labels[i] = "*"
		}
	}
	return labels, nil
}

// matchPattern reports whether name (normalized, no trailing dot) fits
// labels: a "*" label stands for exactly one label, except as the first
// label, where it stands for one or more, as "*.<domain>" does.
func matchPattern(labels []string, name string) bool {
	hl := strings.Split(name, ".")
	if labels[0] == "*" {
		if len(hl) < len(labels) {
			return false
		}
		hl = hl[len(hl)-len(labels)+1:]
		labels = labels[1:]
	} else if len(hl) != len(labels) {
		return false
	}
	for i, l := range labels {
		if l != "*" && l != hl[i] {
			return false
		}
	}
	return true
}

func isAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func parsePort(s string) (uint16, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("port %q is not a number", s)
	}
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("port %q is out of range 1-65535", s)
	}
	return uint16(p), nil
}

// parseHost normalizes a host as it appears in a URL or an allowlist
// entry, without brackets or port: an IP literal (no zone), or a name
// lower-cased, IDNA-mapped to ASCII and stripped of one trailing dot.
func parseHost(s string) (host, error) {
	if s == "" {
		return host{}, fmt.Errorf("empty host")
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return host{}, fmt.Errorf("host %q: IPv6 zones are not allowed", s)
		}
		return host{addr: a.Unmap()}, nil
	}
	name := strings.TrimSuffix(s, ".")
	if name == "" {
		return host{}, fmt.Errorf("host %q is not a valid host name", s)
	}
	if isASCII(name) {
		// net/http dials an ASCII host name as written; only case matters.
		name = strings.ToLower(name)
	} else {
		a, err := idna.Lookup.ToASCII(name)
		if err != nil {
			return host{}, fmt.Errorf("host %q is not a valid internationalized name: %v", s, err)
		}
		name = strings.TrimSuffix(a, ".")
	}
	if len(name) > 253 {
		return host{}, fmt.Errorf("host %q is longer than 253 bytes", s)
	}
	last := ""
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 {
			return host{}, fmt.Errorf("host %q has an empty or over-long label", s)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return host{}, fmt.Errorf("host %q: character %q is not allowed in a host name", s, c)
			}
		}
		last = label
	}
	// A name whose last label is numeric is an IPv4 address in a legacy
	// form ("127.1", "0x7f.0.0.1", "2130706433") that some resolvers and
	// every browser accept: it is not a name and not a literal we match.
	if strings.TrimLeft(last, "0123456789") == "" || strings.HasPrefix(last, "0x") {
		return host{}, fmt.Errorf("host %q looks like a numeric IPv4 address; write IP literals in dotted-decimal", s)
	}
	return host{name: name}, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// matchesHost reports whether the rule admits h, on whatever port.
func (r *rule) matchesHost(h host) bool {
	switch r.kind {
	case ruleAddr:
		return h.addr.IsValid() && h.addr == r.addr
	case ruleExact:
		return !h.addr.IsValid() && h.name == r.name
	case ruleSubdomains:
		return !h.addr.IsValid() && len(h.name) > len(r.name) &&
			strings.HasSuffix(h.name, r.name) && h.name[len(h.name)-len(r.name)-1] == '.'
	case ruleAny:
		return !h.addr.IsValid()
	case rulePattern:
		return !h.addr.IsValid() && matchPattern(r.labels, h.name)
	}
	return false
}

// compiled is a validated Policy.
type compiled struct {
	rules        []rule
	schemes      []string
	ports        []uint16
	allowPrivate bool
	maxRequest   int64
	maxResponse  int64
	maxRedirects int
	timeout      time.Duration
}

func compile(p Policy) (*compiled, error) {
	c := &compiled{allowPrivate: p.AllowPrivateAddresses}
	for _, e := range p.AllowedHosts {
		r, err := parseRule(e, p.AllowWildcards)
		if err != nil {
			return nil, err
		}
		c.rules = append(c.rules, r)
	}
	c.schemes = []string{"http", "https"}
	if p.AllowedSchemes != nil {
		c.schemes = nil
		for _, s := range p.AllowedSchemes {
			s = strings.ToLower(s)
			if s != "http" && s != "https" {
				return nil, fmt.Errorf("%w: scheme %q: only http and https are supported", ErrInvalidPolicy, s)
			}
			c.schemes = append(c.schemes, s)
		}
	}
	c.ports = []uint16{80, 443}
	if p.AllowedPorts != nil {
		c.ports = nil
		for _, port := range p.AllowedPorts {
			if port < 1 || port > 65535 {
				return nil, fmt.Errorf("%w: port %d is out of range 1-65535", ErrInvalidPolicy, port)
			}
			c.ports = append(c.ports, uint16(port))
		}
	}
	var err error
	if c.maxRequest, err = limit("MaxRequestBytes", p.MaxRequestBytes, DefaultMaxRequestBytes); err != nil {
		return nil, err
	}
	if c.maxResponse, err = limit("MaxResponseBytes", p.MaxResponseBytes, DefaultMaxResponseBytes); err != nil {
		return nil, err
	}
	switch {
	case p.MaxRedirects == 0:
		c.maxRedirects = DefaultMaxRedirects
	case p.MaxRedirects > 0:
		c.maxRedirects = p.MaxRedirects
	}
	switch {
	case p.Timeout == 0:
		c.timeout = DefaultTimeout
	case p.Timeout < 0:
		return nil, fmt.Errorf("%w: Timeout %v is negative", ErrInvalidPolicy, p.Timeout)
	default:
		c.timeout = p.Timeout
	}
	return c, nil
}

func limit(field string, v, def int64) (int64, error) {
	switch {
	case v == 0:
		return def, nil
	case v < 0:
		return 0, fmt.Errorf("%w: %s %d is negative", ErrInvalidPolicy, field, v)
	}
	return v, nil
}

// checkURL applies the scheme, host and port rules to a URL, before any
// resolution or connection: for the first request and every redirect.
func (c *compiled) checkURL(u *url.URL) error {
	if !slices.Contains(c.schemes, u.Scheme) {
		return fmt.Errorf("%w: %q (allowed: %s)", ErrSchemeNotAllowed, u.Scheme, strings.Join(c.schemes, ", "))
	}
	if u.User != nil {
		return fmt.Errorf("%w: URL for host %q carries user info", ErrInvalidRequest, u.Hostname())
	}
	if u.Opaque != "" || u.Host == "" {
		return fmt.Errorf("%w: URL has no host", ErrInvalidRequest)
	}
	port := uint16(80)
	if u.Scheme == "https" {
		port = 443
	}
	if ps := u.Port(); ps != "" {
		p, err := parsePort(ps)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidRequest, err)
		}
		port = p
	}
	h, err := parseHost(u.Hostname())
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	return c.checkHostPort(h, port)
}

// checkHostPort applies the allowlist to a normalized host and a port.
func (c *compiled) checkHostPort(h host, port uint16) error {
	hostMatched := false
	for i := range c.rules {
		r := &c.rules[i]
		if !r.matchesHost(h) {
			continue
		}
		hostMatched = true
		if r.port == port || r.port == 0 && slices.Contains(c.ports, port) {
			return nil
		}
	}
	if hostMatched {
		return fmt.Errorf("%w: %s port %d (an allowlist entry names the host, but no entry allows this port)", ErrPortNotAllowed, h, port)
	}
	if h.addr.IsValid() {
		return fmt.Errorf("%w: %s (IP literals must be allowlisted literally)", ErrHostNotAllowed, h)
	}
	return fmt.Errorf("%w: %s (not in the egress allowlist)", ErrHostNotAllowed, h)
}
