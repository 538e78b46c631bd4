package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"bitgate/ent"
	"bitgate/ent/schema/uuidgql"
	"bitgate/internal/apperr"
	"bitgate/internal/database"
)

// errorPresenter returns the GraphQL error presenter: it gives every error
// one of the contract's codes, and keeps internal detail in the log only
// (an outage's in outages, if set).
func errorPresenter(log *slog.Logger, outages *database.OutageLog) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		pub := publicError(err, gqlErr)
		if pub == nil {
			if _, ok := gqlErr.Extensions["code"]; ok && gqlErr.Err == nil {
				return gqlErr // gqlgen's own: parse, validation, complexity
			}
			pub = serverError(ctx, log, outages, gqlErr.Path, err)
		}
		gqlErr.Message = pub.Message
		gqlErr.Extensions = pub.Extensions()
		return gqlErr
	}
}

// serverError answers an error that no rule of the contract explains, and
// logs it at the level it deserves. A request cancelled (its client went
// away, or a shutdown cancelled the requests left) failed because of that:
// it answers SERVICE_UNAVAILABLE, which the client is usually gone to
// read, and is logged at debug. A database that cannot be reached or did not
// answer in time (or a request past its deadline) is an outage, not a bug:
// it answers SERVICE_UNAVAILABLE and goes to outages, which logs a few
// warnings per outage (without it, one per error). Anything else is an
// internal error, logged as one.
func serverError(ctx context.Context, log *slog.Logger, outages *database.OutageLog, path ast.Path, err error) *apperr.Error {
	where := slog.String("path", path.String())
	unavailable := database.IsUnavailable(err)
	switch {
	case errors.Is(ctx.Err(), context.Canceled) && (unavailable || errors.Is(err, context.Canceled)):
		log.DebugContext(ctx, "request cancelled", where, slog.Any("error", err))
	case unavailable && outages != nil:
		outages.Refused(ctx, err, where)
	case unavailable:
		log.WarnContext(ctx, "database unavailable", where, slog.Any("error", err))
	default:
		log.ErrorContext(ctx, "internal error", where, slog.Any("error", err))
		return apperr.New(apperr.Internal, "internal server error")
	}
	return apperr.Unavailable("the service is unavailable, retry later", apperr.OutageRetry)
}

// publicError translates the errors a client may see into *apperr.Error, or
// returns nil for an internal error.
func publicError(err error, gqlErr *gqlerror.Error) *apperr.Error {
	var (
		ae *apperr.Error
		ve *ent.ValidationError
		ce *ent.ConstraintError
	)
	switch {
	case errors.As(err, &ae):
		if ae.Code == apperr.Internal {
			return nil
		}
		return ae
	case errors.As(err, &ve):
		return apperr.Input(camel(ve.Name), fmt.Sprintf("%s: %v", camel(ve.Name), innermost(ve)))
	case errors.As(err, &ce):
		return apperr.New(apperr.Conflict, "conflicts with existing data")
	case errors.Is(err, uuidgql.ErrInvalidID):
		return apperr.Input(lastField(gqlErr.Path), "invalid ID: must be a UUID")
	case gqlErr.Err == nil && gqlErr.Extensions["code"] == nil:
		// gqlgen's own refusals of a request it cannot run ("introspection
		// disabled", …): their messages are safe; they lack only a code.
		return &apperr.Error{Code: errcode.ValidationFailed, Message: gqlErr.Message}
	}
	return nil
}

// innermost returns the last error of err's chain: for ent's validation
// errors, the validator's own words, without ent's wrapping.
func innermost(err error) error {
	for next := errors.Unwrap(err); next != nil; next = errors.Unwrap(err) {
		err = next
	}
	return err
}

// camel turns an ent field name (published_year) into its GraphQL name
// (publishedYear).
func camel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// lastField returns the last field name of an error path: the argument or
// input field that failed to parse.
func lastField(path ast.Path) string {
	for i := len(path) - 1; i >= 0; i-- {
		if name, ok := path[i].(ast.PathName); ok {
			return string(name)
		}
	}
	return ""
}

// recoverFunc turns a resolver panic into an internal error, logged with
// its stack.
func recoverFunc(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
		return apperr.New(apperr.Internal, "internal server error")
	}
}
