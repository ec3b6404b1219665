package capture

import (
	"math"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/gen2brain/malgo"

	"github.com/earshot/earshot/audio"
)

func TestSampleRing(t *testing.T) {
	tests := []struct {
		name      string
		size      int
		writes    []int // chunk sizes
		wantOK    []bool
		wantAvail int
	}{
		{"chunks that fit are all kept", 8, []int{3, 5}, []bool{true, true}, 8},
		{"a chunk that does not fit is dropped whole", 8, []int{6, 3}, []bool{true, false}, 6},
		{"a chunk bigger than the ring is dropped", 4, []int{5}, []bool{false}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newSampleRing(tt.size)
			v := float32(0)
			for i, n := range tt.writes {
				p := make([]float32, n)
				for j := range p {
					p[j] = v + float32(j)
				}
				if ok := q.write(p); ok != tt.wantOK[i] {
					t.Fatalf("write %d of %d samples: ok=%v, want %v", i, n, ok, tt.wantOK[i])
				} else if ok {
					v += float32(n)
				}
			}
			got := make([]float32, 64)
			n := q.read(got)
			if n != tt.wantAvail {
				t.Fatalf("read %d samples, want %d", n, tt.wantAvail)
			}
			for i := range n {
				if got[i] != float32(i) {
					t.Fatalf("sample %d is %v, want %v (order lost)", i, got[i], i)
				}
			}
		})
	}
	t.Run("positions wrap around the end of the buffer", func(t *testing.T) {
		q := newSampleRing(8)
		out := make([]float32, 5)
		next := float32(0)
		want := float32(0)
		for round := 0; round < 20; round++ {
			p := []float32{next, next + 1, next + 2, next + 3, next + 4}
			if !q.write(p) {
				t.Fatalf("round %d: write refused with the ring drained", round)
			}
			next += 5
			if n := q.read(out); n != 5 {
				t.Fatalf("round %d: read %d", round, n)
			}
			for _, s := range out {
				if s != want {
					t.Fatalf("round %d: got %v, want %v", round, s, want)
				}
				want++
			}
		}
	})
}

func TestFrameQueueDropsTheOldestWhenFull(t *testing.T) {
	q := newFrameQueue(3)
	f := make([]float32, audio.FrameSize)
	for i := range 5 {
		f[0] = float32(i)
		q.put(time.Duration(i)*audio.FrameDuration, f)
	}
	if q.drops != 2 {
		t.Fatalf("drops %d, want 2", q.drops)
	}
	for want := 2; want < 5; want++ {
		at, ok := q.get(f)
		if !ok || f[0] != float32(want) || at != time.Duration(want)*audio.FrameDuration {
			t.Fatalf("got frame %v at %v (ok %v), want frame %d", f[0], at, ok, want)
		}
	}
	if _, ok := q.get(f); ok {
		t.Fatal("queue not empty after draining")
	}
}

// goertzel returns the power of frequency hz in x (sampled at rate).
func goertzel(x []float32, rate, hz float64) float64 {
	w := 2 * math.Pi * hz / rate
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s0 := float64(v) + c*s1 - s2
		s2, s1 = s1, s0
	}
	return (s1*s1 + s2*s2 - c*s1*s2) / float64(len(x)*len(x))
}

func TestChainResamplesToFramesAtThePipelineRate(t *testing.T) {
	for _, rate := range []int{8000, 16000, 44100, 48000} {
		t.Run("a 1 kHz tone captured at "+strconv.Itoa(rate)+" Hz comes out at 16 kHz with its level", func(t *testing.T) {
			const secs = 2
			in := make([]float32, rate*secs)
			for i := range in {
				in[i] = 0.5 * float32(math.Sin(2*math.Pi*1000*float64(i)/float64(rate)))
			}
			c := newChain(rate, 100*time.Millisecond)
			var out []float32
			var ats []time.Duration
			emit := func(at time.Duration, f []float32) {
				if len(f) != audio.FrameSize {
					t.Fatalf("frame of %d samples", len(f))
				}
				out = append(out, f...)
				ats = append(ats, at)
			}
			// Uneven chunks, as device periods are.
			for i, k := 0, 0; i < len(in); k++ {
				n := min([]int{441, 480, 97, 1024}[k%4], len(in)-i)
				c.push(in[i:i+n], emit)
				i += n
			}
			wantFrames := secs*50 - 1 // the filter holds back a few ms
			if len(ats) < wantFrames {
				t.Fatalf("%d frames from %d s, want at least %d", len(ats), secs, wantFrames)
			}
			for i, at := range ats {
				if want := 100*time.Millisecond + time.Duration(i)*audio.FrameDuration; at != want {
					t.Fatalf("frame %d at %v, want %v", i, at, want)
				}
			}
			mid := out[audio.FrameSize*10 : audio.FrameSize*40]
			var sum float64
			for _, v := range mid {
				sum += float64(v) * float64(v)
			}
			rms := math.Sqrt(sum / float64(len(mid)))
			if math.Abs(rms-0.5/math.Sqrt2) > 0.01 {
				t.Errorf("RMS %.4f, want %.4f (a 1 kHz tone must pass unchanged)", rms, 0.5/math.Sqrt2)
			}
			if p1, p2 := goertzel(mid, 16000, 1000), goertzel(mid, 16000, 1500); p1 < 1000*p2 {
				t.Errorf("1 kHz power %.3g is not far above 1.5 kHz power %.3g", p1, p2)
			}
		})
	}
}

func TestChainFillsDroppedAudioWithSilenceSoTimesStayTrue(t *testing.T) {
	c := newChain(48000, 0)
	var n int
	emit := func(at time.Duration, f []float32) {
		if want := time.Duration(n) * audio.FrameDuration; at != want {
			t.Fatalf("frame %d at %v, want %v", n, at, want)
		}
		n++
	}
	one := make([]float32, 48000)
	c.push(one, emit)
	c.pushZeros(48000, emit) // a second the callback could not park
	c.push(one, emit)
	if n < 149 {
		t.Fatalf("%d frames for 3 s of audio", n)
	}
}

func TestCallbackNeitherAllocatesNorBlocks(t *testing.T) {
	st := &stream{ring: newSampleRing(4096), wake: make(chan struct{}, 1)}
	buf := make([]float32, 480)
	in := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), len(buf)*4)
	allocs := testing.AllocsPerRun(100, func() { st.onData(nil, in, 480) })
	if allocs != 0 {
		t.Errorf("data callback allocates %.1f times per call", allocs)
	}
	// The ring is full and nobody drains the wake channel: the callback
	// must still return at once and count what it dropped.
	before := st.drops.Load()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 10 {
			st.onData(nil, in, 480)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("data callback blocked with a full ring")
	}
	if got := st.drops.Load() - before; got != 4800 {
		t.Errorf("dropped %d samples, want 4800", got)
	}
}

func TestIDString(t *testing.T) {
	mk := func(b []byte) malgo.DeviceID {
		var id malgo.DeviceID
		copy(id[:], b)
		return id
	}
	utf16le := func(s string) []byte {
		var b []byte
		for _, r := range s {
			b = append(b, byte(r), 0)
		}
		return b
	}
	tests := []struct {
		name string
		id   malgo.DeviceID
		want string
	}{
		{"a PulseAudio source name reads as itself", mk([]byte("sink_a.monitor")), "sink_a.monitor"},
		{"an ALSA device reads as itself", mk([]byte("hw:0,0")), "hw:0,0"},
		{"a WASAPI id in UTF-16 reads as text", mk(utf16le("{0.0.1.00000000}.{abc}")), "{0.0.1.00000000}.{abc}"},
		{"a binary id reads as hex", mk([]byte{0x01, 0x02, 0xff}), "0102ff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := idString(tt.id); got != tt.want {
				t.Errorf("idString = %q, want %q", got, tt.want)
			}
		})
	}
}
