package httpapi

import (
	"context"
	"log/slog"

	"bitgate/internal/account"
)

// LogRequestIDs returns log with the request id (request_id) added to
// every record logged with a request's context, so that every line a
// request causes, in any layer, names it (the id identify gives the
// request and X-Request-ID echoes).
func LogRequestIDs(log *slog.Logger) *slog.Logger {
	return slog.New(requestIDHandler{log.Handler()})
}

// requestIDHandler adds the request id of the context to every record.
type requestIDHandler struct{ slog.Handler }

// Handle adds request_id when the context has one.
func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := account.RequestInfoFrom(ctx).RequestID; id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the wrapper around the derived handler.
func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup keeps the wrapper around the derived handler.
func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
