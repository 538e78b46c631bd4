package graph

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Media types of GraphQL answers.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// httpTransport serves GraphQL over GET and POST as the GraphQL-over-HTTP
// spec asks, in the ways gqlgen's transport.GET and transport.POST cannot
// be told to:
//
//   - a request error (one raised before the operation runs: parse,
//     validation, limits, persisted documents) has no data entry (gqlgen
//     writes "data": null), and its status is 200 under application/json
//     (gqlgen: 422 for parse and validation errors) and 400 under
//     application/graphql-response+json (gqlgen: 200 for the others);
//   - a mutation over GET is 405 with Allow: POST, also when its text comes
//     from a persisted document (gqlgen: 406 without an error code);
//   - a body or a parameter it cannot read is 400, coded, without echoing
//     the body (gqlgen echoes it, and it may hold a password);
//   - it reads documentId, the id of a trusted document, from the body or
//     the URL (gqlgen does not);
//   - an answer that is all SERVICE_UNAVAILABLE is 503 (see
//     executionStatus).
//
// The HTTP layer has already refused other methods, other content types
// and bodies over the limit.
type httpTransport struct{}

var _ graphql.Transport = httpTransport{}

// Supports takes every GET and POST request.
func (httpTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet || r.Method == http.MethodPost
}

// Do answers one request.
func (httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media := responseMedia(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", media)
	ctx := r.Context()
	start := graphql.Now()
	params, documentID, err := readParams(r)
	if err != nil {
		requestError(ctx, w, exec, http.StatusBadRequest, err)
		return
	}
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

// writeData writes an answer that is data alone. The executor wrote data
// as JSON already, which json.Marshal would check and copy once more.
func writeData(w http.ResponseWriter, status int, data []byte) {
	w.WriteHeader(status)
	_, _ = io.WriteString(w, `{"data":`)
	_, _ = w.Write(data)
	_, _ = io.WriteString(w, "}")
}

// readParams reads a GraphQL request from a POST body ({query,
// operationName, variables, extensions, documentId}) or from GET
// parameters of the same names, variables and extensions as JSON objects.
// Numbers stay json.Number, for gqlgen to coerce. Returns a
// GRAPHQL_PARSE_FAILED error that does not echo the input.
func readParams(r *http.Request) (_ *graphql.RawParams, documentID string, _ *gqlerror.Error) {
	var in struct {
		Query         string         `json:"query"`
		OperationName string         `json:"operationName"`
		Variables     map[string]any `json:"variables"`
		Extensions    map[string]any `json:"extensions"`
		DocumentID    string         `json:"documentId"`
	}
	if r.Method == http.MethodPost {
		if err := decodeJSON(r.Body, &in); err != nil {
			return nil, "", parseError("the body is not a JSON object of query, operationName, variables, extensions and documentId")
		}
	} else {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, "", parseError("the URL's query string is malformed")
		}
		in.Query, in.OperationName, in.DocumentID = q.Get("query"), q.Get("operationName"), q.Get("documentId")
		for name, dst := range map[string]*map[string]any{"variables": &in.Variables, "extensions": &in.Extensions} {
			if v := q.Get(name); v != "" && decodeJSON(strings.NewReader(v), dst) != nil {
				return nil, "", parseError(name + " must be a JSON object")
			}
		}
	}
	p := &graphql.RawParams{Query: in.Query, OperationName: in.OperationName, Variables: in.Variables, Extensions: in.Extensions}
	return p, in.DocumentID, nil
}

// decodeJSON decodes one JSON value into dst, keeping numbers as
// json.Number.
func decodeJSON(r io.Reader, dst any) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	return dec.Decode(dst)
}

// parseError is a request gqlgen cannot read.
func parseError(msg string) *gqlerror.Error {
	err := gqlerror.Errorf("%s", msg)
	errcode.Set(err, errcode.ParseFailed)
	return err
}

// requestError answers errors raised before the operation ran: through
// the error presenter, without a data entry.
func requestError(ctx context.Context, w http.ResponseWriter, exec graphql.GraphExecutor, status int, errs ...*gqlerror.Error) {
	resp := exec.DispatchError(ctx, errs)
	writeJSON(w, status, struct {
		Errors     gqlerror.List  `json:"errors"`
		Extensions map[string]any `json:"extensions,omitempty"`
	}{resp.Errors, resp.Extensions})
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
