package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler()
	tests := []struct {
		name, path string
		status     int
		ctype      string
		contains   string
	}{
		{"the overlay page is served", "/overlay", 200, "text/html", `src="/static/overlay.js"`},
		{"the supervisor wall is served", "/supervisor", 200, "text/html", `src="/static/supervisor.js"`},
		{"the call history is served", "/calls", 200, "text/html", `src="/static/calls.js"`},
		{"any call id gets the review page", "/calls/c-20261123-0001", 200, "text/html", `src="/static/review.js"`},
		{"the sign-in page is served", "/signin", 200, "text/html", `id="token"`},
		{"scripts are served as JavaScript modules", "/static/common.js", 200, "javascript", "export function"},
		{"the stylesheet is served as CSS", "/static/app.css", 200, "text/css", ":root"},
		{"the icon is served as SVG", "/static/icon.svg", 200, "image/svg+xml", "<svg"},
		{"a missing asset is 404", "/static/nope.js", 404, "", ""},
		{"the static directory is not listed", "/static/", 404, "", ""},
		{"an unknown page is 404", "/admin", 404, "", ""},
		{"a nested call path is 404", "/calls/a/b", 404, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if rec.Code != tc.status {
				t.Fatalf("GET %s: status %d, want %d", tc.path, rec.Code, tc.status)
			}
			if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
				t.Errorf("GET %s: Content-Security-Policy %q does not confine the page to its origin", tc.path, csp)
			}
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("GET %s: no nosniff header", tc.path)
			}
			if tc.status != 200 {
				return
			}
			if ct := rec.Header().Get("Content-Type"); !strings.Contains(ct, tc.ctype) {
				t.Errorf("GET %s: Content-Type %q, want %s", tc.path, ct, tc.ctype)
			}
			if !strings.Contains(rec.Body.String(), tc.contains) {
				t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
			}
		})
	}
	t.Run("POST to a page is refused", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/overlay", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("status %d, want 405", rec.Code)
		}
	})
}

// externalRef finds references to other origins: absolute URLs and
// protocol-relative ones in src/href/url()/import.
var externalRef = regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)

func TestAssetsReferenceNothingOutside(t *testing.T) {
	// The SVG namespace is an identifier, not something a browser fetches.
	allowed := map[string]bool{"http://www.w3.org": true}
	err := fs.WalkDir(Static(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := Static().Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		b, err := io.ReadAll(f)
		if err != nil {
			return err
		}
		for _, m := range externalRef.FindAllString(string(b), -1) {
			if !allowed[strings.ToLower(m)] {
				t.Errorf("%s refers to %q: pages must not load anything from another origin", path, m)
			}
		}
		if strings.HasSuffix(path, ".html") && regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).Match(b) {
			t.Errorf("%s has an inline script, which the Content-Security-Policy blocks", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
