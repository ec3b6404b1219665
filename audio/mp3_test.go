package audio

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecodeMP3ReadsTheFixtures(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		want    Format
		seconds float64
		tones   []float64 // dominant frequency per channel
	}{
		{"a stereo 44.1 kHz file with an ID3 tag keeps both channels apart", "testdata/tone_stereo_44k.mp3", Format{Rate: 44100, Channels: 2}, 1.5, []float64{440, 1000}},
		{"a mono 16 kHz file decodes to one channel", "testdata/tone_mono_16k.mp3", Format{Rate: 16000, Channels: 1}, 1.0, []float64{300}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := mustRead(t, tc.file)
			all := checkSource(t, func() Source {
				s, err := DecodeMP3(bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				return s
			}, tc.want)
			ch := tc.want.Channels
			frames := len(all) / ch
			// lame adds its encoder delay and pads the last frame, up to
			// about two MPEG frames.
			if got := float64(frames) / float64(tc.want.Rate); got < tc.seconds || got > tc.seconds+0.1 {
				t.Errorf("decoded %.3f s, want %.1f s plus encoder padding", got, tc.seconds)
			}
			per := make([][]float32, ch)
			for c := range per {
				per[c] = make([]float32, frames)
			}
			Deinterleave(per, all)
			for c, want := range tc.tones {
				x := per[c][frames/4 : 3*frames/4]
				at := toneAmplitude(x, tc.want.Rate, want)
				// A 0.5 amplitude tone (-6 dB in the generator).
				if at < 0.4 || at > 0.6 {
					t.Errorf("channel %d: %g Hz at amplitude %.3f, want about 0.5", c, want, at)
				}
				for _, other := range tc.tones {
					if other != want && toneAmplitude(x, tc.want.Rate, other) > 0.01 {
						t.Errorf("channel %d carries the other channel's %g Hz tone", c, other)
					}
				}
			}
		})
	}
}

func TestDecodeMP3RejectsBadInput(t *testing.T) {
	stereo := mustRead(t, "testdata/tone_stereo_44k.mp3")
	mono := mustRead(t, "testdata/tone_mono_16k.mp3")
	// Find the first frame of the stereo file after its ID3 tag.
	tag := 10 + int(stereo[6])<<21 | int(stereo[7])<<14 | int(stereo[8])<<7 | int(stereo[9])
	layer2 := bytes.Clone(mono[:400])
	layer2[1] = layer2[1]&^0x06 | 0x04 // layer bits 10 = layer II
	free := bytes.Clone(mono[:400])
	free[2] &= 0x0F // bitrate index 0 = free format
	tests := []struct {
		name    string
		data    []byte
		want    error
		mention string
	}{
		{"an empty stream is empty", nil, ErrEmpty, "empty"},
		{"text is not MP3", []byte(strings.Repeat("no frames here ", 100)), ErrNotAudio, "no MPEG audio frame header"},
		{"an ID3 tag cut short is truncated", stereo[:tag-5], ErrTruncated, "ID3 tag"},
		{"a file cut inside the first frame is truncated", stereo[:tag+40], ErrTruncated, "first frame"},
		{"a file cut inside the frame header is truncated", mono[:3], ErrTruncated, "header cut short"},
		{"MPEG 2.5 is unsupported and named", mustRead(t, "testdata/tone_mono_8k_mpeg25.mp3"), ErrUnsupported, "MPEG 2.5"},
		{"layer II is unsupported and named", layer2, ErrUnsupported, "layer 2"},
		{"free-format bitrate is unsupported and named", free, ErrUnsupported, "free-format"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := DecodeMP3(bytes.NewReader(tc.data))
			if !errors.Is(err, tc.want) {
				t.Fatalf("DecodeMP3 = %v, %v; want an error wrapping %v", s, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
		})
	}
}

func TestDecodeMP3StopsCleanlyOnACutOrCorruptStream(t *testing.T) {
	stereo := mustRead(t, "testdata/tone_stereo_44k.mp3")
	garbled := bytes.Clone(stereo)
	for i := len(garbled) / 2; i < len(garbled); i += 7 {
		garbled[i] ^= 0xA5
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"a file cut in the middle", stereo[:len(stereo)/2]},
		{"a file whose second half is garbled", garbled},
	}
	for _, tc := range tests {
		t.Run(tc.name+" delivers the first half and then ends or fails with a sentinel", func(t *testing.T) {
			s, err := DecodeMP3(bytes.NewReader(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			p := make([]float32, 777)
			total := 0
			for {
				n, err := s.Read(p)
				total += n
				if err != nil {
					if err.Error() != "EOF" {
						checkSentinel(t, err)
					}
					break
				}
			}
			if frames := total / 2; frames < 44100/2 {
				t.Errorf("only %d frames before the damage, want at least half a second", frames)
			}
		})
	}
}

// mp3Frames returns the offsets of the frames of an MP3 file, walking their
// headers from the first one after the ID3 tag.
func mp3Frames(t *testing.T, data []byte) []int {
	t.Helper()
	at := 0
	if bytes.HasPrefix(data, []byte("ID3")) {
		at = 10 + (int(data[6])<<21 | int(data[7])<<14 | int(data[8])<<7 | int(data[9]))
	}
	var offs []int
	for at+4 <= len(data) {
		size := mp3Header(uint32(data[at])<<24 | uint32(data[at+1])<<16 | uint32(data[at+2])<<8 | uint32(data[at+3])).frameSize()
		if size == 0 || at+size > len(data) {
			break
		}
		offs = append(offs, at)
		at += size
	}
	if len(offs) < 10 {
		t.Fatalf("found only %d frames", len(offs))
	}
	return offs
}

// readToEnd reads src to its end and returns the sample count and the error
// that ended it.
func readToEnd(src Source) (int, error) {
	p := make([]float32, 1000)
	total := 0
	for {
		n, err := src.Read(p)
		total += n
		if err != nil {
			return total, err
		}
	}
}

func TestDecodeMP3ReportsAFileCutInsideAFrame(t *testing.T) {
	for _, file := range []string{"testdata/tone_stereo_44k.mp3", "testdata/tone_mono_16k.mp3"} {
		data := mustRead(t, file)
		offs := mp3Frames(t, data)
		mid := offs[len(offs)/2]
		whole, err := readToEnd(must(DecodeMP3(bytes.NewReader(data))))
		if err != io.EOF {
			t.Fatalf("%s: the whole file ends with %v, want io.EOF", file, err)
		}
		tests := []struct {
			name      string
			data      []byte
			truncated bool
		}{
			{"cut in the middle of a frame is truncated", data[:mid+100], true},
			{"cut inside a frame header is truncated", data[:mid+2], true},
			{"cut exactly between two frames ends cleanly", data[:mid], false},
			{"followed by an ID3v1 tag ends cleanly", append(bytes.Clone(data), append([]byte("TAG"), make([]byte, 125)...)...), false},
		}
		for _, tc := range tests {
			t.Run(filepath.Base(file)+" "+tc.name, func(t *testing.T) {
				n, err := readToEnd(must(DecodeMP3(bytes.NewReader(tc.data))))
				if !tc.truncated {
					if err != io.EOF {
						t.Fatalf("ended with %v, want io.EOF", err)
					}
					return
				}
				if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "into a") {
					t.Fatalf("ended with %v, want an error wrapping ErrTruncated that says where", err)
				}
				// Everything before the cut is still delivered: within
				// the two frames the decoder's overlap and bit reservoir
				// reach back.
				if frac := float64(n) / float64(whole); frac < 0.4 || frac > 0.6 {
					t.Errorf("delivered %d of the whole file's %d samples before the error", n, whole)
				}
			})
		}
	}
}

func TestDecodeMP3StopsReadingAfterAMegabyteWithoutAFrame(t *testing.T) {
	// go-mp3 looks for the next frame one byte (and one allocation) at a
	// time to the end of the input: the work is counted in bytes read.
	mono := mustRead(t, "testdata/tone_mono_16k.mp3")
	offs := mp3Frames(t, mono)
	junk := bytes.Repeat([]byte("no frame here "), 8<<20/14)
	tests := []struct {
		name    string
		data    []byte
		mention string
	}{
		{"junk after ten frames", append(bytes.Clone(mono[:offs[10]]), junk...), "no complete frame in the 1048576 bytes after 0.36 s"},
		{"junk after the first frame header", append(bytes.Clone(mono[:4]), junk...), "no complete frame"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &countingReader{r: bytes.NewReader(tc.data)}
			src, err := DecodeMP3(in)
			if err == nil {
				_, err = readToEnd(src)
			}
			if !errors.Is(err, ErrNotAudio) || !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("ended with %v, want ErrNotAudio mentioning %q", err, tc.mention)
			}
			if limit := offs[10] + mp3ResyncLimit + 2*4096; in.n > limit {
				t.Errorf("read %d of %d bytes, want at most %d", in.n, len(tc.data), limit)
			}
		})
	}
}

func must(s Source, err error) Source {
	if err != nil {
		panic(err)
	}
	return s
}

// panicky serves its data and then panics, standing in for go-mp3 panicking
// on malformed input anywhere below DecodeMP3 and Read.
type panicky struct {
	data  []byte
	after int
}

func (p *panicky) Read(b []byte) (int, error) {
	if p.after <= 0 {
		panic("index out of range [24] with length 24")
	}
	n := copy(b, p.data[:min(len(p.data), p.after, len(b))])
	p.data, p.after = p.data[n:], p.after-n
	return n, nil
}

func TestDecodeMP3TurnsDecoderPanicsIntoErrors(t *testing.T) {
	data := mustRead(t, "testdata/tone_mono_16k.mp3")
	t.Run("a panic while opening is an ErrNotAudio error", func(t *testing.T) {
		// The header scan peeks 4 KiB; go-mp3's first frame read goes past it.
		s, err := DecodeMP3(&panicky{data: data, after: 60})
		if !errors.Is(err, ErrNotAudio) || !strings.Contains(err.Error(), "panic") || s != nil {
			t.Fatalf("DecodeMP3 = %v, %v", s, err)
		}
	})
	t.Run("a panic while reading is an ErrNotAudio error that sticks", func(t *testing.T) {
		s, err := DecodeMP3(&panicky{data: data, after: 2000})
		if err != nil {
			t.Fatal(err)
		}
		p := make([]float32, 100)
		for {
			n, err := s.Read(p)
			if err != nil {
				if !errors.Is(err, ErrNotAudio) || !strings.Contains(err.Error(), "panic") {
					t.Fatalf("Read error = %v", err)
				}
				break
			}
			if n == 0 {
				t.Fatal("Read returned 0, nil")
			}
		}
		if _, err := s.Read(p); !errors.Is(err, ErrNotAudio) {
			t.Errorf("Read after the panic = %v, want the same error", err)
		}
	})
}

func BenchmarkDecodeMP3Resample(b *testing.B) {
	data := mustRead(b, "testdata/tone_stereo_44k.mp3")
	p := make([]float32, 2*320)
	b.SetBytes(int64(len(data)))
	var seconds float64
	for b.Loop() {
		src, err := DecodeMP3(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		r := Resample(src, PipelineRate)
		frames := 0
		for {
			n, err := r.Read(p)
			frames += n / 2
			if err != nil {
				break
			}
		}
		seconds = float64(frames) / float64(PipelineRate)
	}
	b.ReportMetric(seconds*float64(b.N)/b.Elapsed().Seconds(), "x_realtime")
}

func FuzzDecodeMP3(f *testing.F) {
	mono := mustRead(f, "testdata/tone_mono_16k.mp3")
	stereo := mustRead(f, "testdata/tone_stereo_44k.mp3")
	// Small seeds: the fuzzer minimises every input that finds new
	// coverage, which with whole files takes minutes per input.
	tag := 10 + int(stereo[6])<<21 | int(stereo[7])<<14 | int(stereo[8])<<7 | int(stereo[9])
	f.Add(stereo[:tag+700])
	f.Add(mono[:700])
	f.Add(mustRead(f, "testdata/tone_mono_8k_mpeg25.mp3")[:300])
	f.Add([]byte("ID3\x04\x00\x10\x00\x00\x00\x02ab\xff\xf3\x28\xc4"))
	f.Add([]byte("\xff\xfa500000000000\xff\xff0000" + strings.Repeat("0", 124)))
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := DecodeMP3(bytes.NewReader(data))
		checkFuzzedSource(t, src, err, len(data))
	})
}
