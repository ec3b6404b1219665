package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/earshot/earshot/audio/capture"
)

// termWriter carries the log and, on a terminal, a one-line live status
// under it: every log line first clears the status line, which the next
// tick redraws, so the two never garble each other.
type termWriter struct {
	mu    sync.Mutex
	w     io.Writer
	live  bool // draw the status line in place ("\r", erase) rather than not at all
	line  bool // print the status as a log-like line every 10 s instead
	shown bool
}

func newTermWriter(w io.Writer, mode string) *termWriter {
	t := &termWriter{w: w}
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

func (t *termWriter) Write(p []byte) (int, error) {
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
func (t *termWriter) start(d *daemon) (stop func()) {
	if !t.live && !t.line {
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
			s := statusLine(d.status())
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

// statusLine renders a status in one terminal line, for example
//
//	connected call=c-1 agent -23 dBFS caller -31 dBFS buffered 0.1s drops 0
func statusLine(s status) string {
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
