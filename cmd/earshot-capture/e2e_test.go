package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/audio/capture/pulsetest"
	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/endpoint"
	"github.com/earshot/earshot/engine"
	"github.com/earshot/earshot/insights"
	"github.com/earshot/earshot/internal/auth"
	"github.com/earshot/earshot/internal/testdeps"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/samples"
	"github.com/earshot/earshot/store"
	"github.com/earshot/earshot/stt/eval"
)

// These tests run the whole endpoint path for real: a private PulseAudio
// daemon with one null sink per channel, paplay playing each channel of a
// sample call into its sink, the daemon (runDaemon, in process) capturing
// the two monitor sources through malgo and streaming to a real engine
// (engine.Server) on loopback, whose call pipeline (features, VAD,
// dynamics, and for the ground-truth and outage tests the real recognizer,
// playbook and KB) analyses and stores the call.

func testLogger(t *testing.T, name string) *slog.Logger {
	if os.Getenv("EARSHOT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("who", name)
	}
	// Kept, and shown only when the test fails: a flaky real-time test is
	// diagnosed from the log of the run that failed.
	w := &tailLog{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last %s log lines:\n%s", name, w.tail())
		}
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// tailLog keeps the last lines written to it.
type tailLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *tailLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, strings.TrimRight(string(b), "\n"))
	if len(l.lines) > 60 {
		l.lines = slices.Delete(l.lines, 0, len(l.lines)-60)
	}
	return len(b), nil
}

func (l *tailLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// seenAnalyzer is the engine's real call pipeline with a hook that tells
// the test when each frame reached it.
type seenAnalyzer struct {
	engine.Analyzer
	seen func(ch protocol.Channel, at time.Duration)
}

func (a seenAnalyzer) Push(ch protocol.Channel, frame []float32, at time.Duration) ([]protocol.Event, error) {
	if a.seen != nil {
		a.seen(ch, at)
	}
	return a.Analyzer.Push(ch, frame, at)
}

// testEngine is a real engine over a data directory, restartable on the
// same address.
type testEngine struct {
	t      *testing.T
	dir    string
	addr   string
	srv    *engine.Server
	cancel context.CancelFunc
	done   chan error

	deps call.Deps

	mu   sync.Mutex
	seen func(ch protocol.Channel, at time.Duration)
}

// startTestEngine starts an engine whose calls run the real pipeline over
// deps, as `earshot serve` does (Deps{} analyses the sound only).
func startTestEngine(t *testing.T, dir, addr string, deps call.Deps) *testEngine {
	e := &testEngine{t: t, dir: dir, deps: deps}
	e.start(addr)
	t.Cleanup(e.stop)
	return e
}

func (e *testEngine) start(addr string) {
	t := e.t
	srv, err := engine.New(engine.Config{
		DataDir: e.dir, Logger: testLogger(t, "engine"), ResumeWindow: 60 * time.Second, AckInterval: 50 * time.Millisecond,
		NewAnalyzer: func(ci call.Config) (engine.Analyzer, error) {
			an, err := engine.PipelineAnalyzers(context.Background(), e.deps)(ci)
			if err != nil {
				return nil, err
			}
			e.mu.Lock()
			defer e.mu.Unlock()
			return seenAnalyzer{an, e.seen}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	deadline := time.Now().Add(10 * time.Second)
	for {
		ln, err = net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // the old listener's port is being released
	}
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.srv, e.addr, e.cancel, e.done = srv, ln.Addr().String(), cancel, make(chan error, 1)
	go func() { e.done <- srv.Run(ctx, ln) }()
}

func (e *testEngine) stop() {
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
		e.t.Error("engine did not stop")
	}
}

func (e *testEngine) token(agent string) string {
	tok, err := e.srv.Authority().Issue(auth.RoleEndpoint, agent, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// storedTalk is the talk time per speaker in a stored call's dynamics.
func (e *testEngine) storedTalk(id string) (agent, caller float64) {
	e.t.Helper()
	c, err := e.srv.Store().GetCall(store.CallID(id))
	if err != nil {
		e.t.Fatal(err)
	}
	var d insights.Dynamics
	if err := json.Unmarshal(c.Dynamics, &d); err != nil {
		e.t.Fatalf("stored dynamics of %s: %v", id, err)
	}
	return d.Talk.Agent.Seconds(), d.Talk.Caller.Seconds()
}

// storedTranscript is one speaker's stored utterances, in order, as text.
func (e *testEngine) storedTranscript(id string, speaker insights.Speaker) string {
	e.t.Helper()
	det, err := e.srv.Store().Detail(store.CallID(id))
	if err != nil {
		e.t.Fatal(err)
	}
	var words []string
	for _, u := range det.Utterances {
		if u.Speaker == speaker {
			words = append(words, u.Text)
		}
	}
	return strings.Join(words, " ")
}

// offlineTranscript runs the same pipeline over the audio a test plays, as
// `earshot analyze` does: what the live path should have heard.
func offlineTranscript(t *testing.T, deps call.Deps, tr samples.Truth, clip time.Duration) map[insights.Speaker]string {
	t.Helper()
	agent, caller := sampleChannels(t, tr, clip)
	rec, err := call.AnalyzeChannels(context.Background(), deps, call.Config{CallID: "offline"}, agent, caller)
	if err != nil {
		t.Fatal(err)
	}
	out := map[insights.Speaker]string{}
	for _, u := range rec.Utterances {
		out[u.Speaker] = strings.TrimSpace(out[u.Speaker] + " " + u.Text)
	}
	return out
}

// liveDeps loads what `earshot serve` runs calls with: the project's
// recognizer (a pool of decoders, shared by the subtests), the default
// playbook and KB.
func liveDeps(t *testing.T, decoders int) call.Deps {
	d := testdeps.Real(t, decoders)
	return call.Deps{Recognizers: d.Recognizers, Playbook: d.Playbook, KB: d.KB}
}

// truthTalk is a speaker's talk time in the ground truth within [0, until)
// seconds, overlapping lines counted once.
func truthTalk(tr samples.Truth, speaker string, until float64) float64 {
	total, reach := 0.0, math.Inf(-1)
	for _, s := range tr.SpeakerSegments(speaker) {
		start, end := math.Max(s.Start, reach), math.Min(s.End, until)
		if end > start {
			total += end - start
		}
		reach = math.Max(reach, s.End)
	}
	return total
}

// compareTranscripts scores a stored call's transcript and the offline one
// of the same audio against the truth up to until seconds. The call's WER
// (both channels) may be at most margin above the offline one and a
// channel's at most 0.2: live frames do not fall where the file's do
// (offline, shifting the audio by 2.5 to 17.5 ms moved billing_dispute's
// call WER between 0.355 and 0.374), and a CPU-starved PulseAudio in a
// loaded CI run costs a few more words (seen: +0.052).
func compareTranscripts(t *testing.T, eng *testEngine, id string, tr samples.Truth, until float64, offline map[insights.Speaker]string, margin float64) {
	t.Helper()
	var live, off eval.Counts
	for _, sp := range []insights.Speaker{insights.Agent, insights.Caller} {
		ref, got := clipReference(tr, sp.String(), until), eng.storedTranscript(id, sp)
		l, o := eval.Score(ref, got), eval.Score(ref, offline[sp])
		live, off = live.Add(l), off.Add(o)
		t.Logf("%s WER against the truth: stored %.3f, the same audio offline %.3f\n stored:  %s\n offline: %s", sp, l.WER(), o.WER(), got, offline[sp])
		if l.WER() > o.WER()+0.2 {
			t.Errorf("%s transcript WER %.3f, %.3f offline\n truth: %s", sp, l.WER(), o.WER(), ref)
		}
	}
	t.Logf("call WER against the truth: stored %.3f, offline %.3f", live.WER(), off.WER())
	if live.WER() > off.WER()+margin {
		t.Errorf("call transcript WER %.3f, %.3f offline (allowed %.2f more)", live.WER(), off.WER(), margin)
	}
}

// clipReference is what a speaker says in lines that start before until
// seconds: the truth for a clip of a call (a line the clip cuts counts
// whole, against the live and the offline transcript alike).
func clipReference(tr samples.Truth, speaker string, until float64) string {
	var lines []string
	for _, s := range tr.SpeakerSegments(speaker) {
		if s.Start < until {
			lines = append(lines, s.Text)
		}
	}
	return strings.Join(lines, " ")
}

// sampleChannels decodes the first clip of a sample call (all of it when
// clip is 0) at 16 kHz.
func sampleChannels(t *testing.T, tr samples.Truth, clip time.Duration) (agent, caller []float32) {
	t.Helper()
	agent, caller, err := audio.LoadCall(filepath.Join("..", "..", "samples", tr.AudioPath()))
	if err != nil {
		t.Fatal(err)
	}
	if n := audio.PipelineRate.Samples(clip); clip > 0 && n < len(agent) {
		agent, caller = agent[:n], caller[:n]
	}
	return agent, caller
}

// sampleWAVs writes the first clip of a sample call's two channels as mono
// 16 kHz WAVs (paplay converts them to the sinks' 48 kHz).
func sampleWAVs(t *testing.T, tr samples.Truth, clip time.Duration) (agentWAV, callerWAV string) {
	t.Helper()
	agent, caller := sampleChannels(t, tr, clip)
	dir := t.TempDir()
	for i, x := range [][]float32{agent, caller} {
		p := filepath.Join(dir, [2]string{"agent.wav", "caller.wav"}[i])
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := audio.EncodeWAV(f, audio.Format{Rate: audio.PipelineRate, Channels: 1}, x); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if i == 0 {
			agentWAV = p
		} else {
			callerWAV = p
		}
	}
	return agentWAV, callerWAV
}

// testDaemon runs the daemon (runDaemon) in process.
type testDaemon struct {
	t       *testing.T
	control string
	cancel  context.CancelFunc
	done    chan error
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startTestDaemon runs a daemon with cfg; sent, if set, is told each frame
// handed to the ingest client (endpoint.Config.Sent).
func startTestDaemon(t *testing.T, cfg Config, sent func(ch int, at time.Duration)) *testDaemon {
	t.Helper()
	cfg.Control = freeAddr(t)
	if cfg.Buffer == 0 {
		cfg.Buffer = 120 * time.Second
	}
	cfg.Status, cfg.LogFormat, cfg.Backend = "off", "text", "pulseaudio"
	if cfg.AutoSilence == 0 {
		cfg.AutoSilence = 10 * time.Second
	}
	if cfg.Period == 0 {
		cfg.Period = endpoint.DefaultPeriod
	}
	if err := cfg.check(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	td := &testDaemon{t: t, control: cfg.Control, cancel: cancel, done: make(chan error, 1)}
	go func() {
		log := testLogger(t, "daemon")
		ecfg := cfg.endpoint(log, nil)
		ecfg.Sent = sent
		td.done <- endpoint.Run(ctx, ecfg)
	}()
	// The control API answers once the devices are open.
	pulsetest.WaitFor(t, 30*time.Second, "the control API", func() bool {
		select {
		case err := <-td.done:
			t.Fatalf("daemon did not start: %v", err)
		default:
		}
		return endpoint.Control(context.Background(), td.control, "GET", "/v1/status", nil, nil) == nil
	})
	t.Cleanup(func() { td.stop() })
	return td
}

func (td *testDaemon) stop() error {
	if td.cancel == nil {
		return nil
	}
	td.cancel()
	td.cancel = nil
	select {
	case err := <-td.done:
		return err
	case <-time.After(60 * time.Second):
		pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
		td.t.Error("daemon did not stop")
		return nil
	}
}

func (td *testDaemon) ctl(method, path string, body, out any) {
	td.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := endpoint.Control(ctx, td.control, method, path, body, out); err != nil {
		select {
		case derr := <-td.done:
			td.t.Fatalf("%s %s: %v; the daemon had stopped: %v", method, path, err, derr)
		default:
			td.t.Fatalf("%s %s: %v (the daemon is still running)", method, path, err)
		}
	}
}

// playCall plays the two WAVs into the two sinks together and waits.
func playCall(t *testing.T, pa *pulsetest.Server, agentSink, callerSink, agentWAV, callerWAV string) {
	t.Helper()
	a := pa.Play(t, agentSink, agentWAV)
	b := pa.Play(t, callerSink, callerWAV)
	if err := a.Wait(); err != nil {
		t.Fatalf("paplay agent: %v", err)
	}
	if err := b.Wait(); err != nil {
		t.Fatalf("paplay caller: %v", err)
	}
}

// checkSentimentCoversCall checks that a stored call's sentiment summary
// is the mean of the scores of all its stored utterances: a call resumed
// after a restart must not sum up only the part after it.
func checkSentimentCoversCall(t *testing.T, det store.Detail) {
	t.Helper()
	var sum, n [2]float64
	for _, u := range det.Utterances {
		s := u.Sentiment
		if s == nil {
			t.Fatalf("utterance %q has no sentiment", u.Text)
		}
		i := 0
		if u.Speaker == insights.Caller {
			i = 1
		}
		sum[i] += s.Score
		n[i]++
	}
	if n[0] == 0 || n[1] == 0 {
		t.Fatalf("stored sentiment %+v over %v utterances (agent, caller)", det.Sentiment, n)
	}
	agent, caller := sum[0]/n[0], sum[1]/n[1]
	t.Logf("sentiment summary agent %.3f caller %.3f; mean of the %v stored utterances %.3f %.3f",
		det.Sentiment.Agent, det.Sentiment.Caller, n, agent, caller)
	// Each stored score is rounded to 0.001, and so is the summary.
	if math.Abs(det.Sentiment.Agent-agent) > 0.002 || math.Abs(det.Sentiment.Caller-caller) > 0.002 {
		t.Errorf("the stored summary does not cover every utterance of the call")
	}
}

// checkNoUtteranceTwice: an utterance the restart cut in two is stored
// once, whole (its final replaced the first part's), so no two stored
// utterances of a speaker overlap by more than the gate's padding.
func checkNoUtteranceTwice(t *testing.T, det store.Detail) {
	t.Helper()
	last := map[protocol.Channel]store.Utterance{}
	for _, u := range det.Utterances { // in start order
		if p, ok := last[u.Speaker]; ok && p.End-u.Start > 400*time.Millisecond {
			t.Errorf("%s utterances overlap: %v-%v %q and %v-%v %q", u.Speaker, p.Start, p.End, p.Text, u.Start, u.End, u.Text)
		}
		last[u.Speaker] = u
	}
	replaced := 0
	for _, raw := range det.Events {
		var e struct{ Replaces uint64 }
		if json.Unmarshal(raw, &e) == nil && e.Replaces > 0 {
			replaced++
		}
	}
	t.Logf("%d utterances stored, %d of them decoded whole across the restart", len(det.Utterances), replaced)
}

func checkTalk(t *testing.T, e *testEngine, id string, tr samples.Truth, until float64) {
	t.Helper()
	ga, gc := e.storedTalk(id)
	for _, x := range []struct {
		who       string
		got, want float64
	}{{"agent", ga, truthTalk(tr, "agent", until)}, {"caller", gc, truthTalk(tr, "caller", until)}} {
		rel := (x.got - x.want) / x.want
		t.Logf("%s talk %.2f s, truth %.2f s (%+.1f %%)", x.who, x.got, x.want, 100*rel)
		if math.Abs(rel) > 0.05 {
			t.Errorf("%s talk time %.2f s is %+.1f %% off the truth %.2f s (limit 5 %%)", x.who, x.got, 100*rel, x.want)
		}
	}
}

func percentile(x []time.Duration, p float64) time.Duration {
	if len(x) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), x...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time PulseAudio tests take about 90 s")
	}
	pa := pulsetest.Start(t)
	// Two calls with transcripts at a time, plus the offline reference
	// each compares with.
	deps := liveDeps(t, 6)
	// The offline references are decoded before the real-time subtests
	// start, so their CPU does not starve the live capture.
	gtTruth, err := samples.Call("billing_dispute")
	if err != nil {
		t.Fatal(err)
	}
	cutTruth, err := samples.Call("address_change")
	if err != nil {
		t.Fatal(err)
	}
	const cutClip = 40 * time.Second
	gtOffline := offlineTranscript(t, deps, gtTruth, 0)
	cutOffline := offlineTranscript(t, deps, cutTruth, cutClip)

	t.Run("a sample call captured from two monitor sources matches its ground truth", func(t *testing.T) {
		t.Parallel()
		// The phone-band caller, line noise and all.
		tr, offline := gtTruth, gtOffline
		pa.NullSink(t, "gt_agent")
		pa.NullSink(t, "gt_caller")
		aw, cw := sampleWAVs(t, tr, 0)
		eng := startTestEngine(t, t.TempDir(), "", deps)

		// Latency: wall time a frame was handed to the ingest client
		// (right after capture) to wall time the engine's pipeline got it.
		var lmu sync.Mutex
		sent := map[[2]int64]time.Time{}
		var lat []time.Duration
		eng.mu.Lock()
		eng.seen = func(ch protocol.Channel, at time.Duration) {
			lmu.Lock()
			if s, ok := sent[[2]int64{int64(ch), int64(at)}]; ok {
				lat = append(lat, time.Since(s))
			}
			lmu.Unlock()
		}
		eng.mu.Unlock()
		td := startTestDaemon(t, Config{URL: "http://" + eng.addr, Token: eng.token("A1"), Agent: "A1",
			AgentDevice: "gt_agent.monitor", CallerDevice: "gt_caller.monitor"}, func(ch int, at time.Duration) {
			lmu.Lock()
			sent[[2]int64{int64(ch), int64(at)}] = time.Now()
			lmu.Unlock()
		})
		td.ctl("POST", "/v1/call/start", map[string]string{"call_id": "gt-1"}, nil)
		playCall(t, pa, "gt_agent", "gt_caller", aw, cw)
		time.Sleep(time.Second) // the sinks' last audio reaches the monitors
		var e endpoint.Ended
		td.ctl("POST", "/v1/call/end", nil, &e)
		t.Logf("ended: %+v", e)
		if e.Status != "ended" || e.Gaps != 0 {
			t.Errorf("call ended %+v, want ended with no gaps", e)
		}
		c, err := eng.srv.Store().GetCall("gt-1")
		if err != nil {
			t.Fatal(err)
		}
		if c.FramesLost != 0 || c.Frames != e.Frames || float64(c.Frames) < 2*50*tr.Duration {
			t.Errorf("stored call: %d frames, %d lost; %.1f s of audio (the sample lasts %.1f s)", c.Frames, c.FramesLost, c.Audio.Seconds(), tr.Duration)
		}
		checkTalk(t, eng, "gt-1", tr, math.Inf(1))
		// Capture must not cost more than a few words: on this call the
		// phone-band caller is far above issue 3's 0.351 over all the
		// samples even offline.
		compareTranscripts(t, eng, "gt-1", tr, math.Inf(1), offline, 0.08)
		lmu.Lock()
		t.Logf("capture → engine pipeline latency over %d frames: p50 %v, p95 %v, p99 %v, max %v",
			len(lat), percentile(lat, 0.5), percentile(lat, 0.95), percentile(lat, 0.99), percentile(lat, 1))
		lmu.Unlock()
	})

	t.Run("an engine stopped for 10 s mid-call loses no frame", func(t *testing.T) {
		t.Parallel()
		tr, offline, clip := cutTruth, cutOffline, cutClip
		pa.NullSink(t, "cut_agent")
		pa.NullSink(t, "cut_caller")
		aw, cw := sampleWAVs(t, tr, clip)
		dir := t.TempDir()
		eng := startTestEngine(t, dir, "", deps)
		td := startTestDaemon(t, Config{URL: "http://" + eng.addr, Token: eng.token("A1"), Agent: "A1",
			AgentDevice: "cut_agent.monitor", CallerDevice: "cut_caller.monitor"}, nil)
		td.ctl("POST", "/v1/call/start", map[string]string{"call_id": "cut-1"}, nil)
		a := pa.Play(t, "cut_agent", aw)
		b := pa.Play(t, "cut_caller", cw)
		time.Sleep(12 * time.Second) // into the call
		addr := eng.addr
		eng.stop()
		t.Log("engine stopped")
		time.Sleep(10 * time.Second) // the outage
		var st endpoint.Status
		td.ctl("GET", "/v1/status", nil, &st)
		t.Logf("status during the outage: %s", endpoint.StatusLine(st))
		if st.BufferedS < 5 {
			t.Errorf("%.1f s buffered after a 10 s outage", st.BufferedS)
		}
		eng.start(addr)
		t.Log("engine restarted")
		if err := a.Wait(); err != nil {
			t.Fatal(err)
		}
		b.Wait()
		time.Sleep(time.Second)
		var e endpoint.Ended
		td.ctl("POST", "/v1/call/end", nil, &e)
		t.Logf("ended: %+v", e)
		c, err := eng.srv.Store().GetCall("cut-1")
		if err != nil {
			t.Fatal(err)
		}
		det, err := eng.srv.Store().Detail("cut-1")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("stored: %d frames, %d lost, ack %d, %.1f s, %d gaps", c.Frames, c.FramesLost, c.Ack, c.Audio.Seconds(), len(det.Gaps))
		if e.Status != "ended" || e.Gaps != 0 || c.FramesLost != 0 || len(det.Gaps) != 0 {
			t.Errorf("after the outage: ended %+v, %d frames lost, gaps %+v", e, c.FramesLost, det.Gaps)
		}
		if c.Ack+1 != c.Frames || float64(c.Frames) < 2*50*(clip.Seconds()) {
			t.Errorf("sequence incomplete: %d frames, ack %d (the clip is %v)", c.Frames, c.Ack, clip)
		}
		checkTalk(t, eng, "cut-1", tr, clip.Seconds())
		// The transcript is nearly what the same audio gives uncut: the
		// stopping engine keeps the utterance in progress and the new one
		// decodes it whole, but from the stopped recognizer's adaptation,
		// not the uncut one's, so words can still differ (0.06–0.09 of the
		// clip's ~100 words in three runs when the utterance was split
		// instead). Lost audio or a lost recognizer after the restart would
		// cost half the clip.
		compareTranscripts(t, eng, "cut-1", tr, clip.Seconds(), offline, 0.12)
		checkSentimentCoversCall(t, det)
		checkNoUtteranceTwice(t, det)
		if left, _ := filepath.Glob(filepath.Join(dir, "open-speech", "*")); len(left) > 0 {
			t.Errorf("audio kept for the restart is still on disk after the resume: %v", left)
		}
	})

	t.Run("an outage longer than the buffer is reported as a gap of its length", func(t *testing.T) {
		t.Parallel()
		tr, err := samples.Call("password_reset")
		if err != nil {
			t.Fatal(err)
		}
		const clip, buffer, outage = 30 * time.Second, 4 * time.Second, 12 * time.Second
		pa.NullSink(t, "ovf_agent")
		pa.NullSink(t, "ovf_caller")
		aw, cw := sampleWAVs(t, tr, clip)
		eng := startTestEngine(t, t.TempDir(), "", call.Deps{})
		td := startTestDaemon(t, Config{URL: "http://" + eng.addr, Token: eng.token("A1"), Agent: "A1",
			AgentDevice: "ovf_agent.monitor", CallerDevice: "ovf_caller.monitor", Buffer: buffer}, nil)
		td.ctl("POST", "/v1/call/start", map[string]string{"call_id": "ovf-1"}, nil)
		a := pa.Play(t, "ovf_agent", aw)
		b := pa.Play(t, "ovf_caller", cw)
		time.Sleep(8 * time.Second)
		addr := eng.addr
		eng.stop()
		time.Sleep(outage)
		var st endpoint.Status
		td.ctl("GET", "/v1/status", nil, &st)
		t.Logf("status at the end of the outage: %s", endpoint.StatusLine(st))
		if st.BufferedS > buffer.Seconds()+0.1 {
			t.Errorf("%.1f s buffered with a %v buffer: memory is not bounded", st.BufferedS, buffer)
		}
		eng.start(addr)
		a.Wait()
		b.Wait()
		time.Sleep(time.Second)
		var e endpoint.Ended
		td.ctl("POST", "/v1/call/end", nil, &e)
		det, err := eng.srv.Store().Detail("ovf-1")
		if err != nil {
			t.Fatal(err)
		}
		c, _ := eng.srv.Store().GetCall("ovf-1")
		t.Logf("ended %+v; stored %d frames, %d lost; gaps %+v", e, c.Frames, c.FramesLost, det.Gaps)
		var lost float64
		for _, g := range det.Gaps {
			if g.Reason != "buffer_overflow" {
				t.Errorf("gap %+v, want reason buffer_overflow", g)
			}
			lost += (g.To - g.From).Seconds()
		}
		// Frames are dropped once the buffer is full: the outage (plus
		// the reconnect back-off) minus what the buffer holds. Both
		// channels lose the same stretch. The back-off after 12 s of
		// refused connections waits up to 1.5 x its 5 s cap (full
		// jitter), so the engine can be back 7.5 s before the daemon is;
		// a loaded CI run saw 14.3 s.
		want := (outage - buffer).Seconds()
		if len(det.Gaps) == 0 || lost < want-1 || lost > want+7.5+1 {
			t.Errorf("gaps cover %.1f s, want about %.1f s (outage %v, buffer %v)", lost, want, outage, buffer)
		}
		if c.FramesLost == 0 || int64(st.SendDrops) > c.FramesLost {
			t.Errorf("engine counts %d frames lost; the daemon dropped %d", c.FramesLost, st.SendDrops)
		}
	})

	t.Run("pause and resume leave a marked gap in the stored call", func(t *testing.T) {
		t.Parallel()
		tr, err := samples.Call("card_payment")
		if err != nil {
			t.Fatal(err)
		}
		pa.NullSink(t, "p_agent")
		pa.NullSink(t, "p_caller")
		aw, cw := sampleWAVs(t, tr, 15*time.Second)
		eng := startTestEngine(t, t.TempDir(), "", call.Deps{})
		td := startTestDaemon(t, Config{URL: "http://" + eng.addr, Token: eng.token("A1"), Agent: "A1",
			AgentDevice: "p_agent.monitor", CallerDevice: "p_caller.monitor"}, nil)
		td.ctl("POST", "/v1/call/start", map[string]string{"call_id": "p-1"}, nil)
		a := pa.Play(t, "p_agent", aw)
		b := pa.Play(t, "p_caller", cw)
		time.Sleep(4 * time.Second)
		td.ctl("POST", "/v1/pause", nil, nil)
		var st endpoint.Status
		td.ctl("GET", "/v1/status", nil, &st)
		if !st.Paused {
			t.Errorf("status after pause: %+v", st)
		}
		time.Sleep(3 * time.Second)
		td.ctl("POST", "/v1/resume", nil, nil)
		a.Wait()
		b.Wait()
		var e endpoint.Ended
		td.ctl("POST", "/v1/call/end", nil, &e)
		det, err := eng.srv.Store().Detail("p-1")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("ended %+v; gaps %+v", e, det.Gaps)
		if len(det.Gaps) != 1 || det.Gaps[0].Reason != "paused" || math.Abs((det.Gaps[0].To-det.Gaps[0].From).Seconds()-3) > 0.5 {
			t.Errorf("gaps %+v, want one paused gap of about 3 s", det.Gaps)
		}
	})
}
