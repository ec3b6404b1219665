package capture

import (
	"math"
	"testing"
	"time"
)

// BenchmarkChain measures the pump's work per second of 48 kHz audio
// (resampling to 16 kHz and cutting frames), in 10 ms device periods.
func BenchmarkChain(b *testing.B) {
	in := make([]float32, 480)
	for i := range in {
		in[i] = float32(0.3 * math.Sin(float64(i)/5))
	}
	c := newChain(48000, 0)
	emit := func(time.Duration, []float32) {}
	b.ResetTimer()
	for range b.N {
		for range 100 {
			c.push(in, emit)
		}
	}
	perSec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(1/perSec, "x_realtime")
	b.ReportMetric(100*perSec, "%core/channel")
}
