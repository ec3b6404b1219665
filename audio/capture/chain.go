package capture

import (
	"math"
	"time"

	"github.com/earshot/earshot/audio"
)

// chain turns one device's mono samples at its native rate into 20 ms
// frames at audio.PipelineRate. It feeds audio.Resample through a push
// source and only asks for the output the filter can compute from what was
// pushed, so the resampler never waits for input that has not arrived yet
// (it would take an empty read for the end of the stream). After
// construction it does not allocate unless a device delivers more than
// pushCap samples between two drains.
type chain struct {
	rate      int
	src       *pushSource
	rs        audio.Source
	lookahead int64 // input samples the filter reads past an output's time
	pushed    int64
	produced  int64
	pending   []float32 // resampled samples not yet cut into frames
	pendN     int
	base      time.Duration // capture time of the first frame
	emitted   int64
}

// pushCap is the push source's preallocated size: one second at 192 kHz.
const pushCap = 192000

// newChain starts a stream at rate whose first frame is at capture time base.
func newChain(rate int, base time.Duration) *chain {
	c := &chain{rate: rate, base: base}
	c.src = &pushSource{format: audio.Format{Rate: audio.SampleRate(rate), Channels: 1}, buf: make([]float32, 0, pushCap)}
	c.rs = audio.Resample(c.src, audio.PipelineRate)
	if rate != int(audio.PipelineRate) {
		// audio.Resample's filter reaches 44 samples of the lower rate
		// either side of an output; at a higher input rate that is
		// 44·rate/16000 input samples. Two more absorb rounding.
		r := math.Min(1, float64(audio.PipelineRate)/float64(rate))
		c.lookahead = int64(math.Ceil(44/r)) + 2
	}
	c.pending = make([]float32, pushCap/2+audio.FrameSize)
	return c
}

// push adds native-rate samples and calls emit for every complete frame,
// with its capture time. The frame is only valid during the call.
func (c *chain) push(p []float32, emit func(at time.Duration, frame []float32)) {
	c.src.buf = append(c.src.buf, p...)
	c.pushed += int64(len(p))
	c.pull(emit)
}

// pushZeros adds n samples of silence: audio the callback had to drop, so
// later frames keep their true capture times.
func (c *chain) pushZeros(n int, emit func(at time.Duration, frame []float32)) {
	for n > 0 {
		k := min(n, len(zeros))
		c.push(zeros[:k], emit)
		n -= k
	}
}

// zeros is read-only silence for pushZeros.
var zeros = make([]float32, 4096)

func (c *chain) pull(emit func(at time.Duration, frame []float32)) {
	for {
		safe := (c.pushed-c.lookahead)*int64(audio.PipelineRate)/int64(c.rate) - c.produced
		if safe <= 0 {
			return
		}
		room := int64(len(c.pending) - c.pendN)
		want := min(safe, room)
		got, err := c.rs.Read(c.pending[c.pendN : c.pendN+int(want)])
		c.pendN += got
		c.produced += int64(got)
		c.cut(emit)
		if got == 0 || err != nil {
			// The push source never ends and never fails, so this only
			// means the filter needs more input than pushed so far.
			return
		}
	}
}

func (c *chain) cut(emit func(at time.Duration, frame []float32)) {
	off := 0
	for c.pendN-off >= audio.FrameSize {
		at := c.base + time.Duration(c.emitted)*audio.FrameDuration
		emit(at, c.pending[off:off+audio.FrameSize])
		c.emitted++
		off += audio.FrameSize
	}
	if off > 0 {
		c.pendN = copy(c.pending, c.pending[off:c.pendN])
	}
}

// next returns the capture time the next frame will have.
func (c *chain) next() time.Duration {
	return c.base + time.Duration(c.emitted)*audio.FrameDuration
}

// pushSource is a mono Source over samples pushed to it. It never reports
// the end of the stream: chain only reads what the filter can compute.
type pushSource struct {
	format audio.Format
	buf    []float32
}

func (p *pushSource) Format() audio.Format { return p.format }

func (p *pushSource) Read(dst []float32) (int, error) {
	if len(p.buf) == 0 {
		return 0, nil
	}
	n := copy(dst, p.buf)
	p.buf = p.buf[:copy(p.buf, p.buf[n:])]
	return n, nil
}
