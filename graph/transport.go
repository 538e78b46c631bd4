package graph

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Media types of GraphQL answers.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// Server is the GraphQL endpoint NewServer builds: gqlgen's server with its
// extensions, and the one reader of GraphQL-over-HTTP requests and writer
// of error answers (see httpTransport).
type Server struct {
	*handler.Server
	transport httpTransport
}

// Refuse answers a request that the HTTP layer refuses before GraphQL
// reads it (a body over the limit, no place to run) with status and err,
// presented and written as every error answer of GraphQL is: an errors
// array without data, err's code, and 503 with Retry-After for
// SERVICE_UNAVAILABLE.
func (s *Server) Refuse(w http.ResponseWriter, r *http.Request, status int, err error) {
	s.transport.refuse(w, r, status, err)
}

// httpTransport serves GraphQL over GET and POST as the GraphQL-over-HTTP
// spec asks, in the ways gqlgen's transport.GET and transport.POST cannot
// be told to:
//
//   - it reads each request one way only (see readRequest), and answers
//     one it cannot read with a 4xx status, coded, without echoing it
//     (gqlgen echoes a body, and it may hold a password);
//   - a request error (one raised before the operation runs: parse,
//     validation, limits, persisted documents) has no data entry (gqlgen
//     writes "data": null), and its status is 200 under application/json
//     (gqlgen: 422 for parse and validation errors) and 400 under
//     application/graphql-response+json (gqlgen: 200 for the others);
//   - a mutation over GET is 405 with Allow: POST, also when its text comes
//     from a persisted document (gqlgen: 406 without an error code);
//   - it reads documentId, the id of a trusted document, from the body or
//     the URL (gqlgen does not);
//   - an answer that is all SERVICE_UNAVAILABLE is 503 (see
//     executionStatus).
//
// The HTTP layer has read the body already, within its limit.
type httpTransport struct {
	present graphql.ErrorPresenterFunc
}

var _ graphql.Transport = httpTransport{}

// Supports takes every request: readRequest refuses the methods it does
// not serve.
func (httpTransport) Supports(*http.Request) bool { return true }

// Do answers one request.
func (t httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	start := graphql.Now()
	params, documentID, refusal := readRequest(r)
	if refusal != nil {
		if refusal.allow != "" {
			w.Header().Set("Allow", refusal.allow)
		}
		t.refuse(w, r, refusal.status, refusal.err)
		return
	}
	media := responseMedia(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", media)
	ctx := r.Context()
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	if documentID != "" {
		ctx = withDocumentID(ctx, documentID)
	}
	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		status := http.StatusOK
		if media == mediaGraphQLResponse {
			status = http.StatusBadRequest
		}
		requestError(graphql.WithOperationContext(ctx, opCtx), w, exec, status, errs...)
		return
	}
	if op := opCtx.Operation.Operation; r.Method == http.MethodGet && op != ast.Query {
		w.Header().Set("Allow", http.MethodPost)
		err := gqlerror.Errorf("GET runs queries only: send a %s with POST", op)
		errcode.Set(err, errcode.ValidationFailed)
		requestError(graphql.WithOperationContext(ctx, opCtx), w, exec, http.StatusMethodNotAllowed, err)
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	resp := responses(ctx)
	if resp == nil {
		// gqlgen runs nothing when the request's context ended before
		// the operation started (its deadline passed while it was
		// authenticated, say) and answers nil: answer why instead of null
		// (SERVICE_UNAVAILABLE, from the error presenter).
		cause := context.Cause(ctx)
		if cause == nil {
			cause = errors.New("gqlgen answered nothing") // an internal error
		}
		resp = exec.DispatchError(ctx, gqlerror.List{gqlerror.WrapPath(nil, cause)})
	}
	status := executionStatus(w, resp)
	if len(resp.Errors) == 0 && len(resp.Extensions) == 0 && resp.Label == "" && resp.Path == nil && resp.HasNext == nil && len(resp.Data) > 0 {
		writeData(w, status, resp.Data)
		return
	}
	writeJSON(w, status, resp)
}

// refuse answers a request that is not a GraphQL request it can read: err
// through the error presenter, but not through the extensions that see
// operations (the metrics count it under its HTTP status).
func (t httpTransport) refuse(w http.ResponseWriter, r *http.Request, status int, err error) {
	w.Header().Set("Content-Type", responseMedia(r.Header.Get("Accept")))
	writeErrors(w, status, gqlerror.List{t.present(r.Context(), err)}, nil)
}

// requestError answers errors raised before the operation ran: through
// the error presenter and the extensions that see responses, without a
// data entry.
func requestError(ctx context.Context, w http.ResponseWriter, exec graphql.GraphExecutor, status int, errs ...*gqlerror.Error) {
	resp := exec.DispatchError(ctx, errs)
	writeErrors(w, status, resp.Errors, resp.Extensions)
}

// writeErrors is the one writer of answers that are errors alone, without
// a data entry: request errors, and refusals of requests never read as
// GraphQL (by the transport, or by the HTTP layer through Server.Refuse).
// It writes status, but 503 with Retry-After when every error is
// SERVICE_UNAVAILABLE (see unavailableFor).
func writeErrors(w http.ResponseWriter, status int, errs gqlerror.List, extensions map[string]any) {
	resp := &graphql.Response{Errors: errs, Extensions: extensions}
	if after := unavailableFor(resp); after > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(after))
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, struct {
		Errors     gqlerror.List  `json:"errors"`
		Extensions map[string]any `json:"extensions,omitempty"`
	}{errs, extensions})
}

// writeData writes an answer that is data alone. The executor wrote data
// as JSON already, which json.Marshal would check and copy once more.
func writeData(w http.ResponseWriter, status int, data []byte) {
	w.WriteHeader(status)
	_, _ = io.WriteString(w, `{"data":`)
	_, _ = w.Write(data)
	_, _ = io.WriteString(w, "}")
}

// writeJSON writes v as the answer's body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Every value here is data gqlgen produced or errors: a failure
		// is a bug, answered like any internal error.
		status = http.StatusInternalServerError
		b = []byte(`{"errors":[{"message":"internal server error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}`)
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// responseMedia picks the media type of the answer from an Accept header:
// the first of application/graphql-response+json and application/json it
// names (*/* and application/* meaning application/json), application/json
// when it is absent, and application/graphql-response+json when it names
// neither, as gqlgen does.
func responseMedia(accept string) string {
	if strings.TrimSpace(accept) == "" {
		return mediaJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		case mediaJSON, "*/*", "application/*":
			return mediaJSON
		}
	}
	return mediaGraphQLResponse
}
