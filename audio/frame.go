package audio

import (
	"fmt"
	"io"
	"time"
)

// Deinterleave splits interleaved samples into one slice per channel:
// dst[c][i] = src[i*len(dst)+c]. It writes as many whole frames as src holds
// and every dst[c] has room for, and returns that number. It panics if dst is
// empty, which is a programming error.
func Deinterleave(dst [][]float32, src []float32) int {
	ch := len(dst)
	if ch == 0 {
		panic("audio.Deinterleave: no destination channels")
	}
	n := len(src) / ch
	for _, d := range dst {
		n = min(n, len(d))
	}
	switch ch {
	case 1:
		copy(dst[0][:n], src)
	case 2:
		l, r := dst[0][:n], dst[1][:n]
		for i := range l {
			l[i], r[i] = src[2*i], src[2*i+1]
		}
	default:
		for c, d := range dst {
			for i := range d[:n] {
				d[i] = src[i*ch+c]
			}
		}
	}
	return n
}

// ReadAll reads src to its end and returns its samples per channel, for
// offline analysis of whole recordings. A trailing partial frame is dropped.
// If src fails, ReadAll returns the samples read so far together with the
// error; io.EOF is not an error.
func ReadAll(src Source) ([][]float32, error) {
	ch := src.Format().Channels
	if ch < 1 {
		return nil, fmt.Errorf("%w: source reports %d channels", ErrUnsupported, ch)
	}
	out := make([][]float32, ch)
	buf := make([]float32, 4096*ch)
	tails := make([][]float32, ch)
	fill := 0 // samples in buf; kept below a whole frame between reads
	for {
		n, err := src.Read(buf[fill:])
		fill += n
		frames := fill / ch
		for c := range out {
			out[c] = growBy(out[c], frames)
		}
		for c := range out {
			tails[c] = out[c][len(out[c])-frames:]
		}
		Deinterleave(tails, buf[:frames*ch])
		fill = copy(buf, buf[frames*ch:fill])
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// growBy extends s by n elements, growing its capacity geometrically.
func growBy(s []float32, n int) []float32 {
	if len(s)+n <= cap(s) {
		return s[:len(s)+n]
	}
	g := make([]float32, len(s)+n, max(2*cap(s), len(s)+n, 1<<16))
	copy(g, s)
	return g
}

// OpenCall opens a stereo call recording (WAV or MP3) for streaming: the
// returned Source delivers it converted to PipelineRate, left the agent and
// right the caller, reading the file as it goes. The caller must Close the
// io.Closer (the file) when done; it is nil when err is not nil. Errors
// name the file: a mono file or one with more than two channels wraps
// ErrNotStereo, and decoding errors (at open and from Read) the sentinels
// Open and Decode use. A file cut short ends with an error wrapping
// ErrTruncated after every complete sample.
func OpenCall(path string) (Source, io.Closer, error) {
	src, c, err := Open(path)
	if err != nil {
		return nil, nil, err
	}
	if ch := src.Format().Channels; ch != 2 {
		c.Close()
		return nil, nil, fmt.Errorf("%s: %w: it has %d channel(s)", path, ErrNotStereo, ch)
	}
	return Resample(src, PipelineRate), c, nil
}

// LoadCall reads a whole stereo call recording (WAV or MP3), converts it to
// PipelineRate and returns the agent (left) and caller (right) channels.
// Errors name the file: a mono file or one with more than two channels wraps
// ErrNotStereo, a file without samples ErrEmpty, and decoding errors the
// sentinels Open and Decode use. It reads the whole file into memory: an hour
// of call is 460 MB of samples; OpenCall streams instead.
func LoadCall(path string) (agent, caller []float32, err error) {
	src, c, err := Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	if ch := src.Format().Channels; ch != 2 {
		return nil, nil, fmt.Errorf("%s: %w: it has %d channel(s)", path, ErrNotStereo, ch)
	}
	chans, err := ReadAll(Resample(src, PipelineRate))
	if err != nil {
		// src already names the file.
		return nil, nil, err
	}
	if len(chans[0]) == 0 {
		return nil, nil, fmt.Errorf("%s: %w", path, ErrEmpty)
	}
	return chans[AgentChannel], chans[CallerChannel], nil
}

// SliceSource is a Source over samples held in memory. It does not copy
// them: the caller must not change the slice while reading.
type SliceSource struct {
	format  Format
	samples []float32
	pos     int
}

// NewSliceSource returns a Source delivering samples (interleaved, f.Channels
// per frame) at f.Rate.
func NewSliceSource(f Format, samples []float32) *SliceSource {
	return &SliceSource{format: f, samples: samples}
}

// Format reports the format given to NewSliceSource.
func (s *SliceSource) Format() Format { return s.format }

// Read copies the next samples into p; see Source for the legal returns.
func (s *SliceSource) Read(p []float32) (int, error) {
	if s.pos >= len(s.samples) && len(p) > 0 {
		return 0, io.EOF
	}
	n := copy(p, s.samples[s.pos:])
	s.pos += n
	return n, nil
}

// Framer cuts a mono PipelineRate stream into FrameDuration frames, the unit
// every analysis stage works on.
type Framer struct {
	src    Source
	next   time.Duration // start of the next frame
	filled int
	err    error
}

// NewFramer returns a Framer reading src, which must be mono at
// PipelineRate (Next reports an error wrapping ErrUnsupported otherwise). To
// frame samples already in memory, pass NewSliceSource(Format{PipelineRate,
// 1}, samples).
func NewFramer(src Source) *Framer {
	f := &Framer{src: src}
	if sf := src.Format(); sf.Rate != PipelineRate || sf.Channels != 1 {
		f.err = fmt.Errorf("%w: framer needs mono %d Hz audio, got %d channel(s) at %d Hz",
			ErrUnsupported, PipelineRate, sf.Channels, sf.Rate)
	}
	return f
}

// Next fills frame[:FrameSize] with the next frame and returns its start
// time from the beginning of the stream. It blocks only as long as the
// source's Read. The caller owns frame, which must hold at least FrameSize
// samples (Next panics otherwise, a programming error).
//
// Legal returns:
//   - start, nil: a frame; Filled reports FrameSize, or fewer for the last
//     frame of a stream that does not end on a frame boundary, whose missing
//     tail Next has set to zero.
//   - 0, io.EOF: no samples remain; frame is unchanged.
//   - 0, another error: the source failed (or has the wrong format); frame
//     holds garbage, and every later call returns the same error.
func (f *Framer) Next(frame []float32) (start time.Duration, err error) {
	if len(frame) < FrameSize {
		panic(fmt.Sprintf("audio.Framer.Next: frame holds %d samples, need %d", len(frame), FrameSize))
	}
	if f.err != nil {
		return 0, f.err
	}
	frame = frame[:FrameSize]
	n := 0
	stalls := 0
	for n < FrameSize {
		k, err := f.src.Read(frame[n:])
		n += k
		if err == io.EOF {
			break
		}
		if err != nil {
			f.err = err
			return 0, err
		}
		if k == 0 {
			if stalls++; stalls > 100 {
				f.err = io.ErrNoProgress
				return 0, f.err
			}
		}
	}
	if n == 0 {
		f.err = io.EOF
		return 0, io.EOF
	}
	clear(frame[n:])
	f.filled = n
	start = f.next
	f.next += FrameDuration
	return start, nil
}

// Filled reports how many samples of the frame the last successful Next
// returned came from the stream: FrameSize except for a zero-padded last
// frame.
func (f *Framer) Filled() int { return f.filled }
