package server

import (
	"context"
	"sync"

	"google.golang.org/grpc"
)

// chainUnary returns one unary interceptor that runs interceptors in order,
// outermost first, around the method's handler, as grpc.ChainUnaryInterceptor
// does, without its cost: gRPC's chain allocates a closure for each
// interceptor on every call (six for the server's chain, 370 bytes a
// GetThread, 3 % of its allocations), while this one keeps the state of a
// call's walk through the chain in a pooled step and allocates nothing.
//
// It relies on what every interceptor of the server does: it calls its
// handler at most once, and not after it has returned.
func chainUnary(interceptors ...grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	if len(interceptors) == 1 {
		return interceptors[0]
	}
	pool := &sync.Pool{New: func() any {
		s := new(chainStep)
		s.next = s.run // one closure per pooled step, not per call
		return s
	}}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		s := pool.Get().(*chainStep)
		s.interceptors, s.info, s.final, s.i = interceptors, info, handler, 0
		resp, err := s.run(ctx, req)
		s.interceptors, s.info, s.final = nil, nil, nil
		pool.Put(s)
		return resp, err
	}
}

// chainStep is where one call is in the chain: the next interceptor to
// run is interceptors[i], and after the last one, final.
type chainStep struct {
	interceptors []grpc.UnaryServerInterceptor
	info         *grpc.UnaryServerInfo
	final        grpc.UnaryHandler
	i            int
	next         grpc.UnaryHandler // run, as the handler each interceptor gets
}

// run runs the rest of the chain.
func (s *chainStep) run(ctx context.Context, req any) (any, error) {
	if s.i == len(s.interceptors) {
		return s.final(ctx, req)
	}
	ic := s.interceptors[s.i]
	s.i++
	return ic(ctx, req, s.info, s.next)
}
