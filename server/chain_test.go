package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
)

// recordingInterceptor appends its name to the call's trace before and
// after its handler.
func recordingInterceptor(name string) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		tr := req.(*[]string)
		*tr = append(*tr, name)
		resp, err := handler(ctx, req)
		*tr = append(*tr, "/"+name)
		return resp, err
	}
}

// TestChainUnary checks that chainUnary runs the interceptors in order
// around the handler, passes each one's context on, stops where one
// refuses, and keeps concurrent calls apart.
func TestChainUnary(t *testing.T) {
	type key struct{}
	withValue := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return handler(context.WithValue(ctx, key{}, "set by b"), req)
	}
	refuse := func(context.Context, any, *grpc.UnaryServerInfo, grpc.UnaryHandler) (any, error) {
		return nil, errors.New("refused")
	}
	final := func(ctx context.Context, req any) (any, error) {
		tr := req.(*[]string)
		*tr = append(*tr, fmt.Sprint("handler:", ctx.Value(key{})))
		return "resp", nil
	}
	chain := chainUnary(recordingInterceptor("a"), withValue, recordingInterceptor("c"))
	var wg sync.WaitGroup
	for range 8 { // concurrent calls share the pool, never a step
		wg.Go(func() {
			for range 200 {
				var tr []string
				resp, err := chain(t.Context(), &tr, &grpc.UnaryServerInfo{}, final)
				if got := strings.Join(tr, " "); err != nil || resp != "resp" || got != "a c handler:set by b /c /a" {
					t.Errorf("chain: %v %v, trace %q", resp, err, got)
					return
				}
			}
		})
	}
	wg.Wait()

	var tr []string
	_, err := chainUnary(recordingInterceptor("a"), refuse, recordingInterceptor("c"))(t.Context(), &tr, &grpc.UnaryServerInfo{}, final)
	if got := strings.Join(tr, " "); err == nil || got != "a /a" {
		t.Errorf("a refusing interceptor: %v, trace %q", err, got)
	}
	// A step returned to the pool after a refusal starts over on the next
	// call.
	c2 := chainUnary(recordingInterceptor("x"), recordingInterceptor("y"))
	for range 3 {
		tr = nil
		if _, err := c2(t.Context(), &tr, &grpc.UnaryServerInfo{}, final); err != nil || strings.Join(tr, " ") != "x y handler:<nil> /y /x" {
			t.Errorf("trace %q, %v", strings.Join(tr, " "), err)
		}
	}
}
