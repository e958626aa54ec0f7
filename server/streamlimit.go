package server

import (
	"fmt"
	"sync"

	"github.com/forumhq/forum/internal/errs"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Bounds of the streams open at once (openStreams). Stream opens are
// charged to the address bucket like every call, but a stream, such as a
// health Watch, stays open as long as its client wants, each holding a
// goroutine and buffers: without a bound on how many are open at once, an
// address allowed 200 calls a second could hold an ever-growing number.
//
// The web UI keeps one event stream open per browser tab (StreamEvents,
// through the gateway, which names each browser's address), so the bound
// per address must leave room for an office of people behind one NAT
// address: Config.MaxStreamsPerAddress.
const (
	// defaultMaxStreamsPerAddress bounds, unless Config says otherwise,
	// the streams one client address (an IPv4 address, an IPv6 /64, as the
	// rate limits key them) has open.
	defaultMaxStreamsPerAddress = 256
	// defaultMaxStreams bounds, unless Config says otherwise, the streams
	// open on the server.
	defaultMaxStreams = 4096
)

// openStreams counts the streams open, in all and by client address, and
// refuses one past its bounds with
// RESOURCE_EXHAUSTED. Its map holds only addresses with a stream open.
type openStreams struct {
	perAddress, max int // the bounds

	mu     sync.Mutex
	total  int
	byAddr map[string]int
}

// intercept is the stream interceptor: it admits the stream, or refuses
// it, and counts it until its handler returns.
func (o *openStreams) intercept(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	addr := clientAddrFrom(ss.Context())
	if addr == "" {
		addr = peerAddr(ss.Context())
	}
	if err := o.open(addr); err != nil {
		return err
	}
	defer o.close(addr)
	return handler(srv, ss)
}

// open admits a stream from addr, or returns the error refusing it.
func (o *openStreams) open(addr string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.byAddr == nil {
		o.byAddr = map[string]int{}
	}
	var what string
	switch {
	case o.byAddr[addr] >= o.perAddress:
		what = fmt.Sprintf("%d streams are open from this address, the most allowed", o.perAddress)
	case o.total >= o.max:
		what = fmt.Sprintf("%d streams are open on the server, the most allowed", o.max)
	default:
		o.byAddr[addr]++
		o.total++
		return nil
	}
	st := status.New(codes.ResourceExhausted, "too many open streams: "+what+"; close one first")
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: "TOO_MANY_STREAMS", Domain: errs.Domain}); err == nil {
		st = d
	}
	return st.Err()
}

// close counts a stream from addr as closed.
func (o *openStreams) close(addr string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.total--
	if o.byAddr[addr]--; o.byAddr[addr] <= 0 {
		delete(o.byAddr, addr)
	}
}
