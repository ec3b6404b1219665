package audio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDeinterleaveSplitsChannels(t *testing.T) {
	tests := []struct {
		name string
		ch   int
		src  []float32
		dstN int
		want int
	}{
		{"mono copies", 1, []float32{1, 2, 3}, 3, 3},
		{"stereo alternates left and right", 2, []float32{1, 2, 3, 4, 5, 6}, 3, 3},
		{"three channels rotate", 3, []float32{1, 2, 3, 4, 5, 6}, 2, 2},
		{"a trailing partial frame is left out", 2, []float32{1, 2, 3, 4, 5}, 3, 2},
		{"short destinations limit the frames", 2, []float32{1, 2, 3, 4, 5, 6}, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([][]float32, tc.ch)
			for c := range dst {
				dst[c] = make([]float32, tc.dstN)
			}
			if n := Deinterleave(dst, tc.src); n != tc.want {
				t.Fatalf("Deinterleave returned %d, want %d", n, tc.want)
			}
			for c := range dst {
				for i := range tc.want {
					if dst[c][i] != tc.src[i*tc.ch+c] {
						t.Errorf("dst[%d][%d] = %v, want %v", c, i, dst[c][i], tc.src[i*tc.ch+c])
					}
				}
			}
		})
	}
}

func TestSliceSourceKeepsTheContract(t *testing.T) {
	x := tone(16000, 300, 0.5, 3*1001)
	got := checkSource(t, func() Source { return NewSliceSource(Format{Rate: 16000, Channels: 3}, x) }, Format{Rate: 16000, Channels: 3})
	assertSamples(t, got, x)
}

func TestLoadCall(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, f Format, x []float32) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, encodeTestWAV(t, f, x), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	st := make([]float32, 2*8000)
	for i := range 8000 {
		st[2*i] = 0.5 // agent: DC, so resampling keeps it exactly
		st[2*i+1] = -0.25
	}
	t.Run("a stereo 8 kHz WAV becomes agent and caller at 16 kHz", func(t *testing.T) {
		agent, caller, err := LoadCall(write("call.wav", Format{Rate: 8000, Channels: 2}, st))
		if err != nil {
			t.Fatal(err)
		}
		if len(agent) != 16000 || len(caller) != 16000 {
			t.Fatalf("got %d and %d samples, want 16000 each", len(agent), len(caller))
		}
		if a, c := agent[8000], caller[8000]; abs32(a-0.5) > 1e-4 || abs32(c+0.25) > 1e-4 {
			t.Errorf("mid-call samples %v, %v; want 0.5 for the agent, -0.25 for the caller", a, c)
		}
	})
	t.Run("a stereo MP3 puts the left tone on the agent and the right on the caller", func(t *testing.T) {
		agent, caller, err := LoadCall("testdata/tone_stereo_44k.mp3")
		if err != nil {
			t.Fatal(err)
		}
		a, c := agent[4000:20000], caller[4000:20000]
		if toneAmplitude(a, PipelineRate, 440) < 0.4 || toneAmplitude(c, PipelineRate, 1000) < 0.4 ||
			toneAmplitude(a, PipelineRate, 1000) > 0.01 || toneAmplitude(c, PipelineRate, 440) > 0.01 {
			t.Error("the agent should carry 440 Hz and the caller 1 kHz, each alone")
		}
	})
	t.Run("a mono file is not a call and the error names it", func(t *testing.T) {
		p := write("mono.wav", Format{Rate: 16000, Channels: 1}, tone(16000, 300, 0.5, 1600))
		_, _, err := LoadCall(p)
		if !errors.Is(err, ErrNotStereo) || !strings.Contains(err.Error(), p) {
			t.Errorf("LoadCall = %v, want ErrNotStereo naming %s", err, p)
		}
	})
	t.Run("a mono MP3 is not a call", func(t *testing.T) {
		if _, _, err := LoadCall("testdata/tone_mono_16k.mp3"); !errors.Is(err, ErrNotStereo) {
			t.Errorf("LoadCall = %v, want ErrNotStereo", err)
		}
	})
	t.Run("an empty file is empty and the error names it", func(t *testing.T) {
		p := filepath.Join(dir, "empty.wav")
		os.WriteFile(p, nil, 0o644)
		_, _, err := LoadCall(p)
		if !errors.Is(err, ErrEmpty) || !strings.Contains(err.Error(), p) {
			t.Errorf("LoadCall = %v, want ErrEmpty naming %s", err, p)
		}
	})
	t.Run("a WAV with a header and no samples is empty", func(t *testing.T) {
		_, _, err := LoadCall(write("nothing.wav", Format{Rate: 16000, Channels: 2}, nil))
		if !errors.Is(err, ErrEmpty) {
			t.Errorf("LoadCall = %v, want ErrEmpty", err)
		}
	})
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

func TestFramerCutsTwentyMillisecondFrames(t *testing.T) {
	tests := []struct {
		name    string
		samples int
		frames  int
		last    int // samples of the last frame that came from the stream
	}{
		{"an exact number of frames has no padding", 3 * FrameSize, 3, FrameSize},
		{"a partial last frame is zero-padded and reported", 2*FrameSize + 17, 3, 17},
		{"a stream shorter than a frame gives one padded frame", 5, 1, 5},
		{"an empty stream gives no frames", 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := make([]float32, tc.samples)
			for i := range x {
				x[i] = float32(i+1) / float32(tc.samples+1)
			}
			// A trickling source checks that Next assembles frames from
			// short reads.
			fr := NewFramer(trickle{NewSliceSource(Format{Rate: PipelineRate, Channels: 1}, x)})
			frame := make([]float32, FrameSize+3)
			for i := range frame {
				frame[i] = 9
			}
			n := 0
			for {
				start, err := fr.Next(frame)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if want := time.Duration(n) * FrameDuration; start != want {
					t.Errorf("frame %d starts at %v, want %v", n, start, want)
				}
				filled := fr.Filled()
				if n < tc.frames-1 && filled != FrameSize || n == tc.frames-1 && filled != tc.last {
					t.Errorf("frame %d: Filled() = %d", n, filled)
				}
				for i := range FrameSize {
					want := float32(0)
					if i < filled {
						want = x[n*FrameSize+i]
					}
					if frame[i] != want {
						t.Fatalf("frame %d sample %d = %v, want %v", n, i, frame[i], want)
					}
				}
				if frame[FrameSize] != 9 {
					t.Fatal("Next wrote past FrameSize")
				}
				n++
			}
			if n != tc.frames {
				t.Errorf("%d frames, want %d", n, tc.frames)
			}
			if _, err := fr.Next(frame); err != io.EOF {
				t.Errorf("Next after the end = %v, want io.EOF", err)
			}
		})
	}
}

func TestFramerRejectsTheWrongFormat(t *testing.T) {
	for _, f := range []Format{{Rate: 8000, Channels: 1}, {Rate: PipelineRate, Channels: 2}} {
		t.Run(fmt.Sprintf("%d Hz with %d channels is refused", f.Rate, f.Channels), func(t *testing.T) {
			fr := NewFramer(NewSliceSource(f, make([]float32, 1000)))
			if _, err := fr.Next(make([]float32, FrameSize)); !errors.Is(err, ErrUnsupported) {
				t.Errorf("Next = %v, want ErrUnsupported", err)
			}
		})
	}
}

func TestFramerPassesOnSourceErrors(t *testing.T) {
	boom := fmt.Errorf("%w: cut", ErrTruncated)
	fr := NewFramer(failing{NewSliceSource(Format{Rate: PipelineRate, Channels: 1}, make([]float32, FrameSize+10)), boom})
	frame := make([]float32, FrameSize)
	if _, err := fr.Next(frame); err != nil {
		t.Fatalf("first frame: %v", err)
	}
	for range 2 {
		if _, err := fr.Next(frame); !errors.Is(err, boom) {
			t.Fatalf("Next = %v, want %v every time", err, boom)
		}
	}
}

func TestFramerDoesNotAllocate(t *testing.T) {
	fr := NewFramer(NewSliceSource(Format{Rate: PipelineRate, Channels: 1}, make([]float32, FrameSize*1000)))
	frame := make([]float32, FrameSize)
	if a := testing.AllocsPerRun(500, func() { fr.Next(frame) }); a != 0 {
		t.Errorf("%v allocations per frame", a)
	}
}
