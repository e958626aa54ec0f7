package gateway

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

// TestErrorMessageMadeValidUTF8: an error the gateway makes itself whose
// message is not valid UTF-8 (a decoder quoting the client's bytes) is
// rendered with U+FFFD and its own status, not as 500: grpc-gateway
// cannot marshal a google.rpc.Status holding invalid UTF-8. (Errors from
// the server arrive valid: grpc-go replaces invalid UTF-8 in grpc-message.)
// It also checks that a RESOURCE_EXHAUSTED the server did not make is not
// answered 429.
func TestErrorMessageMadeValidUTF8(t *testing.T) {
	g := &gateway{logger: slog.New(slog.DiscardHandler)}
	cases := []struct {
		name       string
		err        error
		httpStatus int
		code       codes.Code
		msg        string
	}{
		{"status", status.Error(codes.InvalidArgument, "bad \xff value"), http.StatusBadRequest, codes.InvalidArgument, "bad \uFFFD value"},
		{"HTTP status with a plain error", &runtime.HTTPStatusError{HTTPStatus: http.StatusBadRequest, Err: errors.New("bad \xc0\xaf escape")},
			http.StatusBadRequest, codes.InvalidArgument, "bad \uFFFD escape"},
		{"not found", status.Error(codes.NotFound, "no \xed\xa0\x80 here"), http.StatusNotFound, codes.NotFound, "no \uFFFD here"},
		// gRPC's own size error is no rate limit: 500, not 429 (issue 12).
		{"message larger than max", status.Error(codes.ResourceExhausted, "grpc: received message larger than max (17000000 vs. 16777216)"),
			http.StatusInternalServerError, codes.Internal, msgInternal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/v1/threads/t1", nil)
			rec := httptest.NewRecorder()
			g.handleError(req.Context(), runtime.NewServeMux(), &runtime.JSONPb{}, rec, req, tc.err)
			if rec.Code != tc.httpStatus {
				t.Errorf("HTTP status = %d, want %d; body %s", rec.Code, tc.httpStatus, rec.Body.String())
			}
			var st spb.Status
			if err := protojson.Unmarshal(rec.Body.Bytes(), &st); err != nil {
				t.Fatalf("body %q is not google.rpc.Status JSON: %v", rec.Body.String(), err)
			}
			if codes.Code(st.GetCode()) != tc.code || st.GetMessage() != tc.msg {
				t.Errorf("status = %v %q, want %v %q", codes.Code(st.GetCode()), st.GetMessage(), tc.code, tc.msg)
			}
		})
	}
}
