package server

import (
	"context"
	"errors"
	"log/slog"

	"github.com/forumhq/forum/server/store"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
)

// errorDomain is the ErrorInfo domain of every error the forum returns.
const errorDomain = "forum"

// statusTable maps domain errors to gRPC codes and ErrorInfo reasons. It is
// the only place where that mapping lives; errors are matched with
// errors.Is, so wrapping keeps their meaning.
var statusTable = []struct {
	err    error
	code   codes.Code
	reason string
}{
	{store.ErrInvalidArgument, codes.InvalidArgument, "INVALID_ARGUMENT"},
	{store.ErrNotFound, codes.NotFound, "NOT_FOUND"},
	{store.ErrAlreadyExists, codes.AlreadyExists, "ALREADY_EXISTS"},
	{store.ErrFailedPrecondition, codes.FailedPrecondition, "FAILED_PRECONDITION"},
	{store.ErrAborted, codes.Aborted, "ETAG_MISMATCH"},
	{store.ErrPermissionDenied, codes.PermissionDenied, "PERMISSION_DENIED"},
	{store.ErrUnauthenticated, codes.Unauthenticated, "UNAUTHENTICATED"},
	{errResourceExhausted, codes.ResourceExhausted, "RESOURCE_EXHAUSTED"},
	{kv.ErrClosed, codes.Unavailable, "SHUTTING_DOWN"},
	{context.Canceled, codes.Canceled, "CANCELLED"},
	{context.DeadlineExceeded, codes.DeadlineExceeded, "DEADLINE_EXCEEDED"},
}

// errResourceExhausted is returned when a server limit is reached.
var errResourceExhausted = errors.New("resource exhausted")

// toStatus converts err to a gRPC status error. Domain errors keep their
// message; anything unknown is logged and returned as INTERNAL without
// detail, so internals never reach a client.
func toStatus(ctx context.Context, log *slog.Logger, method string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(interface{ GRPCStatus() *status.Status }); ok {
		return err
	}
	for _, e := range statusTable {
		if !errors.Is(err, e.err) {
			continue
		}
		st := status.New(e.code, err.Error())
		details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: e.reason, Domain: errorDomain}}
		var ia *store.InvalidArgumentError
		if errors.As(err, &ia) {
			br := &errdetails.BadRequest{}
			for _, v := range ia.Violations {
				br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description})
			}
			details = append(details, br)
		}
		if withDetails, derr := st.WithDetails(details...); derr == nil {
			st = withDetails
		}
		return st.Err()
	}
	log.ErrorContext(ctx, "internal error", "method", method, "err", err)
	return status.Error(codes.Internal, "internal error")
}
