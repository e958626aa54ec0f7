package gateway

// Hostile input. The gateway refuses, before grpc-gateway acts on them,
// requests that grpc-gateway would otherwise read differently from a proxy
// in front of it, or would fail on with 500 where the gRPC door answers
// INVALID_ARGUMENT:
//
//   - invalid UTF-8 in a path parameter, a query parameter's name or value
//     (checkParams): proto3 strings must be UTF-8, so the request message
//     could not be marshalled for the loopback call, and the client
//     connection's marshalling error came back as INTERNAL;
//   - a method override header (refuseMethodOverride): grpc-gateway turns a
//     form-encoded POST carrying X-HTTP-Method-Override into the method the
//     header names, so a firewall that refuses DELETE saw a POST;
//   - data after the JSON value of a request body (strictJSONPb): the JSON
//     decoder stopped at the end of the first value and ignored the rest.
//
// Nor does the gateway forward the server's response metadata as
// Grpc-Metadata-* headers and Grpc-Trailer-* trailers (noResponseMetadata):
// the server sends none meant for HTTP clients, and what gRPC adds
// (content-type: application/grpc) describes the loopback call.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

// reasonInvalidArgument is the ErrorInfo reason of the gateway's
// INVALID_ARGUMENT errors, the server's reason for the same code
// (server/errors.go).
const reasonInvalidArgument = "INVALID_ARGUMENT"

// methodOverrideHeaders returns the headers that frameworks, grpc-gateway
// among them (X-HTTP-Method-Override), honour to run a request as another
// method than its request line says.
func methodOverrideHeaders() []string {
	return []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"}
}

// refuseMethodOverride answers 400 INVALID_ARGUMENT to a request carrying a
// method override header (methodOverrideHeaders), whatever its method and
// content type: the method of a request is the one on its request line, as
// proxies and firewalls in front of the gateway read it. The mux's own
// override and its POST-to-GET fallback are also disabled (New); this makes
// the refusal explicit instead of leaving the header silently ignored.
func refuseMethodOverride(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for key := range r.Header { // case-insensitively: Header may hold non-canonical keys
			for _, name := range methodOverrideHeaders() {
				if strings.EqualFold(key, name) {
					writeRPCStatus(w, http.StatusBadRequest, badRequest(name,
						fmt.Sprintf("the %s header is not supported: send the request with the method itself", name)))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// checkParams is a grpc-gateway middleware (it runs once the route is
// matched, with the route's path parameters): it answers 400
// INVALID_ARGUMENT, naming the parameter, to a request whose path
// parameters, query parameter names or query values are not valid UTF-8
// once percent-decoded. Every string of a proto3 message must be UTF-8, and
// these become fields of the request message.
func checkParams(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, pathParams map[string]string) {
		if st := invalidParam(r, pathParams); st != nil {
			writeRPCStatus(w, http.StatusBadRequest, st)
			return
		}
		next(w, r, pathParams)
	}
}

// invalidParam returns the INVALID_ARGUMENT status of the first path
// parameter (by name) or query parameter (by name) of r that is not valid
// UTF-8, or nil if all are. The path parameters are keyed by their field
// path ("name", "thread.name"); a query parameter is named as the client
// spelt it ("orderBy", "order_by"). A query string that does not parse
// (a bad percent escape) is left to the route's handler, which answers 400.
func invalidParam(r *http.Request, pathParams map[string]string) *status.Status {
	for _, name := range slices.Sorted(maps.Keys(pathParams)) {
		if !utf8.ValidString(pathParams[name]) {
			return badRequest(name, fmt.Sprintf("path parameter %q is not valid UTF-8", name))
		}
	}
	query, _ := url.ParseQuery(r.URL.RawQuery) // errors: see above
	for _, name := range slices.Sorted(maps.Keys(query)) {
		if !utf8.ValidString(name) {
			// The field names what the client sent, made printable.
			return badRequest(strings.ToValidUTF8(name, "\uFFFD"),
				fmt.Sprintf("query parameter name %s is not valid UTF-8", strconv.Quote(name)))
		}
		for _, v := range query[name] {
			if !utf8.ValidString(v) {
				return badRequest(name, fmt.Sprintf("query parameter %q is not valid UTF-8", name))
			}
		}
	}
	return nil
}

// badRequest returns an INVALID_ARGUMENT status with message msg and the
// details the server gives its own (server/errors.go): an ErrorInfo of the
// forum's domain and a BadRequest naming field. field and msg must be
// valid UTF-8.
func badRequest(field, msg string) *status.Status {
	st := status.New(codes.InvalidArgument, msg)
	withDetails, err := st.WithDetails(
		&errdetails.ErrorInfo{Reason: reasonInvalidArgument, Domain: errorDomain},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: msg}}},
	)
	if err != nil { // cannot happen: both details marshal
		return st
	}
	return withDetails
}

// noResponseMetadata is the mux's outgoing header and trailer matcher: no
// gRPC response metadata becomes an HTTP header or trailer. The server sets
// none for HTTP clients; grpc-gateway's default would send gRPC's own
// (Grpc-Metadata-Content-Type: application/grpc) and anything a future
// interceptor sets for gRPC clients. To expose a header deliberately,
// return its HTTP name here.
func noResponseMetadata(string) (string, bool) { return "", false }

// strictJSONPb is the gateway's JSON marshaler: runtime.JSONPb, except that
// a request body must hold one JSON value and nothing after it but JSON
// whitespace. runtime.JSONPb decodes with a json.Decoder and ignores what
// follows the first value ({"body":"x"}garbage, or a second object), so a
// proxy inspecting the body and forumd could read one request two ways.
type strictJSONPb struct {
	runtime.JSONPb
}

// NewDecoder implements runtime.Marshaler: a decoder of one JSON value from
// r that fails if r holds more.
func (j *strictJSONPb) NewDecoder(r io.Reader) runtime.Decoder {
	return &strictDecoder{
		DecoderWrapper: runtime.DecoderWrapper{Decoder: json.NewDecoder(r), UnmarshalOptions: j.UnmarshalOptions},
		r:              r,
	}
}

// Unmarshal implements runtime.Marshaler with the same rule as NewDecoder.
func (j *strictJSONPb) Unmarshal(data []byte, v any) error {
	return j.NewDecoder(bytes.NewReader(data)).Decode(v)
}

// strictDecoder is the decoder of strictJSONPb.
type strictDecoder struct {
	runtime.DecoderWrapper
	r io.Reader // what the json.Decoder reads
}

// Decode decodes one JSON value into v, then reads the rest of the input,
// which must be JSON whitespace. An empty input gives io.EOF, which the
// generated handlers take as an empty body.
func (d *strictDecoder) Decode(v any) error {
	if err := d.DecoderWrapper.Decode(v); err != nil {
		return err
	}
	return onlyWhitespace(io.MultiReader(d.Buffered(), d.r), d.InputOffset())
}

// onlyWhitespace reads r to its end and fails at the first byte that is not
// JSON whitespace (space, tab, CR, LF); offset is the position of r's first
// byte in the body, for the message. Read errors are wrapped, so that the
// error handler still sees a body over the size limit.
func onlyWhitespace(r io.Reader, offset int64) error {
	buf := make([]byte, 512)
	for {
		n, err := r.Read(buf)
		for i, c := range buf[:n] {
			switch c {
			case ' ', '\t', '\r', '\n':
			default:
				return fmt.Errorf("request body: unexpected data after the JSON value at byte %d", offset+int64(i))
			}
		}
		offset += int64(n)
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			return fmt.Errorf("request body: %w", err)
		}
	}
}

// writeRPCStatus writes st as google.rpc.Status JSON with the given HTTP
// status, for the errors the gateway answers itself rather than through
// grpc-gateway's error handler.
func writeRPCStatus(w http.ResponseWriter, httpStatus int, st *status.Status) {
	body, err := protojson.Marshal(st.Proto())
	if err != nil { // invalid UTF-8 in the message or details
		body = []byte(`{"code":13,"message":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
}
