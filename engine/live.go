package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot/earshot/internal/auth"
	"github.com/earshot/earshot/live"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/store"
)

// authTimeout is how long a live client has to send its auth message. A
// variable so the test of the timeout does not wait 10 s.
var authTimeout = 10 * time.Second

// liveHello is a live client's first message.
type liveHello struct {
	Type   string            `json:"type"`
	Token  string            `json:"token"`
	Resume map[string]uint64 `json:"resume"`
}

// serveLive is GET /v1/live?call=ID | agent=ID | all=1.
func (s *Server) serveLive(w http.ResponseWriter, r *http.Request) {
	f, err := liveFilter(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !s.trackConn(w) {
		return
	}
	defer s.connWG.Done()
	// A header token (non-browser clients) is checked before the upgrade.
	var claims *auth.Claims
	if auth.BearerToken(r) != "" {
		c, err := s.auth.Authenticate(r)
		if err != nil {
			auth.WriteError(w, err)
			return
		}
		claims = c
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	c := newWSConn(ws, s.cfg.ReadTimeout)
	fail := func(code int, reason string) {
		c.closeWith(code, reason)
		c.drain()
	}
	hello, claims, ok := s.liveAuth(c, claims)
	if !ok {
		return
	}
	if !s.mayWatch(claims, f) {
		fail(protocol.CloseForbidden, "forbidden")
		return
	}
	sub, err := s.hub.Subscribe(f, hello.Resume)
	if err != nil {
		fail(protocol.CloseGoingAway, "server shutting down")
		return
	}
	defer sub.Close()
	// "ready" goes out before the writer starts, so it precedes every event.
	_ = ws.SetWriteDeadline(time.Now().Add(writeWait))
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ready"}`)); err != nil {
		return
	}
	// A subscriber that cannot take a message for slowCloseGrace is gone;
	// shorter, and a merely slow one would lose its 4429.
	events := feed{events: sub.C, done: sub.Done(), end: func() { s.endSubscription(c, sub) }, writeWait: slowCloseGrace}
	c.serve(s.cfg.PingInterval, events, func() {
		// The read loop handles pongs and the peer's close; clients have
		// nothing more to say.
		for {
			if _, _, err := c.readMessage(); err != nil {
				return
			}
			c.touch()
		}
	})
}

// liveFilter reads which calls a live client follows from its query.
func liveFilter(q url.Values) (live.Filter, error) {
	var f live.Filter
	n := 0
	if v := q.Get("call"); v != "" {
		f.CallID, n = v, n+1
	}
	if v := q.Get("agent"); v != "" {
		f.AgentID, n = v, n+1
	}
	if q.Get("all") == "1" || q.Get("all") == "true" {
		f.All, n = true, n+1
	}
	if n != 1 {
		return f, errors.New("give exactly one of call=ID, agent=ID or all=1")
	}
	return f, nil
}

// liveAuth reads a live client's first message, which must be its auth
// message, and returns it with the claims (those of the header token when
// there was one). On false the connection is closed.
func (s *Server) liveAuth(c *wsConn, claims *auth.Claims) (liveHello, *auth.Claims, bool) {
	var hello liveHello
	fail := func(code int, reason string) (liveHello, *auth.Claims, bool) {
		c.closeWith(code, reason)
		c.drain()
		return hello, nil, false
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(authTimeout))
	mt, msg, err := c.readMessage()
	if err != nil {
		var ne net.Error
		switch {
		case c.isClosing():
			c.drain()
		case errors.As(err, &ne) && ne.Timeout():
			// The reader is dead after its deadline (gorilla's read errors
			// stick), so there is no close handshake to wait for, but the
			// close frame still goes out before the connection does:
			// without it the client sees 1006 and cannot tell a missing
			// auth message from a network failure.
			code := protocol.CloseUnauthorized
			if claims != nil {
				// Authenticated by header; the auth message is still the
				// protocol's first message.
				code = protocol.ClosePolicyViolation
			}
			c.closeWith(code, fmt.Sprintf(`no {"type":"auth",...} message within %v`, authTimeout))
		}
		return hello, nil, false
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
	if mt != websocket.TextMessage || json.Unmarshal(msg, &hello) != nil || hello.Type != "auth" {
		return fail(protocol.ClosePolicyViolation, `first message must be {"type":"auth",...}`)
	}
	if claims == nil {
		cl, err := s.auth.Verify(hello.Token)
		if err != nil {
			return fail(protocol.CloseUnauthorized, "unauthorized")
		}
		claims = cl
	}
	return hello, claims, true
}

// slowCloseGrace is how long a dropped slow subscriber has to read the
// events already in its socket and the 4429 close after them.
const slowCloseGrace = 30 * time.Second

func (s *Server) endSubscription(c *wsConn, sub *live.Subscription) {
	if errors.Is(sub.Err(), live.ErrTooSlow) {
		c.closeWithGrace(protocol.CloseTooSlow, "too slow", slowCloseGrace)
	} else {
		c.closeWith(protocol.CloseGoingAway, "server shutting down")
	}
}

// mayWatch applies docs/protocol.md's table to a live subscription.
func (s *Server) mayWatch(c *auth.Claims, f live.Filter) bool {
	switch c.Role {
	case auth.RoleSupervisor, auth.RoleAdmin:
		return true
	case auth.RoleAgent:
		switch {
		case f.All:
			return false
		case f.AgentID != "":
			return f.AgentID == c.Agent
		default:
			return c.SeesAgent(s.agentOf(f.CallID))
		}
	}
	return false
}

// agentOf returns the agent of a live or stored call, or "".
func (s *Server) agentOf(callID string) string {
	if a, ok := s.hub.Live(callID); ok {
		return a
	}
	if !store.ValidID(callID) {
		return ""
	}
	if c, err := s.store.GetCall(store.CallID(callID)); err == nil {
		return string(c.AgentID)
	}
	return ""
}

// trackConn counts a WebSocket connection for the shutdown wait, or
// answers 503 when the server is draining. On true the caller must call
// s.connWG.Done when the connection ends.
func (s *Server) trackConn(w http.ResponseWriter) bool {
	s.mu.Lock()
	draining := s.draining
	if !draining {
		s.connWG.Add(1)
	}
	s.mu.Unlock()
	if draining {
		writeError(w, http.StatusServiceUnavailable, "server shutting down")
	}
	return !draining
}
