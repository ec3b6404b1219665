package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/engine"
	"github.com/earshot/earshot/internal/auth"
	"github.com/earshot/earshot/samples"
)

func init() {
	register(command{
		name:    "bench",
		summary: "benchmarks: bench live --calls N (engine + concurrent real-time replays)",
		run:     runBench,
	})
}

// liveBench is the result of `earshot bench live`, field names as in issue 5.
type liveBench struct {
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
}

func runBench(ctx context.Context, env *environment, args []string) error {
	if len(args) == 0 || args[0] != "live" {
		fmt.Fprintln(env.stderr, "Usage: earshot bench live --calls N [--format json]")
		return errUsage
	}
	fs := newFlagSet(env, "bench live", "",
		"Starts an engine in-process on a free loopback port with a temporary data directory, replays N embedded sample calls concurrently at real speed, and measures latency at a live subscriber, CPU and memory.")
	calls := fs.Int("calls", 4, "concurrent calls")
	format := fs.String("format", "text", "text or json")
	speed := fs.Float64("speed", 1, "replay speed (1 = real time, as the issue asks)")
	noSTT := fs.Bool("no-stt", false, "without speech recognition (measures the rest of the engine)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the replay window to this file")
	af := addAssistFlags(fs)
	sf := addSTTFlags(fs)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *calls < 1 || (*format != "text" && *format != "json") || *speed <= 0 {
		fmt.Fprintln(env.stderr, "earshot bench live: --calls ≥ 1, --format text or json, --speed > 0")
		return errUsage
	}
	res, err := benchLive(ctx, env, *calls, *speed, af, sf, !*noSTT, *cpuProfile)
	if err != nil {
		return err
	}
	if *format == "json" {
		b, _ := json.Marshal(res)
		fmt.Fprintln(env.stdout, string(b))
		return nil
	}
	tw := tabwriter.NewWriter(env.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "calls\trealtime\tfinal p50 s\tfinal p95 s\thint p95 s\tcpu cores/call\trss MB\tframes lost\tfinals\thints")
	fmt.Fprintf(tw, "%d\t%v\t%.3f\t%.3f\t%.3f\t%.3f\t%.0f\t%d\t%d\t%d\n", res.Calls, res.Realtime, res.FinalLatencyP50, res.FinalLatencyP95,
		res.HintLatencyP95, res.CPUCoresPerCall, res.RSSMB, res.FramesLost, res.Finals, res.Hints)
	tw.Flush()
	fmt.Fprintf(env.stdout, "audio %.0f s in %.1f s wall; max stream lag %.3f s; max end drain %.3f s; final latency max %.3f s; errors %d\n",
		res.AudioS, res.WallS, res.MaxStreamLagS, res.MaxEndDrainS, res.FinalLatencyMaxS, res.Errors)
	return nil
}

// sendClock maps a call's call time to the wall time the replay handed
// that audio to its client, slot by slot.
type sendClock struct {
	mu    sync.Mutex
	slots []time.Time // index: 20 ms slot ending at (i+1)*20 ms
}

func (c *sendClock) note(end time.Duration, at time.Time) {
	c.mu.Lock()
	c.slots = append(c.slots, at)
	c.mu.Unlock()
}

// at returns when the audio up to call time t had been sent.
func (c *sendClock) at(t time.Duration) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := int(math.Ceil(float64(t)/float64(audio.FrameDuration))) - 1
	i = max(i, 0)
	if i >= len(c.slots) {
		return time.Time{}, false
	}
	return c.slots[i], true
}

type arrival struct {
	typ    string
	callID string
	t      float64 // event t
	end    float64 // transcript end
	id     string  // hint id
	at     time.Time
}

func benchLive(ctx context.Context, env *environment, n int, speed float64, af assistFlags, sf sttFlags, withSTT bool, cpuProfile string) (liveBench, error) {
	res := liveBench{Calls: n}
	truths, err := samples.Calls()
	if err != nil {
		return res, err
	}
	if len(truths) == 0 {
		return res, errors.New("no embedded sample calls")
	}
	type pcm struct{ agent, caller []float32 }
	decoded := map[string]pcm{}
	for _, t := range truths {
		f, err := samples.Open(t.AudioPath())
		if err != nil {
			return res, err
		}
		src, err := audio.Decode(f)
		if err != nil {
			f.Close()
			return res, fmt.Errorf("%s: %w", t.Name, err)
		}
		chans, err := audio.ReadAll(audio.Resample(src, audio.PipelineRate))
		f.Close()
		if err != nil || len(chans) != 2 {
			return res, fmt.Errorf("%s: decoding: %v", t.Name, err)
		}
		decoded[t.Name] = pcm{chans[0], chans[1]}
	}
	dir, err := os.MkdirTemp("", "earshot-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	env.log.Info("bench: loading recognizers", "decoders", 2*n)
	qenv := &environment{stdout: env.stdout, stderr: env.stderr, log: quiet}
	deps, closeDeps, err := loadDeps(qenv, af, sf, withSTT, 2*n)
	if err != nil {
		return res, err
	}
	defer closeDeps()
	engCtx, stopEngine := context.WithCancel(context.Background())
	defer stopEngine()
	cfg := engine.Config{DataDir: dir, NewAnalyzer: engine.PipelineAnalyzers(engCtx, deps), Logger: quiet}
	if deps.KB != nil {
		cfg.Articles = deps.KB
	}
	var srv *engine.Server
	var addr net.Addr
	ready := make(chan struct{})
	engDone := make(chan error, 1)
	go func() {
		engDone <- serveEngine(engCtx, cfg, "127.0.0.1:0", func(s *engine.Server, a net.Addr) { srv, addr = s, a; close(ready) })
	}()
	select {
	case <-ready:
	case err := <-engDone:
		return res, err
	}
	defer func() { stopEngine(); <-engDone }()
	base := "http://" + addr.String()
	admin, _ := srv.Authority().Issue(auth.RoleAdmin, "", time.Hour)

	// The subscriber: a supervisor wall watching every call.
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+addr.String()+"/v1/live?all=1", nil)
	if err != nil {
		return res, err
	}
	defer ws.Close()
	if err := ws.WriteJSON(map[string]any{"type": "auth", "token": admin}); err != nil {
		return res, err
	}
	var arrivals []arrival
	subDone := make(chan struct{})
	allEnded := make(chan struct{}) // closed when every call's call.ended arrived
	var subMu sync.Mutex
	go func() {
		ended := 0
		defer close(subDone)
		for {
			_, msg, err := ws.ReadMessage()
			now := time.Now()
			if err != nil {
				return
			}
			var ev struct {
				Type   string  `json:"type"`
				CallID string  `json:"call_id"`
				T      float64 `json:"t"`
				End    float64 `json:"end"`
				ID     string  `json:"id"`
			}
			if json.Unmarshal(msg, &ev) != nil {
				continue
			}
			if ev.Type == "call.ended" {
				if ended++; ended == n {
					close(allEnded)
				}
			}
			if ev.Type == "transcript.final" || ev.Type == "hint" {
				subMu.Lock()
				arrivals = append(arrivals, arrival{ev.Type, ev.CallID, ev.T, ev.End, ev.ID, now})
				subMu.Unlock()
			}
		}
	}()

	jobs := make([]*replayJob, n)
	clocks := map[string]*sendClock{}
	stamp := time.Now().UTC().Format("150405")
	for i := 0; i < n; i++ {
		t := truths[i%len(truths)]
		p := decoded[t.Name]
		clk := &sendClock{}
		id := fmt.Sprintf("bench-%s-%02d-%s", stamp, i, t.Name)
		clocks[id] = clk
		jobs[i] = &replayJob{name: t.Name, callID: id, agentID: fmt.Sprintf("A%02d", i), agent: p.agent, caller: p.caller, onFrame: clk.note}
		res.AudioS += float64(max(len(p.agent), len(p.caller))) / float64(audio.PipelineRate)
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return res, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return res, err
		}
	}
	cpu0, wall0 := cpuTime(), time.Now()
	results := runJobs(ctx, base, admin, speed, n, jobs, func(string, ...any) {})
	if cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	res.WallS = time.Since(wall0).Seconds()
	cpu := (cpuTime() - cpu0).Seconds()
	res.CPUCoresPerCall = roundTo(cpu/res.WallS/float64(n), 3)
	res.RSSMB = peakRSSMB()

	res.Realtime = true
	for _, r := range results {
		if r.err != nil {
			res.Errors++
			res.Realtime = false
			fmt.Fprintf(env.stderr, "bench: %s: %v\n", r.job.callID, r.err)
			continue
		}
		audioS := float64(max(len(r.job.agent), len(r.job.caller))) / float64(audio.PipelineRate) / speed
		lag := r.elapsed.Seconds() - audioS
		res.MaxStreamLagS = max(res.MaxStreamLagS, roundTo(lag, 3))
		res.MaxEndDrainS = max(res.MaxEndDrainS, roundTo(r.drain.Seconds(), 3))
		// Behind: the replay could not keep pace, or the engine needed
		// more than 3 s after the last frame to finish the call.
		if lag > 0.02*audioS+0.5 || r.drain > 3*time.Second {
			res.Realtime = false
		}
		res.FramesLost += int64(r.stats.Dropped)
	}
	for _, r := range results {
		if c, err := srv.Store().GetCall(r.job.callID); err == nil {
			res.FramesLost += c.FramesLost
		}
	}
	if res.FramesLost > 0 {
		res.Realtime = false
	}
	// Every call.ended reaching the subscriber means every event before it did.
	select {
	case <-allEnded:
	case <-time.After(10 * time.Second):
		fmt.Fprintln(env.stderr, "bench: not every call.ended reached the subscriber")
		res.Realtime = false
	}
	ws.Close()
	<-subDone
	subMu.Lock()
	defer subMu.Unlock()

	var finals, hints []float64
	lastFinal := map[string]arrival{}
	for _, a := range arrivals {
		clk, ok := clocks[a.callID]
		if !ok {
			continue
		}
		switch a.typ {
		case "transcript.final":
			lastFinal[a.callID] = a
			if sent, ok := clk.at(time.Duration(a.end * float64(time.Second))); ok {
				finals = append(finals, a.at.Sub(sent).Seconds())
			}
		case "hint":
			if sent, ok := clk.at(time.Duration(hintTrigger(lastFinal[a.callID], a) * float64(time.Second))); ok {
				hints = append(hints, a.at.Sub(sent).Seconds())
			}
		}
	}
	res.Finals, res.Hints = len(finals), len(hints)
	res.FinalLatencyP50 = roundTo(percentile(finals, 0.50), 3)
	res.FinalLatencyP95 = roundTo(percentile(finals, 0.95), 3)
	res.HintLatencyP95 = roundTo(percentile(hints, 0.95), 3)
	if len(finals) > 0 {
		res.FinalLatencyMaxS = roundTo(slices.Max(finals), 3)
	}
	return res, nil
}

// hintTrigger is the call time a hint's latency is measured from. The
// pipeline emits an utterance's hints with the same call time as its
// transcript.final, right after it: then the trigger is the end of that
// utterance's speech. Otherwise the hint was driven by time (dead air, a
// disclosure missing by its deadline, overtalk from the VAD) and its own
// time is when its condition became true.
func hintTrigger(lastFinal, hint arrival) float64 {
	if lastFinal.typ != "" && math.Abs(lastFinal.t-hint.t) < 0.0005 {
		return lastFinal.end
	}
	return hint.t
}

func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func roundTo(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSSMB is the process's peak resident set (VmHWM), in MB.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(v), "%f", &kb)
			return roundTo(kb/1024, 0)
		}
	}
	return 0
}
