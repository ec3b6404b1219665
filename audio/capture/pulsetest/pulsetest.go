// Package pulsetest runs a private PulseAudio daemon for tests: its own
// runtime directory under t.TempDir(), no D-Bus, no autospawn, anonymous
// access on its socket, and null sinks whose monitor sources are capture
// devices. Tests that use it skip (with the reason) where pulseaudio is not
// installed or cannot start.
package pulsetest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a running PulseAudio daemon owned by a test.
type Server struct {
	// Socket is the daemon's native protocol socket; Env points clients at it.
	Socket string
	dir    string
	cmd    *exec.Cmd
	log    *bytes.Buffer
	waited chan struct{}

	mu    sync.Mutex
	plays []*exec.Cmd
}

// Start starts a daemon for the test (and its subtests) and stops it in
// t.Cleanup. It sets PULSE_SERVER (and PULSE_RUNTIME_PATH, XDG_RUNTIME_DIR,
// HOME) for the rest of the test so every client in the process, malgo
// included, talks to it. It skips the test if pulseaudio is missing or
// will not start.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("pulseaudio")
	if err != nil {
		t.Skip("pulseaudio not installed (scripts/setup.sh installs it): ", err)
	}
	for _, tool := range []string{"pactl", "paplay"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (package pulseaudio-utils): %v", tool, err)
		}
	}
	// A short path: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "pa")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{dir: dir, Socket: filepath.Join(dir, "native"), log: &bytes.Buffer{}, waited: make(chan struct{})}
	// --system=false and --disallow-exit let it run as root in a
	// container; -n skips default.pa (no hardware probing); the exit idle
	// time keeps it alive between tests.
	s.cmd = exec.Command(bin, "--daemonize=no", "--system=false", "--disallow-exit", "--exit-idle-time=-1",
		"--use-pid-file=false", "--disable-shm=true", "-n", "--log-target=stderr", "--log-level=warning",
		"--load=module-native-protocol-unix auth-anonymous=1 socket="+s.Socket)
	s.cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_RUNTIME_DIR="+dir, "PULSE_RUNTIME_PATH="+dir, "DBUS_SESSION_BUS_ADDRESS=disabled:")
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Skip("pulseaudio cannot start here: ", err)
	}
	go func() { s.cmd.Wait(); close(s.waited) }()
	t.Cleanup(s.stop)
	for _, kv := range [][2]string{{"PULSE_SERVER", "unix:" + s.Socket}, {"PULSE_RUNTIME_PATH", dir}, {"XDG_RUNTIME_DIR", dir}, {"HOME", dir}} {
		t.Setenv(kv[0], kv[1])
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := s.Pactl("info"); err == nil {
			return s
		}
		select {
		case <-s.waited:
			t.Skipf("pulseaudio exited at start: %s", s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Skipf("pulseaudio did not answer within 15 s: %s", s.log.String())
		}
		time.Sleep(50 * time.Millisecond) // polling the daemon's socket with a deadline
	}
}

// Env is the environment a child process needs to reach the daemon.
func (s *Server) Env() []string {
	return append(os.Environ(), "PULSE_SERVER=unix:"+s.Socket, "PULSE_RUNTIME_PATH="+s.dir, "XDG_RUNTIME_DIR="+s.dir, "HOME="+s.dir)
}

// Pactl runs pactl against the daemon and returns its output.
func (s *Server) Pactl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "pactl", args...)
	cmd.Env = s.Env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("pactl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// NullSink loads a null sink named name and returns its module index (for
// Unload). Its monitor source, name+".monitor", is a capture device.
func (s *Server) NullSink(t testing.TB, name string) string {
	t.Helper()
	idx, err := s.Pactl("load-module", "module-null-sink", "sink_name="+name, "rate=48000")
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// Unload unloads a module: unloading a null sink makes its monitor
// disappear, as an unplugged headset does.
func (s *Server) Unload(t testing.TB, module string) {
	t.Helper()
	if _, err := s.Pactl("unload-module", module); err != nil {
		t.Fatal(err)
	}
}

// Play starts paplay playing file (WAV) into sink and returns the running
// command; Wait on it to know when playback ended. It is killed at cleanup
// if still running.
func (s *Server) Play(t testing.TB, sink, file string) *exec.Cmd {
	// A generous playback buffer: on a busy machine a short one underruns,
	// and the sink plays silence inside words, which stretches talk time.
	t.Helper()
	cmd := exec.Command("paplay", "--device="+sink, "--latency-msec=250", file)
	cmd.Env = s.Env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.plays = append(s.plays, cmd)
	s.mu.Unlock()
	return cmd
}

func (s *Server) stop() {
	s.mu.Lock()
	for _, p := range s.plays {
		p.Process.Kill() // an error only means it already ended
	}
	s.mu.Unlock()
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.waited:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.waited
	}
}

// WaitFor polls cond every 20 ms until it holds, failing the test with
// what was awaited after d: the real-time tests wait on PulseAudio,
// devices and daemons that give no event to wait on.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}
