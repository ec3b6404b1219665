package audio

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkSource is the contract every Source in this package runs (after
// gopxl/beep's asserts): the format is the one expected, reads of any size
// deliver the same samples as reads of one large buffer, every return is one
// the Source documentation allows, samples stay in [-1, 1], and io.EOF is
// sticky. open must return a fresh Source over the same audio each call. It
// returns the samples.
func checkSource(t *testing.T, open func() Source, want Format) []float32 {
	t.Helper()
	src := open()
	if got := src.Format(); got != want {
		t.Fatalf("Format() = %+v, want %+v", got, want)
	}
	if n, err := src.Read(nil); n != 0 || err != nil {
		t.Errorf("Read(nil) = %d, %v; want 0, nil", n, err)
	}
	all := readEverything(t, src, []int{1 << 16})
	if len(all)%want.Channels != 0 {
		t.Errorf("read %d samples, not a whole number of %d-channel frames", len(all), want.Channels)
	}
	for i, v := range all {
		if !(v >= -1 && v <= 1) {
			t.Fatalf("sample %d = %v, outside [-1, 1]", i, v)
		}
	}
	for range 2 {
		if n, err := src.Read(make([]float32, 8)); n != 0 || err != io.EOF {
			t.Fatalf("Read after the end = %d, %v; want 0, io.EOF", n, err)
		}
	}
	odd := readEverything(t, open(), []int{1, 2, 3, 5, 7, 64, 319, 1001, 4097})
	if len(odd) != len(all) {
		t.Fatalf("reads of odd sizes gave %d samples, one large read %d", len(odd), len(all))
	}
	for i := range all {
		if math.Float32bits(all[i]) != math.Float32bits(odd[i]) {
			t.Fatalf("sample %d: %v with odd-sized reads, %v with large reads", i, odd[i], all[i])
		}
	}
	return all
}

// readEverything reads src to io.EOF with buffers cycling through sizes and
// checks every return against the Source contract.
func readEverything(t *testing.T, src Source, sizes []int) []float32 {
	t.Helper()
	var out []float32
	for i := 0; ; i++ {
		p := make([]float32, sizes[i%len(sizes)])
		n, err := src.Read(p)
		if n < 0 || n > len(p) {
			t.Fatalf("Read(len %d) returned n = %d", len(p), n)
		}
		if n > 0 && err != nil {
			t.Fatalf("Read returned n = %d together with error %v", n, err)
		}
		out = append(out, p[:n]...)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if n == 0 {
			t.Fatalf("Read(len %d) returned 0, nil", len(p))
		}
		if i > 10_000_000 {
			t.Fatal("no end after 10 million reads")
		}
	}
}

// tone returns n samples of a sine of frequency hz at rate.
func tone(rate SampleRate, hz, amp float64, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(amp * math.Sin(2*math.Pi*hz*float64(i)/float64(rate)))
	}
	return x
}

// toneAmplitude estimates the amplitude of the hz component of x with a
// Blackman-Harris window, whose -92 dB side lobes let it measure a tone far
// below others.
func toneAmplitude(x []float32, rate SampleRate, hz float64) float64 {
	n := len(x)
	var re, im, wsum float64
	for i, v := range x {
		a := 2 * math.Pi * float64(i) / float64(n-1)
		w := 0.35875 - 0.48829*math.Cos(a) + 0.14128*math.Cos(2*a) - 0.01168*math.Cos(3*a)
		ph := 2 * math.Pi * hz * float64(i) / float64(rate)
		re += w * float64(v) * math.Cos(ph)
		im += w * float64(v) * math.Sin(ph)
		wsum += w
	}
	return 2 * math.Hypot(re, im) / wsum
}

func TestDecodeSniffsTheFormat(t *testing.T) {
	pcm := encodeTestWAV(t, Format{Rate: 16000, Channels: 1}, tone(16000, 440, 0.5, 800))
	mp3, err := os.ReadFile("testdata/tone_mono_16k.mp3")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want Format
	}{
		{"a WAV file is decoded as WAV", pcm, Format{Rate: 16000, Channels: 1}},
		{"an MP3 file with an ID3 tag is decoded as MP3", mustRead(t, "testdata/tone_stereo_44k.mp3"), Format{Rate: 44100, Channels: 2}},
		{"an MP3 file starting with a frame sync is decoded as MP3", mp3, Format{Rate: 16000, Channels: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkSource(t, func() Source {
				s, err := Decode(bytes.NewReader(tc.data))
				if err != nil {
					t.Fatal(err)
				}
				return s
			}, tc.want)
		})
	}
}

func TestDecodeRejectsWhatItCannotRead(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		want    error
		mention string
	}{
		{"an empty stream is empty", nil, ErrEmpty, "empty"},
		{"text is not audio", []byte("Dear customer, your call is important to us."), ErrNotAudio, "neither WAV nor MP3"},
		{"FLAC is named as unsupported", []byte("fLaC\x00\x00\x00\x22........"), ErrUnsupported, "FLAC"},
		{"Ogg is named as unsupported", []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00"), ErrUnsupported, "Ogg"},
		{"a RIFF header cut after four bytes is truncated", []byte("RIFF"), ErrTruncated, "cut short"},
		{"an MPEG 2.5 (8 kHz) MP3 is unsupported", mustRead(t, "testdata/tone_mono_8k_mpeg25.mp3"), ErrUnsupported, "MPEG 2.5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Decode(bytes.NewReader(tc.data))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %v, %v; want an error wrapping %v", s, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
		})
	}
}

func TestOpenNamesTheFileInEveryError(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := encodeTestWAV(t, Format{Rate: 8000, Channels: 2}, tone(8000, 300, 0.5, 400))
	// A data chunk that promises more than the file holds fails on Read,
	// after the header was accepted.
	cut := good[:len(good)-100]

	t.Run("a missing file names the path", func(t *testing.T) {
		_, _, err := Open(filepath.Join(dir, "nope.wav"))
		if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "nope.wav") {
			t.Fatalf("Open = %v", err)
		}
	})
	t.Run("a directory gives the read error, not an empty-file error", func(t *testing.T) {
		_, _, err := Open(dir)
		if err == nil || errors.Is(err, ErrEmpty) || !strings.Contains(err.Error(), dir) {
			t.Fatalf("Open(directory) = %v", err)
		}
	})
	t.Run("a text file is not audio and names the path", func(t *testing.T) {
		p := write("notes.wav", []byte("not a recording at all"))
		_, c, err := Open(p)
		if !errors.Is(err, ErrNotAudio) || !strings.HasPrefix(err.Error(), p+": ") || c != nil {
			t.Fatalf("Open = %v, closer %v", err, c)
		}
	})
	t.Run("a file cut inside its data fails on Read and names the path", func(t *testing.T) {
		p := write("cut.wav", cut)
		src, c, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		chans, err := ReadAll(src)
		if !errors.Is(err, ErrTruncated) || !strings.HasPrefix(err.Error(), p+": ") {
			t.Fatalf("ReadAll error = %v", err)
		}
		if got, want := len(chans[0]), 200-25; got != want {
			t.Errorf("delivered %d frames before the cut, want %d", got, want)
		}
	})
	t.Run("a good file opens and its closer closes the file", func(t *testing.T) {
		p := write("good.wav", good)
		src, c, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ReadAll(src); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err == nil {
			t.Error("second Close of the file succeeded; the closer is not the file")
		}
	})
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzDecode(f *testing.F) {
	f.Add(encodeTestWAV(f, Format{Rate: 8000, Channels: 2}, tone(8000, 300, 0.5, 64)))
	f.Add(mustRead(f, "testdata/tone_mono_16k.mp3")[:600])
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVE"))
	f.Add([]byte("ID3\x03\x00\x00\x00\x00\x00\x05abcde\xff\xfb\x90\x00"))
	f.Add([]byte("fLaC"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := Decode(bytes.NewReader(data))
		checkFuzzedSource(t, src, err, len(data))
	})
}

// checkFuzzedSource asserts what must hold for any input: an error wraps one
// of the package's sentinels, and a Source delivers finite samples in range,
// ends, and yields no more audio than the input could describe.
func checkFuzzedSource(t *testing.T, src Source, err error, inputLen int) {
	t.Helper()
	if err != nil {
		if src != nil {
			t.Fatalf("Source %v returned with error %v", src, err)
		}
		checkSentinel(t, err)
		return
	}
	f := src.Format()
	if f.Rate <= 0 || f.Channels <= 0 {
		t.Fatalf("Format() = %+v", f)
	}
	p := make([]float32, 1000)
	total := 0
	// An MP3 frame of a few dozen bytes can describe 1152 frames of audio;
	// nothing this package decodes expands more than that.
	limit := 2*1152*(inputLen/24+2) + 1
	for {
		n, err := src.Read(p)
		total += n
		for _, v := range p[:n] {
			if !(v >= -1 && v <= 1) {
				t.Fatalf("sample %v outside [-1, 1]", v)
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			checkSentinel(t, err)
			return
		}
		if n == 0 || total > limit {
			t.Fatalf("Read returned %d (total %d from %d bytes) without an error", n, total, inputLen)
		}
	}
}

func checkSentinel(t *testing.T, err error) {
	t.Helper()
	for _, s := range []error{ErrEmpty, ErrNotAudio, ErrUnsupported, ErrTruncated} {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error wraps no sentinel: %v", err)
}
