// Package persisted holds the operations a server runs by id. Documents
// are trusted documents: the operations a frontend build declares, which
// the server may then run by id and may insist on. Load reads
// graphql-codegen's persisted-documents.json (an object of id to document,
// the ids sha256 or sha1 hex, with or without a "sha256:" prefix) and
// Apollo's persisted query manifest ({"format":
// "apollo-persisted-query-manifest", "version": 1, "operations": [{"id",
// "name", "type", "body"}]}, the ids sha256 hex). Queries are the queries
// clients registered with Apollo's automatic persisted queries, kept in the
// database for every instance.
package persisted

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Documents are the trusted documents of one or more manifests. The zero
// value holds none.
type Documents struct {
	byID  map[string]string
	texts map[string]bool
}

// Load reads the manifests at paths. An id written as SHA-256 (64 hex
// digits, with or without "sha256:") must be the hash of its document;
// other ids are kept as they are. Returns an error naming the file for a
// file that cannot be read, is neither format, holds an empty document or
// a hash that does not match, or gives an id another document.
func Load(paths ...string) (*Documents, error) {
	d := &Documents{byID: map[string]string{}, texts: map[string]bool{}}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read persisted documents: %w", err)
		}
		docs, err := parse(data)
		if err != nil {
			return nil, fmt.Errorf("persisted documents %s: %w", path, err)
		}
		for _, e := range docs {
			if err := d.add(e.id, e.doc); err != nil {
				return nil, fmt.Errorf("persisted documents %s: %w", path, err)
			}
		}
	}
	return d, nil
}

// entry is one document of a manifest and its id.
type entry struct{ id, doc string }

// parse reads either manifest format.
func parse(data []byte) ([]entry, error) {
	var apollo struct {
		Format     string `json:"format"`
		Version    int    `json:"version"`
		Operations []struct {
			ID   string `json:"id"`
			Body string `json:"body"`
		} `json:"operations"`
	}
	if json.Unmarshal(data, &apollo) == nil && apollo.Format != "" {
		if apollo.Format != "apollo-persisted-query-manifest" || apollo.Version != 1 {
			return nil, fmt.Errorf("unknown manifest format %q version %d", apollo.Format, apollo.Version)
		}
		docs := make([]entry, len(apollo.Operations))
		for i, op := range apollo.Operations {
			docs[i] = entry{op.ID, op.Body}
		}
		return docs, nil
	}
	var byID map[string]string
	if err := json.Unmarshal(data, &byID); err != nil {
		return nil, errors.New("neither an object of id to document nor an Apollo persisted query manifest")
	}
	docs := make([]entry, 0, len(byID))
	for id, doc := range byID {
		docs = append(docs, entry{id, doc})
	}
	return docs, nil
}

// add adds one document under id.
func (d *Documents) add(id, doc string) error {
	if strings.TrimSpace(doc) == "" {
		return fmt.Errorf("document %q is empty", id)
	}
	key, isHash := normalize(id)
	if isHash && key != Hash(doc) {
		return fmt.Errorf("id %q is not the SHA-256 of its document", id)
	}
	if old, ok := d.byID[key]; ok && old != doc {
		return fmt.Errorf("id %q names two different documents", id)
	}
	d.byID[key] = doc
	d.texts[doc] = true
	return nil
}

// normalize returns the key of an id: a SHA-256 in lower-case hex without
// prefix (isHash), or the id as it is.
func normalize(id string) (key string, isHash bool) {
	hexID := strings.TrimPrefix(id, "sha256:")
	if b, err := hex.DecodeString(hexID); err == nil && len(b) == sha256.Size {
		return strings.ToLower(hexID), true
	}
	return id, false
}

// Hash returns the SHA-256 of a document in hex, as automatic persisted
// queries and the manifests name it.
func Hash(doc string) string {
	sum := sha256.Sum256([]byte(doc))
	return hex.EncodeToString(sum[:])
}

// Lookup returns the document of id: a manifest's id, or a SHA-256 with or
// without "sha256:" (as a documentId or an APQ sha256Hash).
func (d *Documents) Lookup(id string) (string, bool) {
	if d == nil {
		return "", false
	}
	key, _ := normalize(id)
	doc, ok := d.byID[key]
	return doc, ok
}

// Contains reports whether doc is, to the byte, one of the documents.
func (d *Documents) Contains(doc string) bool { return d != nil && d.texts[doc] }

// Len returns how many documents there are.
func (d *Documents) Len() int {
	if d == nil {
		return 0
	}
	return len(d.byID)
}
