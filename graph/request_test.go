package graph

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestDecodeJSON holds decodeJSON to its rules on texts the API tests do
// not send: keys and values that look alike, escapes, objects past
// manyKeys keys, and white space.
func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	many := func(extra string) string {
		var b strings.Builder
		b.WriteString(`{"query":"q"`)
		for i := range 3 * manyKeys {
			b.WriteString(`,"k` + strings.Repeat("x", i) + `":1`)
		}
		return b.String() + extra + "}"
	}
	for _, tc := range []struct {
		data string
		want error
	}{
		{`{"query":"q","variables":{"a":"query","b":{"query":1}}}`, nil},
		{`{"query":"{,}\"query\":"}`, nil},
		{`{"variables":{"a":[{"a":1},{"a":2}],"b":{"a":1}}}`, nil},
		{`{"variables":{"a\"b":1,"a\\b":2,"ab":3}}`, nil},
		{`{"variables":{"é":1,"\u00e9":2}}`, errDuplicate},
		{`{"variables":{"a":1,"b":{"c":1},"a":2}}`, errDuplicate},
		{`{"variables":{"a":{"x":1,"y":2},"b":{"x":1,"y":2}}}`, nil},
		{`{"variables":{"":1,"":2}}`, errDuplicate},
		{many(``), nil},
		{many(`,"ky":2`), nil},
		{many(`,"kxxx":2`), errDuplicate},
		{many(`,"Query":"r"`), wrongCaseError{"query"}},
		{`{"query":"q","extensions":{"Query":1,"QUERY":2}}`, nil},
		{`{"Extensions":{}}`, wrongCaseError{"extensions"}},
		{`{"documentid":"x"}`, wrongCaseError{"documentId"}},
		{"\t{\"query\":\"q\"}\n", nil},
		{`{"query":"q"} x`, errTrailing},
		{`{"query":"q"}]`, errTrailing},
		{`{"query":"q"}{}`, errTrailing},
		{`[{"query":"q"}]`, errShape},
		{`"query"`, errShape},
		{`null`, errShape},
		{``, errShape},
		{`{"query":"q"`, errShape},
		{`{"query":5}`, errShape},
	} {
		var in struct {
			Query     string         `json:"query"`
			Variables map[string]any `json:"variables"`
		}
		if err := decodeJSON([]byte(tc.data), &in, requestKeys); !errors.Is(err, tc.want) && err != tc.want {
			t.Errorf("decodeJSON(%s) = %v, want %v", tc.data, err, tc.want)
		}
	}
}

// FuzzCheckKeys compares checkKeys with a reading of the same text through
// encoding/json's tokens: both find a repeated key in the same texts.
func FuzzCheckKeys(f *testing.F) {
	for _, seed := range []string{
		`{"a":1,"b":[{"a":1,"a\u0061":2}]}`,
		`{"a":{"a":{"a":1}},"b":"\"a\":"}`,
		`[1,"a",{"x":null,"y":true,"x":false}]`,
		`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k3":3}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		want, err := repeatsKey(data)
		if err != nil {
			t.Skip(err) // deeper than encoding/json reads
		}
		if got := errors.Is(checkKeys(data, nil), errDuplicate); got != want {
			t.Errorf("checkKeys(%q) finds a repeated key: %v, want %v", data, got, want)
		}
	})
}

// repeatsKey reports whether an object in data, valid JSON, has a key
// twice, reading data token by token.
func repeatsKey(data []byte) (bool, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	type container struct {
		keys    map[string]bool
		wantKey bool
	}
	var stack []*container
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		var top *container
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.keys != nil {
			if top.wantKey {
				if d, ok := tok.(json.Delim); ok && d == '}' {
					stack = stack[:len(stack)-1]
					continue
				}
				key := tok.(string)
				if top.keys[key] {
					return true, nil
				}
				top.keys[key] = true
				top.wantKey = false
				continue
			}
			top.wantKey = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &container{keys: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &container{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}
