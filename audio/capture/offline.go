package capture

import (
	"fmt"
	"time"

	"github.com/earshot/earshot/audio"
)

// Offline is a Capture's audio path without devices, sound server or
// goroutine: Deliver does what the audio callback does, Pump what the
// Capture's goroutine does when the callback wakes it, Next what Read does.
// Benchmarks and tests use it to measure and check that path (ring,
// resampler, framing, queue) exactly as a live Capture runs it. It is not
// safe for concurrent use.
type Offline struct {
	c *Capture
}

// NewOffline returns an Offline whose two channels are recorded at the
// native rate (in Hz, as a device reports it).
func NewOffline(rate int) (*Offline, error) {
	if rate <= 0 || rate > 192000 {
		return nil, fmt.Errorf("capture: offline rate %d Hz: %w", rate, ErrDevice)
	}
	cfg := Config{}.withDefaults()
	c := &Capture{cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1), closed: make(chan struct{})}
	for i := range c.ch {
		ch := &channel{
			idx: i, name: [2]string{"agent", "caller"}[i], c: c,
			queue: newFrameQueue(max(1, int(cfg.Queue/audio.FrameDuration))),
			ready: make(chan struct{}, 1),
			tmp:   make([]float32, 4096),
			st:    &stream{ring: newSampleRing(int(cfg.DeviceBuffer.Seconds() * 192000)), wake: c.wake},
			chain: newChain(rate, 0),
			rate:  rate,
		}
		c.ch[i] = ch
	}
	return &Offline{c: c}, nil
}

// Deliver hands channel ch the callback's buffer in: native-endian float32
// mono samples, as malgo passes them. Like the callback it copies them into
// the channel's ring, or counts them as dropped if they do not fit.
func (o *Offline) Deliver(ch int, in []byte) {
	o.c.ch[ch].st.onData(nil, in, uint32(len(in)/4))
	select {
	case <-o.c.wake: // nobody waits on it here
	default:
	}
}

// Pump drains both rings through the resampler into the frame queues.
func (o *Offline) Pump() {
	for _, ch := range o.c.ch {
		ch.drain()
	}
}

// Next copies the oldest queued frame of channel ch into frame (which must
// hold audio.FrameSize samples), as Read does, and returns its capture
// time; ok is false when none is queued.
func (o *Offline) Next(ch int, frame []float32) (at time.Duration, ok bool) {
	o.c.mu.Lock()
	defer o.c.mu.Unlock()
	return o.c.ch[ch].queue.get(frame)
}
