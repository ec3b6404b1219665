package endpoint

import (
	"encoding/binary"
	"io"
	"log/slog"
	"math"
	"testing"
	"time"
	"unsafe"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/audio/capture"
	"github.com/earshot/earshot/internal/ingestclient"
)

func TestEncodeFrame(t *testing.T) {
	tests := []struct {
		name      string
		in        float32
		wantPCM   int16
		wantLevel float64
	}{
		{"silence is the meter's floor", 0, 0, audio.MinDBFS},
		{"full scale is 0 dBFS and clips to the largest sample", 1, 32767, 0},
		{"negative full scale is the smallest sample", -1, -32768, 0},
		{"half scale is -6 dBFS", 0.5, 16384, -6.0206},
		{"samples round to the nearest step", 1.6 / 32768, 2, 20 * math.Log10(1.6/32768)},
		{"overloads clip instead of wrapping", -3, -32768, 9.5424},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := make([]float32, audio.FrameSize)
			for i := range frame {
				frame[i] = tt.in
			}
			pcm := make([]byte, 2*audio.FrameSize)
			level := encodeFrame(pcm, frame)
			for i := 0; i < len(pcm); i += 2 {
				if got := int16(binary.LittleEndian.Uint16(pcm[i:])); got != tt.wantPCM {
					t.Fatalf("sample %d = %d, want %d", i/2, got, tt.wantPCM)
				}
			}
			if math.Abs(level-tt.wantLevel) > 0.001 {
				t.Errorf("level %.4f dBFS, want %.4f", level, tt.wantLevel)
			}
		})
	}
}

// BenchmarkHotPath measures the daemon's work per second of a call, both
// channels, from the audio callbacks' buffers to frames handed to the
// ingest client: the callback's copy into the ring, the pump's resampling
// (48 kHz devices, as PulseAudio's default) and framing, Read, encoding and
// metering, and Send. The network writes, the scheduler and the audio
// threads are not in it: TestMeasureDaemonCost measures the whole process.
func BenchmarkHotPath(b *testing.B) {
	const rate, period = 48000, 100 * time.Millisecond
	off, err := capture.NewOffline(rate)
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// One second of resend buffer: the client is not running, so its ring
	// overflows at once and then recycles its buffers, as acks would.
	d := newDaemon(Config{URL: "http://127.0.0.1:1", Token: "t", Agent: "A", Buffer: time.Second, Logger: log}, nil)
	cl, err := ingestclient.New(d.clientCfg("bench"))
	if err != nil {
		b.Fatal(err)
	}
	d.cur = &call{id: "bench", client: cl, cancel: func() {}, done: make(chan struct{}), lastAck: -1, ackMoved: time.Now()}
	per := int(rate * period / time.Second)
	// One second of speech-like levels per channel, different on each side.
	var sig [2][]float32
	for ch := range sig {
		sig[ch] = make([]float32, rate)
		for i := range sig[ch] {
			sig[ch][i] = float32(0.3 * math.Sin(float64(i)*(0.05+0.02*float64(ch))))
		}
	}
	frame := make([]float32, audio.FrameSize)
	pcm := make([]byte, 2*audio.FrameSize)
	second := func() {
		for k := range int(time.Second / period) {
			for ch := range 2 {
				p := sig[ch][k*per : (k+1)*per]
				off.Deliver(ch, unsafe.Slice((*byte)(unsafe.Pointer(&p[0])), 4*len(p)))
			}
			off.Pump()
			for ch := range 2 {
				for {
					at, ok := off.Next(ch, frame)
					if !ok {
						break
					}
					d.take(ch, at, frame, pcm, nil)
				}
			}
		}
	}
	for range 3 {
		second() // the filter and the rings reach their steady state
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		second()
	}
	perSec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(100*perSec, "%core/call")
	b.ReportMetric(perSec/100*1e6, "µs/frame")
	if st := cl.Stats(); st.Frames == 0 {
		b.Fatal("no frame reached the client")
	}
}
