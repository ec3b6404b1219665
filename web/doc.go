// Package web serves Earshot's browser pages: the agent overlay, the
// supervisor wall, call history and review, and sign-in. Everything is
// plain HTML, CSS and JavaScript modules embedded in the binary with
// go:embed: there is no build step, and a page never fetches anything from
// outside the engine that serves it (no CDN, no web fonts), which the
// Content-Security-Policy header enforces in the browser too.
//
// The pages talk to the engine only through its public API
// (docs/protocol.md): REST with an "Authorization: Bearer" header and the
// live-events WebSocket with the token in the first message. Tokens never
// appear in URLs. See docs/ui.md for what each page shows.
package web
