package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/app"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestShutdownEndsEventStreams: event streams never end on their own, so
// a shutdown ends them (UNAVAILABLE, with the revision to resume from)
// instead of waiting for them until its timeout and then cutting them.
func TestShutdownEndsEventStreams(t *testing.T) {
	a, logs := newApp(t, app.Config{ShutdownTimeout: 10 * time.Minute})
	done := serve(t.Context(), a)

	stream, err := forumv1.NewEventServiceClient(dial(t, a)).StreamEvents(t.Context(), &forumv1.StreamEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Header(); err != nil { // the stream is open
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://"+a.HTTPAddr()+"/v1/events:stream", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SSE: %s", resp.Status)
	}

	shut := make(chan error, 1)
	go func() { shut <- a.Shutdown(context.Background()) }()
	if err := wait(t, "Shutdown", shut); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if strings.Contains(logs.String(), "timed out") {
		t.Errorf("the shutdown waited for the streams until its timeout:\n%s", logs.String())
	}
	_, err = stream.Recv()
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "resume from revision") {
		t.Errorf("the gRPC stream ended with %v, want UNAVAILABLE naming the revision to resume from", err)
	}
	body, _ := io.ReadAll(resp.Body) // ends: the response is over
	if !strings.Contains(string(body), "event: error") || !strings.Contains(string(body), "resume from revision") {
		t.Errorf("the SSE stream ended with %q, want an error event naming the revision to resume from", body)
	}
	if err := wait(t, "Serve", done); err != nil {
		t.Errorf("Serve: %v", err)
	}
}
