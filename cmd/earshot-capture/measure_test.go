package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/audio/capture/pulsetest"
	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/endpoint"
	"github.com/earshot/earshot/samples"
)

// procCPU returns a process's user+system CPU time from /proc/PID/stat.
func procCPU(t *testing.T, pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// threadStat is one thread's scheduler account from /proc/PID/task/TID/schedstat.
type threadStat struct {
	cpu    time.Duration // time on a CPU
	slices int64         // times it was scheduled in: its wake-ups, near enough
}

// threadCPU returns the CPU time and wake-ups of each of a process's
// threads, keyed by "tid name": it tells the Go runtime's threads (sysmon
// among them) from miniaudio's and PulseAudio's.
func threadCPU(t *testing.T, pid int) map[string]threadStat {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]threadStat{}
	for _, e := range ents {
		comm, err1 := os.ReadFile(filepath.Join(dir, e.Name(), "comm"))
		ss, err2 := os.ReadFile(filepath.Join(dir, e.Name(), "schedstat"))
		if err1 != nil || err2 != nil {
			continue // the thread exited meanwhile
		}
		f := strings.Fields(string(ss))
		if len(f) < 3 {
			continue
		}
		ns, _ := strconv.ParseInt(f[0], 10, 64)
		n, _ := strconv.ParseInt(f[2], 10, 64)
		out[e.Name()+" "+strings.TrimSpace(string(comm))] = threadStat{time.Duration(ns), n}
	}
	return out
}

// logThreads logs the threads that ran between two threadCPU snapshots,
// busiest first, with their wake-ups per second.
func logThreads(t *testing.T, before, after map[string]threadStat, wall time.Duration) {
	type row struct {
		name string
		d    threadStat
	}
	var rows []row
	var total threadStat
	for k, v := range after {
		d := threadStat{v.cpu - before[k].cpu, v.slices - before[k].slices}
		if d.slices > 0 {
			rows = append(rows, row{k, d})
			total.cpu += d.cpu
			total.slices += d.slices
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].d.cpu > rows[j].d.cpu })
	for _, r := range append(rows, row{"all threads", total}) {
		t.Logf("  %-30s %5.2f %% of one core, %6.0f wake-ups/s", r.name, 100*r.d.cpu.Seconds()/wall.Seconds(), float64(r.d.slices)/wall.Seconds())
	}
}

func procRSS(t *testing.T, pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return kb
		}
	}
	return 0
}

// TestMeasureDaemonCost builds the real binary, runs it against a real
// engine while a sample call plays into both sinks with a call active, and
// reports the daemon's CPU (share of one core), per thread too, and
// resident memory over 30 s. It only runs with EARSHOT_MEASURE=1 (it takes
// about a minute). EARSHOT_MEASURE_CPUPROFILE=FILE has the daemon write a Go
// CPU profile of its run there (--cpuprofile); EARSHOT_MEASURE_PERF=FILE
// records the call window with `perf record -g` (every thread, C and
// kernel included, which a Go profile does not see) and keeps the binary
// next to it for perf report; EARSHOT_MEASURE_ENV adds environment
// variables for the daemon and EARSHOT_MEASURE_ARGS flags.
func TestMeasureDaemonCost(t *testing.T) {
	if os.Getenv("EARSHOT_MEASURE") == "" {
		t.Skip("set EARSHOT_MEASURE=1 to measure the daemon's CPU and memory")
	}
	pa := pulsetest.Start(t)
	pa.NullSink(t, "m_agent")
	pa.NullSink(t, "m_caller")
	tr, _ := samples.Call("cancellation")
	aw, cw := sampleWAVs(t, tr, 0)
	eng := startTestEngine(t, t.TempDir(), "", call.Deps{})
	bin := filepath.Join(t.TempDir(), "earshot-capture")
	if p := os.Getenv("EARSHOT_MEASURE_PERF"); p != "" {
		bin = p + ".bin" // perf report needs the binary for its symbols
	}
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	control := freeAddr(t)
	tokFile := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(tokFile, []byte(eng.token("A1")), 0o600)
	cmd := exec.Command(bin, "run", "--url", "http://"+eng.addr, "--token-file", tokFile, "--agent", "A1",
		"--agent-device", "m_agent.monitor", "--caller-device", "m_caller.monitor", "--backend", "pulseaudio",
		"--control", control, "--status", "off")
	if p := os.Getenv("EARSHOT_MEASURE_CPUPROFILE"); p != "" {
		cmd.Args = append(cmd.Args, "--cpuprofile", p)
	}
	// Extra daemon flags, e.g. EARSHOT_MEASURE_ARGS="--period 200ms".
	cmd.Args = append(cmd.Args, strings.Fields(os.Getenv("EARSHOT_MEASURE_ARGS"))...)
	cmd.Env = pa.Env()
	// For comparisons, e.g. EARSHOT_MEASURE_ENV="GOMAXPROCS=2".
	cmd.Env = append(cmd.Env, strings.Fields(os.Getenv("EARSHOT_MEASURE_ENV"))...)
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		t.Logf("daemon log:\n%s", logs.String())
	}()
	pulsetest.WaitFor(t, 30*time.Second, "the daemon", func() bool {
		return endpoint.Control(context.Background(), control, "GET", "/v1/status", nil, nil) == nil
	})
	pid := cmd.Process.Pid
	idle0, th0 := procCPU(t, pid), threadCPU(t, pid)
	time.Sleep(10 * time.Second)
	idle := procCPU(t, pid) - idle0
	t.Logf("idle (capturing, no call): CPU %.2f %% of one core over 10 s, RSS %d kB", 100*idle.Seconds()/10, procRSS(t, pid))
	logThreads(t, th0, threadCPU(t, pid), 10*time.Second)
	if err := endpoint.Control(context.Background(), control, "POST", "/v1/call/start", map[string]string{"call_id": "m-1"}, nil); err != nil {
		t.Fatal(err)
	}
	a := pa.Play(t, "m_agent", aw)
	b := pa.Play(t, "m_caller", cw)
	defer a.Wait()
	defer b.Wait()
	time.Sleep(3 * time.Second)
	c0, w0, th0 := procCPU(t, pid), time.Now(), threadCPU(t, pid)
	if p := os.Getenv("EARSHOT_MEASURE_PERF"); p != "" {
		perf := exec.Command("perf", "record", "-g", "-o", p, "-p", strconv.Itoa(pid), "--", "sleep", "25")
		if out, err := perf.CombinedOutput(); err != nil {
			t.Logf("perf record: %v\n%s", err, out)
		}
	}
	var peak int64
	for time.Since(w0) < 30*time.Second {
		time.Sleep(time.Second)
		peak = max(peak, procRSS(t, pid))
	}
	cpu := procCPU(t, pid) - c0
	wall := time.Since(w0)
	t.Logf("in a call (capturing and streaming both channels): CPU %.2f %% of one core over %v, peak RSS %d kB",
		100*cpu.Seconds()/wall.Seconds(), wall.Round(time.Second), peak)
	logThreads(t, th0, threadCPU(t, pid), wall)
	var st endpoint.Status
	endpoint.Control(context.Background(), control, "GET", "/v1/status", nil, &st)
	t.Logf("status: %s", endpoint.StatusLine(st))
}
