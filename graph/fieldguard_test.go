package graph

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/stretchr/testify/require"

	"bitgate/internal/metrics"
)

// TestFieldMiddlewareIsRefused registers, after NewServer, what a tracer
// or a log of fields would: an AroundFields function, or an extension that
// is a graphql.FieldInterceptor. The executor written by graph/gen would
// marshal its in-place fields past it, so every operation is refused as an
// internal error that names the cause in the log. The extensions that do
// not touch fields, the metrics' among them, leave the server answering.
func TestFieldMiddlewareIsRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		use     func(*handler.Server)
		refused bool
	}{
		{"none", func(*handler.Server) {}, false},
		{"metrics", func(srv *handler.Server) { srv.Use(metrics.New().GraphQLExtension()) }, false},
		{"AroundRootFields", func(srv *handler.Server) {
			srv.AroundRootFields(func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler { return next(ctx) })
		}, false},
		{"AroundFields", func(srv *handler.Server) {
			srv.AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) { return next(ctx) })
		}, true},
		{"a FieldInterceptor", func(srv *handler.Server) { srv.Use(fieldTracer{}) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logged bytes.Buffer
			srv := NewServer(ServerConfig{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
			tc.use(srv.Server)
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ __typename }"}`)).
				WithContext(context.Background())
			r.Header.Set("Content-Type", "application/json")
			srv.ServeHTTP(w, r)
			if !tc.refused {
				require.JSONEq(t, `{"data":{"__typename":"Query"}}`, w.Body.String())
				require.Empty(t, logged.String())
				return
			}
			require.JSONEq(t, `{"errors":[{"message":"internal server error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}`, w.Body.String())
			require.Contains(t, logged.String(), errFieldMiddleware.Error())
		})
	}
}

// fieldTracer is a field middleware as tracers write them.
type fieldTracer struct{}

func (fieldTracer) ExtensionName() string                   { return "FieldTracer" }
func (fieldTracer) Validate(graphql.ExecutableSchema) error { return nil }
func (fieldTracer) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	return next(ctx)
}
