package egress

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Request is an outgoing request, in the shape of Extism's http_request.
type Request struct {
	Method  string // "" means GET; case-insensitive
	URL     string
	Headers map[string]string
	Body    []byte
}

// Response is what came back. Headers has lower-case names, with the
// values of a repeated header joined by ",", as Extism's http_headers
// reports them.
type Response struct {
	Status  int
	Headers map[string]string
	Body    []byte
}

// Client makes requests under one Policy. It is safe for concurrent use
// and keeps idle connections, each of which was checked when it was
// dialed.
type Client struct {
	policy   *compiled
	resolver Resolver
	dial     func(ctx context.Context, network, address string) (net.Conn, error)
	http     *http.Client
}

// New validates p and returns a Client that enforces it.
func New(p Policy) (*Client, error) {
	cp, err := compile(p)
	if err != nil {
		return nil, err
	}
	c := &Client{policy: cp, resolver: p.Resolver, dial: p.DialContext}
	if c.resolver == nil {
		c.resolver = net.DefaultResolver
	}
	if c.dial == nil {
		d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: c.control}
		c.dial = d.DialContext
	}
	tr := &http.Transport{
		Proxy:                  nil, // never HTTP_PROXY and friends: a proxy would do its own resolving
		DialContext:            c.dialChecked,
		TLSClientConfig:        &tls.Config{RootCAs: p.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    10 * time.Second,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           16,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	c.http = &http.Client{Transport: tr, CheckRedirect: c.checkRedirect}
	return c, nil
}

// CloseIdleConnections closes connections kept for reuse.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// Do sends req and reads the whole response. Policy violations are
// reported before anything is sent to the offending host or address; a
// non-2xx status is not an error. The call ends when ctx does or after the
// policy's Timeout, whichever comes first.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = http.MethodGet
	}
	if method == http.MethodConnect {
		return nil, fmt.Errorf("%w: method CONNECT is not allowed", ErrInvalidRequest)
	}
	if n := int64(len(req.Body)); n > c.policy.maxRequest {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrRequestTooLarge, n, c.policy.maxRequest)
	}
	for k, v := range req.Headers {
		if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
			return nil, fmt.Errorf("%w: header %q is malformed", ErrInvalidRequest, k)
		}
		if strings.EqualFold(k, "Host") {
			// net/http would silently send the URL's host instead.
			return nil, fmt.Errorf("%w: the Host header comes from the URL and cannot be set", ErrInvalidRequest)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.policy.timeout)
	defer cancel()

	var body io.Reader
	if len(req.Body) > 0 {
		body = bytes.NewReader(req.Body) // NewRequest sets GetBody, so 307/308 can resend it
	}
	hr, err := http.NewRequestWithContext(ctx, method, req.URL, body)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // ue's message would repeat the URL, query string and all
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	if err := c.policy.checkURL(hr.URL); err != nil {
		return nil, err
	}
	for k, v := range req.Headers {
		hr.Header.Set(k, v)
	}

	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, callError(ctx, err)
	}
	defer resp.Body.Close()
	where := redact(resp.Request.URL)
	if resp.ContentLength > c.policy.maxResponse {
		return nil, fmt.Errorf("%w: %s declares %d bytes, limit %d", ErrResponseTooLarge, where, resp.ContentLength, c.policy.maxResponse)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.policy.maxResponse+1))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%w)", ctxErr, err)
		}
		return nil, fmt.Errorf("egress: reading response from %s: %w", where, err)
	}
	if int64(len(data)) > c.policy.maxResponse {
		return nil, fmt.Errorf("%w: %s sent more than %d bytes", ErrResponseTooLarge, where, c.policy.maxResponse)
	}
	out := &Response{Status: resp.StatusCode, Headers: make(map[string]string, len(resp.Header)), Body: data}
	for k, v := range resp.Header {
		out.Headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	return out, nil
}

// callError unwraps net/http's *url.Error, whose message carries the full
// URL (query strings hold API keys), and names the host instead.
func callError(ctx context.Context, err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	inner := ue.Err
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(inner, ctxErr) {
		inner = fmt.Errorf("%w (%w)", ctxErr, inner)
	}
	where := ue.URL
	if u, perr := url.Parse(ue.URL); perr == nil {
		where = redact(u)
	}
	return fmt.Errorf("%s %s: %w", ue.Op, where, inner)
}

// redact keeps a URL's scheme, host and path: enough to say where,
// without query strings or fragments.
func redact(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

// checkRedirect re-applies every URL rule to each hop and counts them.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > c.policy.maxRedirects {
		return fmt.Errorf("%w: more than %d", ErrTooManyRedirects, c.policy.maxRedirects)
	}
	return c.policy.checkURL(req.URL)
}

// dialChecked is the transport's only way out. It re-checks the host and
// port it is asked for, resolves the name once, refuses if any address is
// forbidden, and dials the checked addresses themselves, so nothing
// resolves the name a second time (no DNS-rebinding window).
func (c *Client) dialChecked(ctx context.Context, network, address string) (net.Conn, error) {
	hs, ps, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("%w: dial address %q: %v", ErrInvalidRequest, address, err)
	}
	port, err := parsePort(ps)
	if err != nil {
		return nil, fmt.Errorf("%w: dial address %q: %v", ErrInvalidRequest, address, err)
	}
	h, err := parseHost(hs)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	if err := c.policy.checkHostPort(h, port); err != nil {
		return nil, err
	}
	addrs := []netip.Addr{h.addr}
	if !h.addr.IsValid() {
		lookup := "ip"
		switch network {
		case "tcp4":
			lookup = "ip4"
		case "tcp6":
			lookup = "ip6"
		}
		addrs, err = c.resolver.LookupNetIP(ctx, lookup, h.name+".")
		if err != nil {
			return nil, fmt.Errorf("egress: resolving %s: %w", h.name, err)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("egress: resolving %s: no addresses", h.name)
		}
	}
	// One forbidden address refuses them all: a name that mixes public and
	// private answers is a rebinding attempt or a misconfiguration.
	for _, a := range addrs {
		if err := c.policy.checkAddr(h.name, a); err != nil {
			return nil, err
		}
	}
	var errs []error
	for _, a := range addrs {
		target := net.JoinHostPort(a.Unmap().WithZone("").String(), strconv.Itoa(int(port)))
		conn, err := c.dial(ctx, "tcp", target)
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// control runs on the socket just before connect(2) with the address the
// kernel is given: a last check that does not depend on how that address
// was arrived at.
func (c *Client) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: socket address %q: %v", ErrAddressNotAllowed, address, err)
	}
	return c.policy.checkAddr("", ap.Addr())
}
