package server

import (
	"runtime"
	"strings"
	"testing"
	"time"
	"weak"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// undecodableHealthRequest is a grpc.health.v1.HealthCheckRequest whose
// service (field 1, a string) is not UTF-8, so it does not decode. The same
// bytes are an undecodable grpc.reflection ServerReflectionRequest, whose
// field 1 (host) is a string too.
var undecodableHealthRequest = protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte{0xff, 0xfe})

// healthRequest encodes a HealthCheckRequest for service.
func healthRequest(service string) []byte {
	b, err := proto.Marshal(&healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		panic(err)
	}
	return b
}

// markedField encodes the unknown field in which the codec records a
// decoding error, holding text.
func markedField(text string) []byte {
	return protowire.AppendString(protowire.AppendTag(nil, failedField, protowire.BytesType), text)
}

func TestCodecDecodeError(t *testing.T) {
	unknown := protowire.AppendVarint(protowire.AppendTag(nil, 7, protowire.VarintType), 42)
	tests := []struct {
		name        string
		data        []byte
		wantErr     string // "" when the request decodes
		wantService string
		wantUnknown []byte // the unknown fields the handler sees
	}{
		{"valid", healthRequest("forum.v1.ThreadService"), "", "forum.v1.ThreadService", nil},
		{"empty", nil, "", "", nil},
		{"invalid UTF-8", undecodableHealthRequest, "invalid UTF-8", "", nil},
		{"truncated", healthRequest("forum")[:3], "cannot parse", "", nil},
		{"unknown fields kept", append(healthRequest("x"), unknown...), "", "x", unknown},
		// A client cannot mark its own request as undecodable: the field
		// is dropped from a request that decodes.
		{"marker sent by the client", append(healthRequest("x"), markedField("forged")...), "", "x", nil},
		{"marker among unknown fields", append(append(healthRequest("x"), markedField("forged")...), unknown...), "", "x", unknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &healthpb.HealthCheckRequest{Service: "stale"}
			if err := (requestCodec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(tc.data)}, m); err != nil {
				t.Fatalf("Unmarshal: %v (it must hand every request on)", err)
			}
			err := decodeError(m)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("decodeError = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("decodeError = %v, want an error containing %q", err, tc.wantErr)
			}
			if m.Service != tc.wantService {
				t.Errorf("service = %q, want %q", m.Service, tc.wantService)
			}
			if tc.wantErr == "" && string(m.ProtoReflect().GetUnknown()) != string(tc.wantUnknown) {
				t.Errorf("unknown fields = %x, want %x", m.ProtoReflect().GetUnknown(), tc.wantUnknown)
			}
		})
	}
	if err := decodeError("not a message"); err != nil {
		t.Errorf("decodeError of a non-message = %v", err)
	}
}

// TestCodecRetainsNoMessage decodes requests, never asks for their
// decoding errors (as a path without the check would), drops them, and
// checks that the codec kept nothing that holds them.
func TestCodecRetainsNoMessage(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"valid", healthRequest("x")},
		{"invalid UTF-8", undecodableHealthRequest},
		{"truncated", healthRequest("forum")[:3]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c requestCodec
			var ptrs []weak.Pointer[healthpb.HealthCheckRequest]
			for range 100 {
				m := new(healthpb.HealthCheckRequest)
				ptrs = append(ptrs, weak.Make(m))
				if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(tc.data)}, m); err != nil {
					t.Fatalf("Unmarshal: %v", err)
				}
			}
			waitCollected(t, func() int { return countLive(ptrs) })
			runtime.KeepAlive(&c) // the codec outlives its messages, as the server's does
		})
	}
}

// countLive returns how many of ptrs still point to a live value.
func countLive[T any](ptrs []weak.Pointer[T]) int {
	n := 0
	for _, p := range ptrs {
		if p.Value() != nil {
			n++
		}
	}
	return n
}

// waitCollected collects garbage until live reports 0, and fails the test
// if it still does not after a few seconds.
func waitCollected(t *testing.T, live func() int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		runtime.GC()
		n := live()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d request messages are still reachable after their calls ended", n)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
