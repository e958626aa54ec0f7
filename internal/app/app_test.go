package app_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/forumhq/forum/gateway"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/app"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/internal/testlog"
	"github.com/forumhq/forum/server"
	"github.com/forumhq/forum/server/auth"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store"
)

const (
	password = "a long enough password"
	// waitTimeout bounds every wait of these tests; generous, since the
	// tests share a loaded machine.
	waitTimeout = 30 * time.Second
)

// newApp assembles an App on a fresh data directory and loopback ports,
// logging into the returned buffer. The App is shut down in t.Cleanup if
// the test has not done so.
func newApp(t *testing.T, cfg app.Config) (*app.App, *testlog.Buffer) {
	t.Helper()
	logs := &testlog.Buffer{}
	if cfg.DataDir == "" && cfg.Store == nil {
		cfg.DataDir = filepath.Join(t.TempDir(), "data")
	}
	if cfg.GRPCListener == nil {
		cfg.GRPCAddr = "127.0.0.1:0"
	}
	if cfg.HTTPListener == nil {
		cfg.HTTPAddr = "127.0.0.1:0"
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	a, err := app.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	t.Cleanup(func() {
		if err := a.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown in cleanup: %v", err)
		}
	})
	return a, logs
}

// serve runs a.Serve(ctx) in a goroutine and returns the channel its
// result arrives on.
func serve(ctx context.Context, a *app.App) <-chan error {
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()
	return done
}

// wait returns what arrives on done, failing the test after waitTimeout.
func wait(t *testing.T, what string, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(waitTimeout):
		t.Fatalf("%s did not return within %v", what, waitTimeout)
		return nil
	}
}

// createUser creates a member through the App's store.
func createUser(t *testing.T, st *store.Store, username string) *forumv1.User {
	t.Helper()
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.CreateUser(t.Context(), authz.SystemActor, &forumv1.User{Username: username, DisplayName: username, Role: forumv1.Role_ROLE_MEMBER}, hash, "")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// dial connects to the App's gRPC listener.
func dial(t *testing.T, a *app.App) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(a.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// get sends GET url and returns the status, the Content-Type and the body.
func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}

// TestRoundTrip assembles an App on a data directory it creates, writes over
// gRPC, reads over HTTP/JSON (and the web UI), shuts it down, and checks
// that the store was closed and that the App is done.
func TestRoundTrip(t *testing.T) {
	data := filepath.Join(t.TempDir(), "a", "data")
	var onShutdown atomic.Int32
	a, logs := newApp(t, app.Config{DataDir: data, OnShutdown: func() { onShutdown.Add(1) }})
	if fi, err := os.Stat(data); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory: %v, %v; want mode 0700", fi, err)
	}
	for _, addr := range []string{a.GRPCAddr(), a.HTTPAddr()} {
		if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
			t.Errorf("address %q, want 127.0.0.1 with a chosen port", addr)
		}
	}
	if !strings.Contains(logs.String(), `"msg":"listening","grpc":"`+a.GRPCAddr()+`","http":"`+a.HTTPAddr()+`"`) {
		t.Errorf("no listening line with both addresses:\n%s", logs.String())
	}
	amina := createUser(t, a.Store(), "amina")
	done := serve(t.Context(), a)

	conn := dial(t, a)
	login, err := forumv1.NewAuthServiceClient(conn).Login(t.Context(), &forumv1.LoginRequest{Username: "amina", Password: password})
	if err != nil {
		t.Fatalf("gRPC Login: %v", err)
	}
	authed := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+login.GetToken())
	th, err := forumv1.NewThreadServiceClient(conn).CreateThread(authed, &forumv1.CreateThreadRequest{
		Thread: &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "Over gRPC"}})
	if err != nil {
		t.Fatalf("gRPC CreateThread: %v", err)
	}
	if th.GetAuthor() != amina.GetName() {
		t.Errorf("thread author %q, want %q", th.GetAuthor(), amina.GetName())
	}

	base := "http://" + a.HTTPAddr()
	if code, _, body := get(t, base+"/v1/"+th.GetName()); code != http.StatusOK || !strings.Contains(body, `"title":"Over gRPC"`) {
		t.Errorf("GET /v1/%s: %d %s", th.GetName(), code, body)
	}
	if code, _, body := get(t, base+"/healthz"); code != http.StatusOK || body != `{"status":"SERVING"}`+"\n" {
		t.Errorf("/healthz: %d %s", code, body)
	}
	if code, ctype, _ := get(t, base+"/"); code != http.StatusOK || !strings.HasPrefix(ctype, "text/html") {
		t.Errorf("GET /: %d %s, want the web UI", code, ctype)
	}

	if err := a.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := wait(t, "Serve", done); err != nil {
		t.Errorf("Serve after Shutdown: %v", err)
	}
	if n := onShutdown.Load(); n != 1 {
		t.Errorf("OnShutdown called %d times, want 1", n)
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Errorf("no stopped line:\n%s", logs.String())
	}
	// Both doors are closed, the store too (its lock is free), and the App
	// is done: Serve refuses, Shutdown answers as before.
	if c, err := net.DialTimeout("tcp", a.HTTPAddr(), time.Second); err == nil {
		c.Close()
		t.Errorf("HTTP listener still accepts after Shutdown")
	}
	st, err := store.Open(filepath.Join(data, app.DatabaseFile), store.Options{})
	if err != nil {
		t.Fatalf("reopen the store after Shutdown: %v", err)
	}
	if got, err := st.GetThread(t.Context(), authz.SystemActor, resname.MustParseThread(th.GetName())); err != nil || got.GetTitle() != "Over gRPC" {
		t.Errorf("the thread after Shutdown: %v, %v", got, err)
	}
	st.Close()
	if err := a.Serve(t.Context()); !errors.Is(err, app.ErrClosed) {
		t.Errorf("Serve after Shutdown: %v, want ErrClosed", err)
	}
	if err := a.Shutdown(t.Context()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// TestServeUntilCancelled: when Serve's context is done, Serve shuts the
// App down itself and returns nil; a store of the caller's stays open.
func TestServeUntilCancelled(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), app.DatabaseFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var onShutdown atomic.Int32
	a, logs := newApp(t, app.Config{Store: st, SweepInterval: time.Millisecond, OnShutdown: func() { onShutdown.Add(1) }})
	ctx, cancel := context.WithCancel(t.Context())
	done := serve(ctx, a)
	if code, _, body := get(t, "http://"+a.HTTPAddr()+"/v1/themes"); code != http.StatusOK || !strings.Contains(body, "themes/") {
		t.Errorf("/v1/themes: %d %s", code, body)
	}
	cancel()
	if err := wait(t, "Serve", done); err != nil {
		t.Errorf("Serve: %v", err)
	}
	if n := onShutdown.Load(); n != 1 {
		t.Errorf("OnShutdown called %d times, want 1", n)
	}
	if l := logs.String(); !strings.Contains(l, `"msg":"shutting down","cause":"context canceled"`) || !strings.Contains(l, `"msg":"stopped"`) {
		t.Errorf("log of the shutdown:\n%s", l)
	}
	// The caller's store is still open.
	if _, err := st.Sweep(t.Context()); err != nil {
		t.Errorf("the caller's store after Shutdown: %v", err)
	}
}

// TestShutdownDrains: Shutdown turns health NOT_SERVING at once, then lets
// an HTTP request and a gRPC stream in flight finish before it returns.
func TestShutdownDrains(t *testing.T) {
	a, _ := newApp(t, app.Config{Server: server.Config{Reflection: true}})
	createUser(t, a.Store(), "amina")
	done := serve(t.Context(), a)
	conn := dial(t, a)
	health := healthpb.NewHealthClient(conn)
	if resp, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health before Shutdown: %v %v", resp.GetStatus(), err)
	}

	// A gRPC stream in flight: reflection, one answer received.
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	listServices := &reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: "*"}}
	if err := stream.Send(listServices); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("reflection before Shutdown: %v", err)
	}

	// An HTTP request in flight: a login whose body has not all arrived.
	hc, err := net.Dial("tcp", a.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	body := fmt.Sprintf(`{"username":"amina","password":%q}`, password)
	half := len(body) / 2
	if _, err := fmt.Fprintf(hc, "POST /v1/auth:login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		a.HTTPAddr(), len(body), body[:half]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the server read the headers

	shut := make(chan error, 1)
	go func() { shut <- a.Shutdown(context.Background()) }()

	// Health goes NOT_SERVING while both are still in flight.
	for deadline := time.Now().Add(waitTimeout); ; {
		resp, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{})
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health still %v (%v) during Shutdown", resp.GetStatus(), err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with an HTTP request and a gRPC stream in flight", err)
	case <-time.After(200 * time.Millisecond):
	}

	// The HTTP request completes.
	if _, err := io.WriteString(hc, body[half:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(hc), nil)
	if err != nil {
		t.Fatalf("the login in flight: %v", err)
	}
	respBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(respBody), `"token":"fgs_`) {
		t.Errorf("the login in flight: %d %s", resp.StatusCode, respBody)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with a gRPC stream in flight", err)
	case <-time.After(200 * time.Millisecond):
	}

	// The stream is still served, and ends when its client ends it.
	if err := stream.Send(listServices); err != nil {
		t.Fatalf("reflection during Shutdown: %v", err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("reflection during Shutdown: %v", err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Errorf("end of the reflection stream: %v, want EOF", err)
	}
	if err := wait(t, "Shutdown", shut); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := wait(t, "Serve", done); err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestShutdownTimeout: a call still running when Config.ShutdownTimeout
// has passed is cut, and Shutdown returns.
func TestShutdownTimeout(t *testing.T) {
	a, logs := newApp(t, app.Config{ShutdownTimeout: 300 * time.Millisecond})
	done := serve(t.Context(), a)
	watch, err := healthpb.NewHealthClient(dial(t, a)).Watch(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health watch: %v %v", resp.GetStatus(), err)
	}
	start := time.Now()
	if err := a.Shutdown(t.Context()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > waitTimeout {
		t.Errorf("Shutdown took %v", d)
	}
	if !strings.Contains(logs.String(), "gRPC graceful stop timed out") {
		t.Errorf("no log of the cut:\n%s", logs.String())
	}
	// The watch saw NOT_SERVING, then its end.
	for {
		if _, err := watch.Recv(); err != nil {
			break
		}
	}
	if err := wait(t, "Serve", done); err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestServeListenerFails: a listener that fails ends Serve with its error,
// after a graceful shutdown.
func TestServeListenerFails(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &failingListener{Listener: lis, fail: make(chan struct{})}
	a, logs := newApp(t, app.Config{GRPCListener: fl})
	if a.GRPCAddr() != lis.Addr().String() {
		t.Errorf("GRPCAddr %q, want the listener's %q", a.GRPCAddr(), lis.Addr())
	}
	done := serve(t.Context(), a)
	close(fl.fail)
	err = wait(t, "Serve", done)
	if !errors.Is(err, errBroken) || !strings.Contains(err.Error(), "serve gRPC") {
		t.Errorf("Serve: %v, want the listener's error", err)
	}
	if l := logs.String(); !strings.Contains(l, `"msg":"shutting down after error"`) || !strings.Contains(l, `"msg":"stopped"`) {
		t.Errorf("log:\n%s", l)
	}
}

var errBroken = errors.New("listener broken")

// failingListener fails its Accept once fail is closed.
type failingListener struct {
	net.Listener
	fail chan struct{}
}

func (l *failingListener) Accept() (net.Conn, error) {
	<-l.fail
	return nil, errBroken
}

// TestNewErrors: a bad Config, a port taken, a data directory that cannot
// be made or a store that cannot be opened fail New, naming the cause, and
// leave nothing open.
func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	spare, err := net.Listen("tcp", "127.0.0.1:0") // closed by the failing New
	if err != nil {
		t.Fatal(err)
	}
	held, err := app.OpenStore(filepath.Join(dir, "held"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	data := filepath.Join(dir, "data")
	addrs := func(c app.Config) app.Config {
		c.GRPCAddr, c.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
		return c
	}
	for _, tc := range []struct {
		name string
		cfg  app.Config
		want string
	}{
		{"nothing", app.Config{}, "Config.DataDir or Config.Store is required"},
		{"no store", addrs(app.Config{}), "Config.DataDir or Config.Store is required"},
		{"two stores", addrs(app.Config{DataDir: data, Store: held}), "both set"},
		{"no gRPC address", app.Config{DataDir: data, HTTPAddr: "127.0.0.1:0"}, "Config.GRPCListener or Config.GRPCAddr is required"},
		{"no HTTP address", app.Config{DataDir: data, GRPCAddr: "127.0.0.1:0"}, "Config.HTTPListener or Config.HTTPAddr is required"},
		{"listener and address", addrs(app.Config{DataDir: data, HTTPListener: spare}), "Config.HTTPListener and Config.HTTPAddr are both set"},
		{"server store", addrs(app.Config{DataDir: data, Server: server.Config{Store: held}}), "set by New"},
		{"gateway secret", addrs(app.Config{DataDir: data, Gateway: gateway.Options{GatewaySecret: "x"}}), "set by New"},
		{"negative timeout", addrs(app.Config{DataDir: data, ShutdownTimeout: -1}), "negative Config.ShutdownTimeout"},
		{"data is a file", addrs(app.Config{DataDir: file}), "create data directory"},
		{"store held", addrs(app.Config{DataDir: filepath.Join(dir, "held")}), "open database"},
		{"bad gRPC address", app.Config{DataDir: data, GRPCAddr: "127.0.0.1:port", HTTPAddr: "127.0.0.1:0"}, "listen for gRPC on 127.0.0.1:port"},
		{"gRPC port taken", app.Config{DataDir: data, GRPCAddr: taken.Addr().String(), HTTPAddr: "127.0.0.1:0"}, "listen for gRPC on " + taken.Addr().String()},
		{"HTTP port taken", app.Config{DataDir: data, GRPCAddr: "127.0.0.1:0", HTTPAddr: taken.Addr().String()}, "listen for HTTP on " + taken.Addr().String()},
		{"bad trusted origin", addrs(app.Config{DataDir: data, Gateway: gateway.Options{TrustedOrigins: []string{"::"}}}), "build HTTP gateway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = slog.New(slog.DiscardHandler)
			a, err := app.New(t.Context(), tc.cfg)
			if err == nil {
				a.Shutdown(t.Context())
				t.Fatalf("New: no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want %q", err, tc.want)
			}
		})
	}

	// New failed after opening data's store: it is closed again.
	st, err := store.Open(filepath.Join(data, app.DatabaseFile), store.Options{})
	if err != nil {
		t.Fatalf("the store after the failures: %v", err)
	}
	st.Close()

	// A listener of the Config is closed when New fails.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.New(t.Context(), app.Config{GRPCListener: lis, HTTPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)}); err == nil {
		t.Fatal("New without a store: no error")
	}
	if _, err := lis.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept on the listener of a failed New: %v, want ErrClosed", err)
	}
}

// TestOpenStore: OpenStore creates the data directory, private, and the
// database in it.
func TestOpenStore(t *testing.T) {
	data := filepath.Join(t.TempDir(), "x", "data")
	st, err := app.OpenStore(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if fi, err := os.Stat(data); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory: %v, %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(data, app.DatabaseFile)); err != nil {
		t.Errorf("database: %v", err)
	}
}
