package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/cluster"
	"github.com/earshot/earshot/internal/auth"
	"github.com/earshot/earshot/internal/ingestclient"
	"github.com/earshot/earshot/internal/testdeps"
	"github.com/earshot/earshot/internal/testdisk"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/samples"
	"github.com/earshot/earshot/store"
)

// stored reads a stored call and its gaps straight from the store.
func stored(t *testing.T, e *testEnv, id string) (store.Call, []store.Gap) {
	t.Helper()
	c, err := e.srv.store.GetCall(store.CallID(id))
	if err != nil {
		t.Fatalf("call %s: %v", id, err)
	}
	d, err := e.srv.store.Detail(store.CallID(id))
	if err != nil {
		t.Fatal(err)
	}
	return c, d.Gaps
}

// TestSeqJumpEndsCallPromptly: a seq far ahead costs one gap range, never
// a walk over the seqs between; one beyond any call is a protocol error.
func TestSeqJumpEndsCallPromptly(t *testing.T) {
	e := startEngine(t, t.TempDir(), "", func(c *Config) { c.ResumeWindow = 500 * time.Millisecond })

	t.Run("a seq beyond any call is a protocol violation and ends the call", func(t *testing.T) {
		before := testdeps.CPUTime()
		r, _ := e.rawStart(t, "c-jump-far", false)
		r.send(seqFrame(0, 1), pcmFrame(0, 1<<62, 0, 1))
		code, reason := closeOf(r.ws)
		if code != websocket.ClosePolicyViolation || !strings.Contains(reason, "beyond any call") {
			t.Fatalf("closed with %d %q, want 1008 naming the seq beyond any call", code, reason)
		}
		waitFor(t, "the call to end", 10*time.Second, func() bool {
			c, err := e.srv.store.GetCall("c-jump-far")
			return err == nil && c.Status == store.StatusEnded
		})
		t.Logf("engine CPU for start, seq 0, seq 2^62: %v", testdeps.CPUTime()-before)
		if c, _ := stored(t, e, "c-jump-far"); c.EndReason != protocol.EndError {
			t.Errorf("end reason %q", c.EndReason)
		}
	})

	t.Run("an honest jump is one gap and the call ends at once", func(t *testing.T) {
		before := testdeps.CPUTime()
		r, _ := e.rawStart(t, "c-jump-honest", false)
		// An endpoint back after 2.7 h away: 1,000,000 seqs skipped.
		r.send(seqFrame(0, 1), seqFrame(1, 1), seqFrame(1_000_002, 1))
		ended := r.end()
		t.Logf("engine CPU for a 1,000,000-seq jump and end: %v", testdeps.CPUTime()-before)
		c, gaps := stored(t, e, "c-jump-honest")
		if *ended.Frames != 3 || c.FramesLost != 1_000_000 {
			t.Errorf("ended with %d frames, stored %d lost; want 3 and 1000000", *ended.Frames, c.FramesLost)
		}
		lost := 0
		for _, g := range gaps {
			if g.FromSeq >= 0 {
				lost++
				if g.FromSeq != 2 || g.ToSeq != 1_000_001 || g.Reason != "never_arrived" {
					t.Errorf("gap %+v, want seqs 2..1000001 never_arrived", g)
				}
			}
		}
		if lost != 1 {
			t.Errorf("%d seq gaps stored, want 1: %+v", lost, gaps)
		}
	})

	t.Run("a gap message covering millions of seqs is one record", func(t *testing.T) {
		r, _ := e.rawStart(t, "c-jump-gap", false)
		r.send(seqFrame(0, 1))
		r.text(`{"type":"gap","from_seq":1,"to_seq":4000000,"reason":"buffer_overflow"}`)
		r.send(seqFrame(4_000_001, 1))
		ended := r.end()
		c, gaps := stored(t, e, "c-jump-gap")
		if c.FramesLost != 4_000_000 || *ended.Gaps != 1 || len(gaps) != 1 {
			t.Errorf("lost %d, ended gaps %d, stored %+v", c.FramesLost, *ended.Gaps, gaps)
		}
	})

	t.Run("a gap message beyond any call is a protocol violation", func(t *testing.T) {
		r, _ := e.rawStart(t, "c-jump-gap-far", false)
		r.send(seqFrame(0, 1))
		r.text(fmt.Sprintf(`{"type":"gap","from_seq":%d,"to_seq":%d}`, int64(1)<<61, int64(1)<<61+10))
		if code, reason := closeOf(r.ws); code != websocket.ClosePolicyViolation || !strings.Contains(reason, "beyond any call") {
			t.Fatalf("closed with %d %q", code, reason)
		}
	})

	t.Run("a call dropped after a jump ends when the resume window does", func(t *testing.T) {
		r, _ := e.rawStart(t, "c-jump-drop", false)
		r.send(seqFrame(0, 1), seqFrame(3_000_000, 1))
		waitFor(t, "both frames to arrive", 10*time.Second, func() bool {
			return e.srv.m != nil && e.srv.hasSession("c-jump-drop")
		})
		r.ws.UnderlyingConn().Close() // abrupt
		waitFor(t, "the dropped call to end", 15*time.Second, func() bool {
			c, err := e.srv.store.GetCall("c-jump-drop")
			return err == nil && c.Status == store.StatusEnded
		})
		c, _ := stored(t, e, "c-jump-drop")
		if c.EndReason != protocol.EndEndpointLost || c.FramesLost != 2_999_999 {
			t.Errorf("ended %q with %d lost", c.EndReason, c.FramesLost)
		}
	})

	t.Run("graceful shutdown is prompt after all of it", func(t *testing.T) {
		start := time.Now()
		e.stop()
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("shutdown took %v", d)
		}
	})
}

// TestCaptureTimeJumpIsAGapNotGeneratedAudio: a frame hours ahead in
// capture time is stored as one "skipped" gap, and one beyond the longest
// call is refused.
func TestCaptureTimeJumpIsAGapNotGeneratedAudio(t *testing.T) {
	e := startEngine(t, t.TempDir(), "")
	t.Run("two hours ahead is one gap", func(t *testing.T) {
		r, _ := e.rawStart(t, "c-time-jump", false)
		r.send(pcmFrame(0, 0, 0, 1), pcmFrame(1, 1, 0, 1))
		r.send(pcmFrame(0, 2, 2*time.Hour, 1), pcmFrame(1, 3, 2*time.Hour, 1))
		ended := r.end()
		c, gaps := stored(t, e, "c-time-jump")
		if *ended.Frames != 4 || len(gaps) != 1 {
			t.Fatalf("ended %d frames, gaps %+v", *ended.Frames, gaps)
		}
		if g := gaps[0]; g.Reason != "skipped" || g.From != 20*time.Millisecond || g.To != 2*time.Hour {
			t.Errorf("gap %+v, want skipped 0.02..7200", g)
		}
		if c.Audio != 2*time.Hour+20*time.Millisecond {
			t.Errorf("audio reached %v", c.Audio)
		}
	})
	t.Run("beyond the longest call is a protocol violation", func(t *testing.T) {
		r, _ := e.rawStart(t, "c-time-far", false)
		r.send(pcmFrame(0, 0, 13*time.Hour, 1))
		if code, reason := closeOf(r.ws); code != websocket.ClosePolicyViolation || !strings.Contains(reason, "beyond the longest call") {
			t.Fatalf("closed with %d %q", code, reason)
		}
	})
}

// TestDroppedStartsReleaseTheirRecognizers: eight calls started and
// dropped at once hold no recognizers while they wait for a resume, so a
// real call after them gets its transcript. Real decoders: a pool of two,
// one call's worth.
func TestDroppedStartsReleaseTheirRecognizers(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the recognizer")
	}
	deps := realDeps(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := startEngine(t, t.TempDir(), "", func(c *Config) { c.NewAnalyzer = PipelineAnalyzers(ctx, deps) })
	a := e.srv.Authority()
	for i := range 8 {
		agent := fmt.Sprintf("D%d", i)
		tok, err := a.Issue(auth.RoleEndpoint, agent, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		ws, _, err := e.dialIngest(tok)
		if err != nil {
			t.Fatal(err)
		}
		if err := ws.WriteJSON(startJSON(fmt.Sprintf("c-dropped-%d", i), agent, false)); err != nil {
			t.Fatal(err)
		}
		var m protocol.Control
		ws.SetReadDeadline(time.Now().Add(15 * time.Second))
		if err := ws.ReadJSON(&m); err != nil || m.Type != "started" {
			t.Fatalf("dropped start %d answered %+v, %v", i, m, err)
		}
		ws.UnderlyingConn().Close()
	}
	tr, err := samples.Call("address_change")
	if err != nil {
		t.Fatal(err)
	}
	agentPCM, callerPCM := testdeps.Sample(t, tr)
	cut := audio.PipelineRate.Samples(15 * time.Second)
	c, err := ingestclient.New(ingestclient.Config{URL: e.base(), Token: e.tokens["endpoint"], CallID: "c-real", AgentID: "A1"})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithTimeout(ctx, 90*time.Second)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = c.Run(runCtx) }()
	if err := ingestclient.Stream(runCtx, c, agentPCM[:cut], callerPCM[:cut], ingestclient.StreamConfig{Speed: -1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.End(runCtx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	d := e.call("c-real")
	if len(d.Utterances) == 0 {
		t.Fatal("the real call after 8 dropped starts has no transcript")
	}
	for _, ev := range d.Events {
		if strings.Contains(string(ev), call.AlertNoTranscript) {
			t.Errorf("the real call waited for recognizers: %s", ev)
		}
	}
	t.Logf("real call after 8 dropped starts: %d utterances, first %q", len(d.Utterances), d.Utterances[0]["text"])
}

// TestACallWithoutAudioEndsAsNoAudio: a start followed by nothing ends
// the call (no_audio) and closes the connection; a pause counts as
// streaming.
func TestACallWithoutAudioEndsAsNoAudio(t *testing.T) {
	e := startEngine(t, t.TempDir(), "", func(c *Config) { c.NoAudioTimeout = 300 * time.Millisecond })
	r, _ := e.rawStart(t, "c-silent", false)
	if code, reason := closeOf(r.ws); code != protocol.CloseIdle || !strings.Contains(reason, "no audio") {
		t.Fatalf("closed with %d %q, want %d naming no audio", code, reason, protocol.CloseIdle)
	}
	waitFor(t, "the call to end", 10*time.Second, func() bool {
		c, err := e.srv.store.GetCall("c-silent")
		return err == nil && c.EndReason == protocol.EndNoAudio
	})

	p, _ := e.rawStart(t, "c-paused-first", false)
	p.text(`{"type":"pause","at_us":0}`)
	time.Sleep(600 * time.Millisecond) // twice the limit: the call must still be live
	p.text(`{"type":"resume","at_us":600000}`)
	p.send(pcmFrame(0, 0, 600*time.Millisecond, 1))
	if ended := p.end(); *ended.Frames != 1 {
		t.Errorf("the paused call ended with %d frames", *ended.Frames)
	}
}

// TestAnIdleConnectionIsClosedButAPausedOneIsNot: pings alone do not keep
// an ingest connection; a pause does, for as long as it lasts.
func TestAnIdleConnectionIsClosedButAPausedOneIsNot(t *testing.T) {
	e := startEngine(t, t.TempDir(), "", func(c *Config) {
		c.IdleTimeout = 400 * time.Millisecond
		c.PingInterval = 100 * time.Millisecond
	})
	idle, _ := e.rawStart(t, "c-idle", false)
	idle.send(seqFrame(0, 1))
	// closeOf reads, so gorilla answers the engine's pings meanwhile.
	if code, reason := closeOf(idle.ws); code != protocol.CloseIdle || !strings.Contains(reason, "idle") {
		t.Fatalf("closed with %d %q, want %d idle", code, reason, protocol.CloseIdle)
	}

	paused, _ := e.rawStart(t, "c-long-pause", false)
	paused.send(seqFrame(0, 1))
	paused.text(`{"type":"pause","at_us":20000}`)
	done := make(chan struct{})
	go func() { // answer pings while paused
		defer close(done)
		paused.ws.SetReadDeadline(time.Now().Add(1200 * time.Millisecond))
		for {
			if _, _, err := paused.ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	<-done // three times the idle limit
	// The read deadline made the client connection unusable; the engine's
	// side must still be open: resume on a new connection finds the call
	// attached to the old one only if the engine had not closed it.
	if c, err := e.srv.store.GetCall("c-long-pause"); err != nil || c.Status != store.StatusLive {
		t.Fatalf("paused call %+v, %v", c, err)
	}
	if e.srv.hasSession("c-long-pause") {
		s := e.srv.sessionOf("c-long-pause")
		if s.attached.Load() == nil {
			t.Fatal("the paused connection was closed as idle")
		}
	}
}

// TestAnIngestConnectionWithoutStartIsToldWhy: a connection that never
// sends its start is closed with 4408 and a reason, not dropped (1006).
func TestAnIngestConnectionWithoutStartIsToldWhy(t *testing.T) {
	old := startTimeout
	startTimeout = 300 * time.Millisecond
	defer func() { startTimeout = old }()
	e := startEngine(t, t.TempDir(), "")
	ws, _, err := e.dialIngest(e.tokens["endpoint"])
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if code, reason := closeOf(ws); code != protocol.CloseIdle || !strings.Contains(reason, "no start message") {
		t.Errorf("closed with %d %q, want %d naming the missing start", code, reason, protocol.CloseIdle)
	}
	e.stop() // before startTimeout is restored
}

// TestWaitingCallsPerTokenAreCapped: one endpoint token cannot hold more
// than MaxWaitingCalls calls that never stream.
func TestWaitingCallsPerTokenAreCapped(t *testing.T) {
	e := startEngine(t, t.TempDir(), "", func(c *Config) { c.MaxWaitingCalls = 2 })
	first, _ := e.rawStart(t, "c-wait-1", false)
	e.rawStart(t, "c-wait-2", false)
	ws, _, err := e.dialIngest(e.tokens["endpoint"])
	if err != nil {
		t.Fatal(err)
	}
	ws.WriteJSON(startJSON("c-wait-3", "A1", false))
	if code, reason := closeOf(ws); code != protocol.CloseTooSlow || !strings.Contains(reason, "have not sent audio") {
		t.Fatalf("third waiting call closed with %d %q, want %d", code, reason, protocol.CloseTooSlow)
	}
	// Another token is not affected, and streaming frees a place.
	ws2, _, err := e.dialIngest(e.tokens["endpoint2"])
	if err != nil {
		t.Fatal(err)
	}
	defer ws2.Close()
	ws2.WriteJSON(startJSON("c-other", "A2", false))
	var m protocol.Control
	ws2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := ws2.ReadJSON(&m); err != nil || m.Type != "started" {
		t.Fatalf("another token's start: %+v, %v", m, err)
	}
	first.send(seqFrame(0, 1))
	waitFor(t, "the first call to count as streaming", 5*time.Second, func() bool {
		s := e.srv.sessionOf("c-wait-1")
		return s != nil && s.streaming.Load()
	})
	e.rawStart(t, "c-wait-4", false)
}

// TestAGapFloodMakesBoundedRecords: a flood of gap messages makes at most
// MaxGapRecords records, and repeated or adjacent gaps merge.
func TestAGapFloodMakesBoundedRecords(t *testing.T) {
	e := startEngine(t, t.TempDir(), "", func(c *Config) { c.MaxGapRecords = 100 })
	t.Run("the same gap 50,000 times is one record", func(t *testing.T) {
		r, _ := e.rawStart(t, "c-gap-same", false)
		r.send(seqFrame(0, 1))
		before := testdeps.CPUTime()
		for range 50_000 {
			r.text(`{"type":"gap","from_seq":1,"to_seq":10}`)
		}
		r.send(seqFrame(11, 1))
		ended := r.end()
		t.Logf("engine CPU for 50,000 identical gap messages: %v", testdeps.CPUTime()-before)
		c, gaps := stored(t, e, "c-gap-same")
		if len(gaps) != 1 || c.FramesLost != 10 || *ended.Gaps != 1 {
			t.Errorf("%d records, %d lost, ended gaps %d", len(gaps), c.FramesLost, *ended.Gaps)
		}
	})
	t.Run("10,000 separate gaps stop at the cap", func(t *testing.T) {
		r, _ := e.rawStart(t, "c-gap-flood", false)
		before := testdeps.CPUTime()
		for i := range int64(10_000) {
			r.send(seqFrame(uint64(2*i), 1))
			r.text(fmt.Sprintf(`{"type":"gap","from_seq":%d,"to_seq":%d}`, 2*i+1, 2*i+1))
		}
		ended := r.end()
		t.Logf("engine CPU for 10,000 frames and 10,000 separate gap messages: %v", testdeps.CPUTime()-before)
		c, gaps := stored(t, e, "c-gap-flood")
		if len(gaps) != 100 || *ended.Gaps != 100 {
			t.Errorf("%d gap records stored, ended says %d; want the cap, 100", len(gaps), *ended.Gaps)
		}
		if c.FramesLost != 10_000 {
			t.Errorf("%d frames lost, want 10000", c.FramesLost)
		}
		if last := gaps[len(gaps)-1]; last.Reason != "merged" || last.ToSeq != 19_999 {
			t.Errorf("last record %+v, want the rest merged up to seq 19999", last)
		}
		fi, err := os.Stat(filepath.Join(e.dir, DBFile))
		if err == nil {
			t.Logf("store file after the flood: %.2f MB", float64(fi.Size())/1e6)
		}
	})
}

// TestAFullDiskIsNeverAcknowledged: while the store cannot write, the
// endpoint gets no ack for what was not written; after StorageTimeout its
// connection is closed with 1011 and it keeps its frames; once the disk
// has room again the real endpoint client resumes on the same engine and
// the call completes with every frame.
func TestAFullDiskIsNeverAcknowledged(t *testing.T) {
	t.Run("alone", func(t *testing.T) { testFullDisk(t, nil) })
	// JetStream's files (DATA/nats) on the same full disk: the journal's
	// writes fail there first, and nats-server's file store keeps failing
	// after a write error even once the disk has room; the cluster node
	// restarts JetStream in process when the disk takes writes again.
	t.Run("with the embedded JetStream", func(t *testing.T) { testFullDisk(t, &cluster.Config{}) })
}

func testFullDisk(t *testing.T, cc *cluster.Config) {
	dir := testdisk.Mount(t, 16<<20)
	e := startEngine(t, filepath.Join(dir, "data"), "", func(c *Config) {
		c.StorageTimeout = time.Second
		c.Cluster = cc
		// The endpoint's resumes are refused while nothing can be written;
		// the call must wait for it longer than the disk stays full (with
		// JetStream, over 10 s), as it does with the default of 120 s.
		c.ResumeWindow = time.Minute
	})
	alerts := dialLive(t, e, "all=1", e.tokens["supervisor"], nil, nil)
	sawAlert := make(chan struct{})
	go func() {
		for {
			alerts.SetReadDeadline(time.Now().Add(60 * time.Second))
			var ev map[string]any
			if err := alerts.ReadJSON(&ev); err != nil {
				return
			}
			if ev["type"] == protocol.EventAlert && ev["id"] == AlertStorage {
				close(sawAlert)
				return
			}
		}
	}()
	l := startLiveCall(t, e.base(), e.tokens["endpoint"], "c-full", 1500, 2*time.Millisecond)
	waitFor(t, "the call to stream", 10*time.Second, func() bool {
		c, err := e.srv.store.GetCall("c-full")
		return err == nil && c.Ack > 100
	})
	filler := testdisk.Fill(t, dir)
	full, _ := e.srv.store.GetCall("c-full")
	select {
	case <-sawAlert:
	case <-time.After(20 * time.Second):
		t.Fatal("no storage alert reached the supervisors")
	}
	// Whatever the engine acknowledged meanwhile, it had written.
	stuck, err := e.srv.store.GetCall("c-full")
	if err != nil || stuck.Status != store.StatusLive || stuck.Frames == 0 {
		t.Fatalf("call on the full disk: %+v, %v", stuck, err)
	}
	// For three StorageTimeouts, through the endpoint's reconnections to an
	// engine that still cannot write: never an ack beyond what is stored.
	// The endpoint's count is read first: the stored ack does not go down.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		acked := l.c.Stats().Acked
		c, err := e.srv.store.GetCall("c-full")
		if err != nil {
			t.Fatal(err)
		}
		if acked > c.Ack {
			t.Fatalf("the endpoint was told %d is saved; the store holds up to %d", acked, c.Ack)
		}
	}
	t.Logf("disk full at ack %d; stored ack %d; the endpoint holds everything after it", full.Ack, stuck.Ack)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// The same engine takes the call back: no restart, by anyone.
	freed := time.Now()
	waitFor(t, "the endpoint's first ack after the disk had room", 30*time.Second, func() bool { return l.c.Stats().Acked > stuck.Ack })
	t.Logf("first frame acknowledged %.1f s after the disk had room", time.Since(freed).Seconds())
	ended := l.finish(t)
	if ended.Frames != 3000 || ended.Gaps != 0 {
		t.Errorf("after the disk had room again the call ended with %+v, want 3000 frames, no gaps", ended)
	}
	d := e.call("c-full")
	if d.FramesLost != 0 || d.Status != "ended" {
		t.Errorf("stored call %+v", d)
	}
}

// TestShutdownEndsStuckCallsAtTheDeadline: a call whose pipeline does not
// return is ended from its last checkpoint with reason shutdown when the
// shutdown deadline passes. The stuck pipeline is a test analyzer that
// blocks: the fault being injected.
func TestShutdownEndsStuckCallsAtTheDeadline(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	e := startEngine(t, t.TempDir(), "", func(c *Config) {
		c.ShutdownTimeout = time.Second
		c.NewAnalyzer = func(call.Config) (Analyzer, error) { return &stuckAnalyzer{block: block}, nil }
	})
	r, _ := e.rawStart(t, "c-stuck", false)
	r.send(seqFrame(0, 1), seqFrame(1, 1))
	waitFor(t, "the first frames to be checkpointed", 5*time.Second, func() bool {
		c, err := e.srv.store.GetCall("c-stuck")
		return err == nil && c.Ack >= 1
	})
	r.send(seqFrame(2, 1)) // the pipeline never returns from this one
	start := time.Now()
	e.stop()
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("shutdown took %v with a 1 s deadline", d)
	}
	st, err := store.Open(filepath.Join(e.dir, DBFile), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := st.GetCall("c-stuck")
	if err != nil || c.Status != store.StatusEnded || c.EndReason != protocol.EndShutdown || c.Ack < 1 {
		t.Errorf("stuck call after shutdown: %+v, %v", c, err)
	}
}

// stuckAnalyzer blocks in Push from its third frame until block closes.
type stuckAnalyzer struct {
	testAnalyzer
	block  chan struct{}
	frames int
}

func (a *stuckAnalyzer) Push(ch protocol.Channel, frame []float32, at time.Duration) ([]protocol.Event, error) {
	a.frames++
	if a.frames >= 3 {
		<-a.block
	}
	return nil, nil
}

// sessionOf returns call id's live session, nil if none.
func (s *Server) sessionOf(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}
