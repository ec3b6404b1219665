package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/internal/auth"
	"github.com/earshot/earshot/internal/ingestclient"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/store"
)

// liveCall is an endpoint streaming slots of audio in the background.
type liveCall struct {
	c      *ingestclient.Client
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	runErr error
	sent   chan error
}

func startLiveCall(t *testing.T, base, token, callID string, slots int, pace time.Duration) *liveCall {
	t.Helper()
	return startLiveCallOn(t, []string{base}, token, callID, slots, pace)
}

// startLiveCallOn is startLiveCall with an endpoint that knows several
// engines (the nodes of a cluster) and fails over between them.
func startLiveCallOn(t *testing.T, bases []string, token, callID string, slots int, pace time.Duration) *liveCall {
	t.Helper()
	c, err := ingestclient.New(ingestclient.Config{URLs: bases, Token: token, CallID: callID, AgentID: "A1",
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	l := &liveCall{c: c, sent: make(chan error, 1)}
	l.ctx, l.cancel = context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(func() { l.cancel(); l.wg.Wait() })
	l.wg.Add(2)
	go func() { defer l.wg.Done(); l.runErr = c.Run(l.ctx) }()
	go func() {
		defer l.wg.Done()
		s := make([]float32, slots*audio.FrameSize)
		for i := range s {
			s[i] = 0.1
		}
		l.sent <- ingestclient.Stream(l.ctx, c, s, s, ingestclient.StreamConfig{Speed: float64(audio.FrameDuration) / float64(pace)})
	}()
	return l
}

func (l *liveCall) finish(t *testing.T) ingestclient.Ended {
	t.Helper()
	ended, err := l.end()
	if err != nil {
		t.Fatal(err)
	}
	return ended
}

// end waits for the stream to be handed over and ends the call; safe to
// call from any goroutine.
func (l *liveCall) end() (ingestclient.Ended, error) {
	if err := <-l.sent; err != nil {
		return ingestclient.Ended{}, err
	}
	return l.c.End(l.ctx)
}

// endInBackground ends the call from another goroutine; the returned
// channel gets the error.
func (l *liveCall) endInBackground() <-chan error {
	ch := make(chan error, 1)
	go func() { _, err := l.end(); ch <- err }()
	return ch
}

func TestServerRestartedMidCallKeepsEveryFrame(t *testing.T) {
	dir := t.TempDir()
	e1 := startEngine(t, dir, "")
	addr := e1.addr
	l := startLiveCall(t, e1.base(), e1.tokens["endpoint"], "c-restart", 500, 3*time.Millisecond)
	waitFor(t, "frames to be acknowledged", 20*time.Second, func() bool { return l.c.Stats().Acked > 200 })
	e1.stop() // graceful: the call is saved with reason shutdown
	e2 := startEngine(t, dir, addr)
	ended := l.finish(t)
	st := l.c.Stats()
	if ended.Frames != 1000 || ended.Gaps != 0 {
		t.Fatalf("ended %+v (client %+v), want 1000 frames, no gaps", ended, st)
	}
	if st.Connects < 2 {
		t.Errorf("client connected %d times", st.Connects)
	}
	d := e2.call("c-restart")
	if d.Frames != 1000 || d.FramesLost != 0 || d.Status != "ended" || d.EndReason != "end" {
		t.Errorf("stored %+v", d)
	}
	types := eventTypes(t, d.Events) // seq continues across the restart
	if !strings.Contains(strings.Join(types, ","), "call.ended") || types[len(types)-1] != "call.ended" {
		t.Errorf("events %v", types)
	}
	t.Logf("client: %+v", st)
}

// TestHelperEngineProcess is the engine the SIGKILL test runs as a child
// process; it does nothing in a normal test run.
func TestHelperEngineProcess(t *testing.T) {
	dir, addr := os.Getenv("EARSHOT_CHILD_DIR"), os.Getenv("EARSHOT_CHILD_ADDR")
	if dir == "" {
		t.Skip("only runs as the child of TestKilledServerKeepsFinishedCalls")
	}
	startEngine(t, dir, addr)
	select {} // until SIGKILL
}

func TestKilledServerKeepsFinishedCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	secret, err := auth.LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperEngineProcess$", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), "EARSHOT_CHILD_DIR="+dir, "EARSHOT_CHILD_ADDR="+addr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	base := "http://" + addr
	waitFor(t, "the child engine", 30*time.Second, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	tok, _ := auth.NewAuthority(secret, nil).Issue(auth.RoleEndpoint, "A1", time.Hour)
	fake := &testEnv{t: t, addr: addr, tokens: map[string]string{"endpoint": tok}}
	for i := 0; i < 2; i++ {
		if ended := streamCall(t, fake, fmt.Sprintf("c-done-%d", i), 300, 0); ended.Frames != 600 {
			t.Fatalf("call %d ended %+v", i, ended)
		}
	}
	// An endpoint that goes away for good just before the kill.
	gone := startLiveCall(t, base, tok, "c-orphan", 400, 3*time.Millisecond)
	waitFor(t, "the orphan call to be acknowledged", 20*time.Second, func() bool { return gone.c.Stats().Acked > 20 })
	gone.cancel()
	l := startLiveCall(t, base, tok, "c-cut", 400, 3*time.Millisecond)
	waitFor(t, "the cut call to be acknowledged", 20*time.Second, func() bool { return l.c.Stats().Acked > 100 })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true

	e := startEngine(t, dir, addr)
	for i := 0; i < 2; i++ {
		d := e.call(fmt.Sprintf("c-done-%d", i))
		types := eventTypes(t, d.Events)
		if d.Status != "ended" || d.Frames != 600 || len(d.Utterances) != 12 || types[len(types)-1] != "call.ended" {
			t.Errorf("finished call %d after the kill: %s/%d frames/%d utterances/last event %s", i, d.Status, d.Frames, len(d.Utterances), types[len(types)-1])
		}
	}
	// The call cut by the kill resumes on the new engine from its stored ack.
	ended := l.finish(t)
	if ended.Frames != 800 || ended.Gaps != 0 {
		t.Errorf("cut call ended %+v, client %+v", ended, l.c.Stats())
	}
	d := e.call("c-cut")
	eventTypes(t, d.Events)
	if d.Frames != 800 || d.FramesLost != 0 {
		t.Errorf("cut call stored %d frames, %d lost", d.Frames, d.FramesLost)
	}
	// The kill came in the middle of an utterance (testAnalyzer: one per
	// 25 agent frames), whose audio was never acknowledged: the endpoint
	// resent it and the new engine heard it whole, so the call has the
	// utterances of an uncut one, each on its 500 ms boundary.
	if len(d.Utterances) != 16 {
		t.Errorf("cut call has %d utterances, want 16 as uncut", len(d.Utterances))
	}
	for _, u := range d.Utterances {
		if end := u["end"].(float64); math.Abs(end*2-math.Round(end*2)) > 0.001 {
			t.Errorf("utterance %v ends off its 500 ms boundary: heard in two parts", u)
		}
	}
	// Nobody resumes the orphan: after the resume window it is ended.
	waitFor(t, "the orphaned call to end", 20*time.Second, func() bool {
		c, err := e.srv.Store().GetCall("c-orphan")
		return err == nil && c.Status == "ended"
	})
	if c, _ := e.srv.Store().GetCall("c-orphan"); c.EndReason != "endpoint_lost" || c.Frames < 20 {
		t.Errorf("orphan ended as %s with %d frames", c.EndReason, c.Frames)
	}
}

// dialLive opens /v1/live with query q and sends the auth message.
func dialLive(t *testing.T, e *testEnv, q, token string, resume map[string]uint64, dialer *websocket.Dialer) *websocket.Conn {
	t.Helper()
	if dialer == nil {
		dialer = websocket.DefaultDialer
	}
	ws, _, err := dialer.Dial(e.ws()+"/v1/live?"+q, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteJSON(map[string]any{"type": "auth", "token": token, "resume": resume}); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := ws.ReadJSON(&m); err != nil || m["type"] != "ready" {
		t.Fatalf("live answered %v, %v", m, err)
	}
	ws.SetReadDeadline(time.Time{})
	return ws
}

type wireEvent struct {
	Type   string `json:"type"`
	CallID string `json:"call_id"`
	Seq    uint64 `json:"seq"`
}

func TestASlowSubscriberIsDroppedAndOthersGetEverything(t *testing.T) {
	e := startEngine(t, t.TempDir(), "", func(c *Config) {
		c.QueueSize = 32
		c.NewAnalyzer = func(call.Config) (Analyzer, error) { return &testAnalyzer{bigEvent: 40000}, nil }
	})
	// The slow subscriber's socket buffer is tiny, so the engine's writes
	// to it block soon and its queue fills.
	small := &websocket.Dialer{NetDialContext: (&net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}).DialContext}
	slow := dialLive(t, e, "all=1", e.tokens["supervisor"], nil, small)
	fast := dialLive(t, e, "agent=A1", e.tokens["agent"], nil, nil)
	// The slow one reads nothing until the call is over (more than its
	// socket buffers hold has been sent by then), then reads what it has.
	fastDone := make(chan struct{})
	slowClose := make(chan [2]any, 1)
	go func() {
		<-fastDone
		for {
			slow.SetReadDeadline(time.Now().Add(60 * time.Second))
			_, _, err := slow.ReadMessage()
			if err != nil {
				code, text := -1, err.Error()
				if ce, ok := err.(*websocket.CloseError); ok {
					code, text = ce.Code, ce.Text
				}
				slowClose <- [2]any{code, text}
				return
			}
		}
	}()
	l := startLiveCall(t, e.base(), e.tokens["endpoint"], "c-fan", 300, 5*time.Millisecond)
	var got []uint64
	for {
		var ev wireEvent
		fast.SetReadDeadline(time.Now().Add(30 * time.Second))
		if err := fast.ReadJSON(&ev); err != nil {
			t.Fatalf("fast subscriber: %v after %d events", err, len(got))
		}
		got = append(got, ev.Seq)
		if ev.Type == "call.ended" {
			break
		}
		if len(got) == 1 && ev.Seq != 1 {
			t.Fatalf("first event seq %d", ev.Seq)
		}
		if len(got) == 300 {
			l.endInBackground()
		}
	}
	close(fastDone)
	for i, s := range got {
		if s != uint64(i+1) {
			t.Fatalf("fast subscriber missed events: seq %d at position %d", s, i)
		}
	}
	sc := <-slowClose
	if code, reason := sc[0].(int), sc[1].(string); code != protocol.CloseTooSlow || reason != "too slow" {
		t.Errorf("slow subscriber closed with %d %q, want 4429 too slow", code, reason)
	}
}

func TestALiveClientResumesAfterItsLastSeq(t *testing.T) {
	e := startEngine(t, t.TempDir(), "")
	l := startLiveCall(t, e.base(), e.tokens["endpoint"], "c-res", 400, 5*time.Millisecond)
	waitFor(t, "the call", 10*time.Second, func() bool { _, ok := e.srv.hub.Live("c-res"); return ok })
	ws := dialLive(t, e, "call=c-res", e.tokens["agent"], map[string]uint64{"c-res": 0}, nil)
	var last uint64
	for last < 5 {
		var ev wireEvent
		if err := ws.ReadJSON(&ev); err != nil {
			t.Fatal(err)
		}
		last = ev.Seq
	}
	ws.Close()
	ws = dialLive(t, e, "call=c-res", e.tokens["agent"], map[string]uint64{"c-res": last}, nil)
	want := last + 1
	l.endInBackground()
	for {
		var ev wireEvent
		ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		if err := ws.ReadJSON(&ev); err != nil {
			t.Fatal(err)
		}
		if ev.Seq != want {
			t.Fatalf("after resume got seq %d, want %d", ev.Seq, want)
		}
		want++
		if ev.Type == "call.ended" {
			break
		}
	}
}

func TestAuthMatrix(t *testing.T) {
	e := startEngine(t, t.TempDir(), "")
	st := e.srv.Store()
	for _, c := range []struct{ id, agent string }{{"c-a1", "A1"}, {"c-a2", "A2"}} {
		if err := st.CreateCall(storeCall(c.id, c.agent)); err != nil {
			t.Fatal(err)
		}
		if err := st.AppendHint(store.CallID(c.id), "h1", []byte(`{"type":"hint","id":"h1"}`)); err != nil {
			t.Fatal(err)
		}
	}
	secret, _ := auth.LoadOrCreateSecret(e.dir)
	past := auth.NewAuthority(secret, func() time.Time { return time.Now().Add(-2 * time.Hour) })
	expired, _ := past.Issue(auth.RoleAdmin, "", time.Hour)
	forged, _ := auth.NewAuthority([]byte("not the engine's secret at all!!"), nil).Issue(auth.RoleAdmin, "", time.Hour)
	tokens := map[string]string{"missing": "", "expired": expired, "forged": forged,
		"endpoint": e.tokens["endpoint"], "agent": e.tokens["agent"], "supervisor": e.tokens["supervisor"], "admin": e.tokens["admin"]}
	// want per token kind; -1 for the bad tokens means 401 everywhere but healthz.
	type route struct {
		name string
		do   func(token string) int
		want map[string]int
	}
	httpDo := func(method, path, body string) func(string) int {
		return func(token string) int {
			req, _ := http.NewRequest(method, e.base()+path, strings.NewReader(body))
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b strings.Builder
			buf := make([]byte, 512)
			n, _ := resp.Body.Read(buf)
			b.Write(buf[:n])
			if token != "" && strings.Contains(b.String(), token) {
				t.Errorf("%s %s echoed the token", method, path)
			}
			return resp.StatusCode
		}
	}
	ingest := func(token string) int {
		ws, resp, err := e.dialIngest(token)
		if err != nil {
			if resp != nil {
				return resp.StatusCode
			}
			t.Fatal(err)
		}
		defer ws.Close()
		return 101
	}
	live := func(q string) func(string) int {
		return func(token string) int {
			ws, _, err := websocket.DefaultDialer.Dial(e.ws()+"/v1/live?"+q, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			ws.WriteJSON(map[string]any{"type": "auth", "token": token})
			ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, msg, err := ws.ReadMessage()
			if err == nil && strings.Contains(string(msg), "ready") {
				return 200
			}
			if ce, ok := err.(*websocket.CloseError); ok {
				return ce.Code - 4000 // 4401 → 401, 4403 → 403
			}
			t.Fatalf("live: %s %v", msg, err)
			return 0
		}
	}
	bad := func(m map[string]int) map[string]int {
		for _, k := range []string{"missing", "expired", "forged"} {
			m[k] = 401
		}
		return m
	}
	routes := []route{
		{"GET /healthz", httpDo("GET", "/healthz", ""), map[string]int{"missing": 200, "expired": 200, "forged": 200, "endpoint": 200, "agent": 200, "supervisor": 200, "admin": 200}},
		{"GET /v1/ingest", ingest, bad(map[string]int{"endpoint": 101, "agent": 403, "supervisor": 403, "admin": 101})},
		{"GET /v1/live?all=1", live("all=1"), bad(map[string]int{"endpoint": 403, "agent": 403, "supervisor": 200, "admin": 200})},
		{"GET /v1/live?call=own", live("call=c-a1"), bad(map[string]int{"endpoint": 403, "agent": 200, "supervisor": 200, "admin": 200})},
		{"GET /v1/live?call=other", live("call=c-a2"), bad(map[string]int{"endpoint": 403, "agent": 403, "supervisor": 200, "admin": 200})},
		{"GET /v1/live?agent=other", live("agent=A2"), bad(map[string]int{"endpoint": 403, "agent": 403, "supervisor": 200, "admin": 200})},
		{"GET /v1/calls", httpDo("GET", "/v1/calls", ""), bad(map[string]int{"endpoint": 403, "agent": 200, "supervisor": 200, "admin": 200})},
		{"GET /v1/calls?agent=other", httpDo("GET", "/v1/calls?agent=A2", ""), bad(map[string]int{"endpoint": 403, "agent": 403, "supervisor": 200, "admin": 200})},
		{"GET /v1/calls/own", httpDo("GET", "/v1/calls/c-a1", ""), bad(map[string]int{"endpoint": 403, "agent": 200, "supervisor": 200, "admin": 200})},
		{"GET /v1/calls/other", httpDo("GET", "/v1/calls/c-a2", ""), bad(map[string]int{"endpoint": 403, "agent": 403, "supervisor": 200, "admin": 200})},
		{"POST feedback own", httpDo("POST", "/v1/calls/c-a1/hints/h1/feedback", `{"action":"accept"}`), bad(map[string]int{"endpoint": 403, "agent": 204, "supervisor": 403, "admin": 204})},
		{"POST feedback other", httpDo("POST", "/v1/calls/c-a2/hints/h1/feedback", `{"action":"dismiss"}`), bad(map[string]int{"endpoint": 403, "agent": 403, "supervisor": 403, "admin": 204})},
		{"GET /v1/kb/{article}", httpDo("GET", "/v1/kb/refunds", ""), bad(map[string]int{"endpoint": 403, "agent": 200, "supervisor": 200, "admin": 200})},
		{"GET /metrics", httpDo("GET", "/metrics", ""), bad(map[string]int{"endpoint": 403, "agent": 403, "supervisor": 200, "admin": 200})},
	}
	for _, r := range routes {
		for _, kind := range []string{"missing", "expired", "forged", "endpoint", "agent", "supervisor", "admin"} {
			t.Run(fmt.Sprintf("%s with a %s token answers %d", r.name, kind, r.want[kind]), func(t *testing.T) {
				if got := r.do(tokens[kind]); got != r.want[kind] {
					t.Errorf("got %d", got)
				}
			})
		}
	}
	// The feedback was stored.
	d := e.call("c-a1")
	b, _ := json.Marshal(d.Hints)
	if !strings.Contains(string(b), `"action":"accept"`) {
		t.Errorf("feedback not stored: %s", b)
	}
}

func TestARingOverflowDuringAnOutageIsReportedAsAGap(t *testing.T) {
	dir := t.TempDir()
	e1 := startEngine(t, dir, "")
	addr := e1.addr
	c, err := ingestclient.New(ingestclient.Config{URL: e1.base(), Token: e1.tokens["endpoint"], CallID: "c-overflow", AgentID: "A1",
		RingFrames: 40, MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() { defer wg.Done(); c.Run(ctx) }()
	sent := make(chan error, 1)
	go func() {
		s := make([]float32, 300*audio.FrameSize)
		sent <- ingestclient.Stream(ctx, c, s, s, ingestclient.StreamConfig{Speed: 10})
	}()
	waitFor(t, "frames to be acknowledged", 20*time.Second, func() bool { return c.Stats().Acked > 50 })
	e1.stop()
	waitFor(t, "the ring to overflow while the engine is down", 20*time.Second, func() bool { return c.Stats().Dropped > 0 })
	e2 := startEngine(t, dir, addr)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	ended, err := c.End(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	d := e2.call("c-overflow")
	// Frames the ring dropped after sending them may still have reached the
	// engine; the ones never sent are lost for sure.
	if ended.Gaps == 0 || d.FramesLost < int64(st.Dropped) || st.Dropped == 0 || ended.Frames+d.FramesLost != 600 {
		t.Errorf("ended %+v, stored lost %d, client dropped %d unsent; want gaps, lost ≥ dropped > 0, frames + lost = 600", ended, d.FramesLost, st.Dropped)
	}
	found := false
	for _, g := range d.Gaps {
		found = found || g["reason"] == "buffer_overflow"
	}
	if !found {
		t.Errorf("no buffer_overflow gap stored: %v", d.Gaps)
	}
}
