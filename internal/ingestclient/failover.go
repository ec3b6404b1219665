package ingestclient

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/earshot/earshot/protocol"
)

// SplitURLs splits a comma-separated list of engine base URLs, as the
// --url flags take them; blanks around the commas and empty items are
// dropped.
func SplitURLs(s string) []string {
	var out []string
	for u := range strings.SplitSeq(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// CheckURL reports whether base is an engine base URL the client can dial:
// http(s)://host[:port] (ws(s):// also accepted). The error wraps ErrBadURL.
func CheckURL(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return fmt.Errorf("%w: %q must start with http:// or https://", ErrBadURL, base)
	}
	if u.Host == "" {
		return fmt.Errorf("%w: %q names no host", ErrBadURL, base)
	}
	return nil
}

// Engines returns the engine base URLs a client with this configuration
// streams to: URLs, or URL as a list of one. The error wraps ErrBadURL
// when both or neither are set, or one of them is not a base URL.
func (cfg Config) Engines() ([]string, error) {
	urls := cfg.URLs
	switch {
	case cfg.URL != "" && len(cfg.URLs) > 0:
		return nil, fmt.Errorf("%w: URL and URLs are both set (URL is one engine, URLs a list of them)", ErrBadURL)
	case cfg.URL != "":
		urls = []string{cfg.URL}
	case len(urls) == 0:
		return nil, fmt.Errorf("%w: no engine URL (set URL or URLs)", ErrBadURL)
	}
	for _, u := range urls {
		if err := CheckURL(u); err != nil {
			return nil, err
		}
	}
	return urls, nil
}

// maxCloseReason is the longest close reason a WebSocket close frame can
// carry (a 125-byte control payload less the 2-byte code): a longer one
// did not come from a conforming engine.
const maxCloseReason = 123

// redirectURL is the engine a 4503 close reason names: the reason if it is
// an engine base URL (http, https, ws or wss; a host; no user, query or
// fragment; no path beyond "/"), else "". A connection that used TLS
// (from) is never sent to one without it, where the token would cross
// the network in clear.
func redirectURL(reason, from string) string {
	if len(reason) > maxCloseReason || CheckURL(reason) != nil {
		return ""
	}
	u, _ := url.Parse(reason)
	if u.Hostname() == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return ""
	}
	secure := func(scheme string) bool { return scheme == "https" || scheme == "wss" }
	if f, err := url.Parse(from); err == nil && secure(f.Scheme) && !secure(u.Scheme) {
		return ""
	}
	return reason
}

// movesOn reports whether a connection that ended with err (lost, refused
// or closed by the engine) is retried on the next engine of the list
// rather than on the same one: the engine is down, going away, failing,
// or has no room. A close for the call's own sake (idle, too many calls
// of the token waiting) is retried on the same engine after the back-off.
func movesOn(err error) bool {
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		return true // refused, unreachable, broken or silent
	}
	switch ce.Code {
	case protocol.CloseGoingAway, protocol.CloseInternalError, websocket.CloseAbnormalClosure, protocol.CloseTryElsewhere:
		return true
	}
	return false
}

// route chooses the engine of each connection attempt. Only Run uses it.
//
// After a lost or refused connection the next engine of the list is tried
// at once: moving to a healthy node must not wait for a back-off. Only
// when every engine of the list has failed since the last connection
// (one that lasted stableConnection) does Run wait, so a fleet does not
// hammer a cluster that is down.
type route struct {
	urls     []string
	cur      int    // index of the list's engine tried last
	redirect string // an engine a 4503 named, tried before the list goes on
	failed   int    // engines of the list that failed since the last connection
}

// target is the engine to try next, and whether a 4503 named it.
func (r *route) target() (u string, redirected bool) {
	u, redirected = r.peek()
	r.redirect = ""
	return u, redirected
}

// peek is what target will return, without taking a redirect.
func (r *route) peek() (u string, redirected bool) {
	if r.redirect != "" {
		return r.redirect, true
	}
	return r.urls[r.cur], false
}

// connected starts a new round: the engine that was reached counts as
// not failed.
func (r *route) connected() { r.failed = 0 }

// lost takes how the attempt at a target ended (redirected: a 4503 named
// it) and moves the route on; it reports whether Run should wait out its
// back-off before the next attempt, which starts a new round.
func (r *route) lost(err error, redirected bool) (wait bool) {
	if !movesOn(err) {
		// The same engine again, after the back-off: it refused the call
		// for the call's sake, not its own.
		r.failed = 0
		return true
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) && ce.Code == protocol.CloseTryElsewhere && !redirected {
		// Redirects are not chained: a node a 4503 named may not send the
		// endpoint on, so two nodes cannot bounce it between them.
		r.redirect = redirectURL(ce.Text, r.urls[r.cur])
	}
	if !redirected {
		r.cur = (r.cur + 1) % len(r.urls)
		r.failed++
	}
	if r.failed >= len(r.urls) && r.redirect == "" {
		r.failed = 0
		return true
	}
	return false
}
