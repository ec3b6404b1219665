package capture

import (
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gen2brain/malgo"

	"github.com/earshot/earshot/audio"
)

// Channel indexes, the same as audio.AgentChannel and audio.CallerChannel
// and the ingest protocol's.
const (
	Agent  = audio.AgentChannel
	Caller = audio.CallerChannel
)

// Config configures a Capture. The zero value records the default capture
// device on both channels, which is only useful for a smoke test: set
// CallerDevice to the softphone's monitor or loopback source.
type Config struct {
	// AgentDevice and CallerDevice pick the devices: "" or "default" for
	// the backend's default capture device, a Device.ID, a Device.Name, a
	// case-insensitive fragment of exactly one name or id, or "loopback"
	// / "loopback:NAME" to record a playback device (WASAPI only).
	AgentDevice, CallerDevice string
	// Backend forces one malgo backend: "pulseaudio", "alsa", "wasapi",
	// "coreaudio", "jack" or "null". Default: miniaudio's order for the OS.
	Backend string
	// Period is the device period asked of the backend (default 100 ms):
	// how often the audio callback runs, so it bounds the capture latency
	// it adds. Every callback from miniaudio's C thread into Go leaves a P
	// in a syscall state that the runtime's sysmon thread then polls every
	// 20 µs for about a millisecond; at 10 ms periods on two devices that
	// kept sysmon spinning and cost 11-15 % of a core; 50 ms measured
	// 2.8 %, 100 ms 1.5 % (idle capture, PulseAudio). 100 ms of capture
	// latency is small next to a recognizer's 0.5-0.9 s.
	Period time.Duration
	// Slack is how much audio the backend itself may hold when our audio
	// thread is late (default 2 s). It sets the number of periods:
	// miniaudio's PulseAudio backend asks the server for only three periods
	// (30 ms) by default, and on a busy machine the server silently drops
	// what overflows that. Delivery still happens every Period, so slack
	// costs memory, not latency.
	Slack time.Duration
	// DeviceBuffer is how much native-rate audio the callback can park for
	// the pump goroutine (default 2 s). Audio that does not fit is dropped
	// and counted, never waited for.
	DeviceBuffer time.Duration
	// Queue is how many seconds of 16 kHz frames per channel wait for Read
	// (default 5 s); past that the oldest are dropped and counted.
	Queue time.Duration
	// NoData is how long a device may deliver nothing before it counts as
	// lost and is reopened (default 2 s).
	NoData time.Duration
	// Retry is the first wait between attempts to reopen a lost device
	// (default 1 s); it doubles up to 30 s.
	Retry time.Duration
	// Logger gets device lost/back reports; default slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Period <= 0 {
		c.Period = 100 * time.Millisecond
	}
	if c.Slack <= 0 {
		c.Slack = 2 * time.Second
	}
	if c.DeviceBuffer <= 0 {
		c.DeviceBuffer = 2 * time.Second
	}
	if c.Queue <= 0 {
		c.Queue = 5 * time.Second
	}
	if c.NoData <= 0 {
		c.NoData = 2 * time.Second
	}
	if c.Retry <= 0 {
		c.Retry = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// ChannelStats describe one channel of a Capture.
type ChannelStats struct {
	Device string // the device's id (or the spec given, while it is lost)
	Rate   int    // native sample rate of the open device; 0 while lost
	Frames uint64 // 16 kHz frames produced
	// CallbackDrops counts native-rate samples the audio callback could not
	// park because the pump goroutine was behind; they are replaced by
	// silence so later frames keep their capture times.
	CallbackDrops uint64
	// QueueDrops counts frames overwritten because Read fell behind.
	QueueDrops uint64
	// Lost is true while the device delivers nothing and is being reopened.
	Lost bool
	// LostErr says why, while Lost.
	LostErr string
	// Restarts counts successful reopenings after a loss.
	Restarts int
	// Missing is the capture time lost to device outages, in total.
	Missing time.Duration
}

// Stats describe a Capture.
type Stats struct {
	Channels [2]ChannelStats
}

// Capture records two devices. Open starts it; Read drains its frames;
// Close stops it. Read may be called from one goroutine per channel; Stats
// and Close from any goroutine.
type Capture struct {
	cfg   Config
	log   *slog.Logger
	mctx  *audioContext
	ch    [2]*channel
	start time.Time

	wake   chan struct{} // poked by the audio callbacks, never blocking them
	stop   chan struct{}
	closed chan struct{} // closed when Close starts: unblocks Read
	done   chan struct{} // closed when the pump goroutine has returned
	once   sync.Once

	mu sync.Mutex // guards the channels' queues and stats
}

// stream is what one opening of a device shares with its audio callback.
// Each opening gets a new one, so a reopened device never shares state
// with the callback of the one before.
type stream struct {
	ring  *sampleRing
	drops atomic.Uint64 // samples that did not fit in ring
	// stopped is set by malgo's stop callback: the backend stopped the
	// device (unplugged, sound server gone).
	stopped atomic.Bool
	wake    chan struct{}
}

// channel is one recorded device. The pump goroutine owns it, except queue
// and stats, which it shares with Read and Stats under Capture.mu.
type channel struct {
	idx  int
	name string // "agent" or "caller", for logs
	spec string
	c    *Capture
	st   *stream

	dev      *malgo.Device
	devID    string
	rate     int
	chain    *chain
	tmp      []float32
	seenW    uint64
	seenDrop uint64
	progress time.Time // last time the ring's write position moved
	started  bool      // the device has delivered since it was opened
	retryAt  time.Time
	retryGap time.Duration
	lostAt   time.Duration // capture time the loss began

	queue *frameQueue
	ready chan struct{} // a frame was queued
	stats ChannelStats
}

// startGrace is how long a freshly opened device may take to deliver.
const startGrace = 10 * time.Second

// Open finds both devices, opens them at their native rates and starts
// recording. A device that does not exist gives an error wrapping
// ErrNoDevice (or ErrAmbiguousDevice) naming it; one that cannot be opened
// wraps ErrDevice. The Capture owns a goroutine until Close.
func Open(cfg Config) (*Capture, error) {
	cfg = cfg.withDefaults()
	mctx, err := newContext(cfg.Backend)
	if err != nil {
		return nil, err
	}
	c := &Capture{
		cfg: cfg, log: cfg.Logger, mctx: mctx,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), closed: make(chan struct{}), done: make(chan struct{}),
	}
	for i, spec := range []string{cfg.AgentDevice, cfg.CallerDevice} {
		ch := &channel{
			idx: i, name: [2]string{"agent", "caller"}[i], spec: spec, c: c,
			queue: newFrameQueue(max(1, int(cfg.Queue/audio.FrameDuration))),
			ready: make(chan struct{}, 1),
			tmp:   make([]float32, 4096),
		}
		ch.stats.Device = spec
		c.ch[i] = ch
	}
	c.start = time.Now()
	for _, ch := range c.ch {
		if err := ch.open(0); err != nil {
			c.uninitDevices()
			freeContext(mctx)
			return nil, fmt.Errorf("capture: %s device: %w", ch.name, err)
		}
	}
	go c.pump()
	return c, nil
}

// open resolves the channel's device and starts it; its first frame gets
// capture time base.
func (ch *channel) open(base time.Duration) error {
	dev, loopback, err := resolve(ch.c.mctx, ch.spec)
	if err != nil {
		return err
	}
	kind := malgo.Capture
	if loopback {
		kind = malgo.Loopback
	}
	dc := malgo.DefaultDeviceConfig(kind)
	dc.Capture.Format = malgo.FormatF32
	dc.Capture.Channels = 1 // miniaudio downmixes: both sides of a call are mono speech
	dc.SampleRate = 0       // native rate; audio.Resample converts
	dc.PeriodSizeInMilliseconds = uint32(max(1, ch.c.cfg.Period/time.Millisecond))
	dc.Periods = uint32(max(3, ch.c.cfg.Slack/ch.c.cfg.Period))
	dc.Pulse.StreamNameCapture = "earshot " + ch.name
	var pin runtime.Pinner
	defer pin.Unpin()
	name := "default"
	if dev != nil {
		// miniaudio copies the id into its device during init, so the Go
		// memory only has to stay put (pinned) for the call.
		id := dev.id
		pin.Pin(&id)
		dc.Capture.DeviceID = unsafe.Pointer(&id)
		name = dev.ID
	}
	if loopback && dev == nil {
		name = DeviceLoopback
	}
	// The ring is sized for the fastest rate a device may run at, so the
	// callback never needs a bigger one.
	st := &stream{ring: newSampleRing(int(ch.c.cfg.DeviceBuffer.Seconds() * 192000)), wake: ch.c.wake}
	cb := malgo.DeviceCallbacks{Data: st.onData, Stop: st.onStop}
	d, err := malgo.InitDevice(ch.c.mctx.Context, dc, cb)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrDevice, name, err)
	}
	if err := d.Start(); err != nil {
		uninit(d)
		return fmt.Errorf("%w: %s: start: %v", ErrDevice, name, err)
	}
	ch.st, ch.seenW, ch.seenDrop, ch.started = st, 0, 0, false
	ch.dev, ch.devID, ch.rate = d, name, int(d.SampleRate())
	ch.chain = newChain(ch.rate, base)
	ch.progress = time.Now()
	ch.c.mu.Lock()
	ch.stats.Device, ch.stats.Rate, ch.stats.Lost, ch.stats.LostErr = name, ch.rate, false, ""
	ch.c.mu.Unlock()
	ch.c.log.Info("capture device open", "channel", ch.name, "device", name, "rate", ch.rate)
	return nil
}

// onData is malgo's data callback, on the audio thread: it copies the
// samples into the ring (or counts them as dropped) and pokes the pump. It
// never blocks, logs or allocates.
func (s *stream) onData(_, in []byte, frames uint32) {
	n := min(int(frames), len(in)/4)
	if n <= 0 {
		return
	}
	// The samples are C memory valid only during this call: copy them.
	samples := unsafe.Slice((*float32)(unsafe.Pointer(&in[0])), n)
	if !s.ring.write(samples) {
		s.drops.Add(uint64(n))
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// onStop is malgo's stop callback; like onData it only flags and pokes.
func (s *stream) onStop() {
	s.stopped.Store(true)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// pump is the Capture's goroutine: it drains the rings into frames and
// watches for lost devices until Close.
func (c *Capture) pump() {
	defer close(c.done)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		case <-tick.C:
			for _, ch := range c.ch {
				ch.watch(time.Now())
			}
		}
		for _, ch := range c.ch {
			ch.drain()
		}
	}
}

// drain moves everything the callback parked through the resampler into
// the frame queue.
func (ch *channel) drain() {
	if ch.st == nil {
		return // lost: nothing to drain until it is reopened
	}
	emit := ch.emit
	for {
		n := ch.st.ring.read(ch.tmp)
		if n == 0 {
			break
		}
		ch.chain.push(ch.tmp[:n], emit)
	}
	if d := ch.st.drops.Load(); d != ch.seenDrop {
		ch.chain.pushZeros(int(d-ch.seenDrop), emit)
		ch.c.mu.Lock()
		ch.stats.CallbackDrops += d - ch.seenDrop
		ch.c.mu.Unlock()
		ch.seenDrop = d
	}
}

func (ch *channel) emit(at time.Duration, frame []float32) {
	ch.c.mu.Lock()
	ch.queue.put(at, frame)
	ch.stats.Frames++
	ch.stats.QueueDrops = ch.queue.drops
	ch.c.mu.Unlock()
	select {
	case ch.ready <- struct{}{}:
	default:
	}
}

// watch declares the device lost when the backend stopped it or it
// delivered nothing for Config.NoData, and reopens a lost device.
func (ch *channel) watch(now time.Time) {
	cfg := ch.c.cfg
	if ch.dev != nil {
		if w := ch.st.ring.written(); w != ch.seenW {
			ch.seenW, ch.progress, ch.started = w, now, true
		}
		// A PulseAudio stream can take a second or two to deliver its
		// first audio on a busy machine; only a device that delivered and
		// then fell silent for NoData is lost so quickly.
		limit := cfg.NoData
		if !ch.started {
			limit = max(limit, startGrace)
		}
		why := ""
		switch {
		case ch.st.stopped.Load():
			why = "the backend stopped the device"
		case now.Sub(ch.progress) > limit:
			why = fmt.Sprintf("no audio for %v", now.Sub(ch.progress).Round(time.Millisecond))
		}
		if why == "" {
			return
		}
		ch.drain()
		ch.lostAt = ch.chain.next()
		uninit(ch.dev)
		ch.dev, ch.chain, ch.st = nil, nil, nil
		ch.retryAt, ch.retryGap = now, cfg.Retry
		ch.c.mu.Lock()
		ch.stats.Lost, ch.stats.LostErr, ch.stats.Rate = true, why, 0
		ch.c.mu.Unlock()
		ch.c.log.Warn("capture device lost; reopening", "channel", ch.name, "device", ch.devID, "reason", why)
		return
	}
	if now.Before(ch.retryAt) {
		return
	}
	// Resume on the wall clock so both channels stay aligned: the outage
	// is missing audio, not a shift of everything after it.
	base := max(now.Sub(ch.c.start).Truncate(audio.FrameDuration), ch.lostAt)
	if err := ch.open(base); err != nil {
		ch.retryGap = min(2*ch.retryGap, 30*time.Second)
		ch.retryAt = now.Add(ch.retryGap)
		ch.c.mu.Lock()
		ch.stats.LostErr = err.Error()
		ch.c.mu.Unlock()
		ch.c.log.Warn("capture device still unavailable", "channel", ch.name, "device", ch.spec, "err", err, "retry_in", ch.retryGap)
		return
	}
	ch.c.mu.Lock()
	ch.stats.Restarts++
	ch.stats.Missing += base - ch.lostAt
	ch.c.mu.Unlock()
	ch.c.log.Info("capture device back", "channel", ch.name, "device", ch.devID, "missing", base-ch.lostAt)
}

// Read copies the next 20 ms frame (audio.FrameSize samples at
// audio.PipelineRate) of channel ch (Agent or Caller) into frame and
// returns its capture time: time since Open on the wall clock of the
// capture, so frames of the two channels with the same time were heard
// together. Frames of one channel come in time order; a jump in time means
// the device was lost meanwhile (see Stats). Read blocks until a frame is
// ready and returns ErrClosed once the Capture is closed. Use one goroutine
// per channel.
func (c *Capture) Read(ch int, frame []float32) (time.Duration, error) {
	if ch != Agent && ch != Caller {
		return 0, fmt.Errorf("capture: %w: %d", ErrChannel, ch)
	}
	if len(frame) != audio.FrameSize {
		return 0, fmt.Errorf("capture: frame of %d samples: %w", len(frame), audio.ErrFrameSize)
	}
	q := c.ch[ch]
	for {
		c.mu.Lock()
		at, ok := q.queue.get(frame)
		c.mu.Unlock()
		if ok {
			return at, nil
		}
		select {
		case <-q.ready:
		case <-c.closed:
			return 0, ErrClosed
		}
	}
}

// Rate returns the native sample rate channel ch is recorded at (0 while
// its device is lost).
func (c *Capture) Rate(ch int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ch[ch].stats.Rate
}

// Stats returns a snapshot of both channels' counters.
func (c *Capture) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Channels: [2]ChannelStats{c.ch[0].stats, c.ch[1].stats}}
}

// Close stops both devices, waits for the pump goroutine and frees every
// C resource. Read calls blocked on it return ErrClosed. It is idempotent
// and safe to call from any goroutine.
func (c *Capture) Close() error {
	c.once.Do(func() {
		close(c.closed)
		close(c.stop)
		<-c.done
		c.uninitDevices()
		freeContext(c.mctx)
	})
	return nil
}

// uninitDevices stops and frees both devices (after the pump has stopped,
// or before it started).
func (c *Capture) uninitDevices() {
	for _, ch := range c.ch {
		if ch != nil && ch.dev != nil {
			uninit(ch.dev)
			ch.dev = nil
		}
	}
}

// uninit stops a device, then frees it. miniaudio's uninit alone does not
// wake the PulseAudio worker thread, which waits for stream events; when
// the source has vanished none come and uninit would wait forever. Stop
// wakes the thread first.
func uninit(d *malgo.Device) {
	_ = d.Stop()
	d.Uninit()
}
