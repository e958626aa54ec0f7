package webhook

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Blocked reports whether ip is an address webhooks may not reach unless
// private addresses are allowed: loopback, private (RFC 1918, RFC 4193),
// link-local, unspecified, multicast, and the carrier-grade NAT range.
func Blocked(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() ||
		cgnat.Contains(ip)
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// CheckURL checks a webhook's target URL: an absolute http or https URL
// with a host, without user information, and (unless allowPrivate) whose
// host does not resolve to a Blocked address. A host that does not resolve
// now is accepted: delivery checks every address it dials (Dialer).
func CheckURL(ctx context.Context, raw string, allowPrivate bool) error {
	if len(raw) > 2048 {
		return fmt.Errorf("must be at most 2048 bytes")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("is not a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q must be an http or https URL", raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("%q has no host", raw)
	}
	if u.User != nil {
		return fmt.Errorf("%q must not hold a user name or password", raw)
	}
	if u.Fragment != "" {
		return fmt.Errorf("%q must not have a fragment", raw)
	}
	if allowPrivate {
		return nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if Blocked(ip) {
			return fmt.Errorf("%q is a loopback, private or link-local address (forumd --webhook-allow-private allows it)", host)
		}
		return nil
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return fmt.Errorf("%q is a loopback host (forumd --webhook-allow-private allows it)", host)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil // checked again when dialled
	}
	for _, a := range addrs {
		if Blocked(a) {
			return fmt.Errorf("%q resolves to %s, a loopback, private or link-local address (forumd --webhook-allow-private allows it)", host, a)
		}
	}
	return nil
}

// Dialer returns a net.Dialer that refuses to connect to Blocked
// addresses, unless allowPrivate: it checks the address actually dialled,
// after resolution, so that a name that resolves to a public address when
// the webhook is created and to a private one later is still refused.
func Dialer(allowPrivate bool) *net.Dialer {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if !allowPrivate {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("webhook: refusing to dial %s: %v", address, err)
			}
			if Blocked(ap.Addr()) {
				return fmt.Errorf("webhook: refusing to dial %s: a loopback, private or link-local address", address)
			}
			return nil
		}
	}
	return d
}
