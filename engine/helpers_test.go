package engine

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot/earshot/agentassist"
	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/insights"
	"github.com/earshot/earshot/internal/auth"
	"github.com/earshot/earshot/internal/testdeps"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/store"
)

// Magic first samples that make testAnalyzer fail, to test that a failing
// call never takes the server or other calls with it.
const (
	samplePanic int16 = 12345
	sampleError int16 = 23456
)

// testAnalyzer stands in for the recognizer pipeline where a test is about
// the server (protocol, storage, faults), not the analysis: it is exact and
// fast. Every 25th agent frame ends an "utterance", every 100th gives a hint;
// an utterance is open (OpenSince) from the frame after the last one ended.
type testAnalyzer struct {
	frames   [2]int
	openFrom time.Duration
	gaps     int
	bigEvent int // bytes of padding per event; >0 emits one event per agent frame
}

func sample0(frame []float32) int16 {
	v := frame[0] * 32768
	if v < 0 {
		v -= 0.5
	} else {
		v += 0.5
	}
	return int16(v)
}

func (a *testAnalyzer) Push(ch protocol.Channel, frame []float32, at time.Duration) ([]protocol.Event, error) {
	if len(frame) != audio.FrameSize {
		return nil, fmt.Errorf("frame of %d samples", len(frame))
	}
	switch sample0(frame) {
	case samplePanic:
		panic("boom")
	case sampleError:
		return nil, errors.New("recognizer exploded")
	}
	a.frames[ch]++
	if ch != 0 {
		return nil, nil
	}
	end := at + audio.FrameDuration
	var evs []protocol.Event
	if a.bigEvent > 0 {
		evs = append(evs, protocol.Event{Type: protocol.EventTranscriptPartial, T: end,
			Data: protocol.Partial{Speaker: protocol.ChannelAgent, Start: 0, End: end.Seconds(), Text: strings.Repeat("x", a.bigEvent)}})
	}
	n := a.frames[0]
	if n%25 == 1 {
		a.openFrom = at
	}
	if n%25 == 0 {
		evs = append(evs, protocol.Event{Type: protocol.EventTranscriptFinal, T: end, Data: protocol.Utterance{
			Speaker: protocol.ChannelAgent, Start: (end - 500*time.Millisecond).Seconds(), End: end.Seconds(),
			Text: fmt.Sprintf("utterance %d", n/25), Words: []protocol.Word{}, Confidence: 0.9,
			Sentiment: &protocol.UtteranceSentiment{Score: 0.1, Label: "neutral"}}})
		evs = append(evs, protocol.Event{Type: protocol.EventSentiment, T: end, Data: protocol.Sentiment{
			Speaker: protocol.ChannelCaller, Score: -0.2, Label: "negative", Rolling: -0.25, Trend: -0.2}})
	}
	if n%100 == 0 {
		evs = append(evs, protocol.Event{Type: protocol.EventHint, T: end, Data: protocol.Hint{
			ID: fmt.Sprintf("h%d", n/100), Kind: protocol.HintPlaybook, Title: "Offer", Text: "Offer a discount", Priority: 1}})
		evs = append(evs, protocol.Event{Type: protocol.EventCategory, T: end, Data: protocol.Category{ID: "churn_risk"}})
	}
	return evs, nil
}

func (a *testAnalyzer) Gap(ch protocol.Channel, from, to time.Duration, reason string) { a.gaps++ }
func (a *testAnalyzer) Tick(at time.Duration) []protocol.Event                         { return nil }
func (a *testAnalyzer) End(at time.Duration) ([]protocol.Event, call.Record, error) {
	return a.Finish(at)
}
func (a *testAnalyzer) Finish(at time.Duration) ([]protocol.Event, call.Record, error) {
	return []protocol.Event{{Type: protocol.EventDynamics, T: at, Data: protocol.DynamicsSnapshot{Event: "snapshot"}}},
		call.Record{Dynamics: insights.Dynamics{TalkRatio: 0.5}, Sentiment: insights.SentimentSummary{Caller: -0.25, Trend: -0.2}}, nil
}
func (a *testAnalyzer) OpenSince(ch protocol.Channel) (time.Duration, bool) {
	return a.openFrom, ch == protocol.ChannelAgent && a.frames[0]%25 != 0
}
func (a *testAnalyzer) LiveState(protocol.Channel) call.ChannelState { return call.ChannelState{} }
func (a *testAnalyzer) RedactionState() insights.RedactorState       { return insights.RedactorState{} }
func (a *testAnalyzer) Close() error                                 { return nil }

type testArticles struct{}

func (testArticles) Article(id string) (agentassist.Article, bool) {
	if id != "refunds" {
		return agentassist.Article{}, false
	}
	return agentassist.Article{ID: id, Title: "Refunds", Body: "Refund within 14 days."}, true
}

// testEnv is a real engine on a loopback port.
type testEnv struct {
	t      *testing.T
	dir    string
	addr   string
	srv    *Server
	cancel context.CancelFunc
	done   chan error
	tokens map[string]string
}

func (e *testEnv) base() string { return "http://" + e.addr }
func (e *testEnv) ws() string   { return "ws://" + e.addr }

type envOpt func(*Config)

// startEngine runs an engine on addr ("" for a free port) over dir.
func startEngine(t *testing.T, dir, addr string, opts ...envOpt) *testEnv {
	t.Helper()
	srv, err := New(testConfig(dir, opts...))
	if err != nil {
		t.Fatal(err)
	}
	return serveTestEngine(t, srv, dir, addr)
}

// testConfig is the configuration of a test engine over dir.
func testConfig(dir string, opts ...envOpt) Config {
	cfg := Config{
		DataDir:      dir,
		NewAnalyzer:  func(call.Config) (Analyzer, error) { return &testAnalyzer{}, nil },
		Articles:     testArticles{},
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		ResumeWindow: 5 * time.Second,
		AckInterval:  50 * time.Millisecond,
	}
	if os.Getenv("EARSHOT_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// serveTestEngine runs srv on addr ("" for a free port) and issues a token
// of every role.
func serveTestEngine(t *testing.T, srv *Server, dir, addr string) *testEnv {
	t.Helper()
	ln, err := listenTest(addr)
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	return serveTestEngineOn(t, srv, dir, ln)
}

// listenTest listens on addr ("" for a free port), retrying for a while
// when the address is still held by a listener being released.
func listenTest(addr string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			return ln, err
		}
		time.Sleep(20 * time.Millisecond) // the old listener's port is being released
	}
}

// serveTestEngineOn runs srv on ln and issues a token of every role.
func serveTestEngineOn(t *testing.T, srv *Server, dir string, ln net.Listener) *testEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e := &testEnv{t: t, dir: dir, addr: ln.Addr().String(), srv: srv, cancel: cancel, done: make(chan error, 1), tokens: map[string]string{}}
	go func() { e.done <- srv.Run(ctx, ln) }()
	a := srv.Authority()
	for name, spec := range map[string]struct {
		role  auth.Role
		agent string
	}{
		"endpoint": {auth.RoleEndpoint, "A1"}, "endpoint2": {auth.RoleEndpoint, "A2"},
		"agent": {auth.RoleAgent, "A1"}, "agent2": {auth.RoleAgent, "A2"},
		"supervisor": {auth.RoleSupervisor, ""}, "admin": {auth.RoleAdmin, ""},
	} {
		tok, err := a.Issue(spec.role, spec.agent, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[name] = tok
	}
	t.Cleanup(func() { e.stop() })
	return e
}

// stop shuts the engine down gracefully and waits for Run to return.
func (e *testEnv) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	e.cancel = nil
	select {
	case err := <-e.done:
		if err != nil {
			e.t.Errorf("engine Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		e.t.Fatal("engine did not shut down")
	}
}

func (e *testEnv) dialIngest(token string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return websocket.DefaultDialer.Dial(e.ws()+"/v1/ingest", h)
}

func startJSON(callID, agent string, resume bool) map[string]any {
	return map[string]any{"type": "start", "call_id": callID, "agent_id": agent, "sample_rate": 16000,
		"encoding": "pcm_s16le", "channels": []string{"agent", "caller"}, "resume": resume}
}

// pcmFrame is one binary ingest message whose samples are all v.
func pcmFrame(ch int, seq uint64, at time.Duration, v int16) []byte {
	b := protocol.AppendHeader(nil, protocol.FrameHeader{Version: 1, Channel: protocol.Channel(ch), Seq: seq, At: at})
	p := make([]byte, 640)
	for i := 0; i < 320; i++ {
		binary.LittleEndian.PutUint16(p[2*i:], uint16(v))
	}
	return append(b, p...)
}

// seqFrame is the frame of seq in a stereo stream: even seqs are the
// agent, odd the caller, both at slot seq/2.
func seqFrame(seq uint64, v int16) []byte {
	return pcmFrame(int(seq%2), seq, time.Duration(seq/2)*audio.FrameDuration, v)
}

// rawCall is a hand-driven ingest connection.
type rawCall struct {
	t  *testing.T
	ws *websocket.Conn
}

func (e *testEnv) rawStart(t *testing.T, callID string, resume bool) (*rawCall, int64) {
	t.Helper()
	ws, _, err := e.dialIngest(e.tokens["endpoint"])
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteJSON(startJSON(callID, "A1", resume)); err != nil {
		t.Fatal(err)
	}
	var m protocol.Control
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := ws.ReadJSON(&m); err != nil || m.Type != "started" || m.Ack == nil {
		t.Fatalf("start answered %+v, %v", m, err)
	}
	return &rawCall{t: t, ws: ws}, *m.Ack
}

func (r *rawCall) send(msgs ...[]byte) {
	r.t.Helper()
	for _, m := range msgs {
		if err := r.ws.WriteMessage(websocket.BinaryMessage, m); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *rawCall) text(s string) {
	r.t.Helper()
	if err := r.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

// end sends end and returns the engine's "ended", skipping acks.
func (r *rawCall) end() protocol.Control {
	r.t.Helper()
	r.text(`{"type":"end"}`)
	for {
		var m protocol.Control
		r.ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		if err := r.ws.ReadJSON(&m); err != nil {
			r.t.Fatalf("waiting for ended: %v", err)
		}
		if m.Type == "ended" {
			r.ws.Close()
			return m
		}
	}
}

// closeOf reads until the connection closes (10 s at most) and returns
// the close error.
func closeOf(ws *websocket.Conn) (int, string) { return closeWithin(ws, 10*time.Second) }

// closeWithin reads ws until it closes or d passes, and returns the close
// code and reason (-1 and the error when it did not close cleanly).
func closeWithin(ws *websocket.Conn, d time.Duration) (int, string) {
	ws.SetReadDeadline(time.Now().Add(d))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text
		}
		return -1, err.Error()
	}
}

func (e *testEnv) getJSON(path, token string, v any) int {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.base()+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			e.t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// callDetail is GET /v1/calls/{id} decoded loosely.
type callDetail struct {
	ID         string            `json:"id"`
	AgentID    string            `json:"agent_id"`
	Status     string            `json:"status"`
	EndReason  string            `json:"end_reason"`
	Frames     int64             `json:"frames"`
	FramesLost int64             `json:"frames_lost"`
	Ack        int64             `json:"ack"`
	Hints      []map[string]any  `json:"hints"` // the detail's hint list shadows the summary's count
	Categories []string          `json:"categories"`
	TalkRatio  float64           `json:"talk_ratio"`
	Sentiment  map[string]any    `json:"sentiment"`
	Dynamics   json.RawMessage   `json:"dynamics"`
	Utterances []map[string]any  `json:"utterances"`
	Events     []json.RawMessage `json:"events"`
	Gaps       []map[string]any  `json:"gaps"`
}

func (e *testEnv) call(id string) callDetail {
	e.t.Helper()
	var d callDetail
	if code := e.getJSON("/v1/calls/"+id, e.tokens["admin"], &d); code != 200 {
		e.t.Fatalf("GET call %s: %d", id, code)
	}
	return d
}

// eventTypes lists the stored events' types and checks seq runs 1, 2, 3…
func eventTypes(t *testing.T, evs []json.RawMessage) []string {
	t.Helper()
	var out []string
	for i, raw := range evs {
		var e struct {
			Type string `json:"type"`
			Seq  int    `json:"seq"`
		}
		json.Unmarshal(raw, &e)
		if e.Seq != i+1 {
			t.Errorf("event %d has seq %d", i, e.Seq)
		}
		out = append(out, e.Type)
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var _ = sync.Mutex{}

type urlT = url.URL

var parseURL = url.Parse

func storeCall(id, agent string) store.Call {
	return store.Call{ID: store.CallID(id), AgentID: store.AgentID(agent), StartedAt: time.Now().UTC(), Status: store.StatusEnded, Ack: -1}
}

// realDeps is the real recognizer, playbook and KB (testdeps.Real).
func realDeps(t *testing.T, decoders int) call.Deps {
	d := testdeps.Real(t, decoders)
	return call.Deps{Recognizers: d.Recognizers, Playbook: d.Playbook, KB: d.KB}
}
