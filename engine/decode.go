package engine

import (
	"io"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/protocol"
)

// decodedFrame is one 20 ms frame of one channel at audio.PipelineRate.
type decodedFrame struct {
	at      time.Duration
	samples []float32 // audio.FrameSize samples, owned by the decoder until the next call
}

// channelDecoder turns one channel's ingest payloads (pcm_s16le or μ-law,
// 8 or 16 kHz) into 20 ms frames at the pipeline rate. At 16 kHz each
// payload is exactly one frame. At 8 kHz it feeds audio.Resample through a
// push source and only asks for output the filter can compute from what was
// pushed, so the resampler never waits for input; the output lags the input
// by the filter's half length (a few ms) and is time-aligned with it.
type channelDecoder struct {
	rate     int
	encoding string
	lin      []float32 // decoded payload at the ingest rate
	out      []float32 // one pipeline-rate frame

	// 8 kHz only.
	src      *pushSource
	rs       audio.Source
	pending  []float32 // resampled samples not yet cut into frames
	startAt  time.Duration
	pushed   int // input samples pushed since startAt
	produced int // output samples read since startAt
	emitted  int // frames emitted since startAt
}

// resampleLookahead is how many input samples past an output sample the
// resampler's filter reads, with a margin: audio/resample.go uses 44 taps
// on each side at the lower rate.
const resampleLookahead = 48

func newChannelDecoder(rate int, encoding string) *channelDecoder {
	d := &channelDecoder{rate: rate, encoding: encoding, lin: make([]float32, rate/50), out: make([]float32, audio.FrameSize)}
	return d
}

func (d *channelDecoder) decode(payload []byte) {
	if d.encoding == protocol.EncodingMulaw {
		audio.MulawDecode(d.lin, payload)
	} else {
		audio.PCM16LEBytesToFloat(d.lin, payload)
	}
}

// push decodes one payload captured at at and calls emit for every frame
// that became complete. Frames passed to emit are only valid during the call.
func (d *channelDecoder) push(payload []byte, at time.Duration, emit func(decodedFrame) error) error {
	d.decode(payload)
	if d.rate == int(audio.PipelineRate) {
		copy(d.out, d.lin)
		return emit(decodedFrame{at: at, samples: d.out})
	}
	if d.rs != nil && at != d.startAt+time.Duration(d.pushed)*time.Second/time.Duration(d.rate) {
		// A discontinuity (gap, pause): finish the old stream first.
		if err := d.flush(emit); err != nil {
			return err
		}
	}
	if d.rs == nil {
		d.src = &pushSource{format: audio.Format{Rate: audio.SampleRate(d.rate), Channels: 1}}
		d.rs = audio.Resample(d.src, audio.PipelineRate)
		d.startAt, d.pushed, d.produced, d.emitted = at, 0, 0, 0
		d.pending = d.pending[:0]
	}
	d.src.buf = append(d.src.buf, d.lin...)
	d.pushed += len(d.lin)
	ratio := int(audio.PipelineRate) / d.rate
	safe := (d.pushed-resampleLookahead)*ratio - d.produced
	if safe > 0 {
		if err := d.read(safe); err != nil {
			return err
		}
	}
	return d.cut(emit, false)
}

func (d *channelDecoder) read(n int) error {
	for n > 0 {
		start := len(d.pending)
		d.pending = append(d.pending, make([]float32, n)...)
		got, err := d.rs.Read(d.pending[start:])
		d.pending = d.pending[:start+got]
		d.produced += got
		n -= got
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if got == 0 {
			return nil
		}
	}
	return nil
}

func (d *channelDecoder) cut(emit func(decodedFrame) error, final bool) error {
	for len(d.pending) >= audio.FrameSize || (final && len(d.pending) > 0) {
		n := copy(d.out, d.pending)
		clear(d.out[n:])
		d.pending = d.pending[:copy(d.pending, d.pending[n:])]
		at := d.startAt + time.Duration(d.emitted)*audio.FrameDuration
		d.emitted++
		if err := emit(decodedFrame{at: at, samples: d.out}); err != nil {
			return err
		}
	}
	return nil
}

// flush drains an 8 kHz stream's tail (zero-padding the last frame).
func (d *channelDecoder) flush(emit func(decodedFrame) error) error {
	if d.rs == nil {
		return nil
	}
	d.src.eof = true
	ratio := int(audio.PipelineRate) / d.rate
	if err := d.read(d.pushed*ratio - d.produced + ratio); err != nil {
		return err
	}
	err := d.cut(emit, true)
	d.rs, d.src = nil, nil
	return err
}

// pushSource is a mono Source over samples pushed to it; it reports EOF
// only once eof is set. channelDecoder never reads past what it pushed.
type pushSource struct {
	format audio.Format
	buf    []float32
	eof    bool
}

func (p *pushSource) Format() audio.Format { return p.format }

func (p *pushSource) Read(dst []float32) (int, error) {
	if len(p.buf) == 0 {
		if p.eof {
			return 0, io.EOF
		}
		return 0, nil
	}
	n := copy(dst, p.buf)
	p.buf = p.buf[:copy(p.buf, p.buf[n:])]
	return n, nil
}
