package egress

import (
	"fmt"
	"net/netip"
)

// addrClass says why an address is not an ordinary public unicast one.
type addrClass struct {
	reason string // "" for a public address
	// always: refused even with AllowPrivateAddresses, because no skill
	// has a business there (instance credentials, "this host" aliases,
	// one-to-many delivery).
	always bool
}

// classify names the special-purpose block an address falls in. IPv6
// forms that embed an IPv4 address (IPv4-mapped, NAT64, 6to4) are judged
// by the embedded address, since a dual-stack host or a translator on the
// path delivers them there.
func classify(a netip.Addr) addrClass {
	a = a.WithZone("")
	if a.Is4In6() {
		return embedded("IPv4-mapped", a.Unmap())
	}
	if a.Is4() {
		return classify4(a)
	}
	return classify6(a)
}

func embedded(form string, v4 netip.Addr) addrClass {
	c := classify4(v4)
	if c.reason != "" {
		c.reason = fmt.Sprintf("%s form of %s, %s", form, v4, c.reason)
	}
	return c
}

func classify4(a netip.Addr) addrClass {
	b := a.As4()
	switch {
	case b == [4]byte{169, 254, 169, 254}:
		return addrClass{"cloud metadata endpoint", true}
	case b == [4]byte{0, 0, 0, 0}:
		return addrClass{"unspecified address", true}
	case b == [4]byte{255, 255, 255, 255}:
		return addrClass{"broadcast address", true}
	case b[0] >= 224 && b[0] < 240:
		return addrClass{"multicast 224.0.0.0/4", true}
	case b[0] == 0:
		return addrClass{"this network 0.0.0.0/8", false}
	case b[0] == 127:
		return addrClass{"loopback 127.0.0.0/8", false}
	case b[0] == 10:
		return addrClass{"private 10.0.0.0/8", false}
	case b[0] == 172 && b[1]&0xf0 == 16:
		return addrClass{"private 172.16.0.0/12", false}
	case b[0] == 192 && b[1] == 168:
		return addrClass{"private 192.168.0.0/16", false}
	case b[0] == 100 && b[1]&0xc0 == 64:
		// Also carrier NAT, Tailscale and Alibaba's metadata (100.100.100.200).
		return addrClass{"shared address space 100.64.0.0/10", false}
	case b[0] == 169 && b[1] == 254:
		return addrClass{"link-local 169.254.0.0/16", false}
	case b[0] == 192 && b[1] == 0 && b[2] == 0:
		// Includes Oracle Cloud's metadata at 192.0.0.192.
		return addrClass{"IETF protocol assignments 192.0.0.0/24", false}
	case b[0] >= 240:
		return addrClass{"reserved 240.0.0.0/4", false}
	}
	return addrClass{}
}

func classify6(a netip.Addr) addrClass {
	b := a.As16()
	switch {
	case a == netip.IPv6Unspecified():
		return addrClass{"unspecified address", true}
	case a == netip.IPv6Loopback():
		return addrClass{"loopback ::1", false}
	case a == netip.AddrFrom16([16]byte{0xfd, 0x00, 0x0e, 0xc2, 14: 0x02, 15: 0x54}):
		return addrClass{"cloud metadata endpoint", true}
	case b[0] == 0xff:
		return addrClass{"multicast ff00::/8", true}
	case b[0]&0xfe == 0xfc:
		return addrClass{"unique local fc00::/7", false}
	case b[0] == 0xfe && b[1]&0xc0 == 0x80:
		return addrClass{"link-local fe80::/10", false}
	case b[0] == 0xfe && b[1]&0xc0 == 0xc0:
		return addrClass{"site-local fec0::/10", false}
	case [12]byte(b[:12]) == [12]byte{}:
		return addrClass{"IPv4-compatible ::/96", false}
	case [12]byte(b[:12]) == [12]byte{0x00, 0x64, 0xff, 0x9b}:
		return embedded("NAT64", netip.AddrFrom4([4]byte(b[12:16])))
	case [6]byte(b[:6]) == [6]byte{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}:
		return addrClass{"local-use NAT64 64:ff9b:1::/48", false}
	case [8]byte(b[:8]) == [8]byte{0x01, 0x00}:
		return addrClass{"discard-only 100::/64", false}
	case [4]byte(b[:4]) == [4]byte{0x20, 0x01, 0x00, 0x00}:
		// Teredo hides the client's IPv4 address; refuse rather than decode.
		return addrClass{"Teredo 2001::/32", false}
	case b[0] == 0x20 && b[1] == 0x02:
		return embedded("6to4", netip.AddrFrom4([4]byte(b[2:6])))
	}
	return addrClass{}
}

// checkAddr decides whether a connection to a may be made. name is the
// host name it was resolved from, or "" for a literal.
func (c *compiled) checkAddr(name string, a netip.Addr) error {
	cl := classify(a)
	if cl.reason == "" || !cl.always && c.allowPrivate {
		return nil
	}
	rule := "private addresses are not allowed"
	if cl.always {
		rule = "never allowed"
	}
	if name == "" {
		return fmt.Errorf("%w: %s is %s (%s)", ErrAddressNotAllowed, a, cl.reason, rule)
	}
	return fmt.Errorf("%w: %s resolves to %s, %s (%s)", ErrAddressNotAllowed, name, a, cl.reason, rule)
}
