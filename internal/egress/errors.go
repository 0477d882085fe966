package egress

import "errors"

// Errors a caller tells apart with errors.Is. Every error returned by
// [New] or [Client.Do] for a policy reason wraps exactly one of these, and
// its message names the host, address, port or scheme and the rule that
// refused it.
var (
	// ErrInvalidPolicy: New was given a policy it cannot enforce as
	// written (a malformed allowlist entry, a wildcard without
	// AllowWildcards, a scheme other than http or https, a port out of
	// range).
	ErrInvalidPolicy = errors.New("egress: invalid policy")
	// ErrInvalidRequest: the request is malformed (unparsable URL, user
	// info in the URL, a CONNECT method, a Host header, a bad header).
	ErrInvalidRequest = errors.New("egress: invalid request")
	// ErrSchemeNotAllowed: the URL's scheme is not in AllowedSchemes.
	ErrSchemeNotAllowed = errors.New("egress: scheme not allowed")
	// ErrHostNotAllowed: no allowlist entry matches the URL's host.
	ErrHostNotAllowed = errors.New("egress: host not allowed")
	// ErrPortNotAllowed: an entry matches the host, but not on this port.
	ErrPortNotAllowed = errors.New("egress: port not allowed")
	// ErrAddressNotAllowed: the host resolved to (or is) an address the
	// policy forbids: private, loopback, link-local, metadata and so on.
	ErrAddressNotAllowed = errors.New("egress: address not allowed")
	// ErrTooManyRedirects: the redirect chain is longer than MaxRedirects.
	ErrTooManyRedirects = errors.New("egress: too many redirects")
	// ErrRequestTooLarge: the request body exceeds MaxRequestBytes.
	ErrRequestTooLarge = errors.New("egress: request body too large")
	// ErrResponseTooLarge: the response body exceeds MaxResponseBytes.
	ErrResponseTooLarge = errors.New("egress: response body too large")
)
