//go:build !race

package server

import (
	"context"
	"testing"

	"google.golang.org/grpc"
)

// TestChainUnaryAllocs checks that the chain itself allocates nothing per
// call (the race detector's sync.Pool drops items at random, hence the
// build tag).
func TestChainUnaryAllocs(t *testing.T) {
	pass := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return handler(ctx, req)
	}
	chain := chainUnary(pass, pass, pass, pass, pass, pass, pass)
	final := func(context.Context, any) (any, error) { return nil, nil }
	info := &grpc.UnaryServerInfo{}
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() { chain(ctx, nil, info, final) }); n > 0 {
		t.Errorf("%v allocations per call through a chain of 7", n)
	}
}
