package endpoint

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"
)

// Defaults for the Config fields left zero.
const (
	DefaultBuffer      = 120 * time.Second
	DefaultControl     = "127.0.0.1:8471"
	DefaultAutoSilence = 10 * time.Second
	// DefaultPeriod is the audio device period: at 200 ms the daemon
	// measured 1.4-1.5 % of a core in a call, at 100 ms 1.7-2.6 %
	// (docs/capture.md, "What it costs the PC"); it adds up to 100 ms of
	// capture latency, small next to the recognizer's 0.5-1 s.
	DefaultPeriod = 200 * time.Millisecond
)

// Config configures Run. Zero values mean the defaults noted.
type Config struct {
	// URL is the engine's base URL, http(s)://host:port; URLs lists
	// several (the nodes of a cluster, tried in order, a call moving to the
	// next when its node fails). One of the two is required, not both.
	URL   string
	URLs  []string
	Token string // endpoint token (required)
	Agent string // agent id; must match the token's agent claim (required)

	AgentDevice  string // microphone: id, name or unique fragment; "" or "default" for the default
	CallerDevice string // softphone output: a monitor source, "loopback" (required)
	Backend      string // force a malgo backend (pulseaudio, alsa, wasapi, coreaudio); "" for the OS's usual one
	// Period is how often the audio devices hand over what they recorded
	// (default DefaultPeriod): longer periods wake the PC less often (each
	// wake-up costs more than the audio work it carries) and add that much
	// capture latency.
	Period time.Duration
	// Buffer is the unacknowledged audio kept for resending through an
	// outage (default DefaultBuffer); older audio is dropped and reported
	// to the engine as a gap.
	Buffer time.Duration

	// Control is the control API's address (default DefaultControl). It
	// must be a loopback address: the API has no authentication.
	Control string
	// Auto starts a call when speech is heard on both channels and ends it
	// after AutoSilence (default DefaultAutoSilence) of silence on both.
	Auto        bool
	AutoSilence time.Duration

	Logger *slog.Logger // default: discarded
	// Term, if set, draws the status line under the log (NewTermWriter);
	// Logger should then write through it.
	Term *TermWriter
	// Sent, if set, is told each frame handed to the ingest client, with
	// its call time: the start of latency measurements. It is called on
	// the capture path and must not block.
	Sent func(ch int, at time.Duration)
}

func (c *Config) defaults() {
	if c.Buffer == 0 {
		c.Buffer = DefaultBuffer
	}
	if c.Period == 0 {
		c.Period = DefaultPeriod
	}
	if c.Control == "" {
		c.Control = DefaultControl
	}
	if c.AutoSilence == 0 {
		c.AutoSilence = DefaultAutoSilence
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// CheckControlAddr refuses control addresses other machines could reach:
// the control API starts, ends and pauses recording and has no
// authentication. The error wraps ErrControlAddr.
func CheckControlAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: %q: %v", ErrControlAddr, addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %q (use one such as %s)", ErrControlAddr, addr, DefaultControl)
	}
	return nil
}
