package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/audio/capture/pulsetest"
	"github.com/earshot/earshot/engine"
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
// reports the daemon's CPU (share of one core) and resident memory over
// 30 s. It only runs with EARSHOT_MEASURE=1 (it takes about a minute).
func TestMeasureDaemonCost(t *testing.T) {
	if os.Getenv("EARSHOT_MEASURE") == "" {
		t.Skip("set EARSHOT_MEASURE=1 to measure the daemon's CPU and memory")
	}
	pa := pulsetest.Start(t)
	pa.NullSink(t, "m_agent")
	pa.NullSink(t, "m_caller")
	tr, _ := samples.Call("cancellation")
	aw, cw := sampleWAVs(t, tr, 0)
	eng := startTestEngine(t, t.TempDir(), "", engine.Deps{})
	bin := filepath.Join(t.TempDir(), "earshot-capture")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	control := freeAddr(t)
	tokFile := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(tokFile, []byte(eng.token("A1")), 0o600)
	cmd := exec.Command(bin, "run", "--url", "http://"+eng.addr, "--token-file", tokFile, "--agent", "A1",
		"--agent-device", "m_agent.monitor", "--caller-device", "m_caller.monitor", "--backend", "pulseaudio",
		"--control", control, "--status", "off")
	cmd.Env = pa.Env()
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
	waitFor(t, 30*time.Second, "the daemon", func() bool {
		return controlCall(context.Background(), control, "GET", "/v1/status", nil, nil) == nil
	})
	pid := cmd.Process.Pid
	idle0 := procCPU(t, pid)
	time.Sleep(10 * time.Second)
	idle := procCPU(t, pid) - idle0
	t.Logf("idle (capturing, no call): CPU %.2f %% of one core over 10 s, RSS %d kB", 100*idle.Seconds()/10, procRSS(t, pid))
	if err := controlCall(context.Background(), control, "POST", "/v1/call/start", map[string]string{"call_id": "m-1"}, nil); err != nil {
		t.Fatal(err)
	}
	a := pa.Play(t, "m_agent", aw)
	b := pa.Play(t, "m_caller", cw)
	defer a.Wait()
	defer b.Wait()
	time.Sleep(3 * time.Second)
	c0, w0 := procCPU(t, pid), time.Now()
	var peak int64
	for time.Since(w0) < 30*time.Second {
		time.Sleep(time.Second)
		peak = max(peak, procRSS(t, pid))
	}
	cpu := procCPU(t, pid) - c0
	wall := time.Since(w0)
	t.Logf("in a call (capturing and streaming both channels): CPU %.2f %% of one core over %v, peak RSS %d kB",
		100*cpu.Seconds()/wall.Seconds(), wall.Round(time.Second), peak)
	var st status
	controlCall(context.Background(), control, "GET", "/v1/status", nil, &st)
	t.Logf("status: %s", statusLine(st))
}
