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
}

// IsAdmin reports whether the viewer holds ADMIN now.
func (v *Viewer) IsAdmin() bool { return IsAdmin(v.User.PermissionLevel) }

// Client describes where a request comes from, for sessions and logs.
type Client struct {
	IP        string
	UserAgent string
	RequestID string
}

type viewerKey struct{}

type clientKey struct{}

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

// Caller returns the signed-in viewer of ctx. It returns an UNAUTHENTICATED
// error for an anonymous request and for one whose token was refused.
func Caller(ctx context.Context) (*Viewer, error) {
	s, _ := ctx.Value(viewerKey{}).(viewerState)
	switch {
	case s.err != nil:
		return nil, s.err
	case s.viewer == nil:
		return nil, apperr.ErrUnauthenticated
	}
	return s.viewer, nil
}

// WithClient returns a context carrying the request's client description.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientFrom returns the client description of ctx, empty if none was set.
func ClientFrom(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}
