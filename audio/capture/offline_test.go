package capture

import (
	"math"
	"testing"
	"time"
	"unsafe"

	"github.com/earshot/earshot/audio"
)

func TestOfflineTurnsCallbackBuffersIntoTimedFrames(t *testing.T) {
	o, err := NewOffline(48000)
	if err != nil {
		t.Fatal(err)
	}
	// One second of a 440 Hz tone in ten 100 ms device periods, on the
	// agent channel only.
	period := make([]float32, 4800)
	frame := make([]float32, audio.FrameSize)
	var times []time.Duration
	var energy float64
	for p := range 10 {
		for i := range period {
			period[i] = float32(0.5 * math.Sin(2*math.Pi*440*float64(p*4800+i)/48000))
		}
		o.Deliver(Agent, unsafe.Slice((*byte)(unsafe.Pointer(&period[0])), 4*len(period)))
		o.Pump()
		for {
			at, ok := o.Next(Agent, frame)
			if !ok {
				break
			}
			times = append(times, at)
			for _, v := range frame {
				energy += float64(v) * float64(v)
			}
		}
		if _, ok := o.Next(Caller, frame); ok {
			t.Fatal("a frame on the caller channel, which got no audio")
		}
	}
	// The filter holds back its look-ahead (about 3 ms), so the last
	// frame of the second waits for more audio.
	if len(times) != 49 {
		t.Fatalf("%d frames from 1 s of audio, want 49", len(times))
	}
	for i, at := range times {
		if at != time.Duration(i)*audio.FrameDuration {
			t.Fatalf("frame %d at %v, want %v", i, at, time.Duration(i)*audio.FrameDuration)
		}
	}
	// A 0.5 amplitude sine has mean square 0.125.
	if ms := energy / float64(len(times)*audio.FrameSize); math.Abs(ms-0.125) > 0.005 {
		t.Errorf("mean square %.4f, want 0.125: the tone did not come through", ms)
	}
}
