package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"
)

// encodeTestWAV returns samples as a 16-bit PCM WAV file made by EncodeWAV.
func encodeTestWAV(t testing.TB, f Format, samples []float32) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := EncodeWAV(&b, f, samples); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// chunk is one RIFF chunk for wavFile; odd-sized bodies get a pad byte unless
// noPad is set.
type chunk struct {
	id    string
	body  []byte
	size  *uint32 // declared size if not len(body)
	noPad bool
}

// wavFile assembles a RIFF file from chunks, for headers EncodeWAV never
// writes.
func wavFile(magic string, chunks ...chunk) []byte {
	var b bytes.Buffer
	b.WriteString(magic)
	b.Write([]byte{0, 0, 0, 0}) // RIFF size: readers must not rely on it
	b.WriteString("WAVE")
	for _, c := range chunks {
		b.WriteString(c.id)
		size := uint32(len(c.body))
		if c.size != nil {
			size = *c.size
		}
		binary.Write(&b, binary.LittleEndian, size)
		b.Write(c.body)
		if len(c.body)%2 == 1 && !c.noPad {
			b.WriteByte(0)
		}
	}
	return b.Bytes()
}

func u32(v uint32) *uint32 { return &v }

// fmtChunk builds a plain fmt chunk (16 bytes).
func fmtChunk(code uint16, channels, rate, bits int) chunk {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint16(b[0:], code)
	binary.LittleEndian.PutUint16(b[2:], uint16(channels))
	binary.LittleEndian.PutUint32(b[4:], uint32(rate))
	binary.LittleEndian.PutUint32(b[8:], uint32(rate*channels*bits/8))
	binary.LittleEndian.PutUint16(b[12:], uint16(channels*bits/8))
	binary.LittleEndian.PutUint16(b[14:], uint16(bits))
	return chunk{id: "fmt ", body: b}
}

// extensibleFmt wraps sub in WAVE_FORMAT_EXTENSIBLE (40-byte fmt chunk).
func extensibleFmt(sub uint16, channels, rate, bits int) chunk {
	c := fmtChunk(wavExtensible, channels, rate, bits)
	b := append(c.body, make([]byte, 24)...)
	binary.LittleEndian.PutUint16(b[16:], 22)
	binary.LittleEndian.PutUint16(b[18:], uint16(bits))
	binary.LittleEndian.PutUint32(b[20:], 0x3)
	binary.LittleEndian.PutUint16(b[24:], sub)
	copy(b[26:], ksdataformatSubtypeSuffix[:])
	return chunk{id: "fmt ", body: b}
}

func pcm16Bytes(x []float32) ([]byte, []float32) {
	b := make([]byte, 2*len(x))
	want := make([]float32, len(x))
	for i, v := range x {
		s := floatToInt16(v)
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
		want[i] = float32(s) / 32768
	}
	return b, want
}

func float32Bytes(x []float32) ([]byte, []float32) {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b, x
}

func mulawBytes(x []float32) ([]byte, []float32) {
	b := make([]byte, len(x))
	MulawEncode(b, x)
	want := make([]float32, len(x))
	MulawDecode(want, b)
	return b, want
}

func TestDecodeWAVReadsEveryLayoutItSupports(t *testing.T) {
	stereo := append(tone(16000, 300, 0.5, 1000), tone(16000, 1200, 0.25, 1000)...)
	interleaved := make([]float32, len(stereo))
	for i := range 1000 {
		interleaved[2*i], interleaved[2*i+1] = stereo[i], stereo[1000+i]
	}
	mono := tone(8000, 440, 0.9, 801) // odd length: odd-sized μ-law chunk
	six := tone(48000, 1000, 0.7, 6*300)
	pcmMono, wantPCMMono := pcm16Bytes(mono)
	pcmSt, wantPCMSt := pcm16Bytes(interleaved)
	ulaw, wantULaw := mulawBytes(mono)
	flt, wantFlt := float32Bytes(interleaved)
	flt6, wantFlt6 := float32Bytes(six)
	list := chunk{id: "LIST", body: []byte("INFOISFT\x05\x00\x00\x00sox!\x00")}
	odd := chunk{id: "junk", body: []byte("abc")}
	ds64 := make([]byte, 28)
	binary.LittleEndian.PutUint64(ds64[8:], uint64(len(pcmSt)))

	tests := []struct {
		name string
		file []byte
		want Format
		data []float32
	}{
		{"16-bit PCM mono from EncodeWAV", encodeTestWAV(t, Format{Rate: 16000, Channels: 1}, mono), Format{16000, 1}, wantPCMMono},
		{"16-bit PCM stereo at 44.1 kHz", wavFile("RIFF", fmtChunk(wavPCM, 2, 44100, 16), chunk{id: "data", body: pcmSt}), Format{44100, 2}, wantPCMSt},
		{"8-bit μ-law mono at 8 kHz with an odd-sized data chunk", wavFile("RIFF", fmtChunk(wavMuLaw, 1, 8000, 8), chunk{id: "data", body: ulaw}), Format{8000, 1}, wantULaw},
		{"32-bit float stereo at 48 kHz", wavFile("RIFF", fmtChunk(wavFloat, 2, 48000, 32), chunk{id: "data", body: flt}), Format{48000, 2}, wantFlt},
		{"extensible 16-bit PCM stereo", wavFile("RIFF", extensibleFmt(wavPCM, 2, 22050, 16), chunk{id: "data", body: pcmSt}), Format{22050, 2}, wantPCMSt},
		{"extensible float with six channels", wavFile("RIFF", extensibleFmt(wavFloat, 6, 48000, 32), chunk{id: "data", body: flt6}), Format{48000, 6}, wantFlt6},
		{"unknown chunks before and after fmt are skipped", wavFile("RIFF", odd, fmtChunk(wavPCM, 1, 16000, 16), list, odd, chunk{id: "data", body: pcmMono}, list), Format{16000, 1}, wantPCMMono},
		{"an odd chunk without its pad byte is tolerated", wavFile("RIFF", fmtChunk(wavPCM, 1, 16000, 16), chunk{id: "junk", body: []byte("xyz"), noPad: true}, chunk{id: "data", body: pcmMono}), Format{16000, 1}, wantPCMMono},
		{"a data size of 0 from a streaming writer means until EOF", wavFile("RIFF", fmtChunk(wavPCM, 2, 8000, 16), chunk{id: "data", body: pcmSt, size: u32(0)}), Format{8000, 2}, wantPCMSt},
		{"a data size of 0xFFFFFFFF means until EOF", wavFile("RIFF", fmtChunk(wavMuLaw, 1, 8000, 8), chunk{id: "data", body: ulaw, size: u32(0xFFFFFFFF), noPad: true}), Format{8000, 1}, wantULaw},
		{"an unknown-length stream cut mid-frame drops the partial frame", wavFile("RIFF", fmtChunk(wavPCM, 2, 8000, 16), chunk{id: "data", body: pcmSt[:len(pcmSt)-3], size: u32(0xFFFFFFFF), noPad: true}), Format{8000, 2}, wantPCMSt[:len(wantPCMSt)-2]},
		{"RF64 takes the data size from ds64", wavFile("RF64", chunk{id: "ds64", body: ds64}, fmtChunk(wavPCM, 2, 16000, 16), chunk{id: "data", body: pcmSt, size: u32(0xFFFFFFFF)}, list), Format{16000, 2}, wantPCMSt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			open := func() Source {
				s, err := DecodeWAV(bytes.NewReader(tc.file))
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			got := checkSource(t, open, tc.want)
			assertSamples(t, got, tc.data)
			// The same bytes arriving one at a time decode the same.
			s, err := DecodeWAV(iotest.OneByteReader(bytes.NewReader(tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			assertSamples(t, readEverything(t, s, []int{333}), tc.data)
		})
	}
}

func assertSamples(t *testing.T, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d samples, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("sample %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestDecodeWAVClampsFloatOversAndNaN(t *testing.T) {
	in := []float32{1.5, -3, float32(math.NaN()), float32(math.Inf(1)), 0.25}
	b, _ := float32Bytes(in)
	s, err := DecodeWAV(bytes.NewReader(wavFile("RIFF", fmtChunk(wavFloat, 1, 8000, 32), chunk{id: "data", body: b})))
	if err != nil {
		t.Fatal(err)
	}
	assertSamples(t, readEverything(t, s, []int{16}), []float32{1, -1, 0, 1, 0.25})
}

func TestDecodeWAVRejectsBadInput(t *testing.T) {
	pcm, _ := pcm16Bytes(tone(8000, 440, 0.5, 100))
	good := wavFile("RIFF", fmtChunk(wavPCM, 1, 8000, 16), chunk{id: "data", body: pcm})
	tests := []struct {
		name    string
		file    []byte
		want    error
		mention string
	}{
		{"an empty stream is empty", nil, ErrEmpty, "empty"},
		{"plain text is not audio", []byte("this is a text file, honestly"), ErrNotAudio, "RIFF/WAVE"},
		{"an AVI file is not audio", []byte("RIFF\x00\x00\x00\x00AVI LIST"), ErrNotAudio, "RIFF/WAVE"},
		{"a header cut inside the RIFF preamble is truncated", good[:7], ErrTruncated, "cut short"},
		{"a header cut inside the fmt chunk is truncated", good[:30], ErrTruncated, "fmt chunk cut short"},
		{"a file without a data chunk is truncated", good[:36], ErrTruncated, "no data chunk"},
		{"a data chunk before fmt is not audio", wavFile("RIFF", chunk{id: "data", body: pcm}, fmtChunk(wavPCM, 1, 8000, 16)), ErrNotAudio, "before the fmt"},
		{"MS ADPCM (format 2) is unsupported and named", wavFile("RIFF", fmtChunk(wavADPCM, 1, 8000, 4), chunk{id: "data", body: pcm}), ErrUnsupported, "format code 2 (Microsoft ADPCM)"},
		{"24-bit PCM is unsupported and named", wavFile("RIFF", fmtChunk(wavPCM, 2, 48000, 24), chunk{id: "data", body: pcm[:192]}), ErrUnsupported, "24 bits"},
		{"extensible 24-bit PCM is unsupported and named", wavFile("RIFF", extensibleFmt(wavPCM, 2, 48000, 24), chunk{id: "data", body: pcm[:192]}), ErrUnsupported, "in WAVE_FORMAT_EXTENSIBLE with 24 bits"},
		{"A-law is unsupported and named", wavFile("RIFF", fmtChunk(wavALaw, 1, 8000, 8), chunk{id: "data", body: pcm}), ErrUnsupported, "A-law"},
		{"zero channels is not audio", wavFile("RIFF", fmtChunk(wavPCM, 0, 8000, 16), chunk{id: "data", body: pcm}), ErrNotAudio, "0 channels"},
		{"a sample rate of zero is not audio", wavFile("RIFF", fmtChunk(wavPCM, 1, 0, 16), chunk{id: "data", body: pcm}), ErrNotAudio, "sample rate of 0"},
		{"a data chunk of declared size 0 followed by LIST is empty", wavFile("RIFF", fmtChunk(wavPCM, 1, 8000, 16), chunk{id: "data"}, chunk{id: "LIST", body: []byte("INFO")}), ErrEmpty, "data chunk is empty"},
		{"a header-only file is empty", wavFile("RIFF", fmtChunk(wavPCM, 1, 8000, 16), chunk{id: "data"}), ErrEmpty, "data chunk is empty"},
		{"a data chunk promising bytes the file lacks is truncated", wavFile("RIFF", fmtChunk(wavPCM, 1, 8000, 16), chunk{id: "data", size: u32(200)}), ErrTruncated, "declares 200 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := DecodeWAV(bytes.NewReader(tc.file))
			if !errors.Is(err, tc.want) {
				t.Fatalf("DecodeWAV = %v, %v; want an error wrapping %v", s, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
		})
	}
}

func TestDecodeWAVDeliversWhatPrecedesACut(t *testing.T) {
	x := tone(8000, 440, 0.5, 100)
	pcm, want := pcm16Bytes(x)
	tests := []struct {
		name   string
		ch     int
		cut    int // bytes of data kept
		frames int
	}{
		{"a mono file cut between samples keeps the samples before it", 1, 120, 60},
		{"a mono file cut inside a sample keeps the whole samples", 1, 121, 60},
		{"a stereo file cut inside a frame keeps only whole frames", 2, 122, 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := wavFile("RIFF", fmtChunk(wavPCM, tc.ch, 8000, 16), chunk{id: "data", body: pcm[:tc.cut], size: u32(200), noPad: true})
			s, err := DecodeWAV(bytes.NewReader(f))
			if err != nil {
				t.Fatal(err)
			}
			var got []float32
			p := make([]float32, 7)
			for {
				n, err := s.Read(p)
				got = append(got, p[:n]...)
				if err != nil {
					if !errors.Is(err, ErrTruncated) {
						t.Fatalf("stream ended with %v, want ErrTruncated", err)
					}
					break
				}
			}
			assertSamples(t, got, want[:tc.frames*tc.ch])
			if n, err := s.Read(p); n != 0 || !errors.Is(err, ErrTruncated) {
				t.Errorf("Read after the error = %d, %v; the error must stick", n, err)
			}
		})
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestDecodeWAVStreamsInsteadOfReadingTheWholeFile(t *testing.T) {
	file := encodeTestWAV(t, Format{Rate: 16000, Channels: 2}, make([]float32, 2*16000*10)) // 640 kB
	cr := &countingReader{r: bytes.NewReader(file)}
	s, err := DecodeWAV(cr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(make([]float32, 640)); err != nil {
		t.Fatal(err)
	}
	if cr.n > 16<<10 {
		t.Errorf("decoding the first 20 ms read %d bytes of a %d-byte file", cr.n, len(file))
	}
}

func TestDecodeWAVReadsWithoutAllocating(t *testing.T) {
	file := encodeTestWAV(t, Format{Rate: 16000, Channels: 2}, tone(16000, 300, 0.5, 2*16000*30))
	s, err := DecodeWAV(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	p := make([]float32, 640)
	if a := testing.AllocsPerRun(200, func() { s.Read(p) }); a != 0 {
		t.Errorf("Read allocates %v times per call", a)
	}
}

func TestEncodeWAVRejectsWhatItCannotWrite(t *testing.T) {
	tests := []struct {
		name    string
		f       Format
		samples []float32
	}{
		{"a partial stereo frame", Format{Rate: 8000, Channels: 2}, make([]float32, 3)},
		{"zero channels", Format{Rate: 8000}, nil},
		{"a zero rate", Format{Channels: 1}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name+" is an error", func(t *testing.T) {
			if err := EncodeWAV(io.Discard, tc.f, tc.samples); err == nil {
				t.Error("EncodeWAV succeeded")
			}
		})
	}
}

func FuzzDecodeWAV(f *testing.F) {
	pcm, _ := pcm16Bytes(tone(8000, 440, 0.5, 40))
	flt, _ := float32Bytes(tone(8000, 440, 0.5, 20))
	f.Add(encodeTestWAV(f, Format{Rate: 16000, Channels: 2}, tone(16000, 300, 0.5, 64)))
	f.Add(wavFile("RIFF", fmtChunk(wavMuLaw, 1, 8000, 8), chunk{id: "data", body: pcm[:33]}))
	f.Add(wavFile("RIFF", extensibleFmt(wavFloat, 3, 48000, 32), chunk{id: "data", body: flt, size: u32(0)}))
	f.Add(wavFile("RF64", chunk{id: "ds64", body: make([]byte, 28)}, fmtChunk(wavPCM, 1, 8000, 16), chunk{id: "data", body: pcm, size: u32(0xFFFFFFFF)}))
	f.Add(wavFile("RIFF", chunk{id: "junk", body: []byte("x"), noPad: true}, fmtChunk(wavPCM, 1, 8000, 16), chunk{id: "data", body: pcm, size: u32(1000)}))
	f.Add(wavFile("RIFF", fmtChunk(wavADPCM, 1, 8000, 4)))
	f.Add([]byte("RIFF\x24\x00\x00\x00WAVEfmt "))
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := DecodeWAV(bytes.NewReader(data))
		checkFuzzedSource(t, src, err, len(data))
	})
}

func BenchmarkDecodeWAV(b *testing.B) {
	const seconds = 10
	f := Format{Rate: 44100, Channels: 2}
	file := encodeTestWAV(b, f, tone(44100, 440, 0.5, 2*44100*seconds))
	p := make([]float32, 2*320)
	b.SetBytes(int64(len(file)))
	for b.Loop() {
		s, err := DecodeWAV(bytes.NewReader(file))
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := s.Read(p); err != nil {
				break
			}
		}
	}
	b.ReportMetric(seconds*float64(b.N)/b.Elapsed().Seconds(), "x_realtime")
}
