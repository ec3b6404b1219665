package engine

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/internal/ingestclient"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/store"
)

// streamCall sends frames slots of stereo audio (all samples v) through the
// real endpoint client and ends the call.
func streamCall(t *testing.T, e *testEnv, callID string, slots int, pace time.Duration) ingestclient.Ended {
	t.Helper()
	c, err := ingestclient.New(ingestclient.Config{URL: e.base(), Token: e.tokens["endpoint"], CallID: callID, AgentID: "A1",
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var runErr error
	wg.Add(1)
	go func() { defer wg.Done(); runErr = c.Run(ctx) }()
	agent := make([]float32, slots*audio.FrameSize)
	for i := range agent {
		agent[i] = 0.1
	}
	speed := -1.0
	if pace > 0 {
		speed = float64(audio.FrameDuration) / float64(pace)
	}
	if err := ingestclient.Stream(ctx, c, agent, agent, ingestclient.StreamConfig{Speed: speed}); err != nil {
		t.Fatal(err)
	}
	ended, err := c.End(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if runErr != nil {
		t.Fatalf("client Run: %v", runErr)
	}
	return ended
}

func TestACallIsStoredWithEveryFrameAndItsEvents(t *testing.T) {
	e := startEngine(t, t.TempDir(), "")
	ended := streamCall(t, e, "c-basic", 300, 0)
	if ended.Frames != 600 || ended.Gaps != 0 || ended.CallID != "c-basic" {
		t.Fatalf("ended %+v, want 600 frames and no gaps", ended)
	}
	d := e.call("c-basic")
	if d.Status != "ended" || d.EndReason != "end" || d.Frames != 600 || d.FramesLost != 0 {
		t.Errorf("stored summary %+v", d)
	}
	types := eventTypes(t, d.Events)
	if types[0] != "call.started" || types[len(types)-1] != "call.ended" {
		t.Errorf("events %v", types)
	}
	if n := len(d.Utterances); n != 12 {
		t.Errorf("%d utterances stored, want 12 (one per 25 agent frames)", n)
	}
	if len(d.Hints) != 3 || !slices.Equal(d.Categories, []string{"churn_risk"}) || d.TalkRatio != 0.5 {
		t.Errorf("hints %v categories %v talk ratio %v", d.Hints, d.Categories, d.TalkRatio)
	}
	if d.Sentiment["caller"] != -0.25 || d.Sentiment["trend"] != "worsening" {
		t.Errorf("sentiment %v", d.Sentiment)
	}
	if !strings.Contains(string(d.Dynamics), "talk_ratio") {
		t.Errorf("dynamics %s", d.Dynamics)
	}
	req, _ := http.NewRequest("GET", e.base()+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens["supervisor"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"earshot_frames_in_total 600", "earshot_calls_active 0", `earshot_calls_ended_total{reason="end"} 1`, "earshot_live_subscribers 0", "earshot_event_latency_seconds_bucket", "earshot_recognizer_realtime_factor"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	var list struct {
		Calls []map[string]any `json:"calls"`
	}
	if code := e.getJSON("/v1/calls?agent=A1&category=churn_risk", e.tokens["supervisor"], &list); code != 200 || len(list.Calls) != 1 {
		t.Errorf("list: %d %v", code, list)
	}
}

// TestBadInput sends what a broken or hostile endpoint might, while a good
// call streams next to it: each gets its documented close, the server stays
// up and the good call loses nothing.
func TestBadInput(t *testing.T) {
	e := startEngine(t, t.TempDir(), "")
	good := make(chan ingestclient.Ended, 1)
	go func() { good <- streamCall(t, e, "c-good", 400, 5*time.Millisecond) }()

	start := func(id string) []byte {
		return []byte(fmt.Sprintf(`{"type":"start","call_id":%q,"agent_id":"A1","sample_rate":16000,"encoding":"pcm_s16le","channels":["agent","caller"]}`, id))
	}
	txt := func(s string) [2]any { return [2]any{websocket.TextMessage, []byte(s)} }
	bin := func(b []byte) [2]any { return [2]any{websocket.BinaryMessage, b} }
	big := make([]byte, 100<<10)
	tests := []struct {
		name   string
		msgs   [][2]any
		code   int
		reason string
	}{
		{"audio before start is a policy violation", [][2]any{bin(seqFrame(0, 1))}, 1008, "audio before start"},
		{"malformed JSON is named", [][2]any{txt(`{"type":`)}, 1008, "malformed JSON"},
		{"an unknown message type is named", [][2]any{txt(`{"type":"foo"}`)}, 1008, `unknown message type "foo"`},
		{"a start without call id is refused", [][2]any{txt(`{"type":"start","agent_id":"A1","sample_rate":16000,"encoding":"pcm_s16le","channels":["agent","caller"]}`)}, 1008, "call_id missing"},
		{"a second start is refused", [][2]any{txt(string(start("c-bad-2"))), txt(string(start("c-bad-2")))}, 1008, "second start"},
		{"an unknown header version is named", [][2]any{txt(string(start("c-bad-3"))), bin(append([]byte{7}, seqFrame(0, 1)[1:]...))}, 1003, "unknown header version 7"},
		{"garbage binary is too short", [][2]any{txt(string(start("c-bad-4"))), bin([]byte{1, 2, 3})}, 1003, "binary frame too short"},
		{"a wrong payload size names both sizes", [][2]any{txt(string(start("c-bad-5"))), bin(seqFrame(0, 1)[:120])}, 1003, "payload 100 bytes, want 640"},
		{"a channel out of range is named", [][2]any{txt(string(start("c-bad-6"))), bin(pcmFrame(5, 0, 0, 1))}, 1003, "channel 5 out of range"},
		{"an oversized frame is too big", [][2]any{txt(string(start("c-bad-7"))), bin(big)}, 1009, "message too big"},
		{"unknown JSON after start is named", [][2]any{txt(string(start("c-bad-8"))), txt(`{"type":"dance"}`)}, 1008, `unknown message type "dance"`},
		{"a start for an active call is refused", [][2]any{txt(string(start("c-good")))}, 4409, "call already active"},
		{"an endpoint cannot stream for another agent", [][2]any{txt(strings.Replace(string(start("c-bad-9")), `"A1"`, `"A9"`, 1))}, 4403, "forbidden"},
	}
	// Let the good call get going so the "active call" case is real.
	waitFor(t, "the good call to be live", 10*time.Second, func() bool { _, ok := e.srv.hub.Live("c-good"); return ok })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, _, err := e.dialIngest(e.tokens["endpoint"])
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			for _, m := range tt.msgs {
				if err := ws.WriteMessage(m[0].(int), m[1].([]byte)); err != nil {
					break // the engine may already have closed
				}
			}
			code, reason := closeOf(ws)
			if code != tt.code || !strings.Contains(reason, tt.reason) {
				t.Errorf("closed with %d %q, want %d %q", code, reason, tt.code, tt.reason)
			}
		})
	}
	t.Run("a call closed for bad input keeps what it sent before", func(t *testing.T) {
		r, _ := e.rawStart(t, "c-kept", false)
		r.send(seqFrame(0, 1), seqFrame(1, 1), seqFrame(2, 1), seqFrame(3, 1))
		r.send([]byte{1})
		if code, _ := closeOf(r.ws); code != 1003 {
			t.Fatalf("close %d", code)
		}
		waitFor(t, "the frames to be checkpointed", 10*time.Second, func() bool {
			c, err := e.srv.store.GetCall("c-kept")
			return err == nil && c.Frames == 4
		})
	})
	ended := <-good
	if ended.Frames != 800 || ended.Gaps != 0 {
		t.Errorf("the good call lost audio: %+v", ended)
	}
	if code := e.getJSON("/healthz", "", nil); code != 200 {
		t.Errorf("healthz %d", code)
	}
}

func TestAbruptDisconnectsOf200Connections(t *testing.T) {
	e := startEngine(t, t.TempDir(), "", func(c *Config) { c.ResumeWindow = time.Second })
	good := make(chan ingestclient.Ended, 1)
	go func() { good <- streamCall(t, e, "c-good", 300, 5*time.Millisecond) }()
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			conn, err := net.DialTimeout("tcp", e.addr, 10*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			ws, _, err := websocket.NewClient(conn, mustURL(e.ws()+"/v1/ingest"), http.Header{"Authorization": {"Bearer " + e.tokens["endpoint"]}}, 1024, 1024)
			if err != nil {
				conn.Close()
				t.Error(err)
				return
			}
			switch i % 4 {
			case 1: // start a call, send a little, vanish
				ws.WriteJSON(startJSON(fmt.Sprintf("c-drop-%d", i), "A1", false))
				ws.WriteMessage(websocket.BinaryMessage, seqFrame(0, 1))
			case 2: // half a message
				conn.Write([]byte{0x82, 0x7e, 0x02})
			case 3: // garbage bytes, not even WebSocket framing
				conn.Write([]byte("\xff\xff\xff\xff garbage"))
			}
			conn.Close() // no close frame: abrupt
		}(i)
	}
	wg.Wait()
	ended := <-good
	if ended.Frames != 600 || ended.Gaps != 0 {
		t.Errorf("the good call lost audio: %+v", ended)
	}
	if code := e.getJSON("/healthz", "", nil); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	// The dropped calls wait for a resume, then end as endpoint_lost.
	waitFor(t, "dropped calls to end", 20*time.Second, func() bool {
		e.srv.mu.Lock()
		defer e.srv.mu.Unlock()
		return len(e.srv.sessions) == 0
	})
	// Every dropped call the engine took (the cap on calls waiting for
	// audio refuses some starts) ended; none is left live.
	calls, err := e.srv.store.Calls(store.StatusLive)
	if err != nil || len(calls) != 0 {
		t.Errorf("%d calls left live (%v)", len(calls), err)
	}
	gone, err := e.srv.store.Calls(store.StatusEnded)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range gone {
		if strings.HasPrefix(string(c.ID), "c-drop-") && c.EndReason != protocol.EndEndpointLost && c.EndReason != protocol.EndNoAudio {
			t.Errorf("dropped call %s ended with %q", c.ID, c.EndReason)
		}
	}
}

func TestDuplicateFramesAreDroppedAfterAResend(t *testing.T) {
	e := startEngine(t, t.TempDir(), "")
	r, ack := e.rawStart(t, "c-dup", false)
	if ack != -1 {
		t.Fatalf("new call ack %d", ack)
	}
	for s := uint64(0); s < 10; s++ {
		r.send(seqFrame(s, 1))
	}
	// A reconnect resends 5..9, then continues.
	for s := uint64(5); s < 20; s++ {
		r.send(seqFrame(s, 1))
	}
	r.send(seqFrame(3, 1))
	ended := r.end()
	if *ended.Frames != 20 || *ended.Gaps != 0 {
		t.Fatalf("ended %d frames, %d gaps; want 20, 0", *ended.Frames, *ended.Gaps)
	}
}

func TestGapsAreRecorded(t *testing.T) {
	e := startEngine(t, t.TempDir(), "")
	r, _ := e.rawStart(t, "c-gap", false)
	for s := uint64(0); s < 10; s++ {
		r.send(seqFrame(s, 1))
	}
	r.text(`{"type":"gap","from_seq":10,"to_seq":19,"reason":"buffer_overflow"}`)
	for s := uint64(20); s < 30; s++ {
		r.send(seqFrame(s, 1))
	}
	// 30 and 31 never arrive.
	for s := uint64(32); s < 40; s++ {
		r.send(seqFrame(s, 1))
	}
	r.text(`{"type":"pause","at_us":800000}`)
	r.text(`{"type":"resume","at_us":1800000}`)
	ended := r.end()
	if *ended.Frames != 28 || *ended.Gaps != 3 {
		t.Fatalf("ended %d frames, %d gaps; want 28, 3", *ended.Frames, *ended.Gaps)
	}
	d := e.call("c-gap")
	if d.FramesLost != 12 || len(d.Gaps) != 3 {
		t.Fatalf("stored %d lost, gaps %v", d.FramesLost, d.Gaps)
	}
	reasons := map[string]bool{}
	for _, g := range d.Gaps {
		reasons[g["reason"].(string)] = true
	}
	for _, want := range []string{"buffer_overflow", "never_arrived", "paused"} {
		if !reasons[want] {
			t.Errorf("no %s gap in %v", want, d.Gaps)
		}
	}
	if g := d.Gaps[0]; g["from"].(float64) != 0.1 || g["to"].(float64) != 0.2 {
		t.Errorf("overflow gap placed at %v..%v s, want 0.1..0.2", g["from"], g["to"])
	}
}

func TestAFailingCallEndsAloneWithAnErrorEvent(t *testing.T) {
	for _, tt := range []struct {
		name   string
		sample int16
		reason string
	}{
		{"a pipeline panic", samplePanic, "call failed: panic: boom"},
		{"a pipeline error", sampleError, "recognizer exploded"},
	} {
		t.Run(tt.name+" ends only its call", func(t *testing.T) {
			e := startEngine(t, t.TempDir(), "")
			good := make(chan ingestclient.Ended, 1)
			go func() { good <- streamCall(t, e, "c-good", 200, 5*time.Millisecond) }()
			r, _ := e.rawStart(t, "c-bad", false)
			r.send(seqFrame(0, 1), seqFrame(1, 1), seqFrame(2, tt.sample))
			code, reason := closeOf(r.ws)
			if code != 1011 || !strings.Contains(reason, tt.reason) {
				t.Errorf("closed %d %q", code, reason)
			}
			if g := <-good; g.Frames != 400 {
				t.Errorf("good call: %+v", g)
			}
			d := e.call("c-bad")
			types := eventTypes(t, d.Events)
			if d.Status != "ended" || d.EndReason != "error" || !slices.Contains(types, "error") {
				t.Errorf("failed call stored as %s/%s with events %v", d.Status, d.EndReason, types)
			}
		})
	}
}

func mustURL(s string) *urlT { u, _ := parseURL(s); return u }

func TestWebPagesAndTheRootRedirect(t *testing.T) {
	pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "page "+r.URL.Path)
	})
	e := startEngine(t, t.TempDir(), "", func(c *Config) { c.Web = pages })
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(e.base() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/overlay" {
		t.Errorf("/ answered %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = http.Get(e.base() + "/overlay")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "page /overlay" {
		t.Errorf("/overlay served %q", b)
	}
	// API routes still win over the pages.
	if code := e.getJSON("/healthz", "", nil); code != 200 {
		t.Errorf("healthz %d", code)
	}
}

func TestALiveClientMustAuthenticateFirst(t *testing.T) {
	e := startEngine(t, t.TempDir(), "")
	for _, tt := range []struct {
		name, query, first string
		code               int
	}{
		{"a first message that is not auth is a policy violation", "all=1", `{"type":"hello"}`, 1008},
		{"garbage first is a policy violation", "all=1", `not json`, 1008},
		{"an auth message without a token is unauthorized", "all=1", `{"type":"auth"}`, protocol.CloseUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ws, _, err := websocket.DefaultDialer.Dial(e.ws()+"/v1/live?"+tt.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			ws.WriteMessage(websocket.TextMessage, []byte(tt.first))
			if code, reason := closeOf(ws); code != tt.code {
				t.Errorf("closed %d %q, want %d", code, reason, tt.code)
			}
		})
	}
	t.Run("a live request without a filter is a bad request", func(t *testing.T) {
		if code := e.getJSON("/v1/live", "", nil); code != 400 {
			t.Errorf("got %d", code)
		}
	})
}

func TestANarrowbandMulawCallReachesThePipelineAt16kHz(t *testing.T) {
	var mu sync.Mutex
	var an *testAnalyzer
	e := startEngine(t, t.TempDir(), "", func(c *Config) {
		c.NewAnalyzer = func(call.Config) (Analyzer, error) {
			mu.Lock()
			defer mu.Unlock()
			an = &testAnalyzer{}
			return an, nil
		}
	})
	ws, _, err := e.dialIngest(e.tokens["endpoint"])
	if err != nil {
		t.Fatal(err)
	}
	start := startJSON("c-mulaw", "A1", false)
	start["sample_rate"], start["encoding"] = 8000, "mulaw"
	ws.WriteJSON(start)
	var m protocol.Control
	if err := ws.ReadJSON(&m); err != nil || m.Type != "started" {
		t.Fatalf("%+v %v", m, err)
	}
	for seq := uint64(0); seq < 100; seq++ {
		b := protocol.AppendHeader(nil, protocol.FrameHeader{Version: 1, Channel: protocol.Channel(seq % 2), Seq: seq, At: time.Duration(seq/2) * audio.FrameDuration})
		payload := make([]byte, 160)
		for i := range payload {
			payload[i] = 0xFF // μ-law silence
		}
		ws.WriteMessage(websocket.BinaryMessage, append(b, payload...))
	}
	ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"end"}`))
	for m.Type != "ended" {
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatal(err)
		}
	}
	if *m.Frames != 100 {
		t.Errorf("ended with %d frames", *m.Frames)
	}
	mu.Lock()
	defer mu.Unlock()
	// 50 narrowband frames per channel become 50 wideband ones (the last
	// one flushed from the resampler's tail).
	if an.frames != [2]int{50, 50} {
		t.Errorf("pipeline got %v frames per channel, want 50 each", an.frames)
	}
}
