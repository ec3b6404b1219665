package ingestclient

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/engine"
	"github.com/earshot/earshot/internal/auth"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/store"
)

// These tests fail calls over between real engines (engine.Server on
// loopback, analysing the sound only) and nodes that misbehave (real
// WebSocket servers on loopback). Two engines cannot share a data
// directory at once (the store locks it), so the engine a call moves to
// opens the first one's directory after it stopped: the failover logic is
// the endpoint's, and the cluster's replicated checkpoint is tested with
// the cluster.

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testEngine is a real engine serving on a loopback listener.
type testEngine struct {
	srv  *engine.Server
	url  string
	stop func() // graceful, as on SIGTERM: live calls are saved with reason shutdown
}

// listen opens a loopback listener on a free port.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() }) // a listener no engine served yet
	return ln
}

// serveEngine opens an engine over dir and serves it on ln until stop or
// the test's end.
func serveEngine(t *testing.T, dir string, ln net.Listener) *testEngine {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := engine.New(engine.Config{DataDir: dir, NewAnalyzer: engine.PipelineAnalyzers(ctx, call.Deps{}), Logger: quiet})
	if err != nil {
		cancel()
		ln.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	var once sync.Once
	e := &testEngine{srv: srv, url: "http://" + ln.Addr().String()}
	e.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("engine on %s: %v", e.url, err)
			}
		})
	}
	t.Cleanup(e.stop)
	return e
}

func (e *testEngine) token(t *testing.T) string {
	t.Helper()
	tok, err := e.srv.Authority().Issue(auth.RoleEndpoint, "A1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// fakeNode is a WebSocket server on loopback that reads each connection's
// start, counts it, and leaves the rest to answer.
type fakeNode struct {
	srv   *httptest.Server
	conns atomic.Int32
}

func newFakeNode(t *testing.T, answer func(ws *websocket.Conn, start protocol.Control)) *fakeNode {
	n := &fakeNode{}
	up := websocket.Upgrader{}
	n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		var start protocol.Control
		if err := ws.ReadJSON(&start); err != nil || start.Type != protocol.TypeStart {
			t.Errorf("first message %+v, %v; want a start", start, err)
			return
		}
		n.conns.Add(1)
		answer(ws, start)
	}))
	t.Cleanup(n.srv.Close)
	return n
}

// crowdedNode answers every start with close 4503 and reason, as a node
// with no room does. raw sends the close frame byte by byte, for a reason
// no conforming server could send.
func crowdedNode(t *testing.T, reason string, raw bool) *fakeNode {
	return newFakeNode(t, func(ws *websocket.Conn, _ protocol.Control) {
		msg := websocket.FormatCloseMessage(protocol.CloseTryElsewhere, reason)
		if !raw {
			if err := ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
				t.Errorf("close: %v", err)
			}
			return
		}
		// FIN and the close opcode, then a 16-bit length: a server's
		// frames are not masked.
		frame := append([]byte{0x88, 126, byte(len(msg) >> 8), byte(len(msg))}, msg...)
		if _, err := ws.NetConn().Write(frame); err != nil {
			t.Errorf("raw close: %v", err)
		}
	})
}

// started answers a start as an engine that has nothing of the call.
func started(ws *websocket.Conn, start protocol.Control) {
	ack := int64(-1)
	ws.WriteJSON(protocol.Control{Type: protocol.TypeStarted, CallID: start.CallID, Ack: &ack})
}

// streamedCall is a client streaming slots of 20 ms (both channels) of a
// tone, its Run and Stream owned by the test.
type streamedCall struct {
	c    *Client
	ctx  context.Context
	wg   sync.WaitGroup
	sent chan error
}

func startCall(t *testing.T, cfg Config, slots int, speed float64) *streamedCall {
	t.Helper()
	cfg.AgentID, cfg.Logger = "A1", quiet
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	s := &streamedCall{c: c, ctx: ctx, sent: make(chan error, 1)}
	t.Cleanup(func() { cancel(); s.wg.Wait() })
	tone := make([]float32, slots*audio.FrameSize)
	for i := range tone {
		tone[i] = float32(0.1 * float64(i%40-20) / 20)
	}
	s.wg.Go(func() { c.Run(ctx) }) // End reports how Run ended
	s.wg.Go(func() { s.sent <- Stream(ctx, c, tone, tone, StreamConfig{Speed: speed}) })
	return s
}

// finish waits for every frame to be handed over, ends the call and
// checks that the engine e got each of them; it returns the client's stats.
func (s *streamedCall) finish(t *testing.T, e *testEngine) Stats {
	t.Helper()
	if err := <-s.sent; err != nil {
		t.Fatal(err)
	}
	ended, err := s.c.End(s.ctx)
	st := s.c.Stats()
	if err != nil {
		t.Fatalf("End: %v (client %+v)", err, st)
	}
	if ended.Frames != int64(st.Frames) || ended.Gaps != 0 {
		t.Errorf("engine ended the call with %d frames and %d gaps; the client sent %d", ended.Frames, ended.Gaps, st.Frames)
	}
	c, err := e.srv.Store().GetCall(store.CallID(s.c.cfg.CallID))
	if err != nil {
		t.Fatal(err)
	}
	if c.Frames != int64(st.Frames) || c.FramesLost != 0 || c.Status != store.StatusEnded {
		t.Errorf("stored call: %d frames, %d lost, status %s; the client sent %d", c.Frames, c.FramesLost, c.Status, st.Frames)
	}
	return st
}

// waitFor polls cond until it holds or 30 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// A back-off this long would show: the client may only wait it once
// every engine of its list has failed.
const slowBackoff = 5 * time.Second

// connectsAtOnce fails the test if s's first connection is not made well
// within slowBackoff of t0.
func connectsAtOnce(t *testing.T, s *streamedCall, t0 time.Time) {
	t.Helper()
	waitFor(t, "a connection", func() bool { return s.c.Stats().Connects > 0 })
	if d := time.Since(t0); d > slowBackoff/2 {
		t.Errorf("the call reached its engine after %v: the client waited a back-off", d)
	}
}

func TestACallMovesToTheNextEngineWhenItsEngineStopsAndLosesNoFrame(t *testing.T) {
	dir := t.TempDir()
	a := serveEngine(t, dir, listen(t))
	// B's address is known from the start, and the client may reach it
	// while A is still saving the call: B serves once A has stopped.
	lnB := listen(t)
	urlB := "http://" + lnB.Addr().String()
	s := startCall(t, Config{URLs: []string{a.url, urlB}, Token: a.token(t), CallID: "c-failover",
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}, 300, 4)
	waitFor(t, "frames acknowledged by A", func() bool { return s.c.Stats().Acked > 100 })
	a.stop() // A saves the call with reason shutdown and closes with 1001
	b := serveEngine(t, dir, lnB)

	st := s.finish(t, b)
	if st.URL != urlB || st.Failovers != 1 || st.Connects != 2 || st.Redirects != 0 {
		t.Errorf("client: on %s after %d failovers, %d connections; want %s after 1 failover, 2 connections (%+v)", st.URL, st.Failovers, st.Connects, urlB, st)
	}
	if st.Frames != 600 {
		t.Errorf("client sent %d frames, want 600", st.Frames)
	}
}

func TestA4503NamingAnEngineSendsTheCallThereAtOnce(t *testing.T) {
	b := serveEngine(t, t.TempDir(), listen(t))
	crowded := crowdedNode(t, b.url, false)
	// The list's next engine is down: the call can only run if the client
	// follows the URL in the close reason.
	down := listen(t)
	down.Close()
	t0 := time.Now()
	s := startCall(t, Config{URLs: []string{crowded.srv.URL, "http://" + down.Addr().String()}, Token: b.token(t), CallID: "c-4503",
		MinBackoff: slowBackoff, MaxBackoff: slowBackoff}, 100, -1)
	connectsAtOnce(t, s, t0)
	st := s.finish(t, b)
	if st.URL != b.url || st.Redirects != 1 || st.Connects != 1 || crowded.conns.Load() != 1 {
		t.Errorf("client on %s after %d redirects and %d connections (crowded node saw %d); want %s, 1, 1, 1",
			st.URL, st.Redirects, st.Connects, crowded.conns.Load(), b.url)
	}
}

func TestA4503WithoutAnEngineURLGoesOnToTheNextEngine(t *testing.T) {
	b := serveEngine(t, t.TempDir(), listen(t))
	token := b.token(t)
	tests := []struct {
		name   string
		reason string
		raw    bool
	}{
		{"an empty reason", "", false},
		{"a script URL", "javascript:alert(1)", false},
		{"the longest reason a close frame carries, not a URL", strings.Repeat("x", 123), false},
		{"a 10 kB reason in a close frame no engine could send", "http://" + strings.Repeat("a", 10<<10) + ":1", true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crowded := crowdedNode(t, tt.reason, tt.raw)
			t0 := time.Now()
			s := startCall(t, Config{URLs: []string{crowded.srv.URL, b.url}, Token: token, CallID: "c-garbage-" + string(rune('a'+i)),
				MinBackoff: slowBackoff, MaxBackoff: slowBackoff}, 50, -1)
			connectsAtOnce(t, s, t0)
			st := s.finish(t, b)
			if st.URL != b.url || st.Redirects != 0 || crowded.conns.Load() != 1 {
				t.Errorf("client on %s after %d redirects (crowded node saw %d connections); want %s, no redirect, 1",
					st.URL, st.Redirects, crowded.conns.Load(), b.url)
			}
		})
	}
}

// TestAnEngineThatStopsAcknowledgingIsLeftForTheNext: a node whose machine
// vanished closes nothing; its connection looks alive until the acks are
// missed. The silent node here takes the start and every frame and never
// acks one.
func TestAnEngineThatStopsAcknowledgingIsLeftForTheNext(t *testing.T) {
	b := serveEngine(t, t.TempDir(), listen(t))
	silent := newFakeNode(t, func(ws *websocket.Conn, start protocol.Control) {
		started(ws, start)
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	})
	s := startCall(t, Config{URLs: []string{silent.srv.URL, b.url}, Token: b.token(t), CallID: "c-silent",
		// Well above the engine's 200 ms between acks, so the engine
		// that does ack is never left.
		AckTimeout: time.Second, MinBackoff: slowBackoff, MaxBackoff: slowBackoff}, 100, 2)
	st := s.finish(t, b)
	if st.URL != b.url || st.Failovers != 1 || st.Resent == 0 {
		t.Errorf("client on %s after %d failovers, %d frames resent; want %s, 1 failover and the silent node's frames resent", st.URL, st.Failovers, st.Resent, b.url)
	}
}

func TestEnginesThatFailEachCallAtOnceAreNotHammered(t *testing.T) {
	failing := func(ws *websocket.Conn, start protocol.Control) {
		started(ws, start)
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(protocol.CloseInternalError, "call failed: boom"), time.Now().Add(time.Second))
	}
	a, b := newFakeNode(t, failing), newFakeNode(t, failing)
	c, err := New(Config{URLs: []string{a.srv.URL, b.srv.URL}, Token: "t", CallID: "c", AgentID: "A",
		MinBackoff: 200 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c.Run(ctx)
	// A round of two connections, then a back-off of 100-300 ms: about
	// ten in the second. Without the back-off, hundreds.
	if n := a.conns.Load() + b.conns.Load(); n < 2 || n > 20 {
		t.Errorf("%d connections in a second to engines that fail every call", n)
	}
}
