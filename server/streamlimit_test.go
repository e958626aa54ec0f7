package server

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// TestOpenStreamsBounded: one address holds at most
// Config.MaxStreamsPerAddress streams open (health Watch, which anyone may call and which stays open);
// the next is refused with RESOURCE_EXHAUSTED, and closing one lets
// another in. Unary calls are not counted.
func TestOpenStreamsBounded(t *testing.T) {
	const perAddress = 12
	e := newTestEnvWith(t, Config{MaxStreamsPerAddress: perAddress})
	health := healthpb.NewHealthClient(e.conn)
	watch := func() (context.CancelFunc, error) {
		ctx, cancel := context.WithCancel(t.Context())
		w, err := health.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err == nil {
			_, err = w.Recv() // the first status, or the refusal
		}
		if err != nil {
			cancel()
		}
		return cancel, err
	}
	var open []context.CancelFunc
	for i := range perAddress {
		cancel, err := watch()
		if err != nil {
			t.Fatalf("watch %d: %v", i, err)
		}
		open = append(open, cancel)
	}
	if _, err := watch(); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("watch %d: %v, want RESOURCE_EXHAUSTED", perAddress+1, err)
	}
	if _, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("a unary Check with the streams open: %v", err)
	}
	open[0]()
	// The server sees the cancellation a moment later.
	var err error
	for range 100 {
		var cancel context.CancelFunc
		if cancel, err = watch(); err == nil {
			open[0] = cancel
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("a watch after closing one: %v", err)
	}
	for _, c := range open {
		c()
	}
}
