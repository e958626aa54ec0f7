package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/auth"
	"github.com/forumhq/forum/server/authz"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// fakeClock is a clock the tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestParseRateLimits(t *testing.T) {
	def := DefaultRateLimits()
	cases := []struct {
		spec    string
		want    func(*RateLimits)
		wantErr string
	}{
		{"", func(*RateLimits) {}, ""},
		{"off", func(l *RateLimits) { *l = RateLimits{} }, ""},
		{"caller=100/s:200", func(l *RateLimits) { l.Caller = Per(100, time.Second, 200) }, ""},
		{" create = 60/m:20 , login-account=off ", func(l *RateLimits) {
			l.Create = Per(60, time.Minute, 20)
			l.LoginAccount = Rate{}
		}, ""},
		{"register-address=3/h", func(l *RateLimits) { l.RegisterAddress = Per(3, time.Hour, 3) }, ""},
		{"address=1/10s:5", func(l *RateLimits) { l.Address = Per(1, 10*time.Second, 5) }, ""},
		{"login-address=0.5/s", func(l *RateLimits) { l.LoginAddress = Per(0.5, time.Second, 1) }, ""},
		{"login-account-address=3/m:2,login-account=20/m", func(l *RateLimits) {
			l.LoginAccountAddress = Per(3, time.Minute, 2)
			l.LoginAccount = Per(20, time.Minute, 20)
		}, ""},
		{"max-keys=1000", func(l *RateLimits) { l.MaxKeys = 1000 }, ""},
		{"callers=1/s", nil, "unknown kind"},
		{"caller", nil, "not KIND=RATE"},
		{"caller=50", nil, "want N/UNIT"},
		{"caller=-1/s", nil, "not a positive number"},
		{"caller=NaN/s", nil, "not a positive number"},
		{"caller=1/fortnight", nil, "unit"},
		{"caller=1/s:0", nil, "burst"},
		{"caller=1/s:x", nil, "burst"},
		{"max-keys=0", nil, "max-keys"},
	}
	for _, tc := range cases {
		got, err := ParseRateLimits(tc.spec, def)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseRateLimits(%q) error = %v, want one containing %q", tc.spec, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRateLimits(%q): %v", tc.spec, err)
			continue
		}
		want := def
		tc.want(&want)
		if got != want {
			t.Errorf("ParseRateLimits(%q)\n got %v\nwant %v", tc.spec, got, want)
		}
	}
}

func TestRateLimitsStringRoundTrip(t *testing.T) {
	def := DefaultRateLimits()
	const want = "address=200/s:400,caller=50/s:100,create=30/m:10,login-address=30/m:30,login-account=10/m:10,login-account-address=5/m:5,register-address=20/h:10,max-keys=50000"
	if got := def.String(); got != want {
		t.Errorf("DefaultRateLimits().String() = %q, want %q", got, want)
	}
	for _, l := range []RateLimits{def, {}, {Caller: Per(0.25, time.Second, 3), MaxKeys: 7}} {
		back, err := ParseRateLimits(l.String(), RateLimits{})
		if err != nil {
			t.Fatalf("ParseRateLimits(%q): %v", l.String(), err)
		}
		if l.MaxKeys == 0 {
			back.MaxKeys = 0
		}
		if back.String() != l.String() {
			t.Errorf("round trip of %q gave %q", l.String(), back.String())
		}
	}
}

// TestBucketSet drives one kind of bucket with a fake clock.
func TestBucketSet(t *testing.T) {
	type step struct {
		after    time.Duration // clock advance before the call
		key      string
		wantWait time.Duration // 0: admitted
	}
	cases := []struct {
		name  string
		rate  Rate
		steps []step
	}{
		{"burst then refill", Per(5, time.Minute, 5), []step{
			{0, "a", 0}, {0, "a", 0}, {0, "a", 0}, {0, "a", 0}, {0, "a", 0},
			{0, "a", 12 * time.Second},
			{2 * time.Second, "a", 10 * time.Second},
			{10 * time.Second, "a", 0},
			{0, "a", 12 * time.Second},
		}},
		{"keys are separate", Per(1, time.Hour, 1), []step{
			{0, "a", 0}, {0, "a", time.Hour}, {0, "b", 0}, {0, "b", time.Hour},
			{time.Hour, "a", 0},
		}},
		{"refused calls cost nothing", Per(1, time.Second, 1), []step{
			{0, "a", 0}, {0, "a", time.Second}, {0, "a", time.Second}, {0, "a", time.Second},
			{time.Second, "a", 0},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			l := newRateLimiter(RateLimits{Caller: tc.rate}, "", slog.New(slog.DiscardHandler), clock.Now)
			for i, s := range tc.steps {
				clock.Advance(s.after)
				wait, refused := admit(clock.Now(), limitCheck{l.caller, s.key})
				if wait != s.wantWait {
					t.Errorf("step %d (%s): wait %v, want %v", i, s.key, wait, s.wantWait)
				}
				if (refused != nil) != (s.wantWait > 0) {
					t.Errorf("step %d: refused by %v", i, refused)
				}
			}
		})
	}
}

// TestAdmitAllOrNothing: a call refused by one bucket takes no token from
// the others, and the longest wait is reported.
func TestAdmitAllOrNothing(t *testing.T) {
	clock := newFakeClock()
	l := newRateLimiter(RateLimits{
		Caller:       Per(1, time.Minute, 2),
		LoginAccount: Per(1, time.Hour, 1),
	}, "", slog.New(slog.DiscardHandler), clock.Now)
	now := clock.Now()
	checks := []limitCheck{{l.caller, "x"}, {l.loginAccount, "acct"}, {nil, "skipped"}}
	if wait, _ := admit(now, checks...); wait != 0 {
		t.Fatalf("first call refused: %v", wait)
	}
	wait, refused := admit(now, checks...)
	if wait != time.Hour || refused != l.loginAccount {
		t.Fatalf("second call: wait %v by %v, want 1h by login-account", wait, refused)
	}
	// The caller bucket still has its second token.
	if wait, _ := admit(now, limitCheck{l.caller, "x"}); wait != 0 {
		t.Errorf("caller bucket was charged for a refused call: wait %v", wait)
	}
	if wait, _ := admit(now, limitCheck{l.caller, "x"}); wait != time.Minute {
		t.Errorf("caller bucket: wait %v, want 1m", wait)
	}
}

// TestBucketSetMemoryBounded: buckets are forgotten once full again, and at
// MaxKeys new keys share the overflow bucket instead of growing the map or
// evicting a bucket that still limits someone.
func TestBucketSetMemoryBounded(t *testing.T) {
	clock := newFakeClock()
	l := newRateLimiter(RateLimits{LoginAccount: Per(1, time.Minute, 1), MaxKeys: 3}, "", slog.New(slog.DiscardHandler), clock.Now)
	s := l.loginAccount
	for _, k := range []string{"a", "b", "c"} {
		if wait, _ := admit(clock.Now(), limitCheck{s, k}); wait != 0 {
			t.Fatalf("%s refused", k)
		}
	}
	if n := s.len(); n != 3 {
		t.Fatalf("%d buckets, want 3", n)
	}
	// Full of active buckets: d and e share the overflow bucket.
	if wait, _ := admit(clock.Now(), limitCheck{s, "d"}); wait != 0 {
		t.Fatal("d refused")
	}
	if wait, _ := admit(clock.Now(), limitCheck{s, "e"}); wait != time.Minute {
		t.Errorf("e: wait %v, want 1m (overflow bucket used by d)", wait)
	}
	// a is still limited: nothing was evicted.
	if wait, _ := admit(clock.Now(), limitCheck{s, "a"}); wait != time.Minute {
		t.Errorf("a: wait %v, want 1m", wait)
	}
	if n := s.len(); n != 3 {
		t.Fatalf("%d buckets, want 3", n)
	}
	// A minute later every bucket is full again: the next new key sweeps
	// them all away and gets its own.
	clock.Advance(time.Minute)
	if wait, _ := admit(clock.Now(), limitCheck{s, "f"}); wait != 0 {
		t.Fatal("f refused")
	}
	if n := s.len(); n != 1 {
		t.Errorf("%d buckets after sweep, want 1", n)
	}

	// The periodic sweep runs without the map being full.
	clock.Advance(sweepInterval)
	_ = s.limiter("g", clock.Now())
	if n := s.len(); n != 1 { // f swept, g added
		t.Errorf("%d buckets after the periodic sweep, want 1", n)
	}
}

func TestRateLimitedError(t *testing.T) {
	l := newRateLimiter(RateLimits{Caller: Per(50, time.Second, 100)}, "", slog.New(slog.DiscardHandler), time.Now)
	cases := []struct {
		wait    time.Duration
		msg     string
		retryIn time.Duration
	}{
		{4200 * time.Microsecond, "rate limit: too many requests; retry in 5ms", 5 * time.Millisecond},
		{time.Nanosecond, "rate limit: too many requests; retry in 1ms", time.Millisecond},
		{11200 * time.Millisecond, "rate limit: too many requests; retry in 12s", 11200 * time.Millisecond},
	}
	for _, tc := range cases {
		err := l.caller.rateLimited(tc.wait)
		if st := status.Convert(err); st.Message() != tc.msg {
			t.Errorf("wait %v: message %q, want %q", tc.wait, st.Message(), tc.msg)
		}
		if got := wantRateLimited(t, err, "caller", tc.retryIn); got != tc.retryIn {
			t.Errorf("wait %v: RetryInfo %v, want %v", tc.wait, got, tc.retryIn)
		}
		if again := l.caller.rateLimited(tc.wait); again != err {
			t.Errorf("wait %v: error not cached", tc.wait)
		}
	}
	for i := range maxCachedErrors + 10 {
		_ = l.caller.rateLimited(time.Duration(i) * time.Millisecond)
	}
	l.caller.mu.Lock()
	n := len(l.caller.errs)
	l.caller.mu.Unlock()
	if n > maxCachedErrors {
		t.Errorf("%d cached errors, want at most %d", n, maxCachedErrors)
	}
}

func TestClientAddr(t *testing.T) {
	const secret = "gateway-secret"
	tcp := func(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }
	cases := []struct {
		name   string
		secret string
		peer   net.Addr
		md     []string
		want   string
	}{
		{"tcp v4", secret, tcp("203.0.113.5:4242"), nil, "203.0.113.5"},
		{"tcp v6 keyed by /64", secret, tcp("[2001:db8:1:2:3:4:5:6]:4242"), nil, "2001:db8:1:2::/64"},
		{"v4-mapped v6", secret, tcp("[::ffff:198.51.100.7]:1"), nil, "198.51.100.7"},
		{"gateway with secret", secret, tcp("127.0.0.1:5000"), []string{gatewaySecretMetadataKey, secret, clientIPMetadataKey, "198.51.100.9"}, "198.51.100.9"},
		{"gateway v6 client", secret, tcp("127.0.0.1:5000"), []string{gatewaySecretMetadataKey, secret, clientIPMetadataKey, "2001:db8::1"}, "2001:db8::/64"},
		{"spoofed without secret", secret, tcp("203.0.113.5:4242"), []string{clientIPMetadataKey, "198.51.100.9"}, "203.0.113.5"},
		{"wrong secret", secret, tcp("203.0.113.5:4242"), []string{gatewaySecretMetadataKey, "guess", clientIPMetadataKey, "198.51.100.9"}, "203.0.113.5"},
		{"gateway sending two client IPs", secret, tcp("127.0.0.1:5000"), []string{gatewaySecretMetadataKey, secret, clientIPMetadataKey, "198.51.100.9", clientIPMetadataKey, "198.51.100.10"}, "127.0.0.1"},
		{"gateway sending a bad client IP", secret, tcp("127.0.0.1:5000"), []string{gatewaySecretMetadataKey, secret, clientIPMetadataKey, "1.2.3.4:80"}, "127.0.0.1"},
		{"no secret configured", "", tcp("127.0.0.1:5000"), []string{gatewaySecretMetadataKey, "", clientIPMetadataKey, "198.51.100.9"}, "127.0.0.1"},
		{"bufconn", secret, bufconnAddr{}, nil, "bufconn:bufconn"},
		{"no peer", secret, nil, nil, "unknown"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newRateLimiter(RateLimits{}, tc.secret, slog.New(slog.DiscardHandler), time.Now)
			ctx := context.Background()
			if tc.peer != nil {
				ctx = peer.NewContext(ctx, &peer.Peer{Addr: tc.peer})
			}
			if tc.md != nil {
				ctx = metadata.NewIncomingContext(ctx, metadata.Pairs(tc.md...))
			}
			got, gw := l.clientAddr(ctx)
			if got != tc.want {
				t.Errorf("clientAddr = %q, want %q", got, tc.want)
			}
			if wantGW := strings.HasPrefix(tc.name, "gateway"); gw != wantGW {
				t.Errorf("via gateway = %v, want %v", gw, wantGW)
			}
		})
	}
}

// bufconnAddr is the address type bufconn's connections report.
type bufconnAddr struct{}

func (bufconnAddr) Network() string { return "bufconn" }
func (bufconnAddr) String() string  { return "bufconn" }

// limitedEnv is a server with rate limits and a fake clock, over the store
// of a testEnv (so its users and sessions), reached through bufconn. Calls
// name their client address through the gateway secret, as the gateway
// does.
type limitedEnv struct {
	*testEnv
	limiter *rateLimiter
	clock   *fakeClock
	conn    *grpc.ClientConn
	authc   forumv1.AuthServiceClient
	threads forumv1.ThreadServiceClient
	replies forumv1.ReplyServiceClient
}

const testGatewaySecret = "test-gateway-secret"

func newLimitedEnv(t *testing.T, limits RateLimits) *limitedEnv {
	t.Helper()
	e := newTestEnv(t)
	clock := newFakeClock()
	srv, err := New(Config{Store: e.store, RateLimits: limits, GatewaySecret: testGatewaySecret, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv.limiter.now = clock.Now
	conn := serveBufconn(t, srv)
	return &limitedEnv{testEnv: e, limiter: srv.limiter, clock: clock, conn: conn,
		authc:   forumv1.NewAuthServiceClient(conn),
		threads: forumv1.NewThreadServiceClient(conn),
		replies: forumv1.NewReplyServiceClient(conn),
	}
}

// from returns ctx as if the gateway forwarded it for client ip.
func from(ctx context.Context, ip string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, gatewaySecretMetadataKey, testGatewaySecret, clientIPMetadataKey, ip)
}

// wantRateLimited checks that err is a rate-limit refusal by kind limit
// with a retry delay in (0, maxWait].
func wantRateLimited(t *testing.T, err error, limit string, maxWait time.Duration) time.Duration {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("error = %v, want RESOURCE_EXHAUSTED", err)
	}
	var wait time.Duration
	var reason, gotLimit string
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.RetryInfo:
			wait = d.GetRetryDelay().AsDuration()
		case *errdetails.ErrorInfo:
			reason, gotLimit = d.GetReason(), d.GetMetadata()["limit"]
			if d.GetDomain() != errs.Domain {
				t.Errorf("ErrorInfo domain %q", d.GetDomain())
			}
		}
	}
	if reason != rateLimitedReason || gotLimit != limit {
		t.Errorf("ErrorInfo reason %q limit %q, want %s %s (%v)", reason, gotLimit, rateLimitedReason, limit, err)
	}
	if wait <= 0 || wait > maxWait {
		t.Errorf("RetryInfo delay %v, want in (0, %v]", wait, maxWait)
	}
	return wait
}

// login tries a password for username from the address ip, and returns
// the error's code.
func (e *limitedEnv) login(t *testing.T, ip, username, password string) error {
	t.Helper()
	_, err := e.authc.Login(from(t.Context(), ip), &forumv1.LoginRequest{Username: username, Password: password})
	return err
}

// TestLoginStrangerCannotLockOutOwner: issue 12, defect 5. A stranger's
// wrong passwords for alice from one address, as fast as they may send
// them, slow down that address for alice's account, and nothing else: alice
// logs in from her own address, even one she never used before, and the
// stranger's address may still log in to other accounts. Real server over
// bufconn, default limits.
func TestLoginStrangerCannotLockOutOwner(t *testing.T) {
	e := newLimitedEnv(t, DefaultRateLimits())
	const stranger, owner = "203.0.113.66", "198.51.100.7"
	var checked, refused int
	for i := range 30 {
		if i > 0 {
			e.clock.Advance(2 * time.Second)
		}
		err := e.login(t, stranger, "alice", fmt.Sprintf("wrong password %d", i))
		switch status.Code(err) {
		case codes.Unauthenticated:
			checked++
		case codes.ResourceExhausted:
			refused++
			wantRateLimited(t, err, "login-account-address", 12*time.Second)
		default:
			t.Fatalf("login %d: %v", i, err)
		}
		if i%5 == 4 { // alice logs in throughout, from her address
			if err := e.login(t, owner, "alice", testPassword); err != nil {
				t.Fatalf("after %d wrong passwords from %s, alice's login from %s: %v", i+1, stranger, owner, err)
			}
		}
	}
	// 5 at once, then one every 12 s of the 58 s spent.
	if checked != 9 || refused != 21 {
		t.Errorf("%d passwords checked and %d refused, want 9 and 21", checked, refused)
	}
	// Username case does not open a new bucket.
	wantRateLimited(t, e.login(t, stranger, "ALICE", "x"), "login-account-address", 12*time.Second)
	// The stranger's address is slowed down for alice, even with the
	// right password, and for nobody else.
	wantRateLimited(t, e.login(t, stranger, "alice", testPassword), "login-account-address", 12*time.Second)
	if err := e.login(t, stranger, "bob", testPassword); err != nil {
		t.Fatalf("bob's login from the stranger's address: %v", err)
	}
	// A new address of alice's gets in too.
	if err := e.login(t, "192.0.2.1", "alice", testPassword); err != nil {
		t.Fatalf("alice's login from a new address: %v", err)
	}
}

// TestLoginDistributedGuessingBounded: wrong passwords for one account
// from a new address each time are bounded by the account's bucket, for
// all addresses together; while it is empty, addresses the owner logged in
// from before still get in, and new ones wait.
func TestLoginDistributedGuessingBounded(t *testing.T) {
	e := newLimitedEnv(t, DefaultRateLimits())
	const home = "198.51.100.7"
	if err := e.login(t, home, "alice", testPassword); err != nil { // before the attack
		t.Fatal(err)
	}
	var checked, refused int
	for i := range 60 {
		if i > 0 {
			e.clock.Advance(time.Second)
		}
		err := e.login(t, fmt.Sprintf("203.0.113.%d", i), "alice", fmt.Sprintf("wrong password %d", i))
		switch status.Code(err) {
		case codes.Unauthenticated:
			checked++
		case codes.ResourceExhausted:
			refused++
			wantRateLimited(t, err, "login-account", 6*time.Second)
		default:
			t.Fatalf("login %d: %v", i, err)
		}
	}
	// 10 at once, then one every 6 s of the 59 s spent.
	if checked != 19 || refused != 41 {
		t.Errorf("%d passwords checked and %d refused, want 19 and 41", checked, refused)
	}
	// The right password from a new address waits like the rest: the
	// limit says nothing about it.
	wait := wantRateLimited(t, e.login(t, "192.0.2.1", "alice", testPassword), "login-account", 6*time.Second)
	// From home, alice gets in, and stays trusted.
	for range 3 {
		if err := e.login(t, home, "alice", testPassword); err != nil {
			t.Fatalf("alice's login from home during the attack: %v", err)
		}
	}
	// Home is still limited by its own failures bucket.
	for i := range 5 {
		if err := e.login(t, home, "alice", "typo"); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("typo %d from home: %v", i, err)
		}
	}
	wantRateLimited(t, e.login(t, home, "alice", testPassword), "login-account-address", 12*time.Second)
	// Once the account's bucket has a token again, a new address may try.
	e.clock.Advance(wait)
	if err := e.login(t, "192.0.2.1", "alice", testPassword); err != nil {
		t.Fatalf("alice's login from a new address after %v: %v", wait, err)
	}
}

// TestLoginSuccessNotCharged: successful logins cost no token of the
// buckets of failures, only of LoginAddress.
func TestLoginSuccessNotCharged(t *testing.T) {
	e := newLimitedEnv(t, RateLimits{LoginAccountAddress: Per(1, time.Hour, 1), LoginAccount: Per(1, time.Hour, 2), LoginAddress: Per(1, time.Hour, 12)})
	for i := range 10 {
		if err := e.login(t, "203.0.113.1", "alice", testPassword); err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	if err := e.login(t, "203.0.113.1", "alice", "wrong"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("first wrong password: %v", err)
	}
	wantRateLimited(t, e.login(t, "203.0.113.1", "alice", testPassword), "login-account-address", time.Hour)
	// 11 logins took 11 of the address's 12 tokens; the refused one none.
	if err := e.login(t, "203.0.113.1", "bob", testPassword); err != nil {
		t.Fatalf("12th login from the address: %v", err)
	}
	wantRateLimited(t, e.login(t, "203.0.113.1", "bob", testPassword), "login-address", time.Hour)
	// Only successful logins are remembered as trusted.
	if _, err := e.threads.ListThreads(from(t.Context(), "203.0.113.1"), &forumv1.ListThreadsRequest{}); err != nil {
		t.Fatal(err)
	}
	if n := e.limiter.trusted.len(); n != 2 {
		t.Errorf("%d trusted pairs, want 2 (alice and bob at 203.0.113.1)", n)
	}
}

// TestChangePasswordFailuresLimited: wrong old passwords are counted per
// user and address, and per user; a right one costs nothing.
func TestChangePasswordFailuresLimited(t *testing.T) {
	e := newLimitedEnv(t, RateLimits{LoginAccountAddress: Per(1, time.Hour, 2), LoginAccount: Per(1, time.Hour, 3)})
	// session returns a context with a new session of alice's: changing
	// the password revokes her sessions.
	session := func(ip string) context.Context {
		token, hash := auth.NewToken(auth.SessionPrefix)
		if _, err := e.store.CreateSession(t.Context(), resname.MustParseUser(e.alice.name), hash, time.Hour, time.Hour); err != nil {
			t.Fatal(err)
		}
		return from(testUser{token: token}.ctx(t), ip)
	}
	change := func(ctx context.Context, old string) error {
		_, err := e.authc.ChangePassword(ctx, &forumv1.ChangePasswordRequest{OldPassword: old, NewPassword: testPassword})
		return err
	}
	if err := change(session("203.0.113.1"), testPassword); err != nil {
		t.Fatalf("changing the password: %v", err)
	}
	ctx := session("203.0.113.1")
	for i := range 2 {
		if err := change(ctx, "wrong"); status.Code(err) != codes.PermissionDenied {
			t.Fatalf("wrong old password %d: %v", i, err)
		}
	}
	wantRateLimited(t, change(ctx, testPassword), "login-account-address", time.Hour)
	if err := change(session("203.0.113.2"), "wrong"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("wrong old password from another address: %v", err)
	}
	wantRateLimited(t, change(session("203.0.113.3"), testPassword), "login-account", time.Hour)
}

// TestTrustSetBounded: trusted pairs expire, and at MaxKeys new pairs are
// not remembered (until expired ones are swept) rather than evicting one.
func TestTrustSetBounded(t *testing.T) {
	clock := newFakeClock()
	l := newRateLimiter(RateLimits{LoginAccount: Per(1, time.Minute, 1), LoginAccountAddress: Per(1, time.Minute, 1), MaxKeys: 2},
		"", slog.New(slog.DiscardHandler), clock.Now)
	s := l.trusted
	s.add("a", clock.Now())
	clock.Advance(time.Hour)
	s.add("b", clock.Now())
	s.add("c", clock.Now()) // full: not remembered
	if !s.has("a", clock.Now()) || !s.has("b", clock.Now()) || s.has("c", clock.Now()) || s.len() != 2 {
		t.Fatalf("a %v b %v c %v, %d pairs; want a and b", s.has("a", clock.Now()), s.has("b", clock.Now()), s.has("c", clock.Now()), s.len())
	}
	// a expires; the next new pair sweeps it away and takes its place.
	clock.Advance(trustedLoginFor - time.Hour)
	if s.has("a", clock.Now()) {
		t.Error("a still trusted after trustedLoginFor")
	}
	s.add("c", clock.Now())
	if !s.has("c", clock.Now()) || !s.has("b", clock.Now()) || s.len() != 2 {
		t.Errorf("after the sweep: b %v c %v, %d pairs", s.has("b", clock.Now()), s.has("c", clock.Now()), s.len())
	}
	// Without both login buckets there is nothing to trust.
	if l := newRateLimiter(RateLimits{LoginAccount: Per(1, time.Minute, 1)}, "", slog.New(slog.DiscardHandler), clock.Now); l.trusted != nil {
		t.Error("trust set kept without a LoginAccountAddress bucket")
	}
}

// TestLoginFloodOneAddress: many accounts tried from one address hit the
// per-address login bucket; another address is unaffected.
func TestLoginFloodOneAddress(t *testing.T) {
	e := newLimitedEnv(t, RateLimits{LoginAddress: Per(30, time.Minute, 3), LoginAccount: Per(5, time.Minute, 5)})
	ctx := from(t.Context(), "203.0.113.1")
	for i := range 3 {
		_, err := e.authc.Login(ctx, &forumv1.LoginRequest{Username: fmt.Sprintf("user%d", i), Password: "guess"})
		if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	_, err := e.authc.Login(ctx, &forumv1.LoginRequest{Username: "user9", Password: "guess"})
	wantRateLimited(t, err, "login-address", 2*time.Second)
	if _, err := e.authc.Login(from(t.Context(), "203.0.113.2"), &forumv1.LoginRequest{Username: "alice", Password: testPassword}); err != nil {
		t.Fatalf("login from another address: %v", err)
	}
}

func TestRegisterLimitedPerAddress(t *testing.T) {
	e := newLimitedEnv(t, RateLimits{RegisterAddress: Per(20, time.Hour, 2)})
	ctx := from(t.Context(), "203.0.113.1")
	for i := range 2 {
		// Self-registration is off: refused, but only after the limiter.
		_, err := e.authc.Register(ctx, &forumv1.RegisterRequest{Username: fmt.Sprintf("new%d", i), DisplayName: "N", Password: testPassword})
		if status.Code(err) == codes.ResourceExhausted {
			t.Fatalf("register %d: %v", i, err)
		}
	}
	_, err := e.authc.Register(ctx, &forumv1.RegisterRequest{Username: "new9", DisplayName: "N", Password: testPassword})
	wantRateLimited(t, err, "register-address", 3*time.Minute)
}

// TestCreateLimitedPerUser: the Create bucket is per user, whichever
// session or address the user calls from; reads are not charged to it.
func TestCreateLimitedPerUser(t *testing.T) {
	e := newLimitedEnv(t, DefaultRateLimits())
	th := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Rate limits"}) // through the unlimited server
	for i := range 10 {
		ctx := from(e.alice.ctx(t), fmt.Sprintf("203.0.113.%d", i)) // new address each time
		if _, err := e.replies.CreateReply(ctx, &forumv1.CreateReplyRequest{Parent: th.Name, Reply: &forumv1.Reply{Body: fmt.Sprintf("reply %d", i)}}); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
	}
	actx := from(e.alice.ctx(t), "203.0.113.200")
	_, err := e.threads.CreateThread(actx, &forumv1.CreateThreadRequest{Thread: &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "one more"}})
	wantRateLimited(t, err, "create", 2*time.Second)
	if _, err := e.threads.GetThread(actx, &forumv1.GetThreadRequest{Name: th.Name}); err != nil {
		t.Errorf("read while write-limited: %v", err)
	}
	// Bob, from alice's address, is not affected.
	if _, err := e.replies.CreateReply(from(e.bob.ctx(t), "203.0.113.200"), &forumv1.CreateReplyRequest{Parent: th.Name, Reply: &forumv1.Reply{Body: "bob"}}); err != nil {
		t.Errorf("bob's reply: %v", err)
	}
	e.clock.Advance(2 * time.Second)
	if _, err := e.replies.CreateReply(actx, &forumv1.CreateReplyRequest{Parent: th.Name, Reply: &forumv1.Reply{Body: "later"}}); err != nil {
		t.Errorf("alice's reply 2s later: %v", err)
	}
}

// TestCallerBuckets: per API token, per user, and per address for
// anonymous calls.
func TestCallerBuckets(t *testing.T) {
	e := newLimitedEnv(t, RateLimits{Caller: Per(1, time.Hour, 3)})
	th := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Caller buckets"})
	get := func(ctx context.Context) error {
		_, err := e.threads.GetThread(ctx, &forumv1.GetThreadRequest{Name: th.Name})
		return err
	}
	secret, hash := auth.NewToken(auth.APITokenPrefix)
	if _, _, err := e.store.CreateAPIToken(t.Context(), authz.Actor{User: e.alice.name, Role: forumv1.Role_ROLE_MEMBER}, resname.MustParseUser(e.alice.name),
		&forumv1.ApiToken{DisplayName: "integration", Scopes: []forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_READ}, ExpireTime: timestamppb.New(time.Now().Add(time.Hour))}, hash, ""); err != nil {
		t.Fatal(err)
	}
	tokenCtx := func(ip string) context.Context {
		return from(metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+secret), ip)
	}
	// Anonymous: per address.
	for range 3 {
		if err := get(from(t.Context(), "203.0.113.1")); err != nil {
			t.Fatal(err)
		}
	}
	wantRateLimited(t, get(from(t.Context(), "203.0.113.1")), "caller", time.Hour)
	if err := get(from(t.Context(), "203.0.113.2")); err != nil {
		t.Errorf("anonymous from another address: %v", err)
	}
	// Alice's session and her API token have their own buckets, even
	// from the exhausted address.
	for range 3 {
		if err := get(from(e.alice.ctx(t), "203.0.113.1")); err != nil {
			t.Fatal(err)
		}
	}
	wantRateLimited(t, get(from(e.alice.ctx(t), "203.0.113.9")), "caller", time.Hour)
	for range 3 {
		if err := get(tokenCtx("203.0.113.1")); err != nil {
			t.Fatalf("API token: %v", err)
		}
	}
	wantRateLimited(t, get(tokenCtx("203.0.113.7")), "caller", time.Hour)
	// Health is not a forum call: not limited by the caller bucket (nor
	// by the address bucket: TestAddressBucketBeforeAuth).
	for range 5 {
		if _, err := healthpb.NewHealthClient(e.conn).Check(from(t.Context(), "203.0.113.1"), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatalf("health check limited: %v", err)
		}
	}
}

// TestAddressBucketBeforeAuth: the Address bucket refuses a flood of junk
// tokens before authentication looks them up, and a direct client cannot
// escape it by naming another address without the gateway secret.
func TestAddressBucketBeforeAuth(t *testing.T) {
	e := newLimitedEnv(t, RateLimits{Address: Per(1, time.Hour, 3)})
	junk := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer forum_junk")
	for i := range 3 {
		spoof := metadata.AppendToOutgoingContext(junk, clientIPMetadataKey, fmt.Sprintf("198.51.100.%d", i))
		_, err := e.threads.GetThread(spoof, &forumv1.GetThreadRequest{Name: "threads/1"})
		if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	spoof := metadata.AppendToOutgoingContext(junk, clientIPMetadataKey, "198.51.100.77", gatewaySecretMetadataKey, "a guess")
	start := time.Now()
	_, err := e.threads.GetThread(spoof, &forumv1.GetThreadRequest{Name: "threads/1"})
	wantRateLimited(t, err, "address", time.Hour)
	// A direct connection is held before its refusal.
	if d := time.Since(start); d < maxTarpit {
		t.Errorf("refusal took %v, want at least %v", d, maxTarpit)
	}
	// Health checks are never refused.
	for range 5 {
		if _, err := healthpb.NewHealthClient(e.conn).Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatalf("health check: %v", err)
		}
	}
}
