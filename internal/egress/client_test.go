package egress

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestAllowedHostRoundTrip(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Add("X-Echo", r.Method+" "+r.Host+" "+r.Header.Get("X-Skill"))
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "got %q", body)
	})
	res := newResolver("allowed.test.", "127.0.0.1")
	c := mustNew(t, Policy{
		AllowedHosts:          []string{fmt.Sprintf("Allowed.Test:%d", s.port)},
		AllowPrivateAddresses: true,
		Resolver:              res,
	})
	// Case and a trailing dot do not matter; the real dialer is used.
	resp, err := c.Do(t.Context(), Request{
		Method:  "post",
		URL:     fmt.Sprintf("http://ALLOWED.test.:%d/path?q=1", s.port),
		Headers: map[string]string{"X-Skill": "weather"},
		Body:    []byte("hello"),
	})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if resp.Status != http.StatusCreated || string(resp.Body) != `got "hello"` {
		t.Errorf("got %d %q", resp.Status, resp.Body)
	}
	if got, want := resp.Headers["x-echo"], fmt.Sprintf("POST ALLOWED.test.:%d weather", s.port); got != want {
		t.Errorf("x-echo = %q, want %q", got, want)
	}
	if got := resp.Headers["x-multi"]; got != "a,b" {
		t.Errorf("x-multi = %q, want a,b (Extism joins repeated headers with ',')", got)
	}
	if got := res.lookups(); len(got) != 1 || got[0] != "allowed.test." {
		t.Errorf("lookups = %q, want one fully-qualified lookup", got)
	}
}

func TestHTTPSVerifiesTheNameNotTheDialedAddress(t *testing.T) {
	s := httptest.NewUnstartedServer(ok("secure"))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	s.StartTLS()
	t.Cleanup(s.Close)
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	port := portOf(t, s.URL)
	c := mustNew(t, Policy{
		// httptest's certificate is for example.com; we dial 127.0.0.1.
		AllowedHosts:          []string{fmt.Sprintf("example.com:%d", port), fmt.Sprintf("other.test:%d", port)},
		AllowPrivateAddresses: true,
		RootCAs:               pool,
		Resolver:              newResolver("example.com.", "127.0.0.1", "other.test.", "127.0.0.1"),
	})
	resp, err := c.Do(t.Context(), Request{URL: fmt.Sprintf("https://example.com:%d/", port)})
	if err != nil || string(resp.Body) != "secure" {
		t.Fatalf("Do = %v, %v", resp, err)
	}
	_, err = c.Do(t.Context(), Request{URL: fmt.Sprintf("https://other.test:%d/", port)})
	var certErr x509.HostnameError
	if !errors.As(err, &certErr) {
		t.Errorf("a certificate for another name was accepted: %v", err)
	}
}

// Requests the policy refuses on their face: nothing is resolved and
// nothing is dialed.
func TestRefusedBeforeAnyConnection(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		req    Request
		want   error
		inMsg  string
	}{
		{"host not granted", Policy{AllowedHosts: []string{"allowed.test"}}, Request{URL: "http://evil.test/"}, ErrHostNotAllowed, "evil.test"},
		{"suffix is not a subdomain", Policy{AllowedHosts: []string{"allowed.test"}}, Request{URL: "http://notallowed.test/"}, ErrHostNotAllowed, "notallowed.test"},
		{"subdomain of exact entry", Policy{AllowedHosts: []string{"allowed.test"}}, Request{URL: "http://a.allowed.test/"}, ErrHostNotAllowed, "a.allowed.test"},
		{"IP literal not allowlisted", Policy{AllowedHosts: []string{"allowed.test"}}, Request{URL: "http://127.0.0.1/"}, ErrHostNotAllowed, "127.0.0.1"},
		{"IPv6 literal not allowlisted", Policy{AllowedHosts: []string{"*"}, AllowWildcards: true}, Request{URL: "http://[::1]/"}, ErrHostNotAllowed, "::1"},
		{"any-host wildcard skips literals", Policy{AllowedHosts: []string{"*"}, AllowWildcards: true}, Request{URL: "http://169.254.169.254/"}, ErrHostNotAllowed, "169.254.169.254"},
		{"decimal IPv4", Policy{AllowedHosts: []string{"*"}, AllowWildcards: true}, Request{URL: "http://2130706433/"}, ErrInvalidRequest, "numeric IPv4"},
		{"short IPv4", Policy{AllowedHosts: []string{"*"}, AllowWildcards: true}, Request{URL: "http://127.1/"}, ErrInvalidRequest, "numeric IPv4"},
		{"hex IPv4", Policy{AllowedHosts: []string{"*"}, AllowWildcards: true}, Request{URL: "http://0x7f.0.0.1/"}, ErrInvalidRequest, "numeric IPv4"},
		{"IPv6 zone", Policy{AllowedHosts: []string{"fe80::1"}}, Request{URL: "http://[fe80::1%25eth0]/"}, ErrInvalidRequest, "zone"},
		{"scheme ftp", Policy{AllowedHosts: []string{"allowed.test"}}, Request{URL: "ftp://allowed.test/"}, ErrSchemeNotAllowed, `"ftp"`},
		{"scheme file", Policy{AllowedHosts: []string{"allowed.test"}}, Request{URL: "file:///etc/passwd"}, ErrSchemeNotAllowed, `"file"`},
		{"http when only https", Policy{AllowedHosts: []string{"allowed.test"}, AllowedSchemes: []string{"https"}}, Request{URL: "http://allowed.test/"}, ErrSchemeNotAllowed, `"http"`},
		{"user info", Policy{AllowedHosts: []string{"allowed.test"}}, Request{URL: "http://user:hunter2@allowed.test/"}, ErrInvalidRequest, "user info"},
		{"port not default", Policy{AllowedHosts: []string{"allowed.test"}}, Request{URL: "http://allowed.test:8080/"}, ErrPortNotAllowed, "allowed.test port 8080"},
		{"https default port not listed", Policy{AllowedHosts: []string{"allowed.test"}, AllowedPorts: []int{8443}}, Request{URL: "https://allowed.test/"}, ErrPortNotAllowed, "port 443"},
		{"entry port is exclusive", Policy{AllowedHosts: []string{"allowed.test:8443"}}, Request{URL: "https://allowed.test/"}, ErrPortNotAllowed, "port 443"},
		{"entry port does not leak to other hosts", Policy{AllowedHosts: []string{"a.test:8443", "b.test"}}, Request{URL: "https://b.test:8443/"}, ErrPortNotAllowed, "b.test port 8443"},
		{"empty allowlist", Policy{}, Request{URL: "https://allowed.test/"}, ErrHostNotAllowed, "allowed.test"},
		{"no host", Policy{AllowedHosts: []string{"allowed.test"}}, Request{URL: "http:///path"}, ErrInvalidRequest, "no host"},
		{"CONNECT", Policy{AllowedHosts: []string{"allowed.test"}}, Request{Method: "connect", URL: "http://allowed.test/"}, ErrInvalidRequest, "CONNECT"},
		{"Host header", Policy{AllowedHosts: []string{"allowed.test"}}, Request{URL: "http://allowed.test/", Headers: map[string]string{"host": "evil.test"}}, ErrInvalidRequest, "Host header"},
		{"bad header", Policy{AllowedHosts: []string{"allowed.test"}}, Request{URL: "http://allowed.test/", Headers: map[string]string{"X-A": "a\r\nHost: evil"}}, ErrInvalidRequest, "malformed"},
		{"body too large", Policy{AllowedHosts: []string{"allowed.test"}, MaxRequestBytes: 4}, Request{Method: "POST", URL: "http://allowed.test/", Body: []byte("12345")}, ErrRequestTooLarge, "limit 4"},
		{"unparsable URL", Policy{AllowedHosts: []string{"allowed.test"}}, Request{URL: "http://allowed.test/%zz?key=s3cret"}, ErrInvalidRequest, "invalid URL escape"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := newResolver("allowed.test.", "192.0.2.1", "evil.test.", "192.0.2.2")
			d := &fakeDialer{}
			tt.policy.Resolver, tt.policy.DialContext = res, d.DialContext
			c := mustNew(t, tt.policy)
			_, err := c.Do(t.Context(), tt.req)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.inMsg) {
				t.Errorf("err = %q, want it to mention %q", err, tt.inMsg)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("err leaks a credential: %q", err)
			}
			if got := res.lookups(); len(got) != 0 {
				t.Errorf("resolved %q before refusing", got)
			}
			if got := d.dials(); len(got) != 0 {
				t.Errorf("dialed %q before refusing", got)
			}
		})
	}
}

// An allowlisted name that resolves somewhere forbidden is refused at
// dial time, before any connection.
func TestResolvedAddressRefused(t *testing.T) {
	tests := []struct {
		name         string
		addrs        []string
		allowPrivate bool
		inMsg        string
	}{
		{"loopback", []string{"127.0.0.1"}, false, "loopback"},
		{"loopback other", []string{"127.255.0.9"}, false, "loopback"},
		{"metadata", []string{"169.254.169.254"}, false, "cloud metadata"},
		{"metadata even when private allowed", []string{"169.254.169.254"}, true, "never allowed"},
		{"AWS IPv6 metadata even when private allowed", []string{"fd00:ec2::254"}, true, "cloud metadata"},
		{"private 10/8", []string{"10.0.0.1"}, false, "private 10.0.0.0/8"},
		{"private 172.16/12", []string{"172.31.255.1"}, false, "private 172.16.0.0/12"},
		{"private 192.168/16", []string{"192.168.1.1"}, false, "private 192.168.0.0/16"},
		{"CGNAT", []string{"100.64.0.1"}, false, "100.64.0.0/10"},
		{"link-local", []string{"169.254.1.1"}, false, "link-local"},
		{"IPv4-mapped loopback", []string{"::ffff:127.0.0.1"}, false, "IPv4-mapped form of 127.0.0.1"},
		{"IPv4-mapped metadata", []string{"::ffff:169.254.169.254"}, true, "cloud metadata"},
		{"IPv6 loopback", []string{"::1"}, false, "loopback ::1"},
		{"unique local", []string{"fd12::1"}, false, "unique local"},
		{"IPv6 link-local", []string{"fe80::1"}, false, "link-local fe80::/10"},
		{"unspecified", []string{"0.0.0.0"}, true, "unspecified"},
		{"IPv6 unspecified", []string{"::"}, true, "unspecified"},
		{"this network", []string{"0.1.2.3"}, false, "0.0.0.0/8"},
		{"multicast", []string{"224.0.0.1"}, true, "multicast"},
		{"broadcast", []string{"255.255.255.255"}, true, "broadcast"},
		{"NAT64 of loopback", []string{"64:ff9b::7f00:1"}, false, "NAT64 form of 127.0.0.1"},
		{"6to4 of private", []string{"2002:a00:1::1"}, false, "6to4 form of 10.0.0.1"},
		{"one bad address refuses all", []string{"192.0.2.1", "10.0.0.1"}, false, "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pairs []string
			for _, a := range tt.addrs {
				pairs = append(pairs, "rebind.test.", a)
			}
			d := &fakeDialer{}
			c := mustNew(t, Policy{
				AllowedHosts:          []string{"rebind.test"},
				AllowPrivateAddresses: tt.allowPrivate,
				Resolver:              newResolver(pairs...),
				DialContext:           d.DialContext,
			})
			_, err := c.Do(t.Context(), Request{URL: "http://rebind.test/"})
			if !errors.Is(err, ErrAddressNotAllowed) {
				t.Fatalf("err = %v, want ErrAddressNotAllowed", err)
			}
			if !strings.Contains(err.Error(), "rebind.test") || !strings.Contains(err.Error(), tt.inMsg) {
				t.Errorf("err = %q, want it to name the host and %q", err, tt.inMsg)
			}
			if got := d.dials(); len(got) != 0 {
				t.Errorf("dialed %q", got)
			}
		})
	}
}

// A literally allowlisted IP is still subject to the address rules, and
// the real dialer's socket-level check refuses it too.
func TestLiteralAddressStillChecked(t *testing.T) {
	s := newServer(t, ok("x"))
	c := mustNew(t, Policy{AllowedHosts: []string{fmt.Sprintf("127.0.0.1:%d", s.port)}})
	_, err := c.Do(t.Context(), Request{URL: s.URL})
	if !errors.Is(err, ErrAddressNotAllowed) {
		t.Fatalf("err = %v, want ErrAddressNotAllowed", err)
	}
	if s.hits.Load() != 0 {
		t.Error("server was reached")
	}
	// The Control hook alone, as it would see a socket address.
	if err := c.control("tcp4", "10.1.2.3:443", nil); !errors.Is(err, ErrAddressNotAllowed) {
		t.Errorf("control(10.1.2.3) = %v", err)
	}
	if err := c.control("tcp4", "192.0.2.1:443", nil); err != nil {
		t.Errorf("control(192.0.2.1) = %v", err)
	}

	c = mustNew(t, Policy{AllowedHosts: []string{fmt.Sprintf("127.0.0.1:%d", s.port)}, AllowPrivateAddresses: true})
	if resp, err := c.Do(t.Context(), Request{URL: s.URL}); err != nil || string(resp.Body) != "x" {
		t.Fatalf("with private allowed: %v, %v", resp, err)
	}
}

func TestRedirectToHostNotGranted(t *testing.T) {
	target := newServer(t, ok("secret"))
	for _, loc := range []string{
		fmt.Sprintf("http://other.test:%d/", target.port),
		fmt.Sprintf("http://127.0.0.1:%d/", target.port),
		fmt.Sprintf("http://user:pw@allowed.test:%d/", target.port),
		fmt.Sprintf("ftp://allowed.test:%d/", target.port),
	} {
		t.Run(loc, func(t *testing.T) {
			start := newServer(t, redirectTo(loc))
			c := mustNew(t, Policy{
				AllowedHosts:          []string{fmt.Sprintf("allowed.test:%d", start.port)},
				AllowPrivateAddresses: true,
				Resolver:              newResolver("allowed.test.", "127.0.0.1", "other.test.", "127.0.0.1"),
			})
			_, err := c.Do(t.Context(), Request{URL: fmt.Sprintf("http://allowed.test:%d/", start.port)})
			if err == nil || !(errors.Is(err, ErrHostNotAllowed) || errors.Is(err, ErrPortNotAllowed) || errors.Is(err, ErrInvalidRequest) || errors.Is(err, ErrSchemeNotAllowed)) {
				t.Fatalf("err = %v, want a policy refusal", err)
			}
			if start.hits.Load() != 1 || target.hits.Load() != 0 {
				t.Errorf("hits: start %d, target %d; want 1, 0", start.hits.Load(), target.hits.Load())
			}
		})
	}
}

// The first hop goes to a public address (routed by the fake network to a
// loopback server); its redirect to a private address is refused even
// though the redirect target's name or literal is allowlisted.
func TestRedirectToPrivateRefused(t *testing.T) {
	target := newServer(t, ok("internal"))
	for _, loc := range []string{
		fmt.Sprintf("http://rebind.test:%d/", target.port),
		fmt.Sprintf("http://127.0.0.1:%d/", target.port),
		fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/", target.port),
		"http://169.254.169.254/latest/meta-data/",
	} {
		t.Run(loc, func(t *testing.T) {
			start := newServer(t, redirectTo(loc))
			d := &fakeDialer{routes: map[string]string{"192.0.2.10:80": start.Listener.Addr().String()}}
			c := mustNew(t, Policy{
				AllowedHosts: []string{
					"public.test",
					fmt.Sprintf("rebind.test:%d", target.port),
					fmt.Sprintf("127.0.0.1:%d", target.port),
					"169.254.169.254",
				},
				Resolver:    newResolver("public.test.", "192.0.2.10", "rebind.test.", "127.0.0.1"),
				DialContext: d.DialContext,
			})
			_, err := c.Do(t.Context(), Request{URL: "http://public.test/"})
			if !errors.Is(err, ErrAddressNotAllowed) {
				t.Fatalf("err = %v, want ErrAddressNotAllowed", err)
			}
			if start.hits.Load() != 1 || target.hits.Load() != 0 {
				t.Errorf("hits: start %d, target %d; want 1, 0", start.hits.Load(), target.hits.Load())
			}
			if got := d.dials(); len(got) != 1 {
				t.Errorf("dials = %q, want only the first hop", got)
			}
		})
	}
}

func TestRedirectFollowedWhenAllowed(t *testing.T) {
	target := newServer(t, ok("landed"))
	start := newServer(t, redirectTo(fmt.Sprintf("http://b.example.test:%d/final", target.port)))
	c := mustNew(t, Policy{
		AllowedHosts:          []string{"*.example.test"},
		AllowWildcards:        true,
		AllowedPorts:          []int{start.port, target.port},
		AllowPrivateAddresses: true,
		Resolver:              newResolver("a.example.test.", "127.0.0.1", "b.example.test.", "127.0.0.1"),
	})
	resp, err := c.Do(t.Context(), Request{URL: fmt.Sprintf("http://a.example.test:%d/", start.port)})
	if err != nil || string(resp.Body) != "landed" {
		t.Fatalf("Do = %v, %v", resp, err)
	}
}

func TestTooManyRedirects(t *testing.T) {
	tests := []struct {
		max      int
		wantHits int64
	}{
		{3, 4},
		{-1, 1},
		{0, DefaultMaxRedirects + 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.max), func(t *testing.T) {
			s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/again", http.StatusTemporaryRedirect)
			})
			c := mustNew(t, Policy{
				AllowedHosts:          []string{fmt.Sprintf("loop.test:%d", s.port)},
				AllowPrivateAddresses: true,
				MaxRedirects:          tt.max,
				Resolver:              newResolver("loop.test.", "127.0.0.1"),
			})
			_, err := c.Do(t.Context(), Request{Method: "POST", URL: fmt.Sprintf("http://loop.test:%d/", s.port), Body: []byte("b")})
			if !errors.Is(err, ErrTooManyRedirects) {
				t.Fatalf("err = %v, want ErrTooManyRedirects", err)
			}
			if got := s.hits.Load(); got != tt.wantHits {
				t.Errorf("hits = %d, want %d", got, tt.wantHits)
			}
		})
	}
}

func TestResponseSizeLimit(t *testing.T) {
	const limit = 1000
	tests := []struct {
		name    string
		size    int
		chunked bool
		wantErr bool
	}{
		{"at limit", limit, false, false},
		{"over limit, declared", limit + 1, false, true},
		{"at limit, chunked", limit, true, false},
		{"over limit, chunked", limit + 1, true, true},
		{"far over, chunked", 50 * limit, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				body := strings.Repeat("x", tt.size)
				if tt.chunked {
					w.(http.Flusher).Flush() // headers out now: no Content-Length
				}
				io.WriteString(w, body)
			})
			c := mustNew(t, Policy{
				AllowedHosts:          []string{fmt.Sprintf("big.test:%d", s.port)},
				AllowPrivateAddresses: true,
				MaxResponseBytes:      limit,
				Resolver:              newResolver("big.test.", "127.0.0.1"),
			})
			resp, err := c.Do(t.Context(), Request{URL: fmt.Sprintf("http://big.test:%d/", s.port)})
			if tt.wantErr {
				if !errors.Is(err, ErrResponseTooLarge) || resp != nil {
					t.Fatalf("Do = %v, %v; want ErrResponseTooLarge and no response", resp, err)
				}
				if !strings.Contains(err.Error(), "big.test") {
					t.Errorf("err %q does not name the host", err)
				}
				return
			}
			if err != nil || len(resp.Body) != tt.size {
				t.Fatalf("Do = %v; %d bytes, want %d", err, len(resp.Body), tt.size)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow-body" {
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before s.Close
	policy := Policy{
		AllowedHosts:          []string{fmt.Sprintf("slow.test:%d", s.port)},
		AllowPrivateAddresses: true,
		Resolver:              newResolver("slow.test.", "127.0.0.1"),
	}
	base := fmt.Sprintf("http://slow.test:%d", s.port)

	for _, path := range []string{"/slow-headers", "/slow-body"} {
		t.Run("policy timeout "+path, func(t *testing.T) {
			p := policy
			p.Timeout = 100 * time.Millisecond
			c := mustNew(t, p)
			start := time.Now()
			_, err := c.Do(t.Context(), Request{URL: base + path})
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want DeadlineExceeded", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	t.Run("caller deadline", func(t *testing.T) {
		c := mustNew(t, policy)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := c.Do(ctx, Request{URL: base + "/slow-body"})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want DeadlineExceeded", err)
		}
	})
}

func TestEnvironmentProxyIgnored(t *testing.T) {
	proxy := newServer(t, ok("from proxy"))
	s := newServer(t, ok("direct"))
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	t.Setenv("NO_PROXY", "")
	c := mustNew(t, Policy{
		AllowedHosts:          []string{fmt.Sprintf("allowed.test:%d", s.port)},
		AllowPrivateAddresses: true,
		Resolver:              newResolver("allowed.test.", "127.0.0.1"),
	})
	resp, err := c.Do(t.Context(), Request{URL: fmt.Sprintf("http://allowed.test:%d/", s.port)})
	if err != nil || string(resp.Body) != "direct" || proxy.hits.Load() != 0 {
		t.Fatalf("Do = %v, %v; proxy hits %d", resp, err, proxy.hits.Load())
	}
}

func TestNewRejectsBadPolicy(t *testing.T) {
	tests := []struct {
		name  string
		p     Policy
		inMsg string
	}{
		{"wildcard without opt-in", Policy{AllowedHosts: []string{"*.example.com"}}, "AllowWildcards"},
		{"star without opt-in", Policy{AllowedHosts: []string{"*"}}, "AllowWildcards"},
		{"inner wildcard without opt-in", Policy{AllowedHosts: []string{"api.*.com"}}, "AllowWildcards"},
		{"partial wildcard", Policy{AllowedHosts: []string{"*api.com"}, AllowWildcards: true}, "whole label"},
		{"inner partial wildcard", Policy{AllowedHosts: []string{"api.e*.com"}, AllowWildcards: true}, "whole label"},
		{"inner wildcard, empty label", Policy{AllowedHosts: []string{"api.*..com"}, AllowWildcards: true}, "empty"},
		{"inner wildcard over IP", Policy{AllowedHosts: []string{"10.*.0.1"}, AllowWildcards: true}, "numeric IPv4"},
		{"wildcard over IP", Policy{AllowedHosts: []string{"*.10.0.0.1"}, AllowWildcards: true}, "not IP addresses"},
		{"URL", Policy{AllowedHosts: []string{"https://example.com/"}}, "not a URL"},
		{"empty", Policy{AllowedHosts: []string{""}}, "empty"},
		{"bad port", Policy{AllowedHosts: []string{"example.com:0"}}, "out of range"},
		{"port too big", Policy{AllowedHosts: []string{"example.com:65536"}}, "out of range"},
		{"port not numeric", Policy{AllowedHosts: []string{"example.com:http"}}, "not a number"},
		{"bad char", Policy{AllowedHosts: []string{"exa$mple.com"}}, "not allowed in a host name"},
		{"empty label", Policy{AllowedHosts: []string{"example..com"}}, "empty"},
		{"unterminated bracket", Policy{AllowedHosts: []string{"[::1"}}, "unterminated"},
		{"IPv4 in brackets", Policy{AllowedHosts: []string{"[127.0.0.1]"}}, "IPv6"},
		{"scheme", Policy{AllowedSchemes: []string{"ftp"}}, `"ftp"`},
		{"port", Policy{AllowedPorts: []int{0}}, "out of range"},
		{"negative size", Policy{MaxResponseBytes: -1}, "MaxResponseBytes"},
		{"negative timeout", Policy{Timeout: -time.Second}, "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.p)
			if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), tt.inMsg) {
				t.Fatalf("err = %v, want ErrInvalidPolicy mentioning %q", err, tt.inMsg)
			}
		})
	}
}

// TestInnerWildcardOverHTTP: Palyra's "api.*.example.com" form, granted,
// admits a name with exactly one label in place of '*', over real HTTP on
// 127.0.0.1; a redirect is checked against the pattern again (two labels
// in place of '*' and the bare domain are refused before any connection),
// and the resolved address is still checked.
func TestInnerWildcardOverHTTP(t *testing.T) {
	target := newServer(t, ok("landed"))
	deep := newServer(t, ok("deep"))
	for _, tt := range []struct {
		name, loc string
		want      error // nil: followed
	}{
		{"one label", fmt.Sprintf("http://api.us.example.test:%d/", target.port), nil},
		{"two labels", fmt.Sprintf("http://api.a.b.example.test:%d/", deep.port), ErrHostNotAllowed},
		{"no label", fmt.Sprintf("http://api.example.test:%d/", deep.port), ErrHostNotAllowed},
		{"other first label", fmt.Sprintf("http://www.us.example.test:%d/", deep.port), ErrHostNotAllowed},
		{"resolves to metadata", "http://api.meta.example.test/", ErrAddressNotAllowed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := newServer(t, redirectTo(tt.loc))
			c := mustNew(t, Policy{
				AllowedHosts:          []string{"API.*.example.test."},
				AllowWildcards:        true,
				AllowedPorts:          []int{80, start.port, target.port, deep.port},
				AllowPrivateAddresses: true,
				Resolver: newResolver("api.eu.example.test.", "127.0.0.1", "api.us.example.test.", "127.0.0.1",
					"api.a.b.example.test.", "127.0.0.1", "api.example.test.", "127.0.0.1",
					"www.us.example.test.", "127.0.0.1", "api.meta.example.test.", "169.254.169.254"),
			})
			resp, err := c.Do(t.Context(), Request{URL: fmt.Sprintf("http://api.eu.example.test:%d/", start.port)})
			if tt.want == nil {
				if err != nil || string(resp.Body) != "landed" {
					t.Fatalf("Do = %v, %v; want the redirect followed", resp, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Do = %v, want %v", err, tt.want)
			}
			if start.hits.Load() != 1 || deep.hits.Load() != 0 {
				t.Errorf("hits: start %d, refused target %d; want 1, 0", start.hits.Load(), deep.hits.Load())
			}
		})
	}
	// Without AllowWildcards the pattern is refused outright.
	if _, err := New(Policy{AllowedHosts: []string{"api.*.example.test"}}); !errors.Is(err, ErrInvalidPolicy) {
		t.Errorf("New without AllowWildcards = %v, want ErrInvalidPolicy", err)
	}
}
