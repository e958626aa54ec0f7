package app

import (
	"net"
	"testing"
)

func TestLoopbackTarget(t *testing.T) {
	for _, tc := range []struct {
		addr *net.TCPAddr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7070}, "127.0.0.1:7070"},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 7070}, "127.0.0.1:7070"},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 7070}, "[::1]:7070"},
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1}, "192.0.2.1:1"},
	} {
		if got := loopbackTarget(tc.addr); got != tc.want {
			t.Errorf("loopbackTarget(%v) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}
