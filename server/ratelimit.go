package server

// Rate limits: token buckets (golang.org/x/time/rate) per client address,
// per caller (user or API token), and tighter ones for logins,
// registrations and creations.
//
// Two hooks share one rateLimiter; New installs them with the chain of
// interceptors (interceptors.go), each only if a bucket it charges is on:
//
//	tapAddress (InTapHandle) -> unaryInterceptors (logging, recovery, ..., authentication, access) -> limitCaller -> handler
//
// tapAddress runs first, when a call's headers arrive and before any work
// is done on it (no goroutine, no request decoding): it finds the client
// address and charges the per-address bucket, so a flood from one address
// (including one sending junk tokens, which authentication would refuse
// before limitCaller sees them) is refused at the door, cheaply, for
// streaming calls too. limitCaller, a unary interceptor, runs after
// authentication, so it knows the user or token, and before the handler,
// so Login and Register are refused before any password is hashed. Its
// refusals go through the chain's logging and status mapping
// like any other error.

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Metadata the gateway sends with every call it forwards: the address of
// the HTTP client, and the secret proving the call comes from the gateway
// (Config.GatewaySecret). The gateway package has the same names
// (gateway/clientip.go).
const (
	clientIPMetadataKey      = "x-forum-client-ip"
	gatewaySecretMetadataKey = "x-forum-gateway-secret"
)

// rateLimitedReason is the ErrorInfo reason of a call refused by a rate
// limit.
const rateLimitedReason = "RATE_LIMITED"

// Rate is the setting of one kind of token bucket: it refills at Limit
// tokens per second up to Burst tokens, and each call takes one. The zero
// Rate means no limit.
type Rate struct {
	// Limit is the refill rate, in tokens per second.
	Limit rate.Limit
	// Burst is the bucket size: how many calls may be made at once after
	// a quiet spell.
	Burst int
}

// Per returns the Rate of n calls per period, with bursts of up to burst
// calls.
func Per(n float64, period time.Duration, burst int) Rate {
	return Rate{Limit: rate.Limit(n / period.Seconds()), Burst: burst}
}

// enabled reports whether r limits anything.
func (r Rate) enabled() bool { return r.Limit > 0 && r.Burst > 0 }

// String formats r as ParseRateLimits reads it: "50/s:100", "5/m:5",
// "20/h:10", or "off" for the zero Rate.
func (r Rate) String() string {
	if !r.enabled() {
		return "off"
	}
	perSecond := float64(r.Limit)
	for _, u := range []struct {
		unit string
		secs float64
	}{{"s", 1}, {"m", 60}, {"h", 3600}} {
		n := perSecond * u.secs
		if math.Abs(n-math.Round(n)) < 1e-9*max(1, n) && n >= 1 {
			return fmt.Sprintf("%g/%s:%d", math.Round(n), u.unit, r.Burst)
		}
	}
	return fmt.Sprintf("%g/s:%d", perSecond, r.Burst)
}

// parseRate reads a Rate: "N/UNIT[:BURST]" with UNIT s, m, h or a Go
// duration ("10s"), or "off". BURST defaults to N rounded up (at least 1).
func parseRate(s string) (Rate, error) {
	if s == "off" {
		return Rate{}, nil
	}
	ratePart, burstPart, hasBurst := strings.Cut(s, ":")
	nPart, unit, ok := strings.Cut(ratePart, "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want N/UNIT[:BURST], e.g. 50/s:100, or off", s)
	}
	n, err := strconv.ParseFloat(nPart, 64)
	if err != nil || n <= 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return Rate{}, fmt.Errorf("rate %q: %q is not a positive number", s, nPart)
	}
	var period time.Duration
	switch unit {
	case "s":
		period = time.Second
	case "m", "min":
		period = time.Minute
	case "h":
		period = time.Hour
	default:
		period, err = time.ParseDuration(unit)
		if err != nil || period <= 0 {
			return Rate{}, fmt.Errorf("rate %q: unit %q is not s, m, h or a positive duration", s, unit)
		}
	}
	burst := max(1, int(math.Ceil(n)))
	if hasBurst {
		burst, err = strconv.Atoi(burstPart)
		if err != nil || burst < 1 {
			return Rate{}, fmt.Errorf("rate %q: burst %q is not a positive integer", s, burstPart)
		}
	}
	return Per(n, period, burst), nil
}

// RateLimits configures the rate limiter. Each Rate is one kind of token
// bucket, kept separately for every key (address, user, ...) it names; a
// call must find a token in every bucket that applies to it, or it is
// refused with RESOURCE_EXHAUSTED, a RetryInfo detail saying when to retry
// and the ErrorInfo reason RATE_LIMITED (HTTP 429 with Retry-After through
// the gateway). A refused call takes no token from any bucket.
//
// The zero value limits nothing; DefaultRateLimits returns the limits
// forumd serves with.
type RateLimits struct {
	// Address applies to every call, per client address, before
	// authentication: a flood guard. Behind one NAT (a conference
	// venue), all clients share it.
	Address Rate
	// Caller applies to every forum call, per API token, per user for
	// login sessions (all of a user's sessions share it), and per
	// address for anonymous calls.
	Caller Rate
	// Create applies to Create* methods (CreateThread, CreateReply, ...),
	// per user, whether through a session or an API token.
	Create Rate
	// LoginAddress applies to every Login, per client address: it bounds
	// password spraying (one password tried against many accounts).
	LoginAddress Rate
	// LoginAccountAddress counts failed logins per username tried
	// (whether or not such a user exists) and client address, and failed
	// ChangePassword calls per user and address: an address that keeps
	// guessing one account's password is slowed down for that account
	// only, and its owner, elsewhere, is not.
	LoginAccountAddress Rate
	// LoginAccount counts failed logins per username tried, from all the
	// addresses that have not logged in to that account successfully
	// lately (see trustedLoginFor), and failed ChangePassword calls per
	// user: it bounds password guessing against one account from many
	// addresses, however many. When it is empty, only addresses the
	// account logged in from lately may still try (each within its
	// LoginAccountAddress bucket). Keep it looser than
	// LoginAccountAddress (twice as loose by default), so that one address
	// alone can never empty it. A successful login is charged to neither
	// bucket.
	LoginAccount Rate
	// RegisterAddress applies to Register, per client address.
	RegisterAddress Rate
	// MaxKeys bounds the number of buckets kept for each of the seven
	// kinds above, and the number of (account, address) pairs remembered
	// as trusted; 0 means 50,000. A bucket is forgotten once it has refilled
	// (nothing is lost: a new bucket starts full), so only clients active
	// within the last refill time count. When a kind is full of active
	// buckets, new keys share one overflow bucket of that kind until
	// space frees up: memory stays bounded and a flood of new addresses
	// cannot reset anyone's limit. Trusted pairs are forgotten
	// trustedLoginFor after their last login; while MaxKeys of them are
	// remembered, new ones are not added (an old one is never evicted).
	MaxKeys int
}

// defaultMaxKeys is the number of buckets of one kind kept when
// RateLimits.MaxKeys is 0.
const defaultMaxKeys = 50_000

// DefaultRateLimits returns the limits forumd serves with:
//
//	Address              200/s, burst 400  per client address, every call
//	Caller                50/s, burst 100  per API token, user, or anonymous address
//	Create                30/m, burst 10   per user, Create* methods
//	LoginAddress          30/m, burst 30   per address, every Login
//	LoginAccountAddress    5/m, burst 5    per username tried and address, failed Logins;
//	                                       per user and address, failed ChangePasswords
//	LoginAccount          10/m, burst 10   per username tried, failed Logins from untrusted addresses;
//	                                       per user, failed ChangePasswords
//	RegisterAddress       20/h, burst 10   per address, Register
//
// Reads are generous (an integrator's token may make 50 calls a second
// without ever being throttled); the tight buckets are where a flood costs
// a password hash or leaves content behind. One address guessing one
// account's password gets 5 answers at once, then one every 12 s, and
// cannot lock anyone else out: it empties only its own
// LoginAccountAddress bucket. Guessing from many addresses gets at most 10
// answers at once, then one every 6 s, for all of them together; the
// owner is then refused too unless they log in from an address they logged
// in from within the last 30 days. 200 logins a minute from one address get
// about 60.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		Address:             Per(200, time.Second, 400),
		Caller:              Per(50, time.Second, 100),
		Create:              Per(30, time.Minute, 10),
		LoginAddress:        Per(30, time.Minute, 30),
		LoginAccountAddress: Per(5, time.Minute, 5),
		LoginAccount:        Per(10, time.Minute, 10),
		RegisterAddress:     Per(20, time.Hour, 10),
	}
}

// rateLimitFields names the kinds of bucket in RateLimits, as
// ParseRateLimits and RateLimits.String spell them.
var rateLimitFields = []struct {
	name string
	get  func(*RateLimits) *Rate
}{
	{"address", func(l *RateLimits) *Rate { return &l.Address }},
	{"caller", func(l *RateLimits) *Rate { return &l.Caller }},
	{"create", func(l *RateLimits) *Rate { return &l.Create }},
	{"login-address", func(l *RateLimits) *Rate { return &l.LoginAddress }},
	{"login-account", func(l *RateLimits) *Rate { return &l.LoginAccount }},
	{"login-account-address", func(l *RateLimits) *Rate { return &l.LoginAccountAddress }},
	{"register-address", func(l *RateLimits) *Rate { return &l.RegisterAddress }},
}

// ParseRateLimits applies spec to base and returns the result. spec is
// "off" (no limits at all), "" (base unchanged), or a comma-separated list
// of KIND=RATE and max-keys=N, where KIND is address, caller, create,
// login-address, login-account, login-account-address or register-address,
// and RATE is
// N/UNIT[:BURST] (UNIT s, m, h or a Go duration such as 10s; BURST
// defaults to N) or off. Example: "caller=100/s:200,create=60/m:20".
func ParseRateLimits(spec string, base RateLimits) (RateLimits, error) {
	spec = strings.TrimSpace(spec)
	switch spec {
	case "":
		return base, nil
	case "off":
		return RateLimits{}, nil
	}
	l := base
	for item := range strings.SplitSeq(spec, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return base, fmt.Errorf("rate limits: %q is not KIND=RATE", item)
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if name == "max-keys" {
			n, err := strconv.Atoi(value)
			if err != nil || n < 1 {
				return base, fmt.Errorf("rate limits: max-keys=%q is not a positive integer", value)
			}
			l.MaxKeys = n
			continue
		}
		found := false
		for _, f := range rateLimitFields {
			if f.name != name {
				continue
			}
			r, err := parseRate(value)
			if err != nil {
				return base, fmt.Errorf("rate limits: %s: %w", name, err)
			}
			*f.get(&l) = r
			found = true
		}
		if !found {
			return base, fmt.Errorf("rate limits: unknown kind %q (want address, caller, create, login-address, login-account, login-account-address, register-address or max-keys)", name)
		}
	}
	return l, nil
}

// String formats l as ParseRateLimits reads it, every kind spelt out.
func (l RateLimits) String() string {
	var b strings.Builder
	for i, f := range rateLimitFields {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%s", f.name, f.get(&l).String())
	}
	maxKeys := l.MaxKeys
	if maxKeys == 0 {
		maxKeys = defaultMaxKeys
	}
	fmt.Fprintf(&b, ",max-keys=%d", maxKeys)
	return b.String()
}

// rateLimiter holds the buckets of one Server. Its sets are nil for the
// kinds that are off.
type rateLimiter struct {
	now    func() time.Time
	log    *slog.Logger
	secret []byte // Config.GatewaySecret; nil: client-IP metadata is ignored

	address, caller, create, loginAddress, loginAccountAddress, loginAccount, registerAddress *bucketSet

	// trusted holds the (account, address) pairs of recent successful
	// logins, which LoginAccount does not limit; nil unless both
	// LoginAccount and LoginAccountAddress are on.
	trusted *trustSet
}

// newRateLimiter builds the limiter for limits. now is the clock (tests
// pass a fake one).
func newRateLimiter(limits RateLimits, gatewaySecret string, log *slog.Logger, now func() time.Time) *rateLimiter {
	maxKeys := limits.MaxKeys
	if maxKeys <= 0 {
		maxKeys = defaultMaxKeys
	}
	set := func(name, msg string, r Rate) *bucketSet {
		if !r.enabled() {
			return nil
		}
		return &bucketSet{
			name: name, msg: msg, rate: r, maxKeys: maxKeys,
			buckets:  make(map[string]*rate.Limiter),
			errs:     make(map[int64]error),
			overflow: rate.NewLimiter(r.Limit, r.Burst),
		}
	}
	l := &rateLimiter{
		now:          now,
		log:          log,
		address:      set("address", "too many requests from your address", limits.Address),
		caller:       set("caller", "too many requests", limits.Caller),
		create:       set("create", "too many new posts and other creations", limits.Create),
		loginAddress: set("login-address", "too many login attempts from your address", limits.LoginAddress),
		loginAccountAddress: set("login-account-address", "too many failed login attempts for this account from your address",
			limits.LoginAccountAddress),
		loginAccount: set("login-account", "too many failed login attempts for this account",
			limits.LoginAccount),
		registerAddress: set("register-address", "too many registrations from your address", limits.RegisterAddress),
	}
	if l.loginAccount != nil && l.loginAccountAddress != nil {
		l.trusted = &trustSet{ttl: trustedLoginFor, maxKeys: maxKeys, until: make(map[string]time.Time)}
	}
	if gatewaySecret != "" {
		l.secret = []byte(gatewaySecret)
	}
	return l
}

// sweepInterval is how often a bucket set forgets its full buckets;
// fullSweepInterval how often at most it tries when it is at MaxKeys.
const (
	sweepInterval     = time.Minute
	fullSweepInterval = time.Second
)

// bucketSet is the buckets of one kind, by key.
type bucketSet struct {
	name    string // the kind, as in RateLimits.String: "login-account"
	msg     string // what the client is told: "too many login attempts ..."
	rate    Rate
	maxKeys int

	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	overflow  *rate.Limiter   // shared by new keys while buckets is full
	errs      map[int64]error // refusal errors by wait in ms (rateLimited)
	nextSweep time.Time
	lastSweep time.Time
}

// limiter returns the bucket of key, creating it if need be.
func (s *bucketSet) limiter(key string, now time.Time) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lim, ok := s.buckets[key]; ok {
		return lim
	}
	if !now.Before(s.nextSweep) || (len(s.buckets) >= s.maxKeys && now.Sub(s.lastSweep) >= fullSweepInterval) {
		s.sweep(now)
	}
	if len(s.buckets) >= s.maxKeys {
		return s.overflow
	}
	lim := rate.NewLimiter(s.rate.Limit, s.rate.Burst)
	s.buckets[key] = lim
	return lim
}

// sweep forgets the buckets that are full at now: a new bucket would start
// full too, so no limit is lost. s.mu is held.
func (s *bucketSet) sweep(now time.Time) {
	full := float64(s.rate.Burst)
	for key, lim := range s.buckets {
		if lim.TokensAt(now) >= full {
			delete(s.buckets, key)
		}
	}
	s.lastSweep = now
	s.nextSweep = now.Add(sweepInterval)
}

// len returns the number of buckets kept.
func (s *bucketSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.buckets)
}

// trustedLoginFor is how long an address stays trusted for an account
// after a successful login from it: the LoginAccount bucket does not limit
// it (its LoginAccountAddress bucket still does).
const trustedLoginFor = 30 * 24 * time.Hour

// trustSet remembers the (account, address) pairs that logged in
// successfully within ttl: the owner's usual addresses, which a guessing
// attack from elsewhere must not lock out. It plays the part of the
// device cookies of OWASP's login-throttling advice, keyed by address
// since the API has no cookie jar. It holds at most maxKeys pairs; when
// full, expired pairs are swept (at most once per fullSweepInterval) and
// a new pair that still finds no room is not remembered: a flood of
// logins to accounts of one's own cannot evict the owner's pairs.
type trustSet struct {
	ttl     time.Duration
	maxKeys int

	mu        sync.Mutex
	until     map[string]time.Time // pair -> end of trust
	lastSweep time.Time
}

// has reports whether key is trusted at now.
func (s *trustSet) has(key string, now time.Time) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.until[key]
	return ok && now.Before(until)
}

// add trusts key for ttl from now.
func (s *trustSet) add(key string, now time.Time) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.until[key]; !ok && len(s.until) >= s.maxKeys {
		if now.Sub(s.lastSweep) < fullSweepInterval {
			return
		}
		s.lastSweep = now
		for k, until := range s.until {
			if !now.Before(until) {
				delete(s.until, k)
			}
		}
		if len(s.until) >= s.maxKeys {
			return
		}
	}
	s.until[key] = now.Add(s.ttl)
}

// len returns the number of pairs remembered.
func (s *trustSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.until)
}

// accountAddressKey is the key of an (account, address) pair: account is
// "username:NAME" or "user:users/ID", addr a client address as
// clientAddr finds it (which holds no NUL byte).
func accountAddressKey(account, addr string) string {
	return account + "\x00" + addr
}

// limitCheck is one bucket a call must take a token from; a nil set is
// skipped.
type limitCheck struct {
	set *bucketSet
	key string
}

// admit takes a token from every bucket of checks, or from none: if one
// of them is empty, it returns how long until they all have a token again
// and the kind that refused (the one with the longest wait).
func admit(now time.Time, checks ...limitCheck) (wait time.Duration, refused *bucketSet) {
	wait, refused, _ = admitCounting(now, nil, checks...)
	return wait, refused
}

// maxFailureChecks is how many buckets of failed calls one call may be
// charged to (Login: login-account-address and login-account).
const maxFailureChecks = 2

// failureTokens are the tokens a call took from buckets that count only
// failed calls; refund gives them back once the call has succeeded.
type failureTokens struct {
	at time.Time // when they were taken
	n  int
	r  [maxFailureChecks]*rate.Reservation
}

// refund gives the tokens back, as if the call had never been charged to
// those buckets (give or take what they refill while the call runs, when
// other calls take tokens from them meanwhile).
func (f *failureTokens) refund() {
	for _, r := range f.r[:f.n] {
		r.CancelAt(f.at)
	}
	f.n = 0
}

// admitCounting is admit for a call that is also charged to the buckets of
// failures (at most maxFailureChecks), which count failed calls only: it
// takes a token from every bucket of checks and failures, or from none,
// and returns the tokens taken from the buckets of failures, for the
// caller to refund if the call succeeds. Taking the token before the call
// runs, rather than after it fails, keeps a flood of concurrent calls
// within the bucket too.
func admitCounting(now time.Time, failures []limitCheck, checks ...limitCheck) (wait time.Duration, refused *bucketSet, taken failureTokens) {
	var buf [4 + maxFailureChecks]*rate.Reservation
	reservations := buf[:0]
	taken.at = now
	for i, list := range [2][]limitCheck{checks, failures} {
		for _, c := range list {
			if c.set == nil {
				continue
			}
			r := c.set.limiter(c.key, now).ReserveN(now, 1)
			reservations = append(reservations, r)
			if i == 1 && taken.n < maxFailureChecks {
				taken.r[taken.n] = r
				taken.n++
			}
			if !r.OK() { // burst < 1: cannot happen for an enabled Rate
				wait, refused = time.Duration(math.MaxInt64), c.set
				continue
			}
			if d := r.DelayFrom(now); d > wait {
				wait, refused = d, c.set
			}
		}
	}
	if wait > 0 {
		for _, r := range reservations {
			r.CancelAt(now)
		}
		taken.n = 0
	}
	return wait, refused, taken
}

// maxCachedErrors bounds a bucket set's cache of refusal errors.
const maxCachedErrors = 256

// rateLimited is the error of a call refused by the bucket set s, which
// has a token again after wait, rounded up to a whole millisecond. Under a
// flood most refusals have one of a few waits (a few milliseconds for the
// generous buckets), and building the status with its details costs more
// than everything else the server does to refuse a call, so the errors are
// cached by wait; status errors are immutable and safe to share.
func (s *bucketSet) rateLimited(wait time.Duration) error {
	ms := int64(math.MaxInt64 / int64(time.Millisecond))
	if wait < time.Duration(ms)*time.Millisecond {
		ms = int64((wait + time.Millisecond - 1) / time.Millisecond)
	}
	s.mu.Lock()
	err, ok := s.errs[ms]
	s.mu.Unlock()
	if ok {
		return err
	}
	wait = time.Duration(ms) * time.Millisecond
	retry := fmt.Sprintf("%ds", int64(math.Ceil(wait.Seconds())))
	if wait < time.Second {
		retry = wait.String()
	}
	st := status.New(codes.ResourceExhausted, fmt.Sprintf("rate limit: %s; retry in %s", s.msg, retry))
	if d, err := st.WithDetails(
		&errdetails.ErrorInfo{Reason: rateLimitedReason, Domain: errs.Domain, Metadata: map[string]string{"limit": s.name}},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)},
	); err == nil {
		st = d
	}
	err = st.Err()
	s.mu.Lock()
	if len(s.errs) >= maxCachedErrors {
		clear(s.errs)
	}
	s.errs[ms] = err
	s.mu.Unlock()
	return err
}

// clientAddrKey is the context key of the client address tapAddress
// found.
type clientAddrKey struct{}

// clientAddrFrom returns the client address of the call, as tapAddress
// found it: an IPv4 address, an IPv6 /64 prefix, or, for peers that are
// not IP (bufconn, Unix sockets), the peer's address string.
func clientAddrFrom(ctx context.Context) string {
	a, _ := ctx.Value(clientAddrKey{}).(string)
	return a
}

// clientAddr finds the address the call comes from, and whether it came
// through the gateway. The client-IP metadata is believed only when the
// call also carries the gateway secret (Config.GatewaySecret): the gateway
// dials gRPC over loopback, so the peer address of its calls is its own,
// and it sends the HTTP client's address instead. Any other caller gets
// its peer address, whatever metadata it sends.
func (l *rateLimiter) clientAddr(ctx context.Context) (addr string, viaGateway bool) {
	if l.secret != nil {
		md, _ := metadata.FromIncomingContext(ctx)
		if s := md.Get(gatewaySecretMetadataKey); len(s) == 1 && subtle.ConstantTimeCompare([]byte(s[0]), l.secret) == 1 {
			viaGateway = true
			if ips := md.Get(clientIPMetadataKey); len(ips) == 1 {
				if a, err := netip.ParseAddr(ips[0]); err == nil {
					return addrKey(a), true
				}
			}
		}
	}
	return peerAddr(ctx), viaGateway
}

// peerAddr is the rate-limit key of the call's peer.
func peerAddr(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return "unknown"
	}
	if tcp, ok := p.Addr.(*net.TCPAddr); ok {
		return addrKey(tcp.AddrPort().Addr())
	}
	if ap, err := netip.ParseAddrPort(p.Addr.String()); err == nil {
		return addrKey(ap.Addr())
	}
	return p.Addr.Network() + ":" + p.Addr.String()
}

// addrKey is the rate-limit key of an IP address: the address itself for
// IPv4 (and IPv4-mapped IPv6), its /64 prefix for IPv6, since one host
// commonly holds a whole /64.
func addrKey(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.String()
		}
	}
	return a.String()
}

// tapOption returns the server option that installs tapAddress, or one
// that does nothing when the Address bucket is off.
func (l *rateLimiter) tapOption() grpc.ServerOption {
	if l.address == nil {
		return grpc.EmptyServerOption{}
	}
	return grpc.InTapHandle(l.tapAddress)
}

// interceptors returns the rate limits' unary interceptors, which run after
// the caller is known and authorised: limitCaller, unless every bucket it
// charges is off.
func (l *rateLimiter) interceptors() []grpc.UnaryServerInterceptor {
	if l.caller == nil && l.create == nil && l.loginAddress == nil && l.loginAccountAddress == nil && l.loginAccount == nil && l.registerAddress == nil {
		return nil
	}
	return []grpc.UnaryServerInterceptor{l.limitCaller}
}

// maxTarpit bounds how long tapAddress holds a connection before refusing
// one of its calls.
const maxTarpit = 2 * time.Millisecond

// tapAddress is the server's InTapHandle: it runs in the connection's
// reader as soon as a call's headers arrive, before a goroutine is started
// for the call or its request is read, which makes refusing a flood as
// cheap as it gets. It finds the client address, keeps it in the context
// for limitCaller, and charges the Address bucket.
//
// Before refusing a call it waits until the bucket would have had a token
// (at most maxTarpit). Since it runs in the connection's reader, that
// stalls the whole connection, and nothing else: a client that ignores
// RetryInfo and keeps calling (a retry loop without backoff is the usual
// flood) is slowed to a few hundred refusals a second per connection,
// instead of costing the server as much CPU as it can send requests.
// Calls from the gateway are never held, since it carries every HTTP
// client over one connection; so nothing is held unless the server knows
// the gateway's calls by its secret (Config.GatewaySecret, which forumd
// always sets).
//
// Health checks are not limited: they are cheap, and refusing them would
// let a flood of probes take the server out of its load balancer.
//
// Refusals are logged here (at debug level, like every call), since they
// never reach the main interceptor.
func (l *rateLimiter) tapAddress(ctx context.Context, info *tap.Info) (context.Context, error) {
	addr, viaGateway := l.clientAddr(ctx)
	ctx = context.WithValue(ctx, clientAddrKey{}, addr)
	if strings.HasPrefix(info.FullMethodName, "/grpc.health.v1.Health/") {
		return ctx, nil
	}
	if wait, refused := admit(l.now(), limitCheck{l.address, addr}); wait > 0 {
		if l.secret != nil && !viaGateway {
			time.Sleep(min(wait, maxTarpit))
		}
		if l.log.Enabled(ctx, slog.LevelDebug) {
			l.log.DebugContext(ctx, "rpc", "method", info.FullMethodName, "code", codes.ResourceExhausted.String(), "limit", refused.name, "addr", addr)
		}
		return ctx, refused.rateLimited(wait)
	}
	return ctx, nil
}

// limitCaller runs after authentication: it charges the Caller bucket and
// the method's own buckets (Login, Register, ChangePassword, Create*).
// gRPC's own services (health, reflection) are not limited here.
//
// Login and ChangePassword take a token from their buckets of failures
// (LoginAccountAddress, LoginAccount) before the password is checked, and
// get it back if the call succeeds; a successful login also makes its
// address trusted for the account (trustSet), so that LoginAccount no
// longer limits it. This is OWASP's advice against lockout as a denial of
// service: failures are counted per account, so that a distributed attack
// stays bounded, but one address's failures slow down that address only,
// and the owner's own addresses keep working when an attack from many
// addresses has emptied the account's bucket.
func (l *rateLimiter) limitCaller(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	method := info.FullMethod
	if !strings.HasPrefix(method, "/forum.") {
		return handler(ctx, req)
	}
	now := l.now()
	addr := clientAddrFrom(ctx)
	if addr == "" { // tapAddress not installed
		addr, _ = l.clientAddr(ctx)
	}
	c := callerFrom(ctx)
	var buf [3]limitCheck
	checks := append(buf[:0], limitCheck{l.caller, callerBucketKey(c, addr)})
	var failBuf [maxFailureChecks]limitCheck
	failures := failBuf[:0] // buckets of failed calls: refunded on success
	trustKey := ""          // the pair to trust if the login succeeds
	switch method {
	case forumv1.AuthService_Login_FullMethodName:
		checks = append(checks, limitCheck{l.loginAddress, addr})
		if req, ok := req.(*forumv1.LoginRequest); ok {
			// Usernames are lower case; one that is empty or too long
			// cannot match an account, and Login refuses it without
			// hashing anything.
			if u := strings.ToLower(req.GetUsername()); u != "" && len(u) <= maxUsernameBytes {
				account := "username:" + u
				pair := accountAddressKey(account, addr)
				failures = append(failures, limitCheck{l.loginAccountAddress, pair})
				if !l.trusted.has(pair, now) {
					failures = append(failures, limitCheck{l.loginAccount, account})
				}
				if l.trusted != nil {
					trustKey = pair
				}
			}
		}
	case forumv1.AuthService_Register_FullMethodName:
		checks = append(checks, limitCheck{l.registerAddress, addr})
	case forumv1.AuthService_ChangePassword_FullMethodName:
		if c.actor.User != "" {
			account := "user:" + c.actor.User
			failures = append(failures,
				limitCheck{l.loginAccountAddress, accountAddressKey(account, addr)},
				limitCheck{l.loginAccount, account})
		}
	default:
		if isCreateMethod(method) && c.actor.User != "" && !validateOnly(req) {
			checks = append(checks, limitCheck{l.create, c.actor.User})
		}
	}
	wait, refused, taken := admitCounting(now, failures, checks...)
	if wait > 0 {
		return nil, refused.rateLimited(wait)
	}
	resp, err := handler(ctx, req)
	if err == nil {
		taken.refund()
		if trustKey != "" {
			l.trusted.add(trustKey, now)
		}
	}
	return resp, err
}

// validateOnly reports whether req only asks for a create to be checked
// (AIP-163 validate_only): it creates nothing, so it is charged to the
// caller's bucket but not to the create bucket.
func validateOnly(req any) bool {
	v, ok := req.(interface{ GetValidateOnly() bool })
	return ok && v.GetValidateOnly()
}

// callerBucketKey is the Caller bucket of c: its API token, its user, or,
// for anonymous calls, its address.
func callerBucketKey(c caller, addr string) string {
	switch {
	case c.scopes != nil && c.tokenHash != nil:
		return "token:" + string(c.tokenHash)
	case c.actor.User != "":
		return "user:" + c.actor.User
	}
	return "addr:" + addr
}

// isCreateMethod reports whether the gRPC method is a Create* method
// ("/forum.v1.ReplyService/CreateReply").
func isCreateMethod(fullMethod string) bool {
	i := strings.LastIndexByte(fullMethod, '/')
	return i >= 0 && strings.HasPrefix(fullMethod[i+1:], "Create")
}
