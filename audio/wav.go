package audio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// WAV format codes (the fmt chunk's wFormatTag) the decoder knows by name.
const (
	wavPCM        = 0x0001
	wavADPCM      = 0x0002
	wavFloat      = 0x0003
	wavALaw       = 0x0006
	wavMuLaw      = 0x0007
	wavIMAADPCM   = 0x0011
	wavGSM610     = 0x0031
	wavMPEG       = 0x0050
	wavMP3        = 0x0055
	wavExtensible = 0xFFFE
)

// wavFormatName names a format code in error messages.
func wavFormatName(code uint16) string {
	switch code {
	case wavPCM:
		return "PCM"
	case wavADPCM:
		return "Microsoft ADPCM"
	case wavFloat:
		return "IEEE float"
	case wavALaw:
		return "G.711 A-law"
	case wavMuLaw:
		return "G.711 μ-law"
	case wavIMAADPCM:
		return "IMA ADPCM"
	case wavGSM610:
		return "GSM 6.10"
	case wavMPEG:
		return "MPEG"
	case wavMP3:
		return "MPEG layer 3"
	case wavExtensible:
		return "extensible"
	}
	return "unknown"
}

// ksdataformatSubtypeSuffix is the tail every KSDATAFORMAT_SUBTYPE GUID shares;
// the first two bytes of the GUID then hold an ordinary format code.
var ksdataformatSubtypeSuffix = [14]byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71}

// Limits that keep a hostile header from making the decoder allocate or loop
// without bound. Real files stay far below them.
const (
	wavMaxFmtSize  = 4096
	wavMaxChannels = 64
	wavMaxRate     = 1_000_000
	// wavUnknownSize marks a data chunk whose length the writer did not know.
	wavUnknownSize = -1
)

// wavChunksAfterEmptyData are chunk IDs that, when they directly follow a
// data chunk of declared size 0, show the data chunk really is empty rather
// than written by a streaming writer that never patched the size.
var wavChunksAfterEmptyData = map[string]bool{
	"LIST": true, "id3 ": true, "ID3 ": true, "fact": true, "cue ": true, "smpl": true,
	"bext": true, "JUNK": true, "PAD ": true, "iXML": true, "_PMX": true, "inst": true,
}

// wavEncoding is how one sample is stored in the data chunk.
type wavEncoding int

const (
	encPCM16 wavEncoding = iota
	encMuLaw
	encFloat32
)

// wavDecoder is the Source DecodeWAV returns.
type wavDecoder struct {
	r      io.Reader
	format Format
	enc    wavEncoding
	bps    int   // bytes per sample
	remain int64 // data bytes not yet read from r, or wavUnknownSize
	read   int64 // data bytes read from r so far

	// raw holds data bytes read but not yet delivered: raw[lo:hi].
	raw    []byte
	lo, hi int
	// phase is how many samples of the current frame were already
	// delivered, so a frame is only ever handed out once it is complete.
	phase int
	eof   bool  // r is exhausted (or the data chunk fully read)
	err   error // sticky error to return once raw is drained
}

// DecodeWAV reads a RIFF/WAVE header from r and returns a Source that decodes
// the data chunk as it is read; it never holds more than a small buffer of
// the file in memory.
//
// It decodes 16-bit PCM, 8-bit G.711 μ-law and 32-bit IEEE float, plain or
// wrapped in WAVE_FORMAT_EXTENSIBLE, with any number of channels (up to 64)
// and any sample rate. Unknown chunks are skipped, a missing pad byte after an
// odd-sized chunk is tolerated, and a data size of 0 or 0xFFFFFFFF (left by
// streaming writers) means "until EOF". RF64 files are read through their
// ds64 chunk.
//
// Errors wrap ErrEmpty (no bytes, or no samples), ErrNotAudio (not RIFF/WAVE
// or a broken header), ErrUnsupported (naming the format code and bit depth)
// or ErrTruncated (the stream ended inside the header). If the data chunk
// ends early, Read delivers every complete frame and then returns an error
// wrapping ErrTruncated instead of io.EOF; for a size-less data chunk a
// trailing partial frame is dropped and the stream ends with io.EOF.
//
// The Source reads r only from inside Read and does not close it.
func DecodeWAV(r io.Reader) (Source, error) {
	br := bufio.NewReaderSize(r, 4096)
	d, err := readWAVHeader(br)
	if err != nil {
		return nil, fmt.Errorf("wav: %w", err)
	}
	return d, nil
}

func readWAVHeader(br *bufio.Reader) (*wavDecoder, error) {
	rf64, err := readRIFFHeader(br)
	if err != nil {
		return nil, err
	}
	h := wavHeader{br: br, rf64: rf64, dataSize: wavUnknownSize}
	for {
		id, size, err := h.nextChunk()
		if err != nil {
			return nil, err
		}
		switch id {
		case "fmt ":
			err = h.readFmt(size)
		case "ds64":
			err = h.readDS64(size)
		case "data":
			return h.startData(size)
		default:
			if _, err := io.CopyN(io.Discard, br, size); err != nil {
				return nil, fmt.Errorf("%w: %q chunk of %d bytes cut short", ErrTruncated, id, size)
			}
		}
		if err != nil {
			return nil, err
		}
		if size%2 == 1 {
			// RIFF pads odd chunks to even length, but some writers forget.
			// Chunk IDs are ASCII, so a zero byte can only be the pad.
			if b, err := br.Peek(1); err == nil && b[0] == 0 {
				br.Discard(1)
			}
		}
	}
}

// readRIFFHeader reads the 12-byte RIFF/WAVE header and reports whether the
// file is RF64. A stream that stops inside a header that began as RIFF or
// RF64 is a truncated WAV file; anything else too short is not a WAV file.
func readRIFFHeader(br *bufio.Reader) (rf64 bool, err error) {
	var hdr [12]byte
	n, err := io.ReadFull(br, hdr[:])
	switch {
	case isIOError(err):
		return false, err
	case n == 0 && err != nil:
		return false, fmt.Errorf("%w: the stream is empty", ErrEmpty)
	case err != nil:
		if string(hdr[:min(n, 4)]) == "RIFF"[:min(n, 4)] || string(hdr[:min(n, 4)]) == "RF64"[:min(n, 4)] {
			return false, fmt.Errorf("%w: RIFF header cut short after %d bytes", ErrTruncated, n)
		}
		return false, fmt.Errorf("%w: %d bytes is too short for a RIFF/WAVE header", ErrNotAudio, n)
	}
	magic := string(hdr[0:4])
	if (magic != "RIFF" && magic != "RF64") || string(hdr[8:12]) != "WAVE" {
		return false, fmt.Errorf("%w: no RIFF/WAVE signature", ErrNotAudio)
	}
	return magic == "RF64", nil
}

// wavHeader is what readWAVHeader has learnt from the chunks before the
// data chunk. The data chunk needs all of it: the fmt chunk's decoder and,
// in an RF64 file, the size the ds64 chunk declared for it.
type wavHeader struct {
	br       *bufio.Reader
	rf64     bool
	d        *wavDecoder // nil until the fmt chunk
	dataSize int64       // from ds64, for RF64
}

// nextChunk reads the next chunk's ID and size. Where the stream ends says
// what is missing, so the error names the chunk that never came.
func (h *wavHeader) nextChunk() (id string, size int64, err error) {
	var ch [8]byte
	if n, err := io.ReadFull(h.br, ch[:]); err != nil {
		if isIOError(err) {
			return "", 0, err
		}
		if n == 0 && h.d != nil {
			return "", 0, fmt.Errorf("%w: no data chunk after the fmt chunk", ErrTruncated)
		}
		if n == 0 {
			return "", 0, fmt.Errorf("%w: stream ended before the fmt chunk", ErrTruncated)
		}
		return "", 0, fmt.Errorf("%w: chunk header cut short", ErrTruncated)
	}
	return string(ch[0:4]), int64(binary.LittleEndian.Uint32(ch[4:8])), nil
}

// readFmt reads and parses a fmt chunk of size bytes. The size is bounded
// before the body is allocated, so a hostile header cannot ask for gigabytes.
func (h *wavHeader) readFmt(size int64) error {
	if h.d != nil {
		return fmt.Errorf("%w: two fmt chunks", ErrNotAudio)
	}
	if size < 16 || size > wavMaxFmtSize {
		return fmt.Errorf("%w: fmt chunk of %d bytes", ErrNotAudio, size)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(h.br, buf); err != nil {
		return fmt.Errorf("%w: fmt chunk cut short", ErrTruncated)
	}
	var err error
	h.d, err = parseWAVFmt(buf)
	return err
}

// readDS64 reads an RF64 file's ds64 chunk for the 64-bit data size. A size
// of 0, or one too large for an int64, is not taken: the data chunk is then
// read until EOF, as for a streaming writer's placeholder, rather than the
// file refused over a header field its samples do not need.
func (h *wavHeader) readDS64(size int64) error {
	if !h.rf64 || size < 24 || size > wavMaxFmtSize {
		return fmt.Errorf("%w: unexpected ds64 chunk of %d bytes", ErrNotAudio, size)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(h.br, buf); err != nil {
		return fmt.Errorf("%w: ds64 chunk cut short", ErrTruncated)
	}
	if s := binary.LittleEndian.Uint64(buf[8:16]); s > 0 && s < math.MaxInt64 {
		h.dataSize = int64(s)
	}
	return nil
}

// startData sets the decoder up to read a data chunk of declared size. Sizes
// of 0 and 0xFFFFFFFF are what streaming writers leave when they cannot seek
// back to patch the header, so they mean "until EOF" (RF64 keeps the real
// size in ds64 instead).
func (h *wavHeader) startData(size int64) (*wavDecoder, error) {
	d := h.d
	if d == nil {
		return nil, fmt.Errorf("%w: data chunk before the fmt chunk", ErrNotAudio)
	}
	switch {
	case h.rf64 && size == 0xFFFFFFFF:
		d.remain = h.dataSize
	case size == 0 || size == 0xFFFFFFFF:
		d.remain = wavUnknownSize
	default:
		d.remain = size
	}
	if size == 0 {
		// A 0 may be a streaming writer's placeholder or a truly empty
		// chunk; a recognisable chunk right behind it decides.
		if next, _ := h.br.Peek(4); wavChunksAfterEmptyData[string(next)] {
			return nil, fmt.Errorf("%w: the data chunk is empty", ErrEmpty)
		}
	}
	d.r = h.br
	return d, d.checkNotEmpty(h.br)
}

// isIOError reports whether err is a failure of the reader itself rather
// than the end of its data, so a disk error is not reported as a short file.
func isIOError(err error) bool {
	return err != nil && err != io.EOF && err != io.ErrUnexpectedEOF
}

// checkNotEmpty makes an empty data chunk an error at open time, so a caller
// learns about an empty file before it builds a pipeline on it.
func (d *wavDecoder) checkNotEmpty(br *bufio.Reader) error {
	if d.remain == 0 {
		return fmt.Errorf("%w: the data chunk is empty", ErrEmpty)
	}
	if b, _ := br.Peek(1); len(b) == 0 {
		if d.remain == wavUnknownSize {
			return fmt.Errorf("%w: the data chunk is empty", ErrEmpty)
		}
		return fmt.Errorf("%w: data chunk declares %d bytes, stream ends before the first", ErrTruncated, d.remain)
	}
	return nil
}

// parseWAVFmt validates a fmt chunk body and returns a decoder without its
// reader.
func parseWAVFmt(b []byte) (*wavDecoder, error) {
	code := binary.LittleEndian.Uint16(b[0:2])
	channels := int(binary.LittleEndian.Uint16(b[2:4]))
	rate := binary.LittleEndian.Uint32(b[4:8])
	bits := int(binary.LittleEndian.Uint16(b[14:16]))
	sub := code
	if code == wavExtensible {
		if len(b) < 40 {
			return nil, fmt.Errorf("%w: WAVE_FORMAT_EXTENSIBLE fmt chunk of %d bytes (want 40)", ErrNotAudio, len(b))
		}
		sub = binary.LittleEndian.Uint16(b[24:26])
		if [14]byte(b[26:40]) != ksdataformatSubtypeSuffix {
			return nil, fmt.Errorf("%w: WAVE_FORMAT_EXTENSIBLE with a non-standard sub-format GUID", ErrUnsupported)
		}
	}
	if channels == 0 {
		return nil, fmt.Errorf("%w: fmt chunk declares 0 channels", ErrNotAudio)
	}
	if channels > wavMaxChannels {
		return nil, fmt.Errorf("%w: %d channels (at most %d)", ErrUnsupported, channels, wavMaxChannels)
	}
	if rate == 0 {
		return nil, fmt.Errorf("%w: fmt chunk declares a sample rate of 0", ErrNotAudio)
	}
	if rate > wavMaxRate {
		return nil, fmt.Errorf("%w: sample rate %d Hz", ErrUnsupported, rate)
	}
	d := &wavDecoder{format: Format{Rate: SampleRate(rate), Channels: channels}}
	switch {
	case sub == wavPCM && bits == 16:
		d.enc, d.bps = encPCM16, 2
	case sub == wavMuLaw && bits == 8:
		d.enc, d.bps = encMuLaw, 1
	case sub == wavFloat && bits == 32:
		d.enc, d.bps = encFloat32, 4
	default:
		wrapped := ""
		if code == wavExtensible {
			wrapped = " in WAVE_FORMAT_EXTENSIBLE"
		}
		return nil, fmt.Errorf("%w: WAV format code %d (%s)%s with %d bits per sample; supported are 16-bit PCM, 8-bit μ-law and 32-bit float",
			ErrUnsupported, sub, wavFormatName(sub), wrapped, bits)
	}
	// Keep the buffer a whole number of frames so refills never split one
	// more than necessary.
	frame := d.bps * channels
	d.raw = make([]byte, max(4096/frame, 1)*frame)
	return d, nil
}

// Format reports the rate and channel count from the fmt chunk.
func (d *wavDecoder) Format() Format { return d.format }

// Read decodes samples into p; see Source for the legal returns.
func (d *wavDecoder) Read(p []float32) (int, error) {
	n := 0
	for n < len(p) {
		avail := d.availSamples()
		if avail == 0 {
			if d.eof || d.err != nil {
				break
			}
			d.fill()
			continue
		}
		k := min(avail, len(p)-n)
		d.decode(p[n : n+k])
		n += k
	}
	if n > 0 || len(p) == 0 {
		return n, nil
	}
	if d.err != nil {
		return 0, d.err
	}
	return 0, io.EOF
}

// availSamples is how many buffered samples belong to complete frames.
func (d *wavDecoder) availSamples() int {
	ch := d.format.Channels
	s := (d.hi-d.lo)/d.bps + d.phase
	return s/ch*ch - d.phase
}

// decode converts len(p) buffered samples into p.
func (d *wavDecoder) decode(p []float32) {
	b := d.raw[d.lo : d.lo+len(p)*d.bps]
	switch d.enc {
	case encPCM16:
		PCM16LEBytesToFloat(p, b)
	case encMuLaw:
		MulawDecode(p, b)
	case encFloat32:
		for i := range p {
			p[i] = clampSample(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
		}
	}
	d.lo += len(b)
	d.phase = (d.phase + len(p)) % d.format.Channels
}

// fill reads more data bytes, keeping any incomplete frame at the front.
func (d *wavDecoder) fill() {
	if d.lo > 0 {
		d.hi = copy(d.raw, d.raw[d.lo:d.hi])
		d.lo = 0
	}
	want := len(d.raw) - d.hi
	if d.remain != wavUnknownSize {
		want = int(min(int64(want), d.remain))
	}
	if want == 0 {
		d.eof = true
		d.finish()
		return
	}
	n, err := d.r.Read(d.raw[d.hi : d.hi+want])
	d.hi += n
	d.read += int64(n)
	if d.remain != wavUnknownSize {
		d.remain -= int64(n)
		if d.remain == 0 {
			d.eof = true
		}
	}
	switch {
	case errors.Is(err, io.EOF):
		d.eof = true
	case err != nil:
		d.err = fmt.Errorf("wav: reading data: %w", err)
		return
	}
	if d.eof {
		d.finish()
	}
}

// finish decides, once the data is exhausted, whether the stream ended
// cleanly.
func (d *wavDecoder) finish() {
	frame := d.format.Channels * d.bps
	short := d.remain > 0
	partial := (d.read % int64(frame)) != 0
	if d.remain == wavUnknownSize {
		// A streaming writer stopped mid-frame; what we have is all there is.
		return
	}
	if short || partial {
		d.err = fmt.Errorf("wav: %w: data chunk declares %d bytes, stream ended after %d (%d bytes into a %d-byte frame)",
			ErrTruncated, d.read+d.remain, d.read, d.read%int64(frame), frame)
	}
}

// EncodeWAV writes samples (interleaved, f.Channels per frame) to w as a
// canonical 44-byte-header RIFF/WAVE file of 16-bit PCM at f.Rate. Samples
// are clamped to [-1, 1] and rounded. It writes through a small buffer and
// returns the first write error, or an error if len(samples) is not a whole
// number of frames or the result would not fit a RIFF file.
func EncodeWAV(w io.Writer, f Format, samples []float32) error {
	if f.Channels < 1 || f.Channels > wavMaxChannels || f.Rate < 1 || f.Rate > wavMaxRate {
		return fmt.Errorf("wav: cannot encode format %+v", f)
	}
	if len(samples)%f.Channels != 0 {
		return fmt.Errorf("wav: %d samples is not a whole number of %d-channel frames", len(samples), f.Channels)
	}
	dataSize := int64(len(samples)) * 2
	if dataSize > math.MaxUint32-36 {
		return fmt.Errorf("wav: %d bytes of samples do not fit a RIFF file", dataSize)
	}
	var h [44]byte
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+dataSize))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], wavPCM)
	binary.LittleEndian.PutUint16(h[22:], uint16(f.Channels))
	binary.LittleEndian.PutUint32(h[24:], uint32(f.Rate))
	binary.LittleEndian.PutUint32(h[28:], uint32(int(f.Rate)*f.Channels*2))
	binary.LittleEndian.PutUint16(h[32:], uint16(f.Channels*2))
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(dataSize))
	if _, err := w.Write(h[:]); err != nil {
		return fmt.Errorf("wav: writing header: %w", err)
	}
	var buf [4096]byte
	for len(samples) > 0 {
		k := min(len(samples), len(buf)/2)
		for i, s := range samples[:k] {
			binary.LittleEndian.PutUint16(buf[2*i:], uint16(floatToInt16(s)))
		}
		if _, err := w.Write(buf[:2*k]); err != nil {
			return fmt.Errorf("wav: writing samples: %w", err)
		}
		samples = samples[k:]
	}
	return nil
}
