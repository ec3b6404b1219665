package ingestclient

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot/earshot/protocol"
)

// Sentinel errors.
var (
	// ErrRejected means the engine refused the call for good (bad token,
	// forbidden, protocol violation, call active elsewhere): no reconnect.
	ErrRejected = errors.New("engine rejected the call")
	// ErrEnded means Send came after End.
	ErrEnded = errors.New("call already ended")
	// ErrBadFrame means a payload of the wrong size or a channel other than 0 or 1.
	ErrBadFrame = errors.New("bad frame")
	// ErrBadURL means a Config whose engine URLs cannot be dialled: none,
	// both URL and URLs, or one that is not http(s)://host:port.
	ErrBadURL = errors.New("bad engine URL")
	// errAckTimeout means an engine stopped acknowledging the frames
	// written to it: a node that vanished without closing its connections.
	errAckTimeout = errors.New("no ack from the engine")
)

// Config configures a Client. URL or URLs, Token, CallID and AgentID are
// required.
type Config struct {
	// URL is one engine base URL: http(s)://host:port (ws(s):// also
	// accepted). It means URLs with one element; setting both is an error.
	URL string
	// URLs are the engines (the nodes of a cluster) the call may stream
	// to. The client connects to the first; a connection lost or refused
	// is retried at once on the next one, round robin, resuming the call
	// from the last ack. The back-off is waited only once every engine of
	// the list has failed since the last connection.
	URLs       []string
	Token      string // endpoint token
	CallID     string
	AgentID    string
	SampleRate int    // 8000 or 16000; default 16000
	Encoding   string // "pcm_s16le" (default) or "mulaw"

	// RingFrames bounds the unacknowledged frames kept for resending;
	// default 6000 (60 s of both channels). When full, the oldest are
	// dropped and reported to the engine as a gap.
	RingFrames int
	MinBackoff time.Duration // default 200 ms
	MaxBackoff time.Duration // default 5 s
	// EndTimeout bounds how long End waits for the engine's "ended"; default 60 s.
	EndTimeout time.Duration
	// AckTimeout gives up a connection on which written frames got no ack
	// for this long (default 10 s): an engine whose machine vanished
	// closes nothing, and the engine acks at least every 250 ms while
	// frames arrive. It is the engine's own storage timeout (10 s), after
	// which a working engine closes with 1011 anyway.
	AckTimeout time.Duration
	TLS        *tls.Config
	Logger     *slog.Logger
}

// Ended is the engine's answer to end.
type Ended struct {
	CallID string `json:"call_id"`
	Frames int64  `json:"frames"`
	Gaps   int64  `json:"gaps"`
}

// Stats count what the client did.
type Stats struct {
	Frames   uint64 // frames given to Send
	Sent     uint64 // frame writes, resends included
	Resent   uint64 // frames written again after a reconnect
	Dropped  uint64 // frames dropped from a full ring (reported as gaps)
	Connects int    // successful connections
	Acked    int64  // last ack from the engine

	URL       string // engine base URL of the current connection, or the last one while reconnecting
	Failovers int    // connections made to another engine than the connection before
	Redirects int    // engines tried because a node closed with 4503 naming them
}

type frame struct {
	seq uint64
	msg []byte // header + payload
}

type gapRange struct{ from, to uint64 }

// Client streams one call. Send, Pause, Resume and End may be called from
// any goroutine; Run must be running (it owns the connection) for anything
// to reach the engine.
type Client struct {
	cfg     Config
	urls    []string // Config.Engines()
	log     *slog.Logger
	payload int

	mu       sync.Mutex
	ring     frameRing // unacked frames in seq order
	free     [][]byte  // message buffers of acknowledged frames, for Send to reuse
	gaps     []gapRange
	controls [][]byte // pause/resume not yet written
	nextSeq  uint64
	acked    int64
	sentTo   int64     // highest seq written on the current connection
	waitFrom time.Time // since when frames written on this connection wait for an ack
	maxSent  int64     // highest seq ever written
	ending   bool
	ended    *Ended
	stats    Stats
	wake     chan struct{}
	endedCh  chan struct{}
	runDone  chan struct{}
	runErr   error
	everConn bool
}

// New checks cfg and returns a client; call Run to connect.
func New(cfg Config) (*Client, error) {
	urls, err := cfg.Engines()
	if err != nil {
		return nil, fmt.Errorf("ingestclient: %w", err)
	}
	if cfg.Token == "" || cfg.CallID == "" || cfg.AgentID == "" {
		return nil, errors.New("ingestclient: Token, CallID and AgentID are required")
	}
	if cfg.SampleRate == 0 {
		cfg.SampleRate = 16000
	}
	if cfg.Encoding == "" {
		cfg.Encoding = protocol.EncodingPCM16
	}
	if cfg.SampleRate != 8000 && cfg.SampleRate != 16000 {
		return nil, fmt.Errorf("ingestclient: sample rate %d (want 8000 or 16000)", cfg.SampleRate)
	}
	if cfg.Encoding != protocol.EncodingPCM16 && cfg.Encoding != protocol.EncodingMulaw {
		return nil, fmt.Errorf("ingestclient: encoding %q", cfg.Encoding)
	}
	if cfg.RingFrames <= 0 {
		cfg.RingFrames = 6000
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 200 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if cfg.EndTimeout <= 0 {
		cfg.EndTimeout = 60 * time.Second
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := protocol.PayloadBytes(cfg.SampleRate, cfg.Encoding)
	return &Client{cfg: cfg, urls: urls, log: cfg.Logger.With("call_id", cfg.CallID), payload: n, acked: -1, sentTo: -1, maxSent: -1,
		wake: make(chan struct{}, 1), endedCh: make(chan struct{}), runDone: make(chan struct{})}, nil
}

// PayloadBytes is the audio size of one frame in the client's format.
func (c *Client) PayloadBytes() int { return c.payload }

func (c *Client) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Send queues one 20 ms frame of channel (agent or caller) captured at
// call time at, and returns its seq. It copies payload and never blocks:
// if the ring is full, the oldest unacknowledged frame is dropped and
// reported as a gap.
func (c *Client) Send(channel protocol.Channel, at time.Duration, payload []byte) (uint64, error) {
	if !channel.Valid() || len(payload) != c.payload {
		return 0, fmt.Errorf("%w: channel %d, %d bytes (want %d)", ErrBadFrame, channel, len(payload), c.payload)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ending {
		return 0, ErrEnded
	}
	seq := c.nextSeq
	c.nextSeq++
	msg := c.newMsgLocked()
	protocol.PutHeader(msg, protocol.FrameHeader{Version: protocol.HeaderVersion, Channel: channel, Seq: seq, At: at})
	copy(msg[protocol.HeaderSize:], payload)
	if c.ring.len() >= c.cfg.RingFrames {
		old := c.ring.pop()
		c.recycleLocked(old.msg)
		if int64(old.seq) > c.maxSent {
			c.stats.Dropped++
		}
		if n := len(c.gaps); n > 0 && c.gaps[n-1].to+1 == old.seq {
			c.gaps[n-1].to = old.seq
		} else {
			c.gaps = append(c.gaps, gapRange{old.seq, old.seq})
		}
	}
	c.ring.push(frame{seq: seq, msg: msg})
	c.stats.Frames++
	c.poke()
	return seq, nil
}

// maxFree bounds the spare message buffers kept for reuse: enough for the
// frames of a few seconds in flight, so steady streaming allocates nothing,
// while the buffers of a long outage's backlog go back to the GC once it
// is acknowledged.
const maxFree = 256

// newMsgLocked returns a buffer for one audio message, reusing the buffer
// of an acknowledged frame when there is one.
func (c *Client) newMsgLocked() []byte {
	if n := len(c.free); n > 0 {
		m := c.free[n-1]
		c.free[n-1] = nil
		c.free = c.free[:n-1]
		return m
	}
	return make([]byte, protocol.HeaderSize+c.payload)
}

// recycleLocked keeps the buffer of a frame that left the ring. The writer
// never holds on to ring buffers outside c.mu (it copies what it sends), so
// reuse cannot change bytes on their way out.
func (c *Client) recycleLocked(m []byte) {
	if len(c.free) < maxFree {
		c.free = append(c.free, m)
	}
}

// Pause tells the engine capture paused at call time at (no frames follow
// until Resume).
func (c *Client) Pause(at time.Duration) { c.control(protocol.TypePause, at) }

// Resume tells the engine capture resumed at call time at.
func (c *Client) Resume(at time.Duration) { c.control(protocol.TypeResume, at) }

func (c *Client) control(typ string, at time.Duration) {
	us := int64(at / time.Microsecond)
	b, _ := json.Marshal(protocol.Control{Type: typ, AtUS: &us})
	c.mu.Lock()
	c.controls = append(c.controls, b)
	c.mu.Unlock()
	c.poke()
}

// End asks Run to deliver every frame, send end and wait for the engine's
// "ended" (at most EndTimeout). It blocks until then, Run returns, or ctx ends.
func (c *Client) End(ctx context.Context) (Ended, error) {
	c.mu.Lock()
	c.ending = true
	c.mu.Unlock()
	c.poke()
	t := time.NewTimer(c.cfg.EndTimeout)
	defer t.Stop()
	select {
	case <-c.endedCh:
		c.mu.Lock()
		defer c.mu.Unlock()
		return *c.ended, nil
	case <-c.runDone:
		if c.runErr == nil {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.ended != nil {
				return *c.ended, nil
			}
		}
		return Ended{}, fmt.Errorf("ingestclient: call %s did not end: %w", c.cfg.CallID, c.runErr)
	case <-ctx.Done():
		return Ended{}, ctx.Err()
	case <-t.C:
		return Ended{}, fmt.Errorf("ingestclient: call %s: no ended from the engine within %v", c.cfg.CallID, c.cfg.EndTimeout)
	}
}

// Stats returns a snapshot of the counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Acked = c.acked
	return s
}

// Run connects and streams until the call has ended (nil), ctx ends
// (ctx.Err()), or the engine rejects the call (ErrRejected). A lost or
// refused connection is retried on the next engine of the list at once;
// once every engine has failed since the last connection, Run waits an
// exponential back-off with jitter before the next round.
func (c *Client) Run(ctx context.Context) (err error) {
	defer func() {
		c.mu.Lock()
		c.runErr = err
		c.mu.Unlock()
		close(c.runDone)
	}()
	backoff := c.cfg.MinBackoff
	r := route{urls: c.urls}
	for {
		u, redirected := r.target()
		if redirected {
			c.mu.Lock()
			c.stats.Redirects++
			c.mu.Unlock()
		}
		t0 := time.Now()
		connected, err := c.connectOnce(ctx, u)
		if err == nil {
			return nil // ended
		}
		if errors.Is(err, ErrRejected) || ctx.Err() != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		if connected {
			backoff = c.cfg.MinBackoff
		}
		if connected && time.Since(t0) >= stableConnection {
			r.connected()
		}
		if !r.lost(err, redirected) {
			next, _ := r.peek()
			c.log.Info("engine connection lost; trying the next engine", "err", err, "url", u, "next", next)
			continue
		}
		// Full jitter: a fleet of endpoints that lost the engine together
		// does not reconnect in lockstep.
		wait := time.Duration(rand.Int64N(int64(backoff))) + backoff/2
		c.log.Info("engine connection lost; reconnecting", "err", err, "url", u, "in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, c.cfg.MaxBackoff)
	}
}

func wsURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("URL scheme %q (want http or https)", u.Scheme)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/ingest"
	return u.String(), nil
}

// stableConnection is how long a connection must last to start a new
// round of the engine list. Nodes that take the start and fail at once
// (a call that cannot run anywhere) would otherwise have the client hop
// between them with no back-off at all.
const stableConnection = time.Second

// endMessage is the end control message, made once.
var endMessage, _ = json.Marshal(protocol.Control{Type: protocol.TypeEnd})

// rejected is the engine refusing the call for good: it matches
// ErrRejected, and errors.As finds the *protocol.RejectedError that says
// how (HTTP status or close code), so callers never read error text.
func rejected(r *protocol.RejectedError) error {
	return fmt.Errorf("%w: %w", ErrRejected, r)
}

// connectOnce runs one connection to the engine at base; it returns nil
// once the call ended.
func (c *Client) connectOnce(ctx context.Context, base string) (connected bool, err error) {
	ws, bc, err := c.dial(ctx, base)
	if err != nil {
		return false, err
	}
	defer ws.Close()
	ws.SetReadLimit(64 << 10)
	// The engine pings every 15 s; a ping proves it alive while no acks
	// flow (a paused call), so it extends the read deadline.
	ws.SetPingHandler(func(data string) error {
		_ = ws.SetReadDeadline(time.Now().Add(60 * time.Second))
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(5*time.Second))
	})
	if err := c.handshake(ws, base); err != nil {
		return false, err
	}

	// The reader goroutine owns reads; this goroutine owns writes. The
	// reader ends when the connection does; we wait for it before returning.
	var rerr error
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		rerr = c.readLoop(ws)
	}()
	err = c.writeLoop(ctx, ws, bc, readDone)
	_ = ws.Close()
	<-readDone
	if err == nil {
		return true, nil
	}
	return true, lostConnection(rerr, err)
}

// dial opens the WebSocket to the engine at base and returns the
// batchConn under it too, for the writer to send each wake-up's messages
// in one write. A bad URL or an engine refusing the token is ErrRejected:
// no reconnect would help.
func (c *Client) dial(ctx context.Context, base string) (*websocket.Conn, *batchConn, error) {
	u, err := wsURL(base)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrRejected, err)
	}
	var bc *batchConn
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: c.cfg.TLS,
		// TLS, when used, runs over the batchConn, so records are batched too.
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			bc = &batchConn{Conn: conn}
			return bc, nil
		}}
	h := http.Header{"Authorization": {"Bearer " + c.cfg.Token}}
	ws, resp, err := d.DialContext(ctx, u, h)
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return nil, nil, rejected(&protocol.RejectedError{Status: resp.StatusCode})
		}
		if resp != nil {
			return nil, nil, fmt.Errorf("%w: HTTP %s", err, resp.Status)
		}
		return nil, nil, err
	}
	return ws, bc, nil
}

// handshake sends start (resuming the call after the first connection) and
// waits for started, whose ack says where the engine's copy of the call
// ends: the frames after it are resent, those up to it leave the ring.
func (c *Client) handshake(ws *websocket.Conn, base string) error {
	c.mu.Lock()
	resume := c.everConn
	c.mu.Unlock()
	start := protocol.Start(c.cfg.CallID, c.cfg.AgentID, c.cfg.SampleRate, c.cfg.Encoding, resume)
	_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := ws.WriteJSON(start); err != nil {
		return err
	}
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	var started protocol.Control
	if err := ws.ReadJSON(&started); err != nil {
		var ce *websocket.CloseError
		if errors.As(err, &ce) && protocol.Final(ce.Code) {
			return rejected(&protocol.RejectedError{Code: ce.Code, Reason: ce.Text})
		}
		return err
	}
	if started.Type != protocol.TypeStarted || started.Ack == nil {
		return fmt.Errorf("%w: unexpected answer %q to start", ErrRejected, started.Type)
	}
	c.mu.Lock()
	c.everConn = true
	c.stats.Connects++
	if c.stats.URL != "" && c.stats.URL != base {
		c.stats.Failovers++
		c.log.Info("call moved to another engine", "from", c.stats.URL, "to", base, "ack", *started.Ack)
	}
	c.stats.URL = base
	c.ackLocked(*started.Ack)
	c.sentTo = *started.Ack // resend everything after the engine's ack
	c.mu.Unlock()
	return nil
}

// lostConnection is Run's error for a connection the writer lost with
// werr. The reader's error rerr says more when the engine closed it: a
// final close code rejects the call for good (no reconnect), any other
// close is named by its code and text.
func lostConnection(rerr, werr error) error {
	var ce *websocket.CloseError
	if errors.As(rerr, &ce) {
		if protocol.Final(ce.Code) {
			return rejected(&protocol.RejectedError{Code: ce.Code, Reason: ce.Text})
		}
		return fmt.Errorf("engine closed the connection: %w", ce)
	}
	return werr
}

func (c *Client) ackLocked(n int64) {
	if n <= c.acked {
		return
	}
	c.acked = n
	c.waitFrom = time.Now()
	for c.ring.len() > 0 && int64(c.ring.at(0).seq) <= n {
		c.recycleLocked(c.ring.pop().msg)
	}
	j := 0
	for j < len(c.gaps) && int64(c.gaps[j].to) <= n {
		j++
	}
	c.gaps = c.gaps[j:]
}

func (c *Client) readLoop(ws *websocket.Conn) error {
	for {
		_ = ws.SetReadDeadline(time.Now().Add(60 * time.Second))
		var m protocol.Control
		if err := ws.ReadJSON(&m); err != nil {
			return err
		}
		switch m.Type {
		case protocol.TypeAck:
			if m.Seq != nil {
				c.mu.Lock()
				c.ackLocked(*m.Seq)
				c.mu.Unlock()
			}
		case protocol.TypeEnded:
			c.mu.Lock()
			if c.ended == nil {
				c.ended = &Ended{CallID: m.CallID, Frames: deref(m.Frames), Gaps: deref(m.Gaps)}
				close(c.endedCh)
			}
			c.mu.Unlock()
			c.poke()
		}
	}
}

// maxBatch bounds the frames one wake-up of the writer copies and writes,
// so catching up after an outage does not copy the whole backlog at once.
const maxBatch = 256

// outbox is what one wake-up of the writer sends: messages copied out of
// the client's state under its lock, so the writes happen without it and
// Send never waits for the network. It is reused, so steady streaming
// allocates nothing.
type outbox struct {
	data  []byte
	parts []outPart
}

type outPart struct {
	kind   int // websocket.TextMessage or BinaryMessage
	off, n int
}

func (o *outbox) add(kind int, b []byte) {
	o.parts = append(o.parts, outPart{kind, len(o.data), len(b)})
	o.data = append(o.data, b...)
}

func (o *outbox) reset() {
	o.data, o.parts = o.data[:0], o.parts[:0]
}

// send writes the messages as one batch on bc.
func (o *outbox) send(ws *websocket.Conn, bc *batchConn) error {
	if len(o.parts) == 0 {
		return nil
	}
	bc.hold()
	_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	for _, p := range o.parts {
		if err := ws.WriteMessage(p.kind, o.data[p.off:p.off+p.n]); err != nil {
			bc.flush()
			return err
		}
	}
	return bc.flush()
}

// writeLoop writes gaps, controls and frames past sentTo, then end once
// asked; it returns nil when the engine has answered end.
func (c *Client) writeLoop(ctx context.Context, ws *websocket.Conn, bc *batchConn, readDone <-chan struct{}) error {
	sentGaps := map[gapRange]bool{}
	endSent := false
	var out outbox
	dog := time.NewTicker(c.cfg.AckTimeout / 4)
	defer dog.Stop()
	for {
		out.reset()
		more, ending, ended := c.fillOutbox(&out, sentGaps)
		if ended {
			return nil
		}
		if err := out.send(ws, bc); err != nil {
			return err
		}
		if ending && !endSent {
			_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := ws.WriteMessage(websocket.TextMessage, endMessage); err != nil {
				return err
			}
			endSent = true
		}
		if more {
			select {
			case <-ctx.Done():
			case <-readDone:
			default:
				continue
			}
		}
		select {
		case <-ctx.Done():
			_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(protocol.CloseGoingAway, "endpoint stopping"), time.Now().Add(time.Second))
			return ctx.Err()
		case <-readDone:
			c.mu.Lock()
			done := c.ended != nil
			c.mu.Unlock()
			if done {
				return nil
			}
			return errors.New("connection closed")
		case <-dog.C:
			c.mu.Lock()
			stalled := c.sentTo > c.acked && time.Since(c.waitFrom) > c.cfg.AckTimeout
			c.mu.Unlock()
			if stalled {
				return fmt.Errorf("%w for %v", errAckTimeout, c.cfg.AckTimeout)
			}
		case <-c.wake:
		}
	}
}

// fillOutbox puts what the connection owes the engine into out: gap
// reports not sent yet, queued control messages, and the next batch of
// frames after sentTo. more says frames are left for another batch, ending
// that end may follow this batch, ended that the call is over.
func (c *Client) fillOutbox(out *outbox, sentGaps map[gapRange]bool) (more, ending, ended bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range c.gaps {
		if !sentGaps[g] {
			sentGaps[g] = true
			from, to := int64(g.from), int64(g.to)
			b, _ := json.Marshal(protocol.Control{Type: protocol.TypeGap, From: &from, To: &to, Reason: "buffer_overflow"})
			out.add(websocket.TextMessage, b)
		}
	}
	for _, b := range c.controls {
		out.add(websocket.TextMessage, b)
	}
	c.controls = nil
	// The ring holds consecutive seqs, so the frames not yet written on
	// this connection are its tail from sentTo+1.
	if n := c.ring.len(); n > 0 {
		i := max(0, int(c.sentTo+1-int64(c.ring.at(0).seq)))
		end := min(n, i+maxBatch)
		more = end < n
		if i < end && c.sentTo <= c.acked {
			c.waitFrom = time.Now() // the first frame the engine owes an ack for
		}
		for ; i < end; i++ {
			f := c.ring.at(i)
			out.add(websocket.BinaryMessage, f.msg)
			c.sentTo = int64(f.seq)
			if int64(f.seq) <= c.maxSent {
				c.stats.Resent++
			}
			c.maxSent = max(c.maxSent, int64(f.seq))
			c.stats.Sent++
		}
	}
	// end goes after the last frame, never in front of frames still
	// waiting for the next batch.
	return more, c.ending && !more, c.ended != nil
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
