package endpoint

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/audio/capture"
	pipeline "github.com/earshot/earshot/call"
	"github.com/earshot/earshot/engine"
	"github.com/earshot/earshot/internal/auth"
	"github.com/earshot/earshot/internal/localengine"
)

// pacedSource delivers a tone on both channels, a frame every tick per
// channel (faster than real time), until closed.
type pacedSource struct {
	tick   time.Duration
	at     [2]time.Duration // each channel's reader owns its own element
	once   sync.Once
	closed chan struct{}
}

func newPacedSource(tick time.Duration) *pacedSource {
	return &pacedSource{tick: tick, closed: make(chan struct{})}
}

func (s *pacedSource) Read(ch int, frame []float32) (time.Duration, error) {
	select {
	case <-s.closed:
		return 0, capture.ErrClosed
	case <-time.After(s.tick):
	}
	at := s.at[ch]
	for i := range frame {
		frame[i] = float32(0.1 * math.Sin(2*math.Pi*300*(at.Seconds()+float64(i)/16000)))
	}
	s.at[ch] += audio.FrameDuration
	return at, nil
}

func (s *pacedSource) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

// waitFor polls cond until it holds or 30 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

func TestACallStreamsFromStartToEndAndTheEngineStoresIt(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	engCtx, stopEngine := context.WithCancel(context.Background())
	eng, err := localengine.Start(engCtx, engine.Config{DataDir: t.TempDir(), NewAnalyzer: engine.PipelineAnalyzers(engCtx, pipeline.Deps{}), Logger: quiet}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { stopEngine(); eng.Wait() }()
	token, err := eng.Server.Authority().Issue(auth.RoleEndpoint, "A1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int64
	d := newDaemon(Config{URL: eng.URL(), Token: token, Agent: "A1", Logger: quiet,
		Sent: func(int, time.Duration) { sent.Add(1) }}, newPacedSource(2*time.Millisecond))
	ctx, stop := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- d.run(ctx) }()
	defer func() {
		stop()
		if err := <-runErr; err != nil && !errors.Is(err, capture.ErrClosed) {
			t.Errorf("run: %v", err)
		}
	}()

	if _, err := d.pause(); !errors.Is(err, ErrNoCall) {
		t.Errorf("pause without a call: %v, want ErrNoCall", err)
	}
	if err := d.startCall("bad id!"); !errors.Is(err, ErrBadCallID) {
		t.Errorf("start with a bad id: %v, want ErrBadCallID", err)
	}
	if err := d.startCall("life-1"); err != nil {
		t.Fatal(err)
	}
	if err := d.startCall("life-2"); !errors.Is(err, ErrCallActive) {
		t.Errorf("a second start: %v, want ErrCallActive", err)
	}
	waitFor(t, "frames to stream", func() bool { return sent.Load() >= 100 })
	if _, err := d.pause(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.pause(); !errors.Is(err, ErrPaused) {
		t.Errorf("pausing twice: %v, want ErrPaused", err)
	}
	if st := d.status(); !st.Paused || st.CallID != "life-1" {
		t.Errorf("status while paused: %+v", st)
	}
	if _, err := d.resume(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "frames after the resume", func() bool { return sent.Load() >= 200 })

	endCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if e := d.endCall(endCtx, "someone-else"); e.Error != ErrNoCall.Error() {
		t.Errorf("ending another call's id: %+v, want %q", e, ErrNoCall)
	}
	e := d.endCall(endCtx, "life-1")
	if e.Status != "ended" || e.Error != "" || e.Frames < 200 {
		t.Fatalf("end: %+v, want ended with at least 200 frames", e)
	}
	c, err := eng.Server.Store().GetCall("life-1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Frames != e.Frames || c.AgentID != "A1" || c.FramesLost != 0 {
		t.Errorf("stored call: %d frames (%d lost), agent %q; the daemon was told %d", c.Frames, c.FramesLost, c.AgentID, e.Frames)
	}
	if st := d.status(); st.State != "idle" || st.LastCall == nil || st.LastCall.CallID != "life-1" {
		t.Errorf("status after the end: %+v", st)
	}
}
