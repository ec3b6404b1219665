package endpoint

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/audio/capture"
)

// Status is the daemon's state as `earshot-capture status`, the control
// API (GET /v1/status) and the live line show it.
type Status struct {
	State      string     `json:"state"` // idle, connecting, connected, reconnecting, rejected
	CallID     string     `json:"call_id,omitempty"`
	Paused     bool       `json:"paused"`
	LevelsDBFS [2]float64 `json:"levels_dbfs"` // agent, caller
	BufferedS  float64    `json:"buffered_s"`  // unacknowledged audio, per channel
	SendDrops  uint64     `json:"send_drops"`  // frames dropped from a full resend buffer (reported to the engine as gaps)
	Resent     uint64     `json:"resent"`
	Connects   int        `json:"connects"`
	EngineURL  string     `json:"engine_url,omitempty"` // the engine the call streams to (or last did, while reconnecting)
	Failovers  int        `json:"failovers"`            // times the call moved to another engine
	Capture    any        `json:"capture,omitempty"`
	Ending     int        `json:"ending"` // ended calls still delivering
	LastCall   *Ended     `json:"last_call,omitempty"`
}

func (d *daemon) status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := Status{State: "idle", LevelsDBFS: d.levels, Ending: len(d.ending), LastCall: d.lastDone}
	if d.capStat != nil {
		s.Capture = d.capStat()
	}
	c := d.cur
	if c == nil {
		return s
	}
	st := c.client.Stats()
	s.CallID, s.Paused, s.SendDrops, s.Resent, s.Connects = c.id, c.paused, st.Dropped, st.Resent, st.Connects
	s.EngineURL, s.Failovers = st.URL, st.Failovers
	// The client's ring holds at most RingFrames: frames past that were
	// dropped (and reported as gaps), not buffered.
	pending := min(max(0, int64(st.Frames)-1-st.Acked), int64(d.clientCfg(c.id).RingFrames))
	s.BufferedS = float64(pending) / 2 * audio.FrameDuration.Seconds()
	d.noteAckLocked(c)
	select {
	case <-c.done:
		s.State = "rejected"
		return s
	default:
	}
	switch {
	case st.Connects == 0:
		s.State = "connecting"
	case pending > 0 && time.Since(c.ackMoved) > 2*time.Second:
		// Acks come at least every 250 ms while frames flow.
		s.State = "reconnecting"
	default:
		s.State = "connected"
	}
	return s
}

// noteAckLocked remembers when the engine's ack last moved: the client
// does not expose its connection state, and acks arriving (at least every
// 250 ms while frames flow) are the sign of a live connection.
func (d *daemon) noteAckLocked(c *call) {
	if st := c.client.Stats(); st.Acked != c.lastAck {
		c.lastAck, c.ackMoved = st.Acked, time.Now()
	}
}

// TermWriter carries the log and, on a terminal, a one-line live status
// under it: every log line first clears the status line, which the next
// tick redraws, so the two never garble each other. It is safe for
// concurrent use.
type TermWriter struct {
	mu    sync.Mutex
	w     io.Writer
	live  bool // draw the status line in place ("\r", erase) rather than not at all
	line  bool // print the status as a log-like line every 10 s instead
	shown bool
}

// NewTermWriter writes to w with a status line in mode: "line" prints the
// status as a line of its own every 10 s, "auto" draws it in place under
// the log when w is a terminal, anything else ("off") never shows it.
func NewTermWriter(w io.Writer, mode string) *TermWriter {
	t := &TermWriter{w: w}
	switch mode {
	case "line":
		t.line = true
	case "auto":
		if f, ok := w.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				t.live = true
			}
		}
	}
	return t
}

// Write writes p (a log line) above the status line.
func (t *TermWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.shown {
		io.WriteString(t.w, "\r\x1b[K")
		t.shown = false
	}
	return t.w.Write(p)
}

// start redraws the status every 500 ms (live) or prints it every 10 s
// (line) until the returned stop is called, which waits for the goroutine.
// A nil TermWriter shows nothing.
func (t *TermWriter) start(d *daemon) (stop func()) {
	if t == nil || !t.live && !t.line {
		return func() {}
	}
	every := 500 * time.Millisecond
	if t.line {
		every = 10 * time.Second
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			s := StatusLine(d.status())
			t.mu.Lock()
			if t.live {
				fmt.Fprintf(t.w, "\r\x1b[K%s", s)
				t.shown = true
			} else {
				fmt.Fprintln(t.w, "status:", s)
			}
			t.mu.Unlock()
		}
	}()
	return func() {
		close(quit)
		<-done
		t.mu.Lock()
		if t.shown {
			io.WriteString(t.w, "\r\x1b[K")
			t.shown = false
		}
		t.mu.Unlock()
	}
}

// StatusLine renders a status in one terminal line, for example
//
//	connected call=c-1 agent -23 dBFS caller -31 dBFS buffered 0.1s drops 0
func StatusLine(s Status) string {
	var b strings.Builder
	b.WriteString(s.State)
	if s.CallID != "" {
		fmt.Fprintf(&b, " call=%s", s.CallID)
	}
	if s.Paused {
		b.WriteString(" PAUSED")
	}
	fmt.Fprintf(&b, " agent %s caller %s", meter(s.LevelsDBFS[0]), meter(s.LevelsDBFS[1]))
	fmt.Fprintf(&b, " buffered %.1fs", s.BufferedS)
	drops := s.SendDrops
	if cs, ok := s.Capture.(capture.Stats); ok {
		for i, c := range cs.Channels {
			drops += c.QueueDrops + c.CallbackDrops/uint64(max(1, c.Rate/50))
			if c.Lost {
				fmt.Fprintf(&b, " %s DEVICE LOST", [2]string{"agent", "caller"}[i])
			}
		}
	}
	fmt.Fprintf(&b, " drops %d", drops)
	if s.Ending > 0 {
		fmt.Fprintf(&b, " (%d ending)", s.Ending)
	}
	return b.String()
}

func meter(db float64) string {
	if db <= -90 {
		return "  -∞ dBFS"
	}
	return fmt.Sprintf("%4.0f dBFS", db)
}
