package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forumhq/forum/server/store"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// maxStreamLeakMB is how much the resident memory may grow over
// BenchmarkUndecodableStreams before it fails.
const maxStreamLeakMB = 10

// BenchmarkUndecodableStreams makes b.N anonymous streaming calls, each
// sending one message that does not decode, alternately to health Watch
// and to reflection (ServerReflectionInfo), against a server on a loopback
// TCP listener, as a client flooding a public forumd would. It reports the
// growth of the process's resident memory (VmRSS, after collecting garbage
// and returning it to the OS, before and after) and fails if it is over
// maxStreamLeakMB, or if a call did not get INVALID_ARGUMENT. Run it as
//
//	go test -run '^$' -bench BenchmarkUndecodableStreams -benchtime 100000x ./server/
//
// When the codec kept a record per undecodable message that only unary
// calls removed, 300,000 such streams took forumd from 39 to 267 MB.
func BenchmarkUndecodableStreams(b *testing.B) {
	if _, err := residentBytes(); err != nil {
		b.Skipf("no resident memory figure on this system: %v", err)
	}
	conn := newLoopbackServer(b)
	methods := [...]string{healthWatchMethod, reflectionV1Method}
	call := func(i int64) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel() // ends a stream that did not fail
		cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, methods[i%int64(len(methods))], grpc.ForceCodecV2(rawCodec{}))
		if err != nil {
			return err
		}
		if err := cs.SendMsg(undecodableHealthRequest); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if err := cs.CloseSend(); err != nil {
			return err
		}
		return cs.RecvMsg(new(emptypb.Empty))
	}
	// Warm up: connection buffers, stream workers' stacks, pools.
	for i := range int64(2000) {
		call(i)
	}
	before := settledResidentBytes(b)

	var next, wrong atomic.Int64
	var firstWrong atomic.Value
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := call(next.Add(1)); status.Code(err) != codes.InvalidArgument {
				if wrong.Add(1) == 1 {
					firstWrong.Store(fmt.Sprintf("%v", err))
				}
			}
		}
	})
	b.StopTimer()

	after := settledResidentBytes(b)
	growth := float64(after-before) / (1 << 20)
	b.ReportMetric(growth, "MB-rss-growth")
	b.ReportMetric(float64(after-before)/float64(b.N), "rss-B/stream")
	b.Logf("%d streams: resident memory %.1f MB before, %.1f MB after", b.N, float64(before)/(1<<20), float64(after)/(1<<20))
	if n := wrong.Load(); n > 0 {
		b.Errorf("%d of %d streams did not get INVALID_ARGUMENT; the first got %v", n, b.N, firstWrong.Load())
	}
	if growth > maxStreamLeakMB {
		b.Errorf("resident memory grew by %.1f MB over %d streams, more than %d MB", growth, b.N, maxStreamLeakMB)
	}
}

// newLoopbackServer serves a server with reflection on, on a store of its
// own, on a loopback TCP listener, and returns a connection to it.
func newLoopbackServer(tb testing.TB) *grpc.ClientConn {
	tb.Helper()
	st, err := store.Open(filepath.Join(tb.TempDir(), "forum.db"), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := New(Config{Store: st, Reflection: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go srv.GRPC().Serve(lis)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		conn.Close()
		srv.GRPC().Stop()
		st.Close()
	})
	return conn
}

// settledResidentBytes returns the process's resident memory once the
// streams just ended have finished on the server side and their garbage is
// collected and given back to the OS.
func settledResidentBytes(tb testing.TB) int64 {
	tb.Helper()
	time.Sleep(200 * time.Millisecond)
	for range 2 {
		runtime.GC()
		debug.FreeOSMemory()
	}
	n, err := residentBytes()
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// residentBytes returns the process's resident memory, VmRSS in
// /proc/self/status.
func residentBytes() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		kb, ok := strings.CutSuffix(strings.TrimSpace(rest), " kB")
		if !ok {
			return 0, fmt.Errorf("VmRSS: unexpected %q", rest)
		}
		n, err := strconv.ParseInt(kb, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS: %w", err)
		}
		return n << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read /proc/self/status: %w", err)
	}
	return 0, errors.New("/proc/self/status has no VmRSS")
}
