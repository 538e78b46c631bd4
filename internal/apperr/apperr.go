// Package apperr defines the error codes of the API contract. The domain
// code returns *Error values; the GraphQL layer turns them into
// extensions.code in one place. Anything that is not an *Error is internal.
package apperr

import (
	"fmt"
	"math"
	"time"
)

// Code is a contract error code, sent as extensions.code.
type Code string

// The contract's error codes.
const (
	Unauthenticated    Code = "UNAUTHENTICATED"
	Forbidden          Code = "FORBIDDEN"
	BadUserInput       Code = "BAD_USER_INPUT"
	NotFound           Code = "NOT_FOUND"
	Conflict           Code = "CONFLICT"
	RateLimited        Code = "RATE_LIMITED"
	ServiceUnavailable Code = "SERVICE_UNAVAILABLE" // the database cannot be reached in time
	Internal           Code = "INTERNAL_SERVER_ERROR"
)

// Reasons tell a client what to do about an error (extensions.reason).
const (
	// ReasonTokenExpired is the reason of an UNAUTHENTICATED error for an
	// access token that is only too old: the client should refresh.
	ReasonTokenExpired = "TOKEN_EXPIRED"
	// ReasonEmailNotVerified is the reason of a FORBIDDEN error for a
	// caller whose email is not verified while EMAIL_VERIFICATION is
	// required: the client should have them verify it.
	ReasonEmailNotVerified = "EMAIL_NOT_VERIFIED"
	// ReasonMailDisabled is the reason of a FORBIDDEN error for an
	// operation that sends mail on a server whose mail is turned off
	// (MAIL_DISABLED): no retry helps.
	ReasonMailDisabled = "MAIL_DISABLED"
	// ReasonMFARequired is the reason of a FORBIDDEN error for a session
	// that must pass a second factor first (verifySecondFactor), or, under
	// REQUIRE_ADMIN_MFA, an ADMIN's session that has not passed one.
	ReasonMFARequired = "MFA_REQUIRED"
)

// Error is an error a client may see: a code, a message safe to show, and
// for BAD_USER_INPUT the input field, for RATE_LIMITED and
// SERVICE_UNAVAILABLE the seconds to wait before trying again, for some
// UNAUTHENTICATED and FORBIDDEN errors a reason, and for FORBIDDEN from a
// permission check the permission needed.
type Error struct {
	Code       Code
	Message    string
	Field      string // BAD_USER_INPUT only
	RetryAfter int    // RATE_LIMITED and SERVICE_UNAVAILABLE only, in seconds
	// Reason tells a client what to do about an UNAUTHENTICATED or a
	// FORBIDDEN error (see the Reason… constants); empty for most.
	Reason string
	// Permission is the permission a FORBIDDEN caller lacks (FREE, PAID,
	// ADMIN), when one would do.
	Permission string
	Err        error // the cause, logged but never shown
}

// Error returns the message, with the cause for logs.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Extensions returns the GraphQL extensions of the error.
func (e *Error) Extensions() map[string]any {
	ext := map[string]any{"code": string(e.Code)}
	if e.Field != "" {
		ext["field"] = e.Field
	}
	if e.Code == RateLimited || e.Code == ServiceUnavailable {
		ext["retryAfter"] = e.RetryAfter
	}
	if e.Reason != "" {
		ext["reason"] = e.Reason
	}
	if e.Permission != "" {
		ext["requiredPermission"] = e.Permission
	}
	return ext
}

// New returns an error with a code and a message safe to show.
func New(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// Input returns a BAD_USER_INPUT error naming the input field.
func Input(field, msg string) *Error {
	return &Error{Code: BadUserInput, Message: msg, Field: field}
}

// NeedsPermission returns the FORBIDDEN error of a caller who lacks the
// permission named perm (FREE, PAID or ADMIN).
func NeedsPermission(perm string) *Error {
	return &Error{Code: Forbidden, Message: "requires the " + perm + " permission", Permission: perm}
}

// Limited returns a RATE_LIMITED error telling the caller to wait: its
// retryAfter is wait in whole seconds, rounded up, at least 1.
func Limited(msg string, wait time.Duration) *Error {
	return &Error{Code: RateLimited, Message: msg, RetryAfter: seconds(wait)}
}

// OutageRetry is the wait an outage's SERVICE_UNAVAILABLE asks for
// (retryAfter and Retry-After), wherever it is answered.
const OutageRetry = 5 * time.Second

// Unavailable returns a SERVICE_UNAVAILABLE error telling the caller to
// try again after wait (in whole seconds, rounded up, at least 1).
func Unavailable(msg string, wait time.Duration) *Error {
	return &Error{Code: ServiceUnavailable, Message: msg, RetryAfter: seconds(wait)}
}

// seconds returns d in whole seconds, rounded up, at least 1.
func seconds(d time.Duration) int { return max(int(math.Ceil(d.Seconds())), 1) }

// Common errors, shared so that every path answers alike.
var (
	// ErrUnauthenticated is the answer to any missing or refused credential.
	ErrUnauthenticated = New(Unauthenticated, "authentication required")
	// ErrBadCredentials answers a wrong email and a wrong password alike.
	ErrBadCredentials = New(Unauthenticated, "invalid email or password")
	// ErrForbidden answers a signed-in caller without the right.
	ErrForbidden = New(Forbidden, "not allowed")
	// ErrNotFound answers a missing object, and one the caller may not see.
	ErrNotFound = New(NotFound, "not found")
	// ErrMFARequired answers every field that needs a caller, but me,
	// verifySecondFactor and signout, for a session that waits for its
	// second factor.
	ErrMFARequired = &Error{Code: Forbidden, Reason: ReasonMFARequired,
		Message: "this session must pass its second factor first: verifySecondFactor (or finishPasskeyVerification)"}
)
