// Package client is the Go client of the forum.v1 API, for integrators who
// drive the forum from their own services and scripts; the forumctl command
// is built on it.
//
// # Connecting
//
// New returns a Client for a gRPC target such as "127.0.0.1:7070" or
// "forum.example.org:443". It does not connect: the first call does, and a
// Client reconnects by itself. Close it when done.
//
//	c, err := client.New(ctx, "forum.example.org:443", client.WithToken(token))
//
// The transport is chosen from the target unless an option says otherwise:
//
//   - a loopback target (127.0.0.0/8, ::1, "localhost", or a unix socket)
//     is dialled in plaintext, since forumd listens on loopback without TLS
//     by default and a TLS proxy in front of it is what serves other hosts;
//   - any other target uses TLS, verified against the system's roots.
//
// WithInsecure forces plaintext (the bearer token then travels in the
// clear: use it only on a network you trust) and WithTLSConfig forces TLS
// with a configuration of your own; the two exclude each other.
//
// # Calls
//
// The generated stubs are reachable from the Client: ThemeService,
// ThreadService, ReplyService, UserService, OrganizationService,
// GroupService, InvitationService, ApiTokenService, AuthService,
// EventService, WebhookService and SearchService. On top of them the
// Client has iterators that follow page tokens (Themes, Threads, Replies,
// Users, Organizations, Groups, Invitations, ApiTokens, ListEvents,
// Webhooks, WebhookDeliveries, and Search, over the hits of a full-text
// search), Events, which follows the event log as it grows and
// resumes a dropped stream by itself, creates that fill request_id
// (CreateTheme, CreateThread, CreateFollowUp, CreateReply, CreateUser,
// CreateOrganization), deletes that take options (DeleteThread and
// DeleteReply, with WithReason to say why, shown to readers as the post's
// delete_reason, and WithEtag), the webhook methods (CreateWebhook,
// GetWebhook, UpdateWebhook, DeleteWebhook, RotateWebhookSecret,
// PingWebhook, RedeliverWebhookDelivery), and Login and Logout, which also
// set and clear the token the Client sends.
//
// A webhook's receiver checks each delivery's Forum-Signature header with
// VerifyWebhookSignature, which needs no Client.
//
// Every call made through the Client, the raw stubs included, goes through
// one interceptor that adds the bearer token, applies the WithTimeout
// default deadline when the context has none, fills an empty request_id on
// create requests, and wraps status errors so that errors.Is works (see
// below). Streams (StreamEvents) get the token and the wrapped errors, but
// no default deadline.
//
// # Retries
//
// A call that fails with UNAVAILABLE (the server is restarting, the
// connection dropped) is retried by gRPC itself, following a service-config
// retry policy: at most 4 attempts, with exponential backoff from 100ms up
// to 2s and jitter. The policy names the methods that are safe to repeat,
// chosen by rule from the forum.v1 descriptors (so a method added to the
// API later gets the same treatment):
//
//   - Get and List methods, and Search, which change nothing;
//   - Create methods whose request has a request_id (CreateTheme,
//     CreateThread, CreateReply, CreateUser, CreateOrganization, ...): the
//     Client gives every create a request_id (AIP-155) before the first
//     attempt, so every attempt carries the same id and the server creates
//     the resource at most once, returning the first result to a repeat.
//     CreateApiToken and CreateInvitation are the exception: their response
//     holds a secret shown only once, and a repeat returns the resource
//     without it, so they are not retried;
//   - Login: a repeat can at worst open a second session whose token nobody
//     ever sees, and which expires.
//
// Everything else (Update, Delete, Undelete, Logout, Register, ...) is not
// retried. Their effect is not repeatable in a way a caller would expect: a
// repeated UpdateReply counts a second edit, a repeated update or delete
// carrying an etag fails with ABORTED because the first attempt changed the
// etag, a repeated delete finds the resource already deleted, and a
// repeated Logout finds its token already revoked. A caller that gets
// ErrUnavailable from one of them should read the resource again and
// decide.
//
// # Errors
//
// Errors returned by the Client's methods and stubs are *Error values when
// they carry a gRPC status. They still work with status.FromError and
// status.Code, and errors.Is matches them against the sentinel errors of
// this package: ErrNotFound, ErrAlreadyExists, ErrInvalidArgument,
// ErrFailedPrecondition, ErrConflict (ABORTED: the etag sent is stale),
// ErrPermissionDenied, ErrUnauthenticated, ErrRateLimited (a server limit),
// ErrTooLarge (a message over gRPC's size limit), ErrUnavailable and
// ErrOutOfRange (a revision the event log no longer keeps; OldestRevision
// names the oldest it does); a DEADLINE_EXCEEDED or CANCELLED status also
// matches context.DeadlineExceeded or context.Canceled. FieldViolations lists the
// fields an INVALID_ARGUMENT error names, and RetryDelay the delay a
// RESOURCE_EXHAUSTED error asks for.
package client
