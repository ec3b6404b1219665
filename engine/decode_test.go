package engine

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/protocol"
)

func pcmBytes(s []float32) []byte {
	b := make([]byte, 2*len(s))
	for i, v := range s {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(int16(v*32767)))
	}
	return b
}

// TestNarrowbandIngestMatchesOfflineResampling streams a 440 Hz tone at
// 8 kHz frame by frame and checks the frames equal what the offline
// resampler makes of the whole signal, with their call times.
func TestNarrowbandIngestMatchesOfflineResampling(t *testing.T) {
	const n = 8000 // one second
	tone := make([]float32, n)
	for i := range tone {
		tone[i] = float32(0.5 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	// Round through 16-bit as the wire does.
	wire := pcmBytes(tone)
	ref := make([]float32, n)
	audio.PCM16LEBytesToFloat(ref, wire)
	want, err := audio.ReadAll(audio.Resample(audio.NewSliceSource(audio.Format{Rate: 8000, Channels: 1}, ref), audio.PipelineRate))
	if err != nil {
		t.Fatal(err)
	}
	d := newChannelDecoder(8000, protocol.EncodingPCM16)
	var got []float32
	var times []time.Duration
	emit := func(f decodedFrame) error {
		got = append(got, f.samples...)
		times = append(times, f.at)
		return nil
	}
	for i := 0; i < n; i += 160 {
		if err := d.push(wire[2*i:2*i+320], time.Duration(i)*time.Second/8000, emit); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.flush(emit); err != nil {
		t.Fatal(err)
	}
	if len(got) < len(want[0]) {
		t.Fatalf("got %d samples, want %d", len(got), len(want[0]))
	}
	for i, w := range want[0] {
		if math.Abs(float64(got[i]-w)) > 1e-5 {
			t.Fatalf("sample %d: %v, want %v", i, got[i], w)
		}
	}
	for k, at := range times {
		if at != time.Duration(k)*audio.FrameDuration {
			t.Fatalf("frame %d at %v", k, at)
		}
	}
}

func TestWidebandMulawIsOneFramePerPayload(t *testing.T) {
	d := newChannelDecoder(16000, protocol.EncodingMulaw)
	payload := make([]byte, 320)
	for i := range payload {
		payload[i] = 0xFF // μ-law zero
	}
	calls := 0
	err := d.push(payload, 40*time.Millisecond, func(f decodedFrame) error {
		calls++
		if f.at != 40*time.Millisecond || len(f.samples) != audio.FrameSize || f.samples[7] != 0 {
			t.Errorf("frame %+v", f.at)
		}
		return nil
	})
	if err != nil || calls != 1 {
		t.Fatalf("%d frames, %v", calls, err)
	}
}
