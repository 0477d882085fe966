package egress

import (
	"errors"
	"net/netip"
	"net/url"
	"testing"
)

func TestHostMatching(t *testing.T) {
	tests := []struct {
		entry     string
		wildcards bool
		url       string
		want      error // nil: allowed
	}{
		{"example.com", false, "https://example.com/", nil},
		{"example.com", false, "https://EXAMPLE.com./", nil},
		{"EXAMPLE.COM.", false, "https://example.com/", nil},
		{"example.com", false, "http://example.com:80/", nil},
		{"example.com", false, "https://www.example.com/", ErrHostNotAllowed},
		{"example.com", false, "https://example.com.evil.test/", ErrHostNotAllowed},
		{"example.com", false, "https://evilexample.com/", ErrHostNotAllowed},
		{"*.example.com", true, "https://api.example.com/", nil},
		{"*.example.com", true, "https://a.b.example.com/", nil},
		{"*.example.com", true, "https://API.Example.COM./", nil},
		{"*.example.com", true, "https://example.com/", ErrHostNotAllowed},
		{"*.example.com", true, "https://badexample.com/", ErrHostNotAllowed},
		{"*.example.com", true, "https://example.com.evil.test/", ErrHostNotAllowed},
		{"*.example.com:8443", true, "https://api.example.com:8443/", nil},
		{"*.example.com:8443", true, "https://api.example.com/", ErrPortNotAllowed},
		// A '*' label inside the name stands for exactly one label; a
		// leading one for one or more (Palyra's connector net guard).
		{"api.*.example.com", true, "https://api.eu.example.com/", nil},
		{"api.*.example.com", true, "https://API.EU.Example.com./", nil},
		{"api.*.example.com", true, "https://api.a.b.example.com/", ErrHostNotAllowed},
		{"api.*.example.com", true, "https://api.example.com/", ErrHostNotAllowed},
		{"api.*.example.com", true, "https://www.eu.example.com/", ErrHostNotAllowed},
		{"api.*.example.com", true, "https://x.api.eu.example.com/", ErrHostNotAllowed},
		{"api.*.example.com", true, "https://api.eu.example.com.evil.test/", ErrHostNotAllowed},
		{"api.*.example.com", true, "https://192.0.2.1/", ErrHostNotAllowed},
		{"api.*.example.com:8443", true, "https://api.eu.example.com/", ErrPortNotAllowed},
		{"*.*.example.com", true, "https://a.b.example.com/", nil},
		{"*.*.example.com", true, "https://x.a.b.example.com/", nil},
		{"*.*.example.com", true, "https://b.example.com/", ErrHostNotAllowed},
		{"api.example.*", true, "https://api.example.org/", nil},
		{"api.example.*", true, "https://api.example.co.uk/", ErrHostNotAllowed},
		{"*.bücher.*", true, "https://shop.xn--bcher-kva.example/", nil},
		{"*", true, "https://anything.test/", nil},
		{"*", true, "https://192.0.2.1/", ErrHostNotAllowed},
		{"*", true, "https://[2001:db8::1]/", ErrHostNotAllowed},
		{"192.0.2.1", false, "https://192.0.2.1/", nil},
		{"192.0.2.1", false, "https://[::ffff:192.0.2.1]/", nil}, // the same destination
		{"192.0.2.1", false, "https://192.0.2.2/", ErrHostNotAllowed},
		{"2001:db8::1", false, "https://[2001:db8::1]/", nil},
		{"2001:db8::1", false, "https://[2001:db8:0::1]/", nil},
		{"[2001:db8::1]:8443", false, "https://[2001:db8::1]:8443/", nil},
		{"[2001:db8::1]:8443", false, "https://[2001:db8::1]/", ErrPortNotAllowed},
		// Internationalized names compare in punycode, either way round.
		{"bücher.example", false, "https://xn--bcher-kva.example/", nil},
		{"xn--bcher-kva.example", false, "https://BÜCHER.example/", nil},
		{"*.bücher.example", true, "https://shop.xn--bcher-kva.example/", nil},
		// Percent-encoded hosts are decoded by the URL parser first.
		{"bücher.example", false, "https://b%C3%BCcher.example/", nil},
	}
	for _, tt := range tests {
		t.Run(tt.entry+" "+tt.url, func(t *testing.T) {
			c, err := compile(Policy{AllowedHosts: []string{tt.entry}, AllowWildcards: tt.wildcards})
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			err = c.checkURL(u)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("checkURL = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		addr   string
		reason string // "" for public
		always bool
	}{
		{"8.8.8.8", "", false},
		{"192.0.2.1", "", false},
		{"2606:4700::1111", "", false},
		{"172.15.255.255", "", false},
		{"172.32.0.0", "", false},
		{"100.63.255.255", "", false},
		{"100.128.0.0", "", false},
		{"::ffff:8.8.8.8", "", false},
		{"64:ff9b::808:808", "", false},
		{"2002:808:808::1", "", false},
		{"127.0.0.1", "loopback 127.0.0.0/8", false},
		{"10.255.255.255", "private 10.0.0.0/8", false},
		{"172.16.0.0", "private 172.16.0.0/12", false},
		{"192.168.0.1", "private 192.168.0.0/16", false},
		{"100.100.100.200", "shared address space 100.64.0.0/10", false},
		{"169.254.0.1", "link-local 169.254.0.0/16", false},
		{"169.254.169.254", "cloud metadata endpoint", true},
		{"192.0.0.192", "IETF protocol assignments 192.0.0.0/24", false},
		{"0.0.0.0", "unspecified address", true},
		{"0.0.0.1", "this network 0.0.0.0/8", false},
		{"224.0.0.251", "multicast 224.0.0.0/4", true},
		{"239.255.255.250", "multicast 224.0.0.0/4", true},
		{"240.0.0.1", "reserved 240.0.0.0/4", false},
		{"255.255.255.255", "broadcast address", true},
		{"::", "unspecified address", true},
		{"::1", "loopback ::1", false},
		{"fd00:ec2::254", "cloud metadata endpoint", true},
		{"fd00:ec2::253", "unique local fc00::/7", false},
		{"fc00::1", "unique local fc00::/7", false},
		{"fe80::1", "link-local fe80::/10", false},
		{"febf::1", "link-local fe80::/10", false},
		{"fec0::1", "site-local fec0::/10", false},
		{"ff02::1", "multicast ff00::/8", true},
		{"::127.0.0.1", "IPv4-compatible ::/96", false},
		{"::ffff:10.0.0.1", "IPv4-mapped form of 10.0.0.1, private 10.0.0.0/8", false},
		{"::ffff:169.254.169.254", "IPv4-mapped form of 169.254.169.254, cloud metadata endpoint", true},
		{"::ffff:0.0.0.0", "IPv4-mapped form of 0.0.0.0, unspecified address", true},
		{"64:ff9b::a9fe:a9fe", "NAT64 form of 169.254.169.254, cloud metadata endpoint", true},
		{"64:ff9b:1::1", "local-use NAT64 64:ff9b:1::/48", false},
		{"2002:c0a8:101::1", "6to4 form of 192.168.1.1, private 192.168.0.0/16", false},
		{"2001:0:4136:e378::1", "Teredo 2001::/32", false},
		{"100::1", "discard-only 100::/64", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got := classify(netip.MustParseAddr(tt.addr))
			if got.reason != tt.reason || got.always != tt.always {
				t.Errorf("classify = %+v, want {%q %v}", got, tt.reason, tt.always)
			}
		})
	}
}

func TestCheckAddrHonoursAllowPrivate(t *testing.T) {
	strict := &compiled{}
	open := &compiled{allowPrivate: true}
	for _, a := range []string{"127.0.0.1", "10.0.0.1", "::1", "fd12::1", "::ffff:192.168.0.1"} {
		addr := netip.MustParseAddr(a)
		if err := strict.checkAddr("h.test", addr); !errors.Is(err, ErrAddressNotAllowed) {
			t.Errorf("strict %s: %v", a, err)
		}
		if err := open.checkAddr("h.test", addr); err != nil {
			t.Errorf("AllowPrivateAddresses %s: %v", a, err)
		}
	}
	for _, a := range []string{"169.254.169.254", "fd00:ec2::254", "0.0.0.0", "::", "224.0.0.1", "ff02::1", "255.255.255.255"} {
		if err := open.checkAddr("", netip.MustParseAddr(a)); !errors.Is(err, ErrAddressNotAllowed) {
			t.Errorf("AllowPrivateAddresses %s: %v, want refused anyway", a, err)
		}
	}
}
