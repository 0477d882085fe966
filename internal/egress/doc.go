// Package egress is the HTTP client behind a skill's http_request: it
// sends a guest's request only where the skill's granted [Policy] allows,
// in the request/response shape of Extism's http_request, http_status_code
// and http_headers host functions.
//
// Extism's own implementation compares the URL's host string with its
// allowlist and then hands the request to http.DefaultClient, which
// follows redirects without looking at the list again, reads proxies from
// the environment, and connects to whatever the name resolves to. An
// allowlisted host can therefore redirect a skill to 169.254.169.254 or
// localhost. This package closes each of those gaps.
//
// # Wildcards and Palyra
//
// Palyra's manifest accepts any http_egress_allowlist entry containing
// '*' once wildcard_opt_in.http_egress is set, but its matchers know only
// a leading "*.": its connector net guard (palyra-connectors core/net.rs)
// takes "*.domain" to mean one or more labels before domain, never domain
// itself; its media fetcher also admits domain itself. We follow the net
// guard for "*.domain" (the egress matcher of the two, and this package's
// rule before inner wildcards existed) and give an inner '*' label the
// narrowest meaning, one label, so that a pattern never admits more names
// than its author could have meant.
//
// # Rules
//
//   - The scheme must be http or https, and in Policy.AllowedSchemes.
//   - The URL must not carry user info; IPv6 zones are refused.
//   - The host must match an allowlist entry: exact names compare
//     case-insensitively after IDNA mapping to ASCII and removal of one
//     trailing dot; "*.domain" matches subdomains only (any depth), never
//     domain itself; "*" matches any name; a '*' label anywhere else
//     ("api.*.example.com", Palyra's manifest form) matches exactly one
//     label. A '*' must be a whole label. Wildcards need
//     Policy.AllowWildcards.
//     An IP-literal host matches only an entry naming that literal, never
//     a wildcard. Names whose last label is numeric ("127.1",
//     "0x7f.0.0.1") are legacy IPv4 forms and are refused.
//   - The port must be the entry's own (host:port), or else one of
//     Policy.AllowedPorts (80 and 443 by default).
//   - These checks run before anything is resolved or sent, and again on
//     every redirect hop, which also counts against Policy.MaxRedirects.
//   - At dial time the name is resolved once (as a fully-qualified name,
//     so search domains never apply), every address is checked, and the
//     checked address itself is dialed: no second resolution, so no
//     DNS-rebinding window. One forbidden address refuses the whole name.
//     The socket's address is checked once more just before connect(2).
//   - Without Policy.AllowPrivateAddresses, these are refused: loopback,
//     private (RFC 1918, fc00::/7), link-local (169.254.0.0/16,
//     fe80::/10), shared 100.64.0.0/10, 0.0.0.0/8, 192.0.0.0/24,
//     240.0.0.0/4, site-local, discard-only, Teredo, and the IPv4-mapped,
//     IPv4-compatible, NAT64 and 6to4 forms of the IPv4 ones. Cloud
//     metadata (169.254.169.254, fd00:ec2::254), unspecified, multicast
//     and broadcast addresses are refused even with it.
//   - Proxies from the environment are never used.
//   - The request body is capped by Policy.MaxRequestBytes and the
//     response body by Policy.MaxResponseBytes; going over is an error,
//     never a silent truncation.
//   - The caller's context and Policy.Timeout bound the whole call,
//     reading the body included.
//   - Errors wrap one sentinel (ErrHostNotAllowed, ErrAddressNotAllowed,
//     …) and name the host, address or port and the rule; they never
//     repeat a URL's query string.
package egress
