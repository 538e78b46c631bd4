package account

import (
	"context"
	"time"

	"github.com/google/uuid"

	"bitgate/ent"
	"bitgate/internal/apperr"
)

// Viewer is the signed-in caller of a request: the user as stored now, and
// the session their access token belongs to, with its second factor as
// stored now. Authenticate reads both with one statement on every request,
// so a session's factor holds on the next request on every instance,
// whatever its access token says.
type Viewer struct {
	User      *ent.User
	SessionID uuid.UUID
	// MFARequired says that the session waits for its second factor:
	// ViewerFrom refuses it (MFA_REQUIRED), and only the fields that read
	// ViewerBeforeSecondFactor answer.
	MFARequired bool
	// MFAPassedAt is when the session passed a second factor; nil if it
	// has not.
	MFAPassedAt *time.Time
	// adminNeedsMFA says that REQUIRE_ADMIN_MFA is on and the session has
	// not passed a second factor: the viewer's ADMIN bit grants nothing.
	adminNeedsMFA bool
	// unverified is set when the server requires a verified email
	// (EMAIL_VERIFICATION=required) and the user's is not: Require
	// refuses every permission until it is.
	unverified bool
}

// errAdminNeedsMFA answers what needs ADMIN for an ADMIN whose session has
// not passed a second factor, under REQUIRE_ADMIN_MFA.
var errAdminNeedsMFA = &apperr.Error{Code: apperr.Forbidden, Reason: apperr.ReasonMFARequired, Permission: "ADMIN",
	Message: "REQUIRE_ADMIN_MFA: ADMIN needs a session that passed a second factor: set one up (enrollTotp) or verify it (verifySecondFactor)"}

// IsAdmin reports whether the viewer holds ADMIN now and may use it: not
// while the server requires a verified email and theirs is not (see
// Require), so that an ADMIN whose email changed acts as nobody else until
// they verify it, and not under REQUIRE_ADMIN_MFA before the session
// passed a second factor.
func (v *Viewer) IsAdmin() bool {
	return !v.unverified && !v.adminNeedsMFA && IsAdmin(v.User.PermissionLevel)
}

// notAdmin is the refusal of what only ADMIN (or the user themself) may
// do: MFA_REQUIRED for an ADMIN whose session must pass a second factor
// first (REQUIRE_ADMIN_MFA), else otherwise.
func (v *Viewer) notAdmin(otherwise error) error {
	if IsAdmin(v.User.PermissionLevel) && v.adminNeedsMFA {
		return errAdminNeedsMFA
	}
	return otherwise
}

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

// ViewerFrom returns the signed-in viewer of ctx, whose session has passed
// its second factor or needs none: every field that needs a caller reads
// it, but those ViewerBeforeSecondFactor serves. It returns an
// UNAUTHENTICATED error for an anonymous request and for one whose token
// was refused, and FORBIDDEN with the reason MFA_REQUIRED for a session
// that waits for its second factor.
func ViewerFrom(ctx context.Context) (*Viewer, error) {
	v, err := ViewerBeforeSecondFactor(ctx)
	if err == nil && v.MFARequired {
		return nil, apperr.ErrMFARequired
	}
	return v, err
}

// ViewerBeforeSecondFactor returns the signed-in viewer of ctx even while
// the session waits for its second factor. Only me (with its
// mfaEnabled), signout and the operations that pass the factor
// (verifySecondFactor and the passkey verification) may read it:
// everything else reads ViewerFrom. It returns
// an UNAUTHENTICATED error for an anonymous request and for one whose
// token was refused.
func ViewerBeforeSecondFactor(ctx context.Context) (*Viewer, error) {
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
// now, ADMIN implying every bit: the rule of @hasPermission. It returns, in
// this order, UNAUTHENTICATED for an anonymous request and for one whose
// token was refused, FORBIDDEN with the reason MFA_REQUIRED for a session
// that waits for its second factor, and FORBIDDEN as Require does.
func Authorize(ctx context.Context, bit int) (*Viewer, error) {
	v, err := ViewerFrom(ctx)
	if err != nil {
		return nil, err
	}
	return v, v.Require(bit)
}

// Require returns nil if the viewer holds permission bit now, ADMIN
// implying every bit (see IsAdmin). It returns FORBIDDEN with the reason
// EMAIL_NOT_VERIFIED while the server requires a verified email and the
// viewer's is not, with the reason MFA_REQUIRED for an ADMIN who may not
// use ADMIN yet (REQUIRE_ADMIN_MFA), and FORBIDDEN naming the permission
// for a viewer without the bit.
func (v *Viewer) Require(bit int) error {
	switch {
	case v.unverified:
		return errEmailNotVerified
	case v.User.PermissionLevel&bit&^PermAdmin != 0 || v.IsAdmin():
		return nil
	case IsAdmin(v.User.PermissionLevel):
		return errAdminNeedsMFA
	}
	return apperr.NeedsPermission(permissionNames[bit])
}

// Lookup is a batch read's answer for one id: the object, or the error
// that the field of its type answers for it to the viewer.
type Lookup[T any] struct {
	Value T
	Err   error
}
