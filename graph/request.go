package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// requestKeys are the parameters of a GraphQL-over-HTTP request, as its
// JSON body and its URL name them (documentId names a trusted document).
var requestKeys = []string{"query", "operationName", "variables", "extensions", "documentId"}

// refusal is a request that readRequest cannot read: its status, the Allow
// header of a 405, and the error to answer.
type refusal struct {
	status int
	allow  string
	err    *gqlerror.Error
}

// readRequest reads a GraphQL request from a POST's JSON body ({query,
// operationName, variables, extensions, documentId}) or from GET
// parameters of the same names, variables and extensions as JSON objects.
// Numbers stay json.Number, for gqlgen to coerce.
//
// It reads each request one way only, so that a gateway or a firewall that
// inspects requests cannot read another operation or other variables than
// the server runs: a body is one JSON object and nothing after it, no
// object in it (or in the JSON of a parameter) has a key twice, and no
// parameter is given twice or named in another case than its own
// ("QUERY"). Other keys and parameters are ignored, as the
// GraphQL-over-HTTP spec keeps them for its later versions (and clients
// add cache busters to URLs); null stands for a missing parameter.
//
// It refuses other methods (405), a POST that is not application/json
// (415), and a request it cannot read (400), each coded
// GRAPHQL_PARSE_FAILED and without echoing the request.
func readRequest(r *http.Request) (_ *graphql.RawParams, documentID string, _ *refusal) {
	var in struct {
		Query         string         `json:"query"`
		OperationName string         `json:"operationName"`
		Variables     map[string]any `json:"variables"`
		Extensions    map[string]any `json:"extensions"`
		DocumentID    string         `json:"documentId"`
	}
	switch r.Method {
	case http.MethodPost:
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			return nil, "", &refusal{status: http.StatusUnsupportedMediaType, err: parseError("Content-Type must be application/json")}
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, "", badRequest("could not read the request body")
		}
		switch err := decodeJSON(body, &in, requestKeys); {
		case errors.Is(err, errShape):
			return nil, "", badRequest("the body is not a JSON object of query, operationName, variables, extensions and documentId")
		case err != nil:
			return nil, "", badRequest("the body " + err.Error())
		}
	case http.MethodGet:
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, "", badRequest("the URL's query string is malformed")
		}
		for name, values := range q {
			switch key, err := requestKey(name, requestKeys); {
			case err != nil:
				return nil, "", badRequest("the URL " + err.Error())
			case key != "" && len(values) > 1:
				return nil, "", badRequest("the URL gives " + key + " more than once")
			}
		}
		in.Query, in.OperationName, in.DocumentID = q.Get("query"), q.Get("operationName"), q.Get("documentId")
		for _, p := range []struct {
			name string
			dst  *map[string]any
		}{{"variables", &in.Variables}, {"extensions", &in.Extensions}} {
			v := q.Get(p.name)
			if v == "" || v == "null" {
				continue
			}
			switch err := decodeJSON([]byte(v), p.dst, nil); {
			case errors.Is(err, errShape):
				return nil, "", badRequest(p.name + " must be a JSON object")
			case err != nil:
				return nil, "", badRequest("the " + p.name + " parameter " + err.Error())
			}
		}
	default:
		return nil, "", &refusal{status: http.StatusMethodNotAllowed, allow: "GET, POST", err: parseError("use GET or POST")}
	}
	p := &graphql.RawParams{Query: in.Query, OperationName: in.OperationName, Variables: in.Variables, Extensions: in.Extensions}
	return p, in.DocumentID, nil
}

// badRequest is a 400 refusal of a request that cannot be read.
func badRequest(msg string) *refusal {
	return &refusal{status: http.StatusBadRequest, err: parseError(msg)}
}

// parseError is a request gqlgen cannot read.
func parseError(msg string) *gqlerror.Error {
	err := gqlerror.Errorf("%s", msg)
	errcode.Set(err, errcode.ParseFailed)
	return err
}

// Why decodeJSON refuses a text; their messages never quote it.
var (
	errShape     = errors.New("is not a JSON object of the expected shape")
	errTrailing  = errors.New("holds more than one JSON value")
	errDuplicate = errors.New("has an object with a key twice")
)

// wrongCaseError is a key named like a known one in another case.
type wrongCaseError struct{ key string }

func (e wrongCaseError) Error() string { return "names " + e.key + " in another case" }

// decodeJSON decodes data into v, keeping numbers as json.Number. data
// must be one JSON object and nothing more but white space (errShape,
// errTrailing), no object in it may have a key twice (errDuplicate), and
// no key of the outer object may be one of names in another case
// (wrongCaseError): encoding/json takes the first value of a text, the
// last value of a repeated key, and any case of a struct field's name.
func decodeJSON(data []byte, v any, names []string) error {
	if rest := bytes.TrimLeft(data, jsonSpace); len(rest) == 0 || rest[0] != '{' {
		return errShape
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return errShape
	}
	end := int(dec.InputOffset())
	if len(bytes.TrimLeft(data[end:], jsonSpace)) > 0 {
		return errTrailing
	}
	return checkKeys(data[:end], names)
}

// jsonSpace is JSON's white space.
const jsonSpace = " \t\r\n"

// manyKeys is how many keys of one object checkKeys compares one by one
// before it keeps them in a map.
const manyKeys = 16

// checkKeys walks data, one valid JSON value, and returns errDuplicate if
// an object in it has a key twice (keys compared as JSON reads them: "a"
// and "\u0061" are one key), or a wrongCaseError if the outer object has a
// key that is one of names in another case. It allocates nothing for
// objects of up to manyKeys keys whose keys are plain text.
func checkKeys(data []byte, names []string) error {
	type container struct {
		object bool
		first  int                 // index in keys of its first key
		seen   map[string]struct{} // its keys, once it has manyKeys
	}
	var (
		containersBuf [16]container
		keysBuf       [32][]byte
	)
	containers, keys := containersBuf[:0], keysBuf[:0]
	wantKey := false
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '{', '[':
			containers = append(containers, container{object: data[i] == '{', first: len(keys)})
			wantKey = data[i] == '{'
		case '}', ']':
			keys = keys[:containers[len(containers)-1].first]
			containers = containers[:len(containers)-1]
		case ',':
			wantKey = containers[len(containers)-1].object
		case '"':
			end := stringEnd(data, i)
			if wantKey {
				wantKey = false
				key := data[i+1 : end]
				if bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key) {
					var s string
					if err := json.Unmarshal(data[i:end+1], &s); err != nil {
						return errShape
					}
					key = []byte(s)
				}
				if len(containers) == 1 {
					if _, err := requestKey(string(key), names); err != nil {
						return err
					}
				}
				c := &containers[len(containers)-1]
				if c.seen != nil {
					if _, dup := c.seen[string(key)]; dup {
						return errDuplicate
					}
					c.seen[string(key)] = struct{}{}
				} else {
					for _, k := range keys[c.first:] {
						if bytes.Equal(k, key) {
							return errDuplicate
						}
					}
					keys = append(keys, key)
					if len(keys)-c.first == manyKeys {
						c.seen = make(map[string]struct{}, 2*manyKeys)
						for _, k := range keys[c.first:] {
							c.seen[string(k)] = struct{}{}
						}
						keys = keys[:c.first]
					}
				}
			}
			i = end
		}
	}
	return nil
}

// stringEnd returns the index of the quote that ends the JSON string
// starting at data[start].
func stringEnd(data []byte, start int) int {
	for i := start + 1; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(data) - 1 // not reached: data is valid JSON
}

// requestKey returns the one of names that name is, "" if none, or a
// wrongCaseError if name is one of them in another case.
func requestKey(name string, names []string) (string, error) {
	for _, k := range names {
		if name == k {
			return k, nil
		}
		if strings.EqualFold(name, k) {
			return "", wrongCaseError{k}
		}
	}
	return "", nil
}
