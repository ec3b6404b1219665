package replay_test

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/engine"
	"github.com/earshot/earshot/internal/auth"
	"github.com/earshot/earshot/internal/localengine"
	"github.com/earshot/earshot/internal/replay"
	"github.com/earshot/earshot/store"
)

// startEngine runs an engine that analyses the sound only, stopped at the
// test's end.
func startEngine(t *testing.T) *localengine.Engine {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := localengine.Start(ctx, engine.Config{DataDir: t.TempDir(), NewAnalyzer: engine.PipelineAnalyzers(ctx, call.Deps{}), Logger: quiet}, "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := eng.Wait(); err != nil {
			t.Errorf("engine: %v", err)
		}
	})
	return eng
}

// tone is d of a quiet 300 Hz tone at 16 kHz.
func tone(d time.Duration) []float32 {
	pcm := make([]float32, int(d.Seconds()*16000))
	for i := range pcm {
		pcm[i] = float32(0.1 * math.Sin(2*math.Pi*300*float64(i)/16000))
	}
	return pcm
}

func TestAllStreamsEveryCallAndTheEngineStoresThem(t *testing.T) {
	eng := startEngine(t)
	admin, err := eng.Server.Authority().Issue(auth.RoleAdmin, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var frames atomic.Int64
	var jobs []*replay.Job
	for i, name := range []string{"first call", "second call"} {
		pcm := tone(2 * time.Second)
		jobs = append(jobs, &replay.Job{Name: name, CallID: replay.CallID("test", "0000", name, i), AgentID: "A1", Agent: pcm, Caller: pcm,
			OnFrame: func(time.Duration, time.Time) { frames.Add(1) }})
	}
	results := replay.All(context.Background(), eng.URL(), admin, 20, 2, jobs)
	for i, r := range results {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Job.Name, r.Err)
		}
		if r.Job != jobs[i] {
			t.Errorf("result %d is for %s, want results in job order", i, r.Job.Name)
		}
		c, err := eng.Server.Store().GetCall(store.CallID(r.Job.CallID))
		if err != nil {
			t.Fatalf("%s not stored: %v", r.Job.CallID, err)
		}
		// Two channels of 2 s in 20 ms frames.
		if c.Frames != 200 || r.Ended.Frames != 200 || c.AgentID != "A1" {
			t.Errorf("%s: stored %d frames (engine said %d), agent %q; want 200 of A1", r.Job.CallID, c.Frames, r.Ended.Frames, c.AgentID)
		}
	}
	if frames.Load() != 2*100 {
		t.Errorf("OnFrame told %d slots, want 100 per call", frames.Load())
	}
}

func TestOneFailsClearlyWithABadToken(t *testing.T) {
	eng := startEngine(t)
	r := replay.One(context.Background(), eng.URL(), "not-a-token", 20, &replay.Job{Name: "x", CallID: "x-1", AgentID: "A1", Agent: tone(time.Second), Caller: tone(time.Second)})
	if r.Err == nil {
		t.Fatal("a call with a bad token was accepted")
	}
}

func TestOneTakesACommaSeparatedListOfEngines(t *testing.T) {
	eng := startEngine(t)
	admin, err := eng.Server.Authority().Issue(auth.RoleAdmin, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close() // the first engine of the list is down
	r := replay.One(context.Background(), down+", "+eng.URL(), admin, 20, &replay.Job{Name: "x", CallID: "list-1", AgentID: "A1", Agent: tone(time.Second), Caller: tone(time.Second)})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if r.Ended.Frames != 100 || r.Stats.URL != eng.URL() {
		t.Errorf("%d frames on %s, want 100 on %s", r.Ended.Frames, r.Stats.URL, eng.URL())
	}
}

func TestCallIDIsProtocolValid(t *testing.T) {
	tests := []struct {
		name, base, want string
	}{
		{"plain names are kept", "card_payment", "p-s-1-card_payment"},
		{"spaces and slashes become underscores", "my call/2", "p-s-1-my_call_2"},
		{"long names are cut to 64 characters", strings.Repeat("a", 100), "p-s-1-" + strings.Repeat("a", 58)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := replay.CallID("p", "s", tt.base, 1); got != tt.want {
				t.Errorf("CallID = %q, want %q", got, tt.want)
			}
		})
	}
}
