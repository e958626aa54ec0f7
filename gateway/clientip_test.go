package gateway

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies(" 10.0.0.0/8, 192.0.2.7,::1 , 2001:db8::/32, ::ffff:198.51.100.1, 172.16.5.4/12,")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "::1/128", "2001:db8::/32", "198.51.100.1/32", "172.16.0.0/12"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("prefix %d = %s, want %s", i, got[i], want[i])
		}
	}
	if got, err := ParseTrustedProxies(""); err != nil || len(got) != 0 {
		t.Errorf(`ParseTrustedProxies("") = %v, %v`, got, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example", "1.2.3", "10.0.0.1:80"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q) succeeded", bad)
		}
	}
}

func TestClientIP(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 2001:db8:ffff::/48")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		remote string
		xff    []string
		want   string // "" = not ok
	}{
		{"direct client", "203.0.113.9:5555", nil, "203.0.113.9"},
		{"direct client, spoofed XFF ignored", "203.0.113.9:5555", []string{"1.2.3.4"}, "203.0.113.9"},
		{"direct v6", "[2001:db8::5]:443", []string{"1.2.3.4"}, "2001:db8::5"},
		{"v4-mapped", "[::ffff:203.0.113.9]:1", nil, "203.0.113.9"},
		{"trusted proxy", "10.1.1.1:80", []string{"203.0.113.9"}, "203.0.113.9"},
		{"trusted proxy, client-sent prefix ignored", "10.1.1.1:80", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9"},
		{"two trusted proxies", "10.1.1.1:80", []string{"1.2.3.4, 203.0.113.9, 10.2.2.2"}, "203.0.113.9"},
		{"XFF over several headers", "10.1.1.1:80", []string{"1.2.3.4", "203.0.113.9", "10.2.2.2"}, "203.0.113.9"},
		{"hops with ports and brackets", "10.1.1.1:80", []string{"[2001:db8::7]:4711, 10.2.2.2:8080"}, "2001:db8::7"},
		{"v6 trusted proxy", "[2001:db8:ffff::1]:80", []string{"198.51.100.3"}, "198.51.100.3"},
		{"only trusted hops", "10.1.1.1:80", []string{"10.3.3.3, 10.2.2.2"}, "10.3.3.3"},
		{"no XFF from proxy", "10.1.1.1:80", nil, "10.1.1.1"},
		{"garbage hop stops the walk", "10.1.1.1:80", []string{"203.0.113.9, garbage, 10.2.2.2"}, "10.2.2.2"},
		{"garbage last hop", "10.1.1.1:80", []string{"203.0.113.9, unknown"}, "10.1.1.1"},
		{"unix socket", "@", nil, ""},
		{"empty", "", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/v1/threads", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got, ok := clientIP(r, trusted)
			if tc.want == "" {
				if ok {
					t.Errorf("clientIP = %v, want none", got)
				}
				return
			}
			if !ok || got.String() != tc.want {
				t.Errorf("clientIP = %v, %v; want %s", got, ok, tc.want)
			}
		})
	}
	// Without trusted proxies, X-Forwarded-For is never read.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.1.1.1:80"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	if got, _ := clientIP(r, nil); got != netip.MustParseAddr("10.1.1.1") {
		t.Errorf("no trusted proxies: clientIP = %v", got)
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "localhost:8080": true, "LOCALHOST.": true, "forum.localhost:80": true,
		"127.0.0.1": true, "127.0.0.1:8080": true, "127.5.6.7": true, "[::1]:8080": true, "::1": true,
		"forum.example": false, "forum.example:443": false, "localhost.example": false,
		"192.0.2.1:80": false, "[2001:db8::1]:80": false, "": false, "notlocalhost": false,
	} {
		if got := isLoopbackHost(host); got != want {
			t.Errorf("isLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestSetRetryAfter(t *testing.T) {
	limited := func(d time.Duration) error {
		st, err := status.New(codes.ResourceExhausted, "slow down").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)})
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	cases := []struct {
		err  error
		want string
	}{
		{limited(12 * time.Second), "12"},
		{limited(11*time.Second + time.Millisecond), "12"},
		{limited(200 * time.Millisecond), "1"},
		{limited(0), "1"},
		{status.Error(codes.ResourceExhausted, "body too large"), ""},
		{status.Error(codes.NotFound, "no"), ""},
		{errors.New("plain"), ""},
	}
	for i, tc := range cases {
		rec := httptest.NewRecorder()
		setRetryAfter(rec, tc.err)
		if got := rec.Header().Get("Retry-After"); got != tc.want {
			t.Errorf("case %d: Retry-After = %q, want %q", i, got, tc.want)
		}
	}
}
