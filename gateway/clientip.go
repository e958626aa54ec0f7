package gateway

// The gateway's part in rate limiting: telling the gRPC server who the HTTP
// client is, and turning a refusal into 429 with Retry-After.
//
// The gateway dials the gRPC server over loopback, so the server sees every
// gateway call coming from 127.0.0.1. The gateway therefore sends the
// client's address in the x-forum-client-ip metadata, with the secret it
// shares with the server (Options.GatewaySecret) in x-forum-gateway-secret;
// the server believes the address only with the secret, so a direct gRPC
// client cannot pick its own. The client's address is r.RemoteAddr, or,
// when that is a configured trusted proxy, the nearest untrusted hop of
// X-Forwarded-For.

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Metadata the gateway sends with every call; the server reads the same
// names (server/ratelimit.go).
const (
	clientIPMetadataKey      = "x-forum-client-ip"
	gatewaySecretMetadataKey = "x-forum-gateway-secret"
)

// ParseTrustedProxies parses a comma-separated list of reverse-proxy
// addresses and CIDR prefixes, such as "10.0.0.0/8, 192.0.2.7, ::1". An
// address stands for itself alone (/32 or /128). The empty string is an
// empty list.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", item, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", item, err)
		}
		a = a.Unmap().WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// clientIP returns the address of the client that sent r: r.RemoteAddr,
// unless that is a trusted proxy, in which case X-Forwarded-For is walked
// from the right (the hop nearest to us) past trusted proxies to the first
// address that is not one. A malformed hop ends the walk at the last
// trusted address before it, since whoever wrote it cannot be believed
// either. ok is false when r.RemoteAddr is not an IP address.
func clientIP(r *http.Request, trusted []netip.Prefix) (addr netip.Addr, ok bool) {
	addr, ok = parseHop(r.RemoteAddr)
	if !ok || !isTrusted(addr, trusted) {
		return addr, ok
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseHop(strings.TrimSpace(hops[i]))
		if !ok {
			break
		}
		addr = hop
		if !isTrusted(hop, trusted) {
			break
		}
	}
	return addr, true
}

// fromTrustedProxy reports whether r comes straight from a trusted proxy.
func fromTrustedProxy(r *http.Request, trusted []netip.Prefix) bool {
	a, ok := parseHop(r.RemoteAddr)
	return ok && isTrusted(a, trusted)
}

// parseHop parses an address as found in RemoteAddr or X-Forwarded-For:
// "192.0.2.1", "192.0.2.1:443", "2001:db8::1", "[2001:db8::1]:443" or
// "[2001:db8::1]". IPv4-mapped IPv6 addresses become IPv4; zones are
// dropped.
func parseHop(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			a, err = netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
			if err != nil {
				return netip.Addr{}, false
			}
		} else {
			a = ap.Addr()
		}
	}
	return a.Unmap().WithZone(""), true
}

// isTrusted reports whether a is in one of the trusted prefixes.
func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientMetadata is a runtime.WithMetadata annotator: it names the client's
// address for the server's rate limiter, with the gateway secret. Without
// a secret it sends nothing, since the server would not believe it.
// grpc-gateway lets annotator values replace any the request's headers
// mapped to the same keys, so a client cannot send its own.
func (g *gateway) clientMetadata(_ context.Context, r *http.Request) metadata.MD {
	if g.secret == "" {
		return nil
	}
	ip, ok := clientIP(r, g.trustedProxies)
	if !ok {
		return nil
	}
	return metadata.Pairs(clientIPMetadataKey, ip.String(), gatewaySecretMetadataKey, g.secret)
}

// setRetryAfter sets the Retry-After header (whole seconds, rounded up, at
// least 1) of a RESOURCE_EXHAUSTED error that carries a RetryInfo detail:
// a rate-limit refusal, which grpc-gateway answers with 429.
func setRetryAfter(w http.ResponseWriter, err error) {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.ResourceExhausted {
		return
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			secs := max(1, int64(math.Ceil(ri.GetRetryDelay().AsDuration().Seconds())))
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			return
		}
	}
}

// isLoopbackHost reports whether the Host header names this machine:
// localhost, a *.localhost name, or a loopback address. Browsers treat
// http:// origins on these as secure, so they keep Secure cookies there.
func isLoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
