package audio

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/hajimehoshi/go-mp3"
)

// mp3SyncSearch is how far past the tags DecodeMP3 looks for the first frame
// header before deciding the stream is not MP3. go-mp3 itself would scan the
// whole stream byte by byte.
const mp3SyncSearch = 64 << 10

// mp3ResyncLimit is how many bytes go-mp3 may read without completing a
// frame before the stream is declared corrupt. Between two frames go-mp3
// looks for the next header a byte at a time, allocating for each one, to
// the end of the input: a file whose frames stop after the first one would
// otherwise be read to its end (gigabytes, for a damaged long recording)
// before anything is reported. The largest layer III frame is 1441 bytes;
// the limit leaves room for an ID3 tag between two concatenated files.
const mp3ResyncLimit = 1 << 20

// mp3Header is the 32-bit MPEG audio frame header.
type mp3Header uint32

func (h mp3Header) version() int  { return int(h>>19) & 3 } // 0 = 2.5, 1 reserved, 2 = MPEG-2, 3 = MPEG-1
func (h mp3Header) layer() int    { return int(h>>17) & 3 } // 1 = layer III
func (h mp3Header) bitrate() int  { return int(h>>12) & 15 }
func (h mp3Header) rateIdx() int  { return int(h>>10) & 3 }
func (h mp3Header) mode() int     { return int(h>>6) & 3 } // 3 = single channel
func (h mp3Header) emphasis() int { return int(h) & 3 }

// valid mirrors go-mp3's own header check, so the header found here is the
// one go-mp3 starts decoding at.
func (h mp3Header) valid() bool {
	return h&0xFFE00000 == 0xFFE00000 && h.version() != 1 && h.layer() != 0 &&
		h.bitrate() != 15 && h.rateIdx() != 3 && h.emphasis() != 2
}

// frameSize returns the length in bytes of the layer III frame h starts, by
// the standard (go-mp3 rounds padded MPEG-2 frames one byte short), or 0 for
// a header that does not start one (other layers, MPEG 2.5, free format).
func (h mp3Header) frameSize() int {
	if !h.valid() || h.layer() != 1 || h.version() < 2 || h.bitrate() == 0 {
		return 0
	}
	pad := int(h>>9) & 1
	if h.version() == 3 {
		kbps := [15]int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}[h.bitrate()]
		rate := [3]int{44100, 48000, 32000}[h.rateIdx()]
		return 144000*kbps/rate + pad
	}
	kbps := [15]int{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160}[h.bitrate()]
	rate := [3]int{22050, 24000, 16000}[h.rateIdx()]
	return 72000*kbps/rate + pad
}

// mp3Decoder is the Source DecodeMP3 returns.
type mp3Decoder struct {
	d      *mp3.Decoder
	in     *eofReader
	walk   *frameWalker
	format Format
	// raw holds go-mp3 output (16-bit little-endian, always two channels)
	// not yet delivered: raw[lo:hi].
	raw    []byte
	lo, hi int
	// half is set when the left sample of the current stereo frame was
	// delivered and the right one is next.
	half   bool
	frames int64 // frames delivered, for error positions
	err    error
}

// eofReader remembers whether the underlying reader reached its end, which
// tells a decoder panic on a cut-off file from one on corrupt data.
type eofReader struct {
	r   io.Reader
	eof bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.eof = true
	}
	return n, err
}

// errMP3NoSync is what frameWalker hands go-mp3 once it has read
// mp3ResyncLimit bytes without completing a frame.
var errMP3NoSync = errors.New("no frame within the resync limit")

// frameWalker sits between the buffered input and go-mp3 and sees exactly
// the bytes go-mp3 consumes, from the first frame header on. It follows the
// frames by their headers' lengths, so at the end of the stream it knows
// whether the last frame was cut short, which go-mp3 reports as a clean
// end. A byte where a header should be and is not (junk, a trailing ID3v1
// tag) stops the walk: after that the end of the stream says nothing. It
// also refuses to read more than mp3ResyncLimit bytes between two frames
// go-mp3 produces.
type frameWalker struct {
	r io.Reader
	// need is how many bytes of the current frame are still to come; hdr
	// collects a header split across reads.
	need   int
	size   int // the current frame's length
	hdr    []byte
	lost   bool
	frames int64 // complete frames walked

	since  int // bytes read since go-mp3 last produced output
	noSync bool
}

func (w *frameWalker) Read(p []byte) (int, error) {
	if w.since >= mp3ResyncLimit {
		w.noSync = true
		return 0, errMP3NoSync
	}
	p = p[:min(len(p), mp3ResyncLimit-w.since)]
	n, err := w.r.Read(p)
	w.since += n
	w.walk(p[:n])
	return n, err
}

func (w *frameWalker) walk(b []byte) {
	for len(b) > 0 && !w.lost {
		if w.need > 0 {
			k := min(w.need, len(b))
			w.need -= k
			b = b[k:]
			if w.need == 0 {
				w.frames++
			}
			continue
		}
		k := min(4-len(w.hdr), len(b))
		w.hdr = append(w.hdr, b[:k]...)
		b = b[k:]
		if len(w.hdr) < 4 {
			continue
		}
		h := mp3Header(uint32(w.hdr[0])<<24 | uint32(w.hdr[1])<<16 | uint32(w.hdr[2])<<8 | uint32(w.hdr[3]))
		w.hdr = w.hdr[:0]
		if w.size = h.frameSize(); w.size <= 4 {
			w.lost = true
			break
		}
		w.need = w.size - 4
	}
}

// cut reports, at the end of the stream, whether the walk ended inside a
// frame: in its header (a sync byte followed by fewer than three more) or
// its body.
func (w *frameWalker) cut() (got, size int, ok bool) {
	switch {
	case w.lost:
		return 0, 0, false
	case w.need > 0:
		return w.size - w.need, w.size, true
	case len(w.hdr) > 0 && w.hdr[0] == 0xFF:
		return len(w.hdr), 4, true
	}
	return 0, 0, false
}

// DecodeMP3 returns a Source decoding the MPEG-1 or MPEG-2 layer III stream
// in r with github.com/hajimehoshi/go-mp3, as it is read.
//
// Format reports the stream's sample rate and its channel count from the
// first frame header: go-mp3 always produces two channels, and for a mono
// stream DecodeMP3 delivers only one of the two identical copies. Leading
// ID3v2 tags and junk before the first frame are skipped here rather than by
// go-mp3, which would allocate the tag's declared size.
//
// go-mp3 panics on some malformed input; DecodeMP3 and Read recover and
// return an error instead. Errors wrap ErrEmpty, ErrNotAudio (no frame header
// within the first 64 KiB after the tags, or corrupt frames), ErrUnsupported
// (MPEG 2.5, layers I/II, free bitrate) or ErrTruncated. A stream cut inside
// its last frame ends with io.EOF after the last complete frame, as go-mp3
// decides. The Source does not close r.
func DecodeMP3(r io.Reader) (Source, error) {
	d, err := newMP3Decoder(r)
	if err != nil {
		return nil, fmt.Errorf("mp3: %w", err)
	}
	return d, nil
}

func newMP3Decoder(r io.Reader) (dec *mp3Decoder, err error) {
	in := &eofReader{r: r}
	br := bufio.NewReaderSize(in, 4096)
	h, err := findMP3Header(br)
	if err != nil {
		return nil, err
	}
	if h.version() == 0 {
		return nil, fmt.Errorf("%w: MPEG 2.5 (8, 11.025 or 12 kHz) layer III is not decoded by go-mp3; convert the file to 16 kHz or more", ErrUnsupported)
	}
	if h.layer() != 1 {
		return nil, fmt.Errorf("%w: MPEG audio layer %d (only layer III is decoded)", ErrUnsupported, 4-h.layer())
	}
	if h.bitrate() == 0 {
		return nil, fmt.Errorf("%w: free-format bitrate", ErrUnsupported)
	}
	channels := 2
	if h.mode() == 3 {
		channels = 1
	}
	defer func() {
		if p := recover(); p != nil {
			dec = nil
			err = mp3PanicError(p, in.eof, 0)
		}
	}()
	walk := &frameWalker{r: br}
	md, err := mp3.NewDecoder(walk)
	if err != nil {
		if walk.noSync {
			return nil, fmt.Errorf("%w: no complete frame in the first %d bytes after the first frame header", ErrNotAudio, mp3ResyncLimit)
		}
		return nil, mp3Error(err, in.eof, 0)
	}
	walk.since = 0
	return &mp3Decoder{
		d:      md,
		in:     in,
		walk:   walk,
		format: Format{Rate: SampleRate(md.SampleRate()), Channels: channels},
		raw:    make([]byte, 4608), // one MPEG-1 frame of go-mp3 output
	}, nil
}

// findMP3Header skips ID3v2 tags and any junk before the first valid frame
// header, leaving br positioned on it.
func findMP3Header(br *bufio.Reader) (mp3Header, error) {
	seen := false
	for {
		b, err := br.Peek(10)
		if len(b) > 0 {
			seen = true
		}
		if len(b) < 3 || string(b[:3]) != "ID3" {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("%w: ID3 tag header cut short", ErrTruncated)
		}
		// The size is a 28-bit "syncsafe" integer: 7 bits per byte.
		size := int64(b[6]&0x7F)<<21 | int64(b[7]&0x7F)<<14 | int64(b[8]&0x7F)<<7 | int64(b[9]&0x7F)
		size += 10
		if b[5]&0x10 != 0 { // ID3v2.4 footer
			size += 10
		}
		if n, _ := br.Discard(int(size)); int64(n) < size {
			return 0, fmt.Errorf("%w: ID3 tag of %d bytes cut short", ErrTruncated, size)
		}
	}
	for skipped := 0; skipped < mp3SyncSearch; {
		b, err := br.Peek(4)
		if len(b) > 0 {
			seen = true
		}
		if len(b) < 4 {
			switch {
			case !seen:
				return 0, fmt.Errorf("%w: the stream is empty", ErrEmpty)
			case skipped == 0 && len(b) > 0 && b[0] == 0xFF:
				return 0, fmt.Errorf("%w: frame header cut short", ErrTruncated)
			case err != nil && !errors.Is(err, io.EOF):
				return 0, err
			}
			return 0, fmt.Errorf("%w: no MPEG audio frame header found", ErrNotAudio)
		}
		h := mp3Header(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
		if h.valid() {
			return h, nil
		}
		br.Discard(1)
		skipped++
	}
	return 0, fmt.Errorf("%w: no MPEG audio frame header in the first %d bytes", ErrNotAudio, mp3SyncSearch)
}

// mp3Error classifies an error go-mp3 returned.
func mp3Error(err error, eof bool, frames int64) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: stream ended inside the first frame", ErrTruncated)
	}
	if eof {
		return fmt.Errorf("%w: after %d frames: %v", ErrTruncated, frames, err)
	}
	return fmt.Errorf("%w: corrupt MP3 data after %d frames: %v", ErrNotAudio, frames, err)
}

// mp3PanicError turns a go-mp3 panic into an error: a panic after the input
// ran out is a cut-off file, otherwise the data is corrupt.
func mp3PanicError(p any, eof bool, frames int64) error {
	if eof {
		return fmt.Errorf("%w: decoder failed at the cut-off end after %d frames (go-mp3 panic: %v)", ErrTruncated, frames, p)
	}
	return fmt.Errorf("%w: corrupt MP3 data after %d frames (go-mp3 panic: %v)", ErrNotAudio, frames, p)
}

// Format reports the stream's rate and channel count (1 or 2).
func (m *mp3Decoder) Format() Format { return m.format }

// Read decodes samples into p; see Source for the legal returns.
func (m *mp3Decoder) Read(p []float32) (n int, err error) {
	for n < len(p) {
		if m.hi-m.lo < 4 {
			if m.err != nil {
				break
			}
			m.fill()
			continue
		}
		n += m.decode(p[n:])
	}
	if n > 0 || len(p) == 0 {
		return n, nil
	}
	return 0, m.err
}

// decode converts buffered stereo frames into p and returns how many samples
// it wrote.
func (m *mp3Decoder) decode(p []float32) int {
	n := 0
	b := m.raw[m.lo:m.hi]
	if m.format.Channels == 1 {
		k := min(len(p), len(b)/4)
		for i := range k {
			p[i] = float32(int16(uint16(b[4*i])|uint16(b[4*i+1])<<8)) * (1.0 / pcm16Scale)
		}
		m.lo += 4 * k
		m.frames += int64(k)
		return k
	}
	if m.half {
		// Finish the frame whose left sample the previous Read delivered.
		p[0] = float32(int16(uint16(b[2])|uint16(b[3])<<8)) * (1.0 / pcm16Scale)
		m.lo += 4
		m.frames++
		m.half = false
		return 1
	}
	frames := len(b) / 4
	k := min(len(p), 2*frames)
	PCM16LEBytesToFloat(p[:k], b)
	n = k
	m.lo += 4 * (k / 2)
	m.frames += int64(k / 2)
	if k%2 == 1 {
		m.half = true
	}
	return n
}

// fill asks go-mp3 for more output, keeping a partial frame at the front.
func (m *mp3Decoder) fill() {
	if m.lo > 0 {
		m.hi = copy(m.raw, m.raw[m.lo:m.hi])
		m.lo = 0
	}
	defer func() {
		if p := recover(); p != nil {
			m.err = mp3PanicError(p, m.in.eof, m.frames)
		}
	}()
	n, err := m.d.Read(m.raw[m.hi:])
	m.hi += n
	if n > 0 {
		m.walk.since = 0
	}
	switch {
	case err == io.EOF:
		m.err = io.EOF
		if got, size, cut := m.walk.cut(); cut {
			m.err = fmt.Errorf("%w: the stream ends %d bytes into a %d-byte frame after %d complete frames (%.2f s decoded)",
				ErrTruncated, got, size, m.walk.frames, m.format.Rate.Duration(int(m.frames)+(m.hi-m.lo)/4).Seconds())
		}
	case m.walk.noSync:
		m.err = fmt.Errorf("%w: no complete frame in the %d bytes after %.2f s of audio", ErrNotAudio, mp3ResyncLimit,
			m.format.Rate.Duration(int(m.frames)+(m.hi-m.lo)/4).Seconds())
	case err != nil:
		m.err = mp3Error(err, m.in.eof, m.frames)
	}
}
