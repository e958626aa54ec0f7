package client

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// The generated package registers the forum.v1 descriptors the retry
	// policy is built from.
	_ "github.com/forumhq/forum/gen/forum/v1"
)

// oneTimeSecrets are the creates whose response holds a secret shown only
// once: a replayed request returns the resource without it, so a retry
// after a lost response would succeed with the secret missing. They are
// not retried; the caller gets ErrUnavailable and can list and delete the
// orphan.
var oneTimeSecrets = map[protoreflect.FullName]bool{
	"forum.v1.ApiTokenService.CreateApiToken":     true,
	"forum.v1.InvitationService.CreateInvitation": true,
}

// retryable reports whether the retry policy repeats m after an UNAVAILABLE
// status (the package documentation says why): reads (Get, List and
// Search methods), creates whose request has a request_id (except
// oneTimeSecrets), and Login. Everything else is not retried, so a method
// added to the API later is retried only if it fits these rules.
func retryable(m protoreflect.MethodDescriptor) bool {
	if m.IsStreamingClient() || m.IsStreamingServer() || oneTimeSecrets[m.FullName()] {
		return false
	}
	name := string(m.Name())
	switch {
	case m.FullName() == "forum.v1.AuthService.Login":
		return true
	case strings.HasPrefix(name, "Get"), strings.HasPrefix(name, "List"), strings.HasPrefix(name, "Search"):
		return true
	case strings.HasPrefix(name, "Create"):
		return hasRequestID(m.Input())
	}
	return false
}

// hasRequestID reports whether messages of md have a `request_id` string.
func hasRequestID(md protoreflect.MessageDescriptor) bool {
	fd := md.Fields().ByName("request_id")
	return fd != nil && fd.Kind() == protoreflect.StringKind && !fd.IsList()
}

// retriedMethods returns the full names (`/forum.v1.ThreadService/GetThread`)
// of the forum.v1 methods the retry policy repeats, from the descriptors
// the generated package registers.
func retriedMethods() []string {
	var out []string
	protoregistry.GlobalFiles.RangeFilesByPackage("forum.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			s := fd.Services().Get(i)
			for j := range s.Methods().Len() {
				if m := s.Methods().Get(j); retryable(m) {
					out = append(out, "/"+string(s.FullName())+"/"+string(m.Name()))
				}
			}
		}
		return true
	})
	slices.Sort(out)
	return out
}

// The retry policy: at most 4 attempts (the first and 3 retries), waiting a
// random time up to 100ms, 200ms, then 400ms before them (gRPC's
// exponential backoff with full jitter, capped at 2s).
const (
	retryMaxAttempts    = 4
	retryInitialBackoff = "0.1s"
	retryMaxBackoff     = "2s"
	retryMultiplier     = 2
)

// serviceConfig is the gRPC service config the Client dials with: the retry
// policy for retriedMethods.
var serviceConfig = buildServiceConfig()

func buildServiceConfig() string {
	type methodName struct {
		Service string `json:"service"`
		Method  string `json:"method"`
	}
	type retryPolicy struct {
		MaxAttempts          int      `json:"maxAttempts"`
		InitialBackoff       string   `json:"initialBackoff"`
		MaxBackoff           string   `json:"maxBackoff"`
		BackoffMultiplier    float64  `json:"backoffMultiplier"`
		RetryableStatusCodes []string `json:"retryableStatusCodes"`
	}
	type methodConfig struct {
		Name        []methodName `json:"name"`
		RetryPolicy retryPolicy  `json:"retryPolicy"`
	}
	mc := methodConfig{RetryPolicy: retryPolicy{
		MaxAttempts:          retryMaxAttempts,
		InitialBackoff:       retryInitialBackoff,
		MaxBackoff:           retryMaxBackoff,
		BackoffMultiplier:    retryMultiplier,
		RetryableStatusCodes: []string{"UNAVAILABLE"},
	}}
	for _, full := range retriedMethods() {
		service, method, ok := strings.Cut(strings.TrimPrefix(full, "/"), "/")
		if !ok {
			panic("client: bad method name " + full)
		}
		mc.Name = append(mc.Name, methodName{Service: service, Method: method})
	}
	data, err := json.Marshal(struct {
		MethodConfig []methodConfig `json:"methodConfig"`
	}{[]methodConfig{mc}})
	if err != nil {
		panic(err)
	}
	return string(data)
}

// NewRequestID returns a new request id for a create: a time-ordered
// UUID (version 7, RFC 9562): 48 bits of Unix milliseconds, then 74 random
// bits. The Client's creates call it themselves; call it when you want to
// keep the id, for example to retry a create from another process after a
// crash.
//
// Any unique id works, but time-ordered ones are cheaper for the server: it
// records each request id for a day under the caller's name, and ids that
// grow with time are appended next to the caller's recent ones, where random
// ids (version 4) would each change a page somewhere in the record
// (docs/PERFORMANCE.md).
func NewRequestID() string {
	return newUUIDv7(time.Now())
}

// newUUIDv7 returns a version 7 UUID for the time t.
func newUUIDv7(t time.Time) string {
	var b [16]byte
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails
	ms := uint64(t.UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	b[6] = b[6]&0x0f | 0x70 // version 7
	b[8] = b[8]&0x3f | 0x80 // variant 10
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// withRequestID returns req, or a copy of it with a new request id if req
// has an empty `request_id` string field. The caller's message is not
// changed, so reusing it for another create does not replay the first.
func withRequestID(req any) any {
	m, ok := req.(proto.Message)
	if !ok {
		return req
	}
	r := m.ProtoReflect()
	fd := r.Descriptor().Fields().ByName("request_id")
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() || r.Get(fd).String() != "" {
		return req
	}
	c := proto.Clone(m)
	c.ProtoReflect().Set(fd, protoreflect.ValueOfString(NewRequestID()))
	return c
}
