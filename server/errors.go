package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"syscall"

	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/server/store"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
)

// statusTable maps the errors that are not of a domain kind (errs.Kind),
// the engine's and the context's, to gRPC codes, ErrorInfo reasons and the
// message the client gets. The kinds carry their own code and reason
// (errs.Kind.Code, Reason). Together they are the only place where that
// mapping lives; errors are matched with errors.Is, so wrapping keeps their
// meaning.
var statusTable = []struct {
	err    error
	code   codes.Code
	reason string
	// message is what the client is told; nil means err.Error(), for the
	// errors whose text is written for clients.
	message func(err error) string
}{
	// A storage error stopped the writes (fail-stop, store.Err): the
	// error names files, so the client is told only the cause.
	{store.ErrWritesStopped, codes.Unavailable, "WRITES_STOPPED", writesStoppedMessage},
	{store.ErrClosed, codes.Unavailable, "SHUTTING_DOWN", nil},
	// One call's writes over the engine's bound (store.MaxUpdateSize); the
	// API's own limits (1 MiB bodies) keep every request far below it.
	{store.ErrTooLarge, codes.InvalidArgument, "TOO_LARGE", func(error) string {
		return fmt.Sprintf("the request writes more than the limit of %d MiB", store.MaxUpdateSize>>20)
	}},
	{context.Canceled, codes.Canceled, "CANCELLED", nil},
	{context.DeadlineExceeded, codes.DeadlineExceeded, "DEADLINE_EXCEEDED", nil},
}

// writesStoppedMessage says, in words safe to show to clients (no paths, no
// driver text), why writes are stopped after err, the store's error once a
// storage error stopped it writing (store.Err): "writes are stopped: disk
// full" (ENOSPC, EDQUOT), "writes are stopped: storage I/O error" (EIO), or
// "writes are stopped: storage error". Write errors and /healthz both use
// it (NotServingReason).
func writesStoppedMessage(err error) string {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return "writes are stopped: disk full"
	case errors.Is(err, syscall.EIO):
		return "writes are stopped: storage I/O error"
	default:
		return "writes are stopped: storage error"
	}
}

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
	if k := errs.KindOf(err); k != errs.Other {
		return newStatus(k.Code(), k.Reason(), err.Error(), err)
	}
	for _, e := range statusTable {
		if errors.Is(err, e.err) {
			msg := err.Error()
			if e.message != nil {
				msg = e.message(err)
			}
			return newStatus(e.code, e.reason, msg, err)
		}
	}
	log.ErrorContext(ctx, "internal error", "method", method, "err", err)
	return status.Error(codes.Internal, "internal error")
}

// newStatus is the status error of code with msg, an ErrorInfo of reason
// and, when err holds field violations, a BadRequest naming them.
func newStatus(code codes.Code, reason, msg string, err error) error {
	st := status.New(code, msg)
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: reason, Domain: errs.Domain, Metadata: errs.MetadataOf(err)}}
	var ia *errs.InvalidArgumentError
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
