package web

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var embedded embed.FS

// static is the embedded static/ directory, the root of /static/.
var static = mustSub(embedded, "static")

func mustSub(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		// fs.Sub fails only for an invalid path, a programming error.
		panic(err)
	}
	return s
}

// Static returns the embedded assets (HTML, CSS, JavaScript, icons) as a
// read-only file system, for tests and tools that list them.
func Static() fs.FS { return static }

// contentSecurityPolicy keeps every request a page makes on the engine's
// own origin: scripts, styles, images, fetch and WebSocket ('self' covers
// ws: and wss: to the same host in CSP level 3). It is the browser-side
// guarantee that nothing leaves the machine, and it blocks inline script
// so injected text can never run.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// pages maps each page route to its HTML file in static/.
var pages = []struct{ pattern, file string }{
	{"GET /overlay", "overlay.html"},
	{"GET /supervisor", "supervisor.html"},
	{"GET /calls", "calls.html"},
	{"GET /calls/{id}", "call.html"},
	{"GET /signin", "signin.html"},
}

// Handler returns the handler for the pages (/overlay, /supervisor,
// /calls, /calls/{id}, /signin) and their assets under /static/. Anything
// else answers 404. It is safe for concurrent use and holds no state: the
// pages get their data from the engine's API, so the engine mounts this
// handler next to its own routes (engine.Config.Web).
func Handler() http.Handler {
	mux := http.NewServeMux()
	for _, p := range pages {
		body, err := fs.ReadFile(static, p.file)
		if err != nil {
			// The page list and the embedded files are fixed at build
			// time; TestHandler checks every page exists.
			panic("web: missing embedded page " + p.file)
		}
		mux.HandleFunc(p.pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			// Pages are tiny and change with the binary: always revalidate.
			w.Header().Set("Cache-Control", "no-cache")
			_, _ = w.Write(body)
		})
	}
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			// No directory listings: the pages name every asset they use.
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
	return headers(mux)
}

// headers adds the security headers every response carries.
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}
