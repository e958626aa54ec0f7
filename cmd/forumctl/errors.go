package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/forumhq/forum/client"
)

// Exit codes. They are listed in the root command's help; keep both in step.
const (
	exitOK          = 0
	exitError       = 1 // anything not below
	exitUsage       = 2 // bad command line: unknown command or flag, missing argument
	exitUnauth      = 3 // not logged in, or the token is unknown, revoked or expired
	exitPermission  = 4 // logged in, but the role may not do this
	exitNotFound    = 5 // no such thread, reply, theme, user, group, invitation or token
	exitConflict    = 6 // stale etag, already exists, or a state that refuses it (a locked thread, a used invitation)
	exitUnavailable = 7 // the server cannot be reached, is shutting down, or did not answer in time
	exitInvalid     = 8 // the server rejected a field of the request, or a revision it no longer keeps
	exitRateLimited = 9 // the server asks to slow down
)

// exitCodesSummary is the exit codes' part of the root command's help.
const exitCodesSummary = `Exit status:
  0  success
  1  other error
  2  usage error (unknown command or flag, missing or extra argument)
  3  not logged in, or the token was refused (log in again)
  4  permission denied (your role may not do this)
  5  not found (no such thread, reply, theme, user, group, invitation or token)
  6  conflict (changed meanwhile, already exists, or refused in this state:
     a locked thread, a used invitation, a group a theme is restricted to)
  7  server unreachable, shutting down, or too slow (see --timeout)
  8  invalid argument (the server rejected a field, or a revision it no
     longer keeps)
  9  rate limited (try again later)`

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// errNotLoggedIn is returned before a call that needs a token when there is
// none.
var errNotLoggedIn = errors.New("not logged in")

// errLoginRefused is a login with a wrong username or password.
var errLoginRefused = errors.New("login refused")

// describe returns the exit code for err, returned by the command at path,
// and a one-line message.
func (a *app) describe(err error, path string) (int, string) {
	msg := oneLine(err.Error())
	var u usageError
	if errors.As(err, &u) || !a.started {
		// Errors before a command runs come from parsing the command line.
		return exitUsage, fmt.Sprintf("%s (see '%s --help')", msg, path)
	}
	var ce *client.Error
	if !errors.As(err, &ce) {
		switch {
		case errors.Is(err, errNotLoggedIn):
			return exitUnauth, fmt.Sprintf("not logged in to %s: run 'forumctl login', or set FORUM_TOKEN", a.serverAddr)
		case errors.Is(err, errLoginRefused):
			return exitUnauth, msg
		case errors.Is(err, client.ErrNotFound):
			// A lookup forumctl makes itself, such as a username.
			return exitNotFound, strings.TrimPrefix(msg, client.ErrNotFound.Error()+": ")
		case errors.Is(err, context.Canceled):
			return exitError, "interrupted"
		}
		return exitError, msg
	}
	srvMsg := oneLine(ce.Message())
	switch {
	case errors.Is(err, client.ErrUnauthenticated):
		if a.tokenUsed == "" {
			return exitUnauth, fmt.Sprintf("not logged in to %s: run 'forumctl login', or set FORUM_TOKEN", a.serverAddr)
		}
		return exitUnauth, fmt.Sprintf("%s refused the token (%s): run 'forumctl login' again", a.serverAddr, srvMsg)
	case errors.Is(err, client.ErrPermissionDenied):
		return exitPermission, srvMsg
	case errors.Is(err, client.ErrNotFound):
		return exitNotFound, srvMsg
	case errors.Is(err, client.ErrConflict):
		return exitConflict, srvMsg + " (it changed since it was read; try again)"
	case errors.Is(err, client.ErrAlreadyExists), errors.Is(err, client.ErrFailedPrecondition):
		return exitConflict, srvMsg
	case errors.Is(err, client.ErrInvalidArgument):
		return exitInvalid, srvMsg
	case errors.Is(err, client.ErrOutOfRange):
		if oldest, ok := client.OldestRevision(err); ok {
			return exitInvalid, fmt.Sprintf("%s (start there with --from %d)", srvMsg, oldest)
		}
		return exitInvalid, srvMsg
	case errors.Is(err, client.ErrRateLimited):
		if d, ok := client.RetryDelay(err); ok && !strings.Contains(srvMsg, "retry") {
			return exitRateLimited, fmt.Sprintf("%s (try again in %v)", srvMsg, d)
		}
		return exitRateLimited, srvMsg
	case errors.Is(err, client.ErrTooLarge):
		return exitError, srvMsg + " (a message was larger than gRPC allows)"
	case errors.Is(err, client.ErrUnavailable):
		return exitUnavailable, fmt.Sprintf("cannot reach the forum server at %s: %s", a.serverAddr, unavailableReason(srvMsg))
	case errors.Is(err, context.DeadlineExceeded):
		return exitUnavailable, fmt.Sprintf("the forum server at %s did not answer in time (--timeout %v)", a.serverAddr, a.timeout)
	case errors.Is(err, context.Canceled):
		return exitError, "interrupted"
	}
	return exitError, ce.Error()
}

// unavailableReason shortens gRPC's transport messages, such as
// `connection error: desc = "transport: Error while dialing: dial tcp
// 127.0.0.1:1: connect: connection refused"`, to their last part.
func unavailableReason(msg string) string {
	for _, reason := range []string{"connection refused", "no such host", "i/o timeout", "network is unreachable", "connection reset by peer"} {
		if strings.Contains(msg, reason) {
			return reason
		}
	}
	return msg
}

// oneLine folds s onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
