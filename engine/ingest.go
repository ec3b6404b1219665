package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot/earshot/internal/auth"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/store"
)

// ingestConn is one endpoint connection. Its session sets the ack; the
// writer sends it.
type ingestConn struct {
	*wsConn
	ack     atomic.Int64
	ackWake chan struct{}
	lastAck int64 // writer only
}

func (c *ingestConn) setAck(n int64) {
	c.ack.Store(n)
	select {
	case c.ackWake <- struct{}{}:
	default:
	}
}

func (c *ingestConn) nextAck() ([]byte, bool) {
	n := c.ack.Load()
	if n == c.lastAck {
		return nil, false
	}
	c.lastAck = n
	return []byte(`{"type":"ack","seq":` + strconv.FormatInt(n, 10) + `}`), true
}

// serveIngest is GET /v1/ingest. The handler goroutine is the reader; it
// starts the writer and waits for it.
func (s *Server) serveIngest(w http.ResponseWriter, r *http.Request) {
	claims, err := s.auth.Authenticate(r)
	if err != nil {
		auth.WriteError(w, err)
		return
	}
	if claims.Role != auth.RoleEndpoint && claims.Role != auth.RoleAdmin {
		auth.WriteError(w, auth.ErrForbidden)
		return
	}
	if !s.trackConn(w) {
		return
	}
	defer s.connWG.Done()
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered with the HTTP error
	}
	defer ws.Close()
	c := &ingestConn{wsConn: newWSConn(ws, s.cfg.ReadTimeout), ackWake: make(chan struct{}, 1)}
	c.lastAck = -2
	c.serve(s.cfg.PingInterval, feed{wake: c.ackWake, next: c.nextAck}, func() {
		if code := s.readIngest(c, claims); code != 0 {
			s.m.ingestClosed.WithLabelValues(strconv.Itoa(code)).Inc()
		}
	})
}

// readIngest runs the ingest protocol on c until the connection ends and
// returns the close code the engine sent (0 if the peer went away).
func (s *Server) readIngest(c *ingestConn, claims *auth.Claims) int {
	start, ok := s.readStart(c, claims)
	if !ok {
		return c.closedCode()
	}
	sess, ack, err := s.attach(start, c, tokenKey(claims))
	if err != nil {
		code, reason := attachRefusal(err)
		c.closeWith(code, reason)
		c.drain()
		return code
	}
	c.sendJSON(protocol.Control{Type: "started", CallID: start.CallID, Ack: &ack})
	log := s.log.With("call_id", start.CallID)
	log.Info("endpoint streaming", "resume", start.Resume, "ack", ack)
	ended := s.streamIngest(c, sess, start, log)
	switch {
	case ended:
	case c.isClosing() && violation(c.code):
		// The endpoint broke the protocol and will not resume (its
		// client treats these codes as final): the call ends now
		// instead of waiting out the resume window.
		sess.send(sessMsg{kind: msgViolation, conn: c, err: fmt.Errorf("%w: %s", ErrProtocol, c.reason)})
	default:
		// Keep the call for a resume. Everything read before the break
		// was handed over in order, so the session has it.
		sess.send(sessMsg{kind: msgDetach, conn: c})
	}
	return c.closedCode()
}

// closedCode is the close code the engine sent, 0 if it sent none.
func (c *wsConn) closedCode() int {
	if c.isClosing() {
		return c.code
	}
	return 0
}

// readStart reads the connection's first message, which must be a start
// the claims allow. On false the connection is closed (or gone).
func (s *Server) readStart(c *ingestConn, claims *auth.Claims) (protocol.Control, bool) {
	refuse := func(code int, reason string) (protocol.Control, bool) {
		c.closeWith(code, reason)
		c.drain()
		return protocol.Control{}, false
	}
	// The read deadline would drop a connection that never sends its
	// start without a word (1006); this tells it why.
	noStart := time.AfterFunc(startTimeout, func() {
		c.closeWith(protocol.CloseIdle, fmt.Sprintf("no start message within %v", startTimeout))
	})
	mt, msg, err := c.readMessage()
	noStart.Stop()
	if err != nil {
		return protocol.Control{}, false
	}
	if c.isClosing() {
		c.drain()
		return protocol.Control{}, false
	}
	if mt != websocket.TextMessage {
		return refuse(protocol.ClosePolicyViolation, "audio before start")
	}
	start, err := protocol.ParseControl(msg)
	if err != nil {
		return refuse(protocol.ClosePolicyViolation, err.Error())
	}
	if start.Type != "start" {
		return refuse(protocol.ClosePolicyViolation, fmt.Sprintf("%s before start", start.Type))
	}
	if claims.Role == auth.RoleEndpoint && start.AgentID != claims.Agent {
		return refuse(protocol.CloseForbidden, "forbidden")
	}
	return start, true
}

// attachRefusal is the close code and reason for a start attach refused.
func attachRefusal(err error) (int, string) {
	switch {
	case errors.Is(err, errTooManyWaiting):
		return protocol.CloseTooSlow, err.Error()
	case errors.As(err, new(errNoRoom)):
		var nr errNoRoom
		errors.As(err, &nr)
		return protocol.CloseTryElsewhere, nr.url
	case errors.Is(err, ErrCallActive):
		return protocol.CloseCallActive, ErrCallActive.Error()
	case errors.Is(err, auth.ErrForbidden):
		return protocol.CloseForbidden, "forbidden"
	case errors.Is(err, ErrShuttingDown):
		return protocol.CloseGoingAway, "server shutting down"
	case errors.Is(err, ErrProtocol), errors.Is(err, ErrCallEnded):
		return protocol.ClosePolicyViolation, err.Error()
	default:
		return protocol.CloseInternalError, "call failed: " + err.Error()
	}
}

// ingestState is what the reader knows of a streaming call: whether the
// endpoint ended or paused it.
type ingestState struct {
	payloadBytes  int
	ended, paused bool
}

// streamIngest hands the call's frames and control messages to its
// session in order until the connection ends; true if the endpoint ended
// the call.
func (s *Server) streamIngest(c *ingestConn, sess *session, start protocol.Control, log *slog.Logger) bool {
	st := ingestState{payloadBytes: protocol.PayloadBytes(start.SampleRate, start.Encoding)}
	// Pongs keep the read deadline alive; this keeps a connection that
	// sends nothing else (no audio, no control) from holding a call.
	idle := time.AfterFunc(s.cfg.IdleTimeout, func() {
		log.Info("ingest connection idle: closed", "limit", s.cfg.IdleTimeout)
		c.closeWith(protocol.CloseIdle, fmt.Sprintf("idle: no audio or control message for %v", s.cfg.IdleTimeout))
	})
	defer idle.Stop()
	for {
		mt, msg, err := c.readMessage()
		if err != nil {
			return st.ended
		}
		m, ok := st.message(c, mt, msg)
		if !ok {
			continue
		}
		// A paused call may stay silent as long as a call may last.
		if st.paused {
			idle.Stop()
		} else {
			idle.Reset(s.cfg.IdleTimeout)
		}
		if !sess.send(m) {
			// The call ended under us (failure): the session has closed c
			// or is about to; make sure.
			c.closeWith(protocol.CloseInternalError, "call failed")
		}
		c.touch()
	}
}

// message turns one message of a streaming call into what the session
// gets; false when there is nothing to hand over (after the end, or a
// broken message, for which c is being closed).
func (st *ingestState) message(c *ingestConn, mt int, msg []byte) (sessMsg, bool) {
	switch mt {
	case websocket.BinaryMessage:
		if st.ended {
			return sessMsg{}, false
		}
		h, payload, err := protocol.ParseFrame(msg, st.payloadBytes)
		if err != nil {
			c.closeWith(protocol.CloseUnsupportedData, err.Error())
			return sessMsg{}, false
		}
		return sessMsg{kind: msgFrame, hdr: h, payload: payload, conn: c}, true
	case websocket.TextMessage:
		ctl, err := protocol.ParseControl(msg)
		if err != nil {
			c.closeWith(protocol.ClosePolicyViolation, err.Error())
			return sessMsg{}, false
		}
		if ctl.Type == "start" {
			c.closeWith(protocol.ClosePolicyViolation, "second start")
			return sessMsg{}, false
		}
		if st.ended {
			return sessMsg{}, false
		}
		st.ended = ctl.Type == "end"
		switch ctl.Type {
		case "pause":
			st.paused = true
		case "resume":
			st.paused = false
		}
		return sessMsg{kind: msgControl, ctl: ctl, conn: c}, true
	}
	return sessMsg{}, false
}

// attach finds or creates the session for start's call and attaches c.
// It returns the ack the endpoint resumes after.
func (s *Server) attach(start protocol.Control, c *ingestConn, token string) (*session, int64, error) {
	if start.Resume && s.journal != nil && !s.hasSession(start.CallID) {
		// Another node may have run the call until now: apply all it
		// wrote before reading the checkpoint and writing after it (the
		// projection skips records below a call's newest). Outside the
		// server's lock, and long enough for JetStream to elect a new
		// leader when the dead node led the stream (about 6 s measured):
		// refused sooner, the endpoint would only come back later.
		ctx, cancel := context.WithTimeout(context.Background(), resumeCatchUpTimeout)
		err := s.journal.WaitCaughtUp(ctx)
		cancel()
		if err != nil {
			return nil, 0, fmt.Errorf("%w: catching up before a resume: %w", ErrStorage, err)
		}
	}
	if !start.Resume && !s.hasSession(start.CallID) {
		if err := s.roomCheck(); err != nil {
			return nil, 0, err
		}
	}
	for attempt := 0; attempt < 3; attempt++ {
		sess, err := s.sessionFor(start, token)
		if err != nil {
			return nil, 0, err
		}
		reply := make(chan attachReply, 1)
		if !sess.send(sessMsg{kind: msgAttach, conn: c, resume: start.Resume, reply: reply}) {
			continue // it ended meanwhile; look again (the store now says how)
		}
		select {
		case r := <-reply:
			return sess, r.ack, r.err
		case <-sess.done:
			continue
		}
	}
	return nil, 0, fmt.Errorf("call %s keeps ending", start.CallID)
}

// pendingStart is a start being prepared outside the server's lock.
type pendingStart struct {
	token string
	done  chan struct{} // closed when it is decided
}

// sessionFor returns the live session of start's call, restoring one from
// the store after a restart or creating a new call. The store and the
// owners bucket are asked outside the server's lock, so a start waiting on
// JetStream holds up no other call.
func (s *Server) sessionFor(start protocol.Control, token string) (*session, error) {
	for {
		sess, pending, err := s.liveSessionFor(start, token)
		if sess != nil || err != nil {
			return sess, err
		}
		if pending == nil {
			break
		}
		<-pending // another start of this call is being decided
	}
	c, err := s.prepareCall(start)
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.starting[start.CallID].done)
	delete(s.starting, start.CallID)
	if err != nil {
		return nil, err
	}
	if s.draining {
		// Stored and claimed: resumable on the next start of this engine
		// or on another node.
		return nil, ErrShuttingDown
	}
	delete(s.orphans, start.CallID)
	sess := newSession(s, c, token)
	s.hub.OpenCall(sess.id, sess.agentID, c.LastSeq)
	s.sessions[sess.id] = sess
	s.sessWG.Add(1)
	go sess.run()
	return sess, nil
}

// liveSessionFor is the part of sessionFor under the lock: the running
// session of the call, or a start of it being decided to wait for, or
// else the call is marked as starting here (both nil).
func (s *Server) liveSessionFor(start protocol.Control, token string) (*session, <-chan struct{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return nil, nil, ErrShuttingDown
	}
	if sess, ok := s.sessions[start.CallID]; ok {
		if sess.agentID != start.AgentID {
			return nil, nil, auth.ErrForbidden
		}
		if !start.Resume {
			return nil, nil, ErrCallActive
		}
		return sess, nil, nil
	}
	if p, ok := s.starting[start.CallID]; ok {
		return nil, p.done, nil
	}
	if s.waitingCalls(token) >= s.cfg.MaxWaitingCalls {
		return nil, nil, fmt.Errorf("%w: %d calls of this token have not sent audio yet", errTooManyWaiting, s.cfg.MaxWaitingCalls)
	}
	s.starting[start.CallID] = pendingStart{token: token, done: make(chan struct{})}
	return nil, nil, nil
}

// prepareCall checks start against the stored call and makes it this
// node's: a new call is claimed and created, a resumed one claimed (only
// a start that passed every check may take a call over from the node
// running it) and brought up to date.
func (s *Server) prepareCall(start protocol.Control) (store.Call, error) {
	c, err := s.store.GetCall(store.CallID(start.CallID))
	switch {
	case errors.Is(err, store.ErrNotFound):
		// A new call, or a resume of one this engine never saw (its
		// endpoint resends everything after ack -1 that it still has).
		c = store.Call{ID: store.CallID(start.CallID), AgentID: store.AgentID(start.AgentID), StartedAt: time.Now().UTC(), Status: store.StatusLive,
			Ack: -1, SampleRate: start.SampleRate, Encoding: start.Encoding, Categories: []string{}, Node: s.nodeName()}
		if err := s.claimCall(start.CallID); err != nil {
			return c, err
		}
		return c, s.store.CreateCall(c)
	case err != nil:
		return c, err
	}
	if string(c.AgentID) != start.AgentID {
		return c, auth.ErrForbidden
	}
	if !start.Resume {
		return c, fmt.Errorf("%w: call_id %s already used", ErrProtocol, start.CallID)
	}
	if c.Status != store.StatusLive && c.EndReason != protocol.EndShutdown {
		return c, fmt.Errorf("%w: %s", ErrCallEnded, start.CallID)
	}
	if c.SampleRate != start.SampleRate || c.Encoding != start.Encoding {
		return c, fmt.Errorf("%w: resume must keep sample_rate and encoding", ErrProtocol)
	}
	if err := s.claimCall(start.CallID); err != nil {
		return c, err
	}
	// The call runs here now, also when another node ran it before (its
	// endpoint lost that node and came here to resume).
	c.Status, c.EndReason, c.EndedAt, c.Node = store.StatusLive, "", nil, s.nodeName()
	last, err := s.store.LastEventSeq(c.ID)
	if err != nil {
		return c, err
	}
	c.LastSeq = max(c.LastSeq, last)
	return c, nil
}

// resumeCatchUpTimeout bounds a resume's wait for the projection to apply
// what other nodes wrote (the client waits 30 s for "started").
const resumeCatchUpTimeout = 20 * time.Second

// startTimeout is how long an ingest connection may take to send its start.
// A variable so tests can shorten it.
var startTimeout = 10 * time.Second

// violation reports the close codes the engine sends for a broken protocol.
func violation(code int) bool {
	switch code {
	case protocol.ClosePolicyViolation, protocol.CloseUnsupportedData, protocol.CloseMessageTooBig:
		return true
	}
	return false
}

// errTooManyWaiting refuses a start while the token has MaxWaitingCalls
// calls that have not streamed yet (close 4429).
var errTooManyWaiting = errors.New("too many calls waiting for audio")

// tokenKey identifies the token a call was started with, for the cap on
// calls waiting for audio: its id, or its role and agent for a token
// without one.
func tokenKey(c *auth.Claims) string {
	if c.ID != "" {
		return c.ID
	}
	return string(c.Role) + "/" + c.Agent
}

// waitingCalls counts token's live calls that have not streamed yet. The
// caller holds s.mu.
func (s *Server) waitingCalls(token string) int {
	n := 0
	for _, sess := range s.sessions {
		if sess.tokenKey == token && !sess.streaming.Load() {
			n++
		}
	}
	for _, p := range s.starting {
		if p.token == token {
			n++
		}
	}
	return n
}

func (s *Server) sessionStopped() { s.sessWG.Done() }

func (s *Server) removeSession(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[sess.id] == sess {
		delete(s.sessions, sess.id)
	}
}
