package account

import (
	"context"

	"github.com/google/uuid"

	"bitgate/ent"
	"bitgate/internal/apperr"
)

// Viewer is the signed-in caller of a request: the user as stored now, and
// the session their access token belongs to.
type Viewer struct {
	User      *ent.User
	SessionID uuid.UUID
	// unverified is set when the server requires a verified email
	// (EMAIL_VERIFICATION=required) and the user's is not: Require
	// refuses every permission until it is.
	unverified bool
}

// IsAdmin reports whether the viewer holds ADMIN now and may use it: not
// while the server requires a verified email and theirs is not (see
// Require), so that an ADMIN whose email changed acts as nobody else until
// they verify it.
func (v *Viewer) IsAdmin() bool { return !v.unverified && IsAdmin(v.User.PermissionLevel) }

// RequestInfo describes where a request comes from, for sessions, rate
// limits and logs: the client's address, its user agent and the request id.
type RequestInfo struct {
	IP        string
	UserAgent string
	RequestID string
}

// Context keys; each has a With… setter and a …From getter below.
type (
	viewerKey      struct{}
	requestInfoKey struct{}
)

// viewerState is what the authentication middleware found: a viewer, an
// error (a token was sent but refused), or neither (anonymous).
type viewerState struct {
	viewer *Viewer
	err    error
}

// WithViewer returns a context carrying the outcome of authentication: v for
// a valid token, err for a refused one, both nil for an anonymous request.
func WithViewer(ctx context.Context, v *Viewer, err error) context.Context {
	return context.WithValue(ctx, viewerKey{}, viewerState{viewer: v, err: err})
}

// ViewerFrom returns the signed-in viewer of ctx. It returns an
// UNAUTHENTICATED error for an anonymous request and for one whose token
// was refused.
func ViewerFrom(ctx context.Context) (*Viewer, error) {
	s, _ := ctx.Value(viewerKey{}).(viewerState)
	switch {
	case s.err != nil:
		return nil, s.err
	case s.viewer == nil:
		return nil, apperr.ErrUnauthenticated
	}
	return s.viewer, nil
}

// WithRequestInfo returns a context carrying where the request comes from.
func WithRequestInfo(ctx context.Context, info RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

// RequestInfoFrom returns where the request of ctx comes from, empty if
// nothing was set.
func RequestInfoFrom(ctx context.Context) RequestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(RequestInfo)
	return info
}

// Authorize returns the signed-in viewer of ctx if they hold permission bit
// now, ADMIN implying every bit: the rule of @hasPermission. It returns
// UNAUTHENTICATED for an anonymous request and for one whose token was
// refused, and FORBIDDEN as Require does.
func Authorize(ctx context.Context, bit int) (*Viewer, error) {
	v, err := ViewerFrom(ctx)
	if err != nil {
		return nil, err
	}
	return v, v.Require(bit)
}

// Require returns nil if the viewer holds permission bit now, ADMIN
// implying every bit. It returns FORBIDDEN with the reason
// EMAIL_NOT_VERIFIED while the server requires a verified email and the
// viewer's is not, and FORBIDDEN naming the permission for a viewer
// without the bit.
func (v *Viewer) Require(bit int) error {
	if v.unverified {
		return errEmailNotVerified
	}
	if !Allowed(v.User.PermissionLevel, bit) {
		return apperr.NeedsPermission(permissionNames[bit])
	}
	return nil
}

// Lookup is a batch read's answer for one id: the object, or the error
// that the field of its type answers for it to the viewer.
type Lookup[T any] struct {
	Value T
	Err   error
}
