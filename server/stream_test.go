package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/forumhq/forum/internal/testlog"
	"github.com/forumhq/forum/server/store"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Methods of gRPC's own streaming services, which anyone may call.
const (
	healthWatchMethod       = "/grpc.health.v1.Health/Watch"
	healthCheckMethod       = "/grpc.health.v1.Health/Check"
	reflectionV1Method      = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
	reflectionV1AlphaMethod = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
)

// rawCall calls method on conn as a bidirectional stream, whatever the
// method's kind, sending msgs as they are (rawCodec), then reads responses
// until the call ends. It returns how many responses came and the call's
// error (nil for OK).
func rawCall(ctx context.Context, conn *grpc.ClientConn, method string, msgs ...[]byte) (responses int, err error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, method, grpc.ForceCodecV2(rawCodec{}))
	if err != nil {
		return 0, err
	}
	for _, m := range msgs {
		if err := cs.SendMsg(m); err != nil {
			break // the call ended; RecvMsg says how
		}
	}
	if err := cs.CloseSend(); err != nil {
		return 0, err
	}
	for {
		if err := cs.RecvMsg(new(emptypb.Empty)); err != nil {
			if errors.Is(err, io.EOF) {
				return responses, nil
			}
			return responses, err
		}
		responses++
	}
}

// probeService is a test service registered beside the real ones. Its
// methods decode their requests as generated code does, and it keeps a
// weak pointer to each request message, so a test can check that nothing
// holds one once its call is over.
type probeService struct {
	mu   sync.Mutex
	reqs []weak.Pointer[healthpb.HealthCheckRequest]
}

const (
	probeUnary        = "/probe.v1.Probe/Unary"
	probeServerStream = "/probe.v1.Probe/ServerStream"
	probeBidiStream   = "/probe.v1.Probe/BidiStream"
	probePanic        = "/probe.v1.Probe/Panic"
)

// newRequest returns a request message to decode into, and tracks it.
func (p *probeService) newRequest() *healthpb.HealthCheckRequest {
	m := new(healthpb.HealthCheckRequest)
	p.mu.Lock()
	p.reqs = append(p.reqs, weak.Make(m))
	p.mu.Unlock()
	return m
}

// seen returns how many request messages the probe has made.
func (p *probeService) seen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.reqs)
}

// liveSince returns how many request messages after the first n are still
// reachable.
func (p *probeService) liveSince(n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return countLive(p.reqs[n:])
}

// register registers the probe service on srv, which must not be serving
// yet.
func (p *probeService) register(srv *grpc.Server) {
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "probe.v1.Probe",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Unary",
			Handler: func(_ any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
				in := p.newRequest()
				if err := dec(in); err != nil {
					return nil, err
				}
				return interceptor(ctx, in, &grpc.UnaryServerInfo{FullMethod: probeUnary}, func(context.Context, any) (any, error) {
					return &healthpb.HealthCheckResponse{}, nil
				})
			},
		}},
		Streams: []grpc.StreamDesc{{
			StreamName:    "ServerStream",
			ServerStreams: true,
			Handler: func(_ any, ss grpc.ServerStream) error {
				if err := ss.RecvMsg(p.newRequest()); err != nil {
					return err
				}
				return ss.SendMsg(&healthpb.HealthCheckResponse{})
			},
		}, {
			StreamName:    "Panic",
			ServerStreams: true,
			Handler: func(any, grpc.ServerStream) error {
				panic("probe panic")
			},
		}, {
			StreamName:    "BidiStream",
			ServerStreams: true,
			ClientStreams: true,
			Handler: func(_ any, ss grpc.ServerStream) error {
				for {
					if err := ss.RecvMsg(p.newRequest()); errors.Is(err, io.EOF) {
						return nil
					} else if err != nil {
						return err
					}
					if err := ss.SendMsg(&healthpb.HealthCheckResponse{}); err != nil {
						return err
					}
				}
			},
		}},
	}, p)
}

// TestUndecodableStreams sends messages that do not decode on every kind of
// call, the public streams (health Watch, reflection) among them: each gets
// INVALID_ARGUMENT (or gRPC's own error for a unary call that sent two
// messages), and no request message is reachable once its call has ended.
func TestUndecodableStreams(t *testing.T) {
	probe := &probeService{}
	conn := newProbeServer(t, probe, slog.New(slog.DiscardHandler))

	good, bad := healthRequest(""), undecodableHealthRequest
	tests := []struct {
		name      string
		method    string
		msgs      [][]byte
		code      codes.Code
		responses int // responses before the error
	}{
		{"health Check", healthCheckMethod, [][]byte{bad}, codes.InvalidArgument, 0},
		{"health Watch", healthWatchMethod, [][]byte{bad}, codes.InvalidArgument, 0},
		{"reflection v1", reflectionV1Method, [][]byte{bad}, codes.InvalidArgument, 0},
		{"reflection v1alpha", reflectionV1AlphaMethod, [][]byte{bad}, codes.InvalidArgument, 0},
		{"reflection, after a good request", reflectionV1Method, [][]byte{reflectionListServices, bad}, codes.InvalidArgument, 1},
		{"unary", probeUnary, [][]byte{bad}, codes.InvalidArgument, 0},
		// gRPC decodes a unary call's second message into the first
		// one's request, then refuses the call itself: no interceptor
		// ever sees that request.
		{"unary, second message undecodable", probeUnary, [][]byte{good, bad}, codes.Internal, 0},
		{"server stream", probeServerStream, [][]byte{bad}, codes.InvalidArgument, 0},
		{"server stream, second message undecodable", probeServerStream, [][]byte{good, bad}, codes.Internal, 0},
		{"bidi stream, after a good message", probeBidiStream, [][]byte{good, bad}, codes.InvalidArgument, 1},
		{"bidi stream, good messages", probeBidiStream, [][]byte{good, good}, codes.OK, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := probe.seen()
			n, err := rawCall(t.Context(), conn, tc.method, tc.msgs...)
			if got := status.Code(err); got != tc.code || n != tc.responses {
				t.Errorf("got %v after %d responses (%v), want %v after %d", got, n, err, tc.code, tc.responses)
			}
			if tc.code == codes.InvalidArgument && status.Code(err) == tc.code && !strings.Contains(status.Convert(err).Message(), "not valid protobuf") {
				t.Errorf("message %q does not say the request is not valid protobuf", status.Convert(err).Message())
			}
			waitCollected(t, func() int { return probe.liveSince(before) })
		})
	}
	if probe.seen() == 0 {
		t.Fatal("the probe saw no request")
	}
}

// TestStreamInterceptors checks the concerns the stream interceptors share
// with the unary chain: a panic in a stream's handler is logged and answered
// INTERNAL, without taking the server down, and every stream is logged when
// it ends, with its code.
func TestStreamInterceptors(t *testing.T) {
	var logs testlog.Buffer
	conn := newProbeServer(t, &probeService{}, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))

	_, err := rawCall(t.Context(), conn, probePanic, healthRequest(""))
	if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != "internal error" {
		t.Errorf("panicking stream: got %v, want INTERNAL \"internal error\"", err)
	}
	if _, err := rawCall(t.Context(), conn, healthWatchMethod, undecodableHealthRequest); status.Code(err) != codes.InvalidArgument {
		t.Errorf("health Watch after the panic: got %v, want InvalidArgument", err)
	}
	for _, want := range []string{
		`"msg":"panic","method":"` + probePanic + `","panic":"probe panic"`,
		`"msg":"rpc","method":"` + probePanic + `","code":"Internal"`,
		`"msg":"rpc","method":"` + healthWatchMethod + `","code":"InvalidArgument"`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log has no %s:\n%s", want, logs.String())
		}
	}
}

// reflectionListServices encodes a ServerReflectionRequest asking for the
// list of services (field 7, list_services).
var reflectionListServices = []byte{7<<3 | 2, 1, '*'}

// newProbeServer serves a server with reflection on, logging to log, on a
// store of its own, with the probe service registered beside the real ones,
// and returns a connection to it.
func newProbeServer(t testing.TB, probe *probeService, log *slog.Logger) *grpc.ClientConn {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "forum.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Store: st, Reflection: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	probe.register(srv.GRPC())
	t.Cleanup(func() { st.Close() }) // runs after serveBufconn's, which stops the server
	return serveBufconn(t, srv)
}
