package endpoint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/internal/ingestclient"
	"github.com/earshot/earshot/protocol"
)

// frameSource is what the daemon records from: *capture.Capture, or a
// test's scripted source.
type frameSource interface {
	Read(ch int, frame []float32) (time.Duration, error)
}

// call is one call being streamed.
type call struct {
	id     string
	auto   bool
	client *ingestclient.Client
	start  time.Duration // capture time of call time 0
	cancel context.CancelFunc
	done   chan struct{} // Run returned
	err    error         // Run's error, once done

	paused   bool
	lastAck  int64
	ackMoved time.Time
}

// Ended is what the engine said when a call ended: the control API's
// answer to POST /v1/call/end.
type Ended struct {
	CallID string `json:"call_id"`
	Frames int64  `json:"frames"`
	Gaps   int64  `json:"gaps"`
	Status string `json:"status"` // "ended" or "ending" (still delivering)
	Error  string `json:"error,omitempty"`
}

// daemon records two channels continuously and streams them to the engine
// while a call is active. Run owns every goroutine it starts.
type daemon struct {
	cfg       Config
	log       *slog.Logger
	src       frameSource
	capStat   func() any // capture statistics for the status, may be nil
	clientCfg func(id string) ingestclient.Config

	mu       sync.Mutex
	cur      *call
	ending   []*call // calls delivering their last frames after end
	lastAt   [2]time.Duration
	levels   [2]float64
	pre      [2]*preRoll
	autoDet  *autoDetector
	lastDone *Ended
	wg       sync.WaitGroup // call goroutines
	fatal    chan error
}

// newDaemon returns a daemon over src with cfg's defaults filled in.
func newDaemon(cfg Config, src frameSource) *daemon {
	cfg.defaults()
	log := cfg.Logger
	d := &daemon{cfg: cfg, log: log, src: src, fatal: make(chan error, 1), levels: [2]float64{audio.MinDBFS, audio.MinDBFS}}
	d.clientCfg = func(id string) ingestclient.Config {
		return ingestclient.Config{URL: cfg.URL, URLs: cfg.URLs, Token: cfg.Token, CallID: id, AgentID: cfg.Agent,
			// Both channels: two frames per 20 ms.
			RingFrames: int(2 * cfg.Buffer / audio.FrameDuration), Logger: log}
	}
	if cfg.Auto {
		n := int(min(cfg.AutoSilence+2*time.Second, 20*time.Second) / audio.FrameDuration)
		d.pre = [2]*preRoll{newPreRoll(n), newPreRoll(n)}
		d.autoDet = newAutoDetector(cfg.AutoSilence)
	}
	return d
}

// run reads both channels until ctx ends or a token is rejected, then ends
// the active call (waiting a little for its last frames) and returns.
func (d *daemon) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var readers sync.WaitGroup
	readErr := make(chan error, 2)
	for ch := range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			if err := d.reader(ctx, ch); err != nil && ctx.Err() == nil {
				readErr <- err
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-d.fatal:
	case err = <-readErr:
	}
	cancel()
	// The readers return once the source is closed or ctx ends; waiting
	// for them before closing would deadlock on a source that only
	// returns when closed, so the source is closed first.
	d.shutdown()
	d.closeSource()
	readers.Wait()
	return err
}

// closeSource closes the source if it can be (the capture), which unblocks Read.
func (d *daemon) closeSource() {
	if c, ok := d.src.(interface{ Close() error }); ok {
		c.Close()
	}
}

// shutdown ends the active call, giving it a bounded time to deliver, and
// waits for every call goroutine.
func (d *daemon) shutdown() {
	d.mu.Lock()
	c := d.cur
	d.mu.Unlock()
	if c != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		e := d.endCall(ctx, c.id)
		cancel()
		d.log.Info("call ended at shutdown", "call_id", e.CallID, "status", e.Status, "err", e.Error)
	}
	d.mu.Lock()
	for _, c := range d.ending {
		c.cancel()
	}
	d.mu.Unlock()
	d.wg.Wait()
}

func (d *daemon) reader(ctx context.Context, ch int) error {
	frame := make([]float32, audio.FrameSize)
	pcm := make([]byte, 2*audio.FrameSize)
	var vad *channelVAD
	if d.cfg.Auto {
		vad = newChannelVAD()
	}
	for ctx.Err() == nil {
		at, err := d.src.Read(ch, frame)
		if err != nil {
			return err
		}
		d.take(ch, at, frame, pcm, vad)
	}
	return nil
}

// take is the daemon's work on one frame of channel ch: encode it, meter
// it, run the --auto VAD (vad may be nil) and hand it on. pcm is the
// reader's scratch buffer for the encoded frame.
func (d *daemon) take(ch int, at time.Duration, frame []float32, pcm []byte, vad *channelVAD) {
	level := encodeFrame(pcm, frame)
	var ev vadNews
	if vad != nil {
		ev = vad.push(frame, at)
	}
	d.onFrame(ch, at, level, pcm, ev)
}

// onFrame takes one frame of channel ch at capture time at.
func (d *daemon) onFrame(ch int, at time.Duration, level float64, pcm []byte, ev vadNews) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lastAt[ch] = at
	d.levels[ch] = level
	if d.pre[ch] != nil {
		d.pre[ch].put(at, pcm)
	}
	if c := d.cur; c != nil && !c.paused && at >= c.start {
		if _, err := c.client.Send(protocol.Channel(ch), at-c.start, pcm); err != nil {
			d.log.Debug("frame not sent", "err", err)
		} else if d.cfg.Sent != nil {
			d.cfg.Sent(ch, at-c.start)
		}
		if ch == 0 && (at/audio.FrameDuration)%25 == 0 {
			d.noteAckLocked(c)
		}
	}
	if d.autoDet != nil {
		d.autoLocked(ch, at, ev)
	}
}

// autoLocked is --auto's part of onFrame: start a call when the detector
// says both sides speak, sending the pre-roll since the first word, and
// end an auto call after the silence.
func (d *daemon) autoLocked(ch int, at time.Duration, ev vadNews) {
	switch d.autoDet.update(ch, at, ev, d.cur != nil) {
	case autoStart:
		start := max(d.autoDet.firstSpeech()-500*time.Millisecond, d.pre[0].oldest(), d.pre[1].oldest())
		id := autoCallID(d.cfg.Agent, time.Now())
		if err := d.startLocked(id, start, true); err != nil {
			d.log.Error("auto call did not start", "err", err)
			return
		}
		// The audio since the first speech is already here: send it.
		for pch, p := range d.pre {
			p.each(start, func(at time.Duration, pcm []byte) {
				d.cur.client.Send(protocol.Channel(pch), at-start, pcm)
			})
		}
		d.log.Info("call started: speech on both channels", "call_id", id)
	case autoEnd:
		if d.cur != nil && d.cur.auto {
			c := d.cur
			d.log.Info("call ending: silence on both channels", "call_id", c.id, "silence", d.cfg.AutoSilence)
			d.detachLocked(c)
			d.wg.Add(1)
			go func() {
				defer d.wg.Done()
				d.finish(c, 0)
			}()
		}
	}
}

// startCall starts streaming a call from the next frame on.
func (d *daemon) startCall(id string) error {
	if !protocol.ValidID(id) {
		return fmt.Errorf("%w: %q", ErrBadCallID, id)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.startLocked(id, max(d.lastAt[0], d.lastAt[1])+audio.FrameDuration, false)
}

func (d *daemon) startLocked(id string, start time.Duration, auto bool) error {
	if d.cur != nil {
		return fmt.Errorf("%w: %s", ErrCallActive, d.cur.id)
	}
	cl, err := ingestclient.New(d.clientCfg(id))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &call{id: id, auto: auto, client: cl, start: start, cancel: cancel, done: make(chan struct{}), lastAck: -1, ackMoved: time.Now()}
	d.cur = c
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		err := cl.Run(ctx)
		d.mu.Lock()
		c.err = err
		d.mu.Unlock()
		close(c.done)
		switch {
		case err == nil || errors.Is(err, context.Canceled):
		case tokenRejected(err):
			d.log.Error("engine rejected the endpoint token; not retrying", "call_id", id, "err", err)
			select {
			case d.fatal <- fmt.Errorf("%w: %v", ErrTokenRejected, err):
			default:
			}
		default:
			d.log.Error("engine refused the call; it will not be retried", "call_id", id, "err", err)
		}
	}()
	d.log.Info("call started", "call_id", id, "auto", auto)
	return nil
}

// tokenRejected tells an authentication failure from other rejections,
// by the typed rejection the ingest client wraps (HTTP 401/403, close
// 4401/4403).
func tokenRejected(err error) bool {
	var r *protocol.RejectedError
	return errors.As(err, &r) && r.BadToken()
}

// detachLocked makes c no longer the current call; it joins the calls
// still delivering.
func (d *daemon) detachLocked(c *call) {
	if d.cur == c {
		d.cur = nil
	}
	d.ending = append(d.ending, c)
}

// endCall ends the current call (id must match when not empty) and waits
// until ctx ends for the engine's answer; delivery continues in the
// background after that.
func (d *daemon) endCall(ctx context.Context, id string) Ended {
	d.mu.Lock()
	c := d.cur
	if c == nil || (id != "" && id != c.id) {
		d.mu.Unlock()
		return Ended{CallID: id, Error: ErrNoCall.Error()}
	}
	d.detachLocked(c)
	d.mu.Unlock()
	res := make(chan Ended, 1)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		res <- d.finish(c, 0)
	}()
	select {
	case e := <-res:
		return e
	case <-ctx.Done():
		return Ended{CallID: c.id, Status: "ending"}
	}
}

// finish asks c's client to deliver everything and send end, waits for the
// engine's answer (bounded by the client's EndTimeout, or timeout when
// positive), then stops its Run.
func (d *daemon) finish(c *call, timeout time.Duration) Ended {
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	e, err := c.client.End(ctx)
	c.cancel()
	<-c.done
	out := Ended{CallID: c.id, Frames: e.Frames, Gaps: e.Gaps, Status: "ended"}
	if err != nil {
		out.Status, out.Error = "failed", err.Error()
		st := c.client.Stats()
		d.log.Error("call did not end cleanly; unsent audio is lost", "call_id", c.id, "err", err,
			"unacked_frames", max(0, int64(st.Frames)-1-st.Acked))
	} else {
		d.log.Info("call ended", "call_id", c.id, "frames", e.Frames, "gaps", e.Gaps)
	}
	d.mu.Lock()
	for i, x := range d.ending {
		if x == c {
			d.ending = append(d.ending[:i], d.ending[i+1:]...)
			break
		}
	}
	d.lastDone = &out
	d.mu.Unlock()
	return out
}

// pause stops sending audio and tells the engine, which records a marked gap.
func (d *daemon) pause() (string, error) {
	return d.setPaused(true)
}

// resume sends audio again.
func (d *daemon) resume() (string, error) {
	return d.setPaused(false)
}

func (d *daemon) setPaused(p bool) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.cur
	if c == nil {
		return "", ErrNoCall
	}
	if c.paused == p {
		if p {
			return c.id, ErrPaused
		}
		return c.id, ErrNotPaused
	}
	c.paused = p
	at := max(d.lastAt[0], d.lastAt[1]) + audio.FrameDuration - c.start
	if p {
		c.client.Pause(at)
	} else {
		c.client.Resume(at)
	}
	d.log.Info(map[bool]string{true: "call paused", false: "call resumed"}[p], "call_id", c.id, "at", at)
	return c.id, nil
}

// encodeFrame writes frame as 16-bit little-endian PCM into b and returns
// the frame's RMS level in dBFS for the status meter: one pass over the
// samples serves both.
func encodeFrame(b []byte, frame []float32) (level float64) {
	var sum float64
	for i, v := range frame {
		x := float64(v)
		sum += x * x
		x = math.Round(math.Max(-32768, math.Min(32767, x*32768)))
		s := uint16(int16(x))
		b[2*i], b[2*i+1] = byte(s), byte(s>>8)
	}
	ms := sum / float64(len(frame))
	if ms <= 0 {
		return audio.MinDBFS
	}
	return max(audio.MinDBFS, 10*math.Log10(ms))
}

// autoCallID names a call started in --auto mode.
func autoCallID(agent string, now time.Time) string {
	id := protocol.IDPart(agent) + "-" + now.UTC().Format("20060102-150405.000")
	if len(id) > protocol.MaxIDLen {
		id = id[len(id)-protocol.MaxIDLen:]
	}
	return id
}
