package engine

import (
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot/earshot/live"
	"github.com/earshot/earshot/protocol"
)

// Message limits: docs/protocol.md promises 64 KiB; the library's own limit
// is a backstop far above it, so oversized messages get our close reason
// instead of the library's empty one (only messages over backstopLimit get
// the library's 1009 with no reason).
const (
	messageLimit  = 64 << 10
	backstopLimit = 1 << 20
	writeWait     = 5 * time.Second
	closeGrace    = 2 * time.Second
)

var upgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 4096,
	// Browsers on other origins may connect: the token, not the origin,
	// is the authentication (FACTS.md: origin checks are not auth).
	CheckOrigin: func(*http.Request) bool { return true },
}

// wsConn wraps a WebSocket with the discipline of STYLE.md rule 9: one
// reader (the handler goroutine), one writer goroutine (run by the handler
// via serve) fed through out and a feed, control frames with WriteControl, and a
// close that sends the reason and then lets the reader drain until the peer
// answers, so the peer sees the reason instead of a reset.
type wsConn struct {
	ws      *websocket.Conn
	out     chan outMsg   // text messages (and a final close) for the writer
	closing chan struct{} // closed by closeWith
	once    sync.Once
	code    int
	reason  string
	timeout time.Duration // read deadline after each message or pong
}

func newWSConn(ws *websocket.Conn, readTimeout time.Duration) *wsConn {
	ws.SetReadLimit(backstopLimit)
	_ = ws.SetReadDeadline(time.Now().Add(readTimeout))
	ws.SetPongHandler(func(string) error {
		return ws.SetReadDeadline(time.Now().Add(readTimeout))
	})
	return &wsConn{ws: ws, out: make(chan outMsg, 64), closing: make(chan struct{}), timeout: readTimeout}
}

// touch extends the read deadline: any message proves the peer alive, not
// only pongs. The reader calls it after each message it has handled, so
// time spent handing a message to a busy call does not count as the
// peer's silence. It does nothing once closing (the close grace applies).
func (c *wsConn) touch() {
	if !c.isClosing() {
		_ = c.ws.SetReadDeadline(time.Now().Add(c.timeout))
	}
}

// outMsg is a queued text message, or (close set) a close to send after
// everything queued before it.
type outMsg struct {
	b      []byte
	close  bool
	code   int
	reason string
}

// closeAfterQueued closes with code and reason once the writer has sent
// every message queued before (an ingest "ended" must reach the endpoint
// before the close).
func (c *wsConn) closeAfterQueued(code int, reason string) {
	select {
	case c.out <- outMsg{close: true, code: code, reason: reason}:
	default:
		c.closeWith(code, reason)
	}
}

// closeReason trims an error text to what a close frame can carry (123 bytes).
func closeReason(s string) string {
	s = strings.TrimPrefix(s, ErrProtocol.Error()+": ")
	if len(s) > 123 {
		s = s[:120] + "..."
	}
	return s
}

// closeWith starts closing with code and reason; only the first call
// counts. It never blocks on the peer.
func (c *wsConn) closeWith(code int, reason string) {
	c.closeWithGrace(code, reason, closeGrace)
}

// closeWithGrace is closeWith giving the peer grace to read everything
// still in flight (a slow subscriber has a socket full of events before
// the close frame) and answer.
func (c *wsConn) closeWithGrace(code int, reason string, grace time.Duration) {
	c.once.Do(func() {
		c.code, c.reason = code, closeReason(reason)
		msg := websocket.FormatCloseMessage(code, c.reason)
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(max(writeWait, grace)))
		// The reader drains until the peer's close arrives or this expires.
		_ = c.ws.SetReadDeadline(time.Now().Add(grace))
		close(c.closing)
	})
}

// isClosing reports whether closeWith was called.
func (c *wsConn) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// sendJSON queues a text message; if the writer is hopelessly behind (64
// queued), the connection is broken and is closed.
func (c *wsConn) sendJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	select {
	case c.out <- outMsg{b: b}:
	default:
		c.closeWith(protocol.CloseInternalError, "writer stalled")
	}
}

// feed is what a connection's writer sends besides the messages queued
// with sendJSON: an ingest connection's latest ack, a live subscription's
// events.
type feed struct {
	// wake says next may have a message (the ack moved).
	wake <-chan struct{}
	next func() ([]byte, bool)
	// events are written as they come until done is closed; then end runs
	// (it closes the connection with the subscription's reason).
	events <-chan live.Delivery
	done   <-chan struct{}
	end    func()
	// writeWait bounds one write; default writeWait.
	writeWait time.Duration
}

// serve runs the connection's writer goroutine while read (the handler's
// read loop) runs, and waits for it: the writer never outlives the handler.
func (c *wsConn) serve(ping time.Duration, f feed, read func()) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.writeLoop(stop, ping, f)
	}()
	read()
	close(stop)
	wg.Wait()
}

// writeLoop is the connection's writer goroutine: queued messages, the
// feed, and pings. It returns when closing or stop is closed, the feed is
// done, or a write fails.
func (c *wsConn) writeLoop(stop <-chan struct{}, ping time.Duration, f feed) {
	t := time.NewTicker(ping)
	defer t.Stop()
	wait := cmp.Or(f.writeWait, writeWait)
	write := func(b []byte) bool {
		_ = c.ws.SetWriteDeadline(time.Now().Add(wait))
		if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
			c.closeWith(protocol.CloseInternalError, "write failed")
			return false
		}
		return true
	}
	for {
		// A finished feed (a dropped subscription) must not write what is
		// still queued: check done before taking from events.
		select {
		case <-f.done:
			f.end()
			return
		default:
		}
		select {
		case <-c.closing:
			return
		case <-stop:
			return
		case m := <-c.out:
			if m.close {
				c.closeWith(m.code, m.reason)
				return
			}
			if !write(m.b) {
				return
			}
		case <-f.wake:
			if b, ok := f.next(); ok && !write(b) {
				return
			}
		case d := <-f.events:
			if !write(d.JSON) {
				return
			}
		case <-f.done:
			f.end()
			return
		case <-t.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				return
			}
		}
	}
}

// readMessage reads the next message, at most messageLimit bytes. A bigger
// one closes the connection with 1009 "message too big". While closing it
// discards whatever the peer still sends until its close frame.
func (c *wsConn) readMessage() (int, []byte, error) {
	for {
		mt, r, err := c.ws.NextReader()
		if err != nil {
			return 0, nil, err
		}
		if c.isClosing() {
			continue // NextReader discards the unread message
		}
		b, err := io.ReadAll(io.LimitReader(r, messageLimit+1))
		if err != nil {
			return 0, nil, err
		}
		if len(b) > messageLimit {
			c.closeWith(protocol.CloseMessageTooBig, "message too big")
			continue
		}
		return mt, b, nil
	}
}

// drain reads until the peer's close, an error, or the close grace period.
func (c *wsConn) drain() {
	for {
		if _, _, err := c.ws.NextReader(); err != nil {
			return
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
