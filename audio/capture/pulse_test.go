package capture

import (
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/audio/capture/pulsetest"
)

// toneWAV writes a mono 48 kHz WAV of a tone at hz and amplitude amp.
func toneWAV(t *testing.T, hz, amp float64, d time.Duration) string {
	t.Helper()
	const rate = 48000
	x := make([]float32, int(d.Seconds()*rate))
	for i := range x {
		x[i] = float32(amp * math.Sin(2*math.Pi*hz*float64(i)/rate))
	}
	p := filepath.Join(t.TempDir(), "tone.wav")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := audio.EncodeWAV(f, audio.Format{Rate: rate, Channels: 1}, x); err != nil {
		t.Fatal(err)
	}
	return p
}

func quietLogger() *slog.Logger {
	if os.Getenv("EARSHOT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// readFor reads channel ch until total frames of audio above -40 dBFS have
// been seen or the deadline passes, and returns those frames' samples.
func readLoud(t *testing.T, c *Capture, ch int, total int, deadline time.Duration) ([]float32, []time.Duration) {
	t.Helper()
	frame := make([]float32, audio.FrameSize)
	var out []float32
	var ats []time.Duration
	end := time.Now().Add(deadline)
	for len(ats) < total {
		if time.Now().After(end) {
			t.Fatalf("channel %d: %d loud frames within %v, want %d (stats %+v)", ch, len(ats), deadline, total, c.Stats().Channels[ch])
		}
		at, err := c.Read(ch, frame)
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, v := range frame {
			sum += float64(v) * float64(v)
		}
		if 10*math.Log10(sum/float64(len(frame))+1e-12) > -40 {
			out = append(out, frame...)
			ats = append(ats, at)
		}
	}
	return out, ats
}

func TestPulseAudio(t *testing.T) {
	pa := pulsetest.Start(t)
	agentMod := pa.NullSink(t, "agent_sink")
	callerMod := pa.NullSink(t, "caller_sink")
	_, _ = agentMod, callerMod

	t.Run("ListDevices shows both monitor sources as monitors", func(t *testing.T) {
		devs, err := ListDevicesOf("pulseaudio")
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, d := range devs {
			t.Logf("%s %q %q default=%v", d.Kind, d.ID, d.Name, d.Default)
			if d.ID == "agent_sink.monitor" || d.ID == "caller_sink.monitor" {
				found++
				if d.Kind != Monitor {
					t.Errorf("%s listed as %s, want monitor", d.ID, d.Kind)
				}
			}
		}
		if found != 2 {
			t.Errorf("found %d of the 2 monitor sources in %d devices", found, len(devs))
		}
	})

	t.Run("Open names a device that does not exist", func(t *testing.T) {
		_, err := Open(Config{Backend: "pulseaudio", AgentDevice: "agent_sink.monitor", CallerDevice: "softphone_that_is_not_there", Logger: quietLogger()})
		if !errors.Is(err, ErrNoDevice) {
			t.Fatalf("err = %v, want ErrNoDevice", err)
		}
		if !strings.Contains(err.Error(), "softphone_that_is_not_there") || !strings.Contains(err.Error(), "caller") {
			t.Errorf("error %q does not name the channel and the device", err)
		}
	})

	t.Run("Open refuses a name fragment that matches both sinks", func(t *testing.T) {
		_, err := Open(Config{Backend: "pulseaudio", AgentDevice: "sink.monitor", CallerDevice: "caller_sink.monitor", Logger: quietLogger()})
		if !errors.Is(err, ErrAmbiguousDevice) {
			t.Fatalf("err = %v, want ErrAmbiguousDevice", err)
		}
	})

	t.Run("each channel records its own sink at 16 kHz", func(t *testing.T) {
		c, err := Open(Config{Backend: "pulseaudio", AgentDevice: "agent_sink.monitor", CallerDevice: "caller", Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if r := c.Rate(Agent); r != 48000 {
			t.Errorf("agent device rate %d, want the sink's native 48000", r)
		}
		a := pa.Play(t, "agent_sink", toneWAV(t, 440, 0.3, 3*time.Second))
		b := pa.Play(t, "caller_sink", toneWAV(t, 1000, 0.3, 3*time.Second))
		defer a.Wait()
		defer b.Wait()
		for ch, hz := range map[int]float64{Agent: 440, Caller: 1000} {
			x, ats := readLoud(t, c, ch, 50, 20*time.Second)
			for i := 1; i < len(ats); i++ {
				if ats[i] != ats[i-1]+audio.FrameDuration {
					t.Fatalf("channel %d: frame %d at %v after %v: the stream has a hole", ch, i, ats[i], ats[i-1])
				}
			}
			other := map[float64]float64{440: 1000, 1000: 440}[hz]
			mid := x[5*audio.FrameSize : 45*audio.FrameSize]
			if p, q := goertzel(mid, 16000, hz), goertzel(mid, 16000, other); p < 100*q {
				t.Errorf("channel %d: %v Hz power %.3g not far above %v Hz power %.3g: channels crossed?", ch, hz, p, other, q)
			}
		}
		st := c.Stats()
		for ch, s := range st.Channels {
			if s.CallbackDrops != 0 || s.Lost {
				t.Errorf("channel %d: %+v", ch, s)
			}
		}
	})

	t.Run("a device that disappears is reported and reopened when it is back", func(t *testing.T) {
		mod := pa.NullSink(t, "headset")
		c, err := Open(Config{Backend: "pulseaudio", AgentDevice: "headset.monitor", CallerDevice: "caller_sink.monitor",
			NoData: 500 * time.Millisecond, Retry: 200 * time.Millisecond, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		frame := make([]float32, audio.FrameSize)
		for range 10 {
			if _, err := c.Read(Agent, frame); err != nil {
				t.Fatal(err)
			}
		}
		pa.Unload(t, mod)
		pulsetest.WaitFor(t, 10*time.Second, "the lost device to be reported", func() bool { return c.Stats().Channels[Agent].Lost })
		t.Logf("lost: %s", c.Stats().Channels[Agent].LostErr)
		pa.NullSink(t, "headset")
		pulsetest.WaitFor(t, 15*time.Second, "the device to be reopened", func() bool { s := c.Stats().Channels[Agent]; return s.Restarts >= 1 && !s.Lost })
		// Frames flow again, later than the outage.
		var last time.Duration
		for range 20 {
			at, err := c.Read(Agent, frame)
			if err != nil {
				t.Fatal(err)
			}
			last = at
		}
		s := c.Stats().Channels[Agent]
		if s.Lost || s.Missing <= 0 {
			t.Errorf("after reopening: %+v", s)
		}
		t.Logf("missing %v, reading again at %v", s.Missing, last)
	})

	t.Run("Close unblocks Read and can be called twice", func(t *testing.T) {
		c, err := Open(Config{Backend: "pulseaudio", AgentDevice: "agent_sink.monitor", CallerDevice: "caller_sink.monitor", Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan error, 1)
		go func() {
			frame := make([]float32, audio.FrameSize)
			for {
				if _, err := c.Read(Caller, frame); err != nil {
					got <- err
					return
				}
			}
		}()
		c.Close()
		c.Close()
		select {
		case err := <-got:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("Read after Close: %v, want ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Read still blocked after Close")
		}
	})

	t.Run("opening and closing many times does not grow memory", func(t *testing.T) {
		cycle := func() {
			c, err := Open(Config{Backend: "pulseaudio", AgentDevice: "agent_sink.monitor", CallerDevice: "caller_sink.monitor", Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			frame := make([]float32, audio.FrameSize)
			c.Read(Agent, frame)
			c.Close()
		}
		for range 5 {
			cycle()
		}
		before := rssKB(t)
		const n = 15
		for range n {
			cycle()
		}
		after := rssKB(t)
		t.Logf("RSS %d kB before, %d kB after %d open/close cycles", before, after, n)
		// Each Capture holds ~3 MB of rings and queues; a leak of them (or
		// of miniaudio's C context and devices) would add ~100 MB.
		if after-before > 15*1024 {
			t.Errorf("RSS grew by %d kB over %d cycles", after-before, n)
		}
	})
}

// rssKB returns the process's resident set size from /proc/self/status.
func rssKB(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc: ", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var kb int64
			for _, f := range strings.Fields(l)[1:2] {
				for _, r := range f {
					kb = kb*10 + int64(r-'0')
				}
			}
			return kb
		}
	}
	t.Skip("no VmRSS")
	return 0
}
