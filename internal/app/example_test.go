package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"

	"github.com/forumhq/forum/internal/app"
)

// The whole of forumd in a test or a program of one's own: a data
// directory, two loopback ports, Serve until told to stop.
func Example() {
	dir, err := os.MkdirTemp("", "forum-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	a, err := app.New(ctx, app.Config{
		DataDir:  dir,
		GRPCAddr: "127.0.0.1:0",
		HTTPAddr: "127.0.0.1:0",
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()

	resp, err := http.Get("http://" + a.HTTPAddr() + "/healthz")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Print(resp.StatusCode, " ", string(body))
	}

	stop() // as a signal does: Serve shuts the App down gracefully
	fmt.Println("stopped:", <-done)
	// Output:
	// 200 {"status":"SERVING"}
	// stopped: <nil>
}
