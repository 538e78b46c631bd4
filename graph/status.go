package graph

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"bitgate/internal/apperr"
)

// executionStatus returns the HTTP status of an operation's answer, and
// sets its Retry-After: 200, but 503 with Retry-After for an answer that
// holds nothing but SERVICE_UNAVAILABLE (no root field answered, every
// error that code). The whole request failed because the server cannot
// serve now, which load balancers, monitoring and clients' retry logic
// (Apollo's RetryLink, urql's retryExchange) understand. An answer with
// some data is a partial answer and stays 200, as the GraphQL-over-HTTP
// spec asks; so is every other error.
func executionStatus(w http.ResponseWriter, resp *graphql.Response) int {
	after := unavailableFor(resp)
	if after == 0 {
		return http.StatusOK
	}
	w.Header().Set("Retry-After", strconv.Itoa(after))
	return http.StatusServiceUnavailable
}

// unavailableFor returns the largest retryAfter of resp's errors when every
// error is SERVICE_UNAVAILABLE and no root field has data, else 0.
func unavailableFor(resp *graphql.Response) int {
	if resp == nil {
		return 0
	}
	after := 0
	for _, e := range resp.Errors {
		if e.Extensions["code"] != string(apperr.ServiceUnavailable) {
			return 0
		}
		n, _ := e.Extensions["retryAfter"].(int)
		after = max(after, n)
	}
	if after == 0 || !noData(resp.Data) {
		return 0
	}
	return after
}

// noData reports whether data is null or holds only null root fields.
func noData(data json.RawMessage) bool {
	if len(data) == 0 || string(data) == "null" {
		return true
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil {
		return false
	}
	for _, v := range fields {
		if string(v) != "null" {
			return false
		}
	}
	return true
}
