package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"bitgate/internal/auth"
)

// bareServer is the yardstick: a plain net/http handler that does a
// request's transport work and nothing else. It reads and decodes the JSON
// body, verifies a bearer token when one is sent (HS256 through
// golang-jwt, with the server's parser settings), and writes a fixed JSON
// answer: the server's own answer to the same query, so that both send the
// same bytes.
type bareServer struct {
	*client
	srv    *http.Server
	token  string
	answer func([]byte)
}

// startBare starts the bare handler on a loopback port of its own.
func startBare(timeout time.Duration) (*bareServer, error) {
	keys, err := auth.NewHMACKeys([]byte(rand.Text()+rand.Text()), auth.HMACOptions{})
	if err != nil {
		return nil, fmt.Errorf("bare handler key: %w", err)
	}
	tokens := auth.NewTokens(keys, "bare", "bare", time.Hour, nil)
	token, err := tokens.Issue(context.Background(), uuid.New(), uuid.New(), 1)
	if err != nil {
		return nil, fmt.Errorf("bare handler token: %w", err)
	}
	var body atomic.Pointer[[]byte]
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Query         string         `json:"query"`
			OperationName string         `json:"operationName"`
			Variables     map[string]any `json:"variables"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || req.Query == "" {
			http.Error(w, `{"errors":[{"message":"bad request"}]}`, http.StatusBadRequest)
			return
		}
		if h := r.Header.Get("Authorization"); h != "" {
			t, ok := strings.CutPrefix(h, "Bearer ")
			if _, err := tokens.Parse(r.Context(), t); !ok || err != nil {
				http.Error(w, `{"errors":[{"message":"bad token"}]}`, http.StatusUnauthorized)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*body.Load())
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bare handler: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	b := &bareServer{
		client: newClient("http://"+ln.Addr().String()+"/graphql", timeout),
		srv:    srv,
		token:  token,
		answer: func(a []byte) { body.Store(&a) },
	}
	b.answer([]byte(`{"data":null}`))
	return b, nil
}

// close stops the bare handler.
func (b *bareServer) close() {
	b.closeIdle()
	_ = b.srv.Close()
}
