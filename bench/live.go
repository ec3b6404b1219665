package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/cluster"
	"github.com/earshot/earshot/engine"
	"github.com/earshot/earshot/internal/auth"
	"github.com/earshot/earshot/internal/localengine"
	"github.com/earshot/earshot/internal/replay"
	"github.com/earshot/earshot/store"
)

// LiveConfig configures Live. Zero values mean the defaults noted.
type LiveConfig struct {
	Calls int     // concurrent calls (default 4)
	Speed float64 // replay speed (default 1, real time)
	// Deps is the call pipeline the engine runs: its recognizers (at least
	// two per call), playbook and KB. Deps{} measures the engine without
	// speech recognition. Live does not close it.
	Deps call.Deps
	// CPUProfile, if set, is a file a CPU profile of the replay window is
	// written to.
	CPUProfile string
	// Logger gets the calls that failed and other reasons the result is
	// not real time (default: discarded). The engine's own log is discarded.
	Logger *slog.Logger
}

func (c *LiveConfig) defaults() error {
	if c.Calls == 0 {
		c.Calls = 4
	}
	if c.Speed == 0 {
		c.Speed = 1
	}
	if c.Calls < 0 || c.Speed < 0 {
		return fmt.Errorf("%w: %d calls at speed %v", ErrConfig, c.Calls, c.Speed)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

// LiveResult is the result of Live, field names as in issue 5.
type LiveResult struct {
	Calls            int     `json:"calls"`
	Realtime         bool    `json:"realtime"`
	FinalLatencyP50  float64 `json:"final_latency_p50_s"`
	FinalLatencyP95  float64 `json:"final_latency_p95_s"`
	HintLatencyP95   float64 `json:"hint_latency_p95_s"`
	CPUCoresPerCall  float64 `json:"cpu_cores_per_call"`
	RSSMB            float64 `json:"rss_mb"`
	FramesLost       int64   `json:"frames_lost"`
	Finals           int     `json:"finals"`
	Hints            int     `json:"hints"`
	AudioS           float64 `json:"audio_s"`
	WallS            float64 `json:"wall_s"`
	MaxStreamLagS    float64 `json:"max_stream_lag_s"`
	MaxEndDrainS     float64 `json:"max_end_drain_s"`
	FinalLatencyMaxS float64 `json:"final_latency_max_s"`
	Errors           int     `json:"errors"`
	// What one call costs NATS on the embedded node: what it sends per
	// second of a call (records written to JetStream, each acknowledged,
	// and live events forwarded to other nodes), and what the streams
	// keep of it (records: the newest summary, utterances, events, hints,
	// gaps; live events: an hour).
	NATSMsgsPerCallSec   float64 `json:"nats_msgs_per_call_s"`
	NATSBytesPerCallSec  float64 `json:"nats_bytes_per_call_s"`
	StoredRecordsPerCall float64 `json:"stored_records_per_call"`
	StoredKBPerCall      float64 `json:"stored_kb_per_call"`
	LiveKBPerCall        float64 `json:"live_kb_per_call"`
}

// Live starts an engine in this process on a free loopback port with a
// temporary data directory, replays cfg.Calls embedded sample calls into
// it concurrently at cfg.Speed, and measures what a supervisor watching
// every call sees: the latency of finals and hints from the moment their
// audio was sent, the process's CPU per call and peak memory, frames lost.
// It blocks for the length of the longest call (at real speed), and
// removes the data directory before it returns.
func Live(ctx context.Context, cfg LiveConfig) (LiveResult, error) {
	if err := cfg.defaults(); err != nil {
		return LiveResult{}, err
	}
	res := LiveResult{Calls: cfg.Calls}
	calls, err := replay.SampleCalls()
	if err != nil {
		return res, err
	}
	if len(calls) == 0 {
		return res, ErrNoSamples
	}
	dir, err := os.MkdirTemp("", "earshot-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	engCtx, stopEngine := context.WithCancel(context.Background())
	defer stopEngine()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The engine as `earshot serve` runs it: one node with its embedded NATS.
	ecfg := engine.Config{DataDir: dir, NewAnalyzer: engine.PipelineAnalyzers(engCtx, cfg.Deps), Logger: quiet,
		Cluster: &cluster.Config{}}
	if cfg.Deps.KB != nil {
		ecfg.Articles = cfg.Deps.KB
	}
	eng, err := localengine.Start(engCtx, ecfg, "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	defer func() { stopEngine(); eng.Wait() }()
	admin, _ := eng.Server.Authority().Issue(auth.RoleAdmin, "", time.Hour)

	sub, err := subscribe(ctx, eng.Addr.String(), admin, cfg.Calls)
	if err != nil {
		return res, err
	}
	defer sub.close()
	jobs, clocks := benchJobs(calls, cfg.Calls)
	for _, j := range jobs {
		res.AudioS += callSeconds(j)
	}
	results, err := measureReplay(ctx, &res, cfg, eng.URL(), admin, jobs)
	if err != nil {
		return res, err
	}
	judgeStreams(&res, results, cfg, eng.Server)
	// Every call.ended reaching the subscriber means every event before it did.
	select {
	case <-sub.allEnded:
	case <-time.After(10 * time.Second):
		cfg.Logger.Warn("bench: not every call.ended reached the subscriber")
		res.Realtime = false
	}
	measureLatency(&res, sub.close(), clocks)
	measureNATS(ctx, &res, eng.Server)
	return res, nil
}

// measureNATS reads what the calls sent to NATS and what JetStream's two
// streams keep of them.
func measureNATS(ctx context.Context, res *LiveResult, srv *engine.Server) {
	if res.Calls == 0 || res.AudioS == 0 {
		return
	}
	tr := srv.Traffic()
	res.NATSMsgsPerCallSec = roundTo(float64(tr.Records+tr.Events)/res.AudioS, 2)
	res.NATSBytesPerCallSec = roundTo(float64(tr.RecordBytes+tr.EventBytes)/res.AudioS, 0)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := srv.ClusterStatus(ctx)
	if err != nil {
		return
	}
	n := float64(res.Calls)
	for _, s := range st.Streams {
		switch s.Name {
		case cluster.CallsStream:
			res.StoredRecordsPerCall = roundTo(float64(s.Messages)/n, 1)
			res.StoredKBPerCall = roundTo(float64(s.Bytes)/n/1024, 1)
		case cluster.LiveStream:
			res.LiveKBPerCall = roundTo(float64(s.Bytes)/n/1024, 1)
		}
	}
}

// benchJobs makes n replay jobs over the sample calls, round robin, each
// with the clock its latencies are measured against.
func benchJobs(calls []replay.Call, n int) ([]*replay.Job, map[string]*sendClock) {
	jobs := make([]*replay.Job, n)
	clocks := map[string]*sendClock{}
	stamp := time.Now().UTC().Format("150405")
	for i := range n {
		c := calls[i%len(calls)]
		clk := &sendClock{}
		id := fmt.Sprintf("bench-%s-%02d-%s", stamp, i, c.Name)
		clocks[id] = clk
		jobs[i] = &replay.Job{Name: c.Name, CallID: id, AgentID: fmt.Sprintf("A%02d", i), Agent: c.Agent, Caller: c.Caller, OnFrame: clk.note}
	}
	return jobs, clocks
}

// callSeconds is the length of a job's call.
func callSeconds(j *replay.Job) float64 {
	return float64(max(len(j.Agent), len(j.Caller))) / float64(audio.PipelineRate)
}

// measureReplay streams every job at once and records the wall time, CPU
// per call and peak memory of that window, profiled if cfg asks.
func measureReplay(ctx context.Context, res *LiveResult, cfg LiveConfig, url, token string, jobs []*replay.Job) ([]replay.Result, error) {
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
	}
	cpu0, wall0 := cpuTime(), time.Now()
	results := replay.All(ctx, url, token, cfg.Speed, len(jobs), jobs)
	if cfg.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	res.WallS = time.Since(wall0).Seconds()
	cpu := (cpuTime() - cpu0).Seconds()
	res.CPUCoresPerCall = roundTo(cpu/res.WallS/float64(len(jobs)), 3)
	res.RSSMB = peakRSSMB()
	return results, nil
}

// judgeStreams says whether every call kept real time: streamed at pace,
// drained within 3 s of its last frame, lost no frame.
func judgeStreams(res *LiveResult, results []replay.Result, cfg LiveConfig, srv *engine.Server) {
	res.Realtime = true
	for _, r := range results {
		if r.Err != nil {
			res.Errors++
			res.Realtime = false
			cfg.Logger.Warn("bench: call failed", "call_id", r.Job.CallID, "err", r.Err)
			continue
		}
		audioS := callSeconds(r.Job) / cfg.Speed
		lag := r.Elapsed.Seconds() - audioS
		res.MaxStreamLagS = max(res.MaxStreamLagS, roundTo(lag, 3))
		res.MaxEndDrainS = max(res.MaxEndDrainS, roundTo(r.Drain.Seconds(), 3))
		// Behind: the replay could not keep pace, or the engine needed
		// more than 3 s after the last frame to finish the call.
		if lag > 0.02*audioS+0.5 || r.Drain > 3*time.Second {
			res.Realtime = false
		}
		res.FramesLost += int64(r.Stats.Dropped)
	}
	for _, r := range results {
		if c, err := srv.Store().GetCall(store.CallID(r.Job.CallID)); err == nil {
			res.FramesLost += c.FramesLost
		}
	}
	if res.FramesLost > 0 {
		res.Realtime = false
	}
}
