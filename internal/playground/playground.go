// Package playground serves GraphiQL from the binary itself: the page, its
// bootstrap script and the pinned browser builds of GraphiQL, React and
// ReactDOM (assets/vendor, refreshed by update.sh), so that it works with
// no internet and its Content-Security-Policy names no other host.
package playground

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"strings"
)

// Prefix is the path under which the page's scripts and styles are served.
const Prefix = "/playground/"

// embedded holds the page, its own script and style, and assets/vendor: one
// folder per npm package, named name@version, with the package's LICENSE.
//
//go:embed assets
var embedded embed.FS

var (
	assets, _ = fs.Sub(embedded, "assets") // cannot fail: a valid path
	page      = template.Must(template.ParseFS(assets, "index.html"))
)

// csp is the page's policy: scripts and styles from this server only. Dialogs
// insert a <style> element (GraphiQL's scroll lock, react-remove-scroll-bar),
// which carries the per-response nonce instead of 'unsafe-inline'; fonts and
// two small images are data: URLs inside GraphiQL's stylesheet.
const csp = "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-%s'; " +
	"img-src 'self' data:; font-src data:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// Handler serves the page on GET / and its assets under Prefix; endpoint is
// the path of the GraphQL API it talks to. Mount it on both.
func Handler(endpoint string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		servePage(w, endpoint)
	})
	mux.HandleFunc("GET "+Prefix, serveAsset)
	return mux
}

// servePage renders the page with a fresh style nonce and its policy.
func servePage(w http.ResponseWriter, endpoint string) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	nonce := hex.EncodeToString(b[:])
	var buf bytes.Buffer
	if err := page.Execute(&buf, map[string]string{"Nonce": nonce, "Endpoint": endpoint}); err != nil {
		http.Error(w, "playground unavailable", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", fmt.Sprintf(csp, nonce))
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// serveAsset serves one embedded file. Vendored files have their version in
// their path, so browsers may keep them; the page's own script and style
// are revalidated.
func serveAsset(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, Prefix)
	if name == "index.html" { // a template: only servePage renders it
		http.NotFound(w, r)
		return
	}
	f, err := assets.Open(name) // refuses "", "..", and any unclean path
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || info.IsDir() {
		http.NotFound(w, r)
		return
	}
	if strings.HasPrefix(name, "vendor/") {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, name, info.ModTime(), f.(io.ReadSeeker))
}
