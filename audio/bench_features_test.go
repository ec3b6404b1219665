package audio

import (
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time the whole process has used: the benchmark
// goroutine, the FFT's worker goroutine and the garbage collector. On a
// machine shared with other jobs it measures the cost of a frame where wall
// time measures the queue for the CPU as well.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchSpeech is real speech for the benchmarks: the librivox clips where
// installed (speech with pauses, so the pitch gate sees both cases), else a
// synthetic vowel over noise.
func benchSpeech(b *testing.B) []float32 {
	b.Helper()
	var x []float32
	for _, p := range pitchClips {
		if _, err := os.Stat(p); err == nil {
			x = append(x, readWAV16(b, p)...)
		}
	}
	if len(x) == 0 {
		x = mixNoise(harmonic(140, 0.3, 1, 25, 10*int(PipelineRate)), whiteNoise(-50, int(PipelineRate), 1), 1)
	}
	return x[:len(x)/FrameSize*FrameSize]
}

// BenchmarkExtract measures feature extraction for one channel on one
// goroutine: µs per 20 ms frame, × real time, and the garbage per frame.
func BenchmarkExtract(b *testing.B) {
	x := benchSpeech(b)
	nFrames := len(x) / FrameSize
	e := NewFeatureExtractor(FeatureConfig{})
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime(b)
	for i := 0; i < b.N; i++ {
		j := i % nFrames
		if _, err := e.Extract(x[j*FrameSize : (j+1)*FrameSize]); err != nil {
			b.Fatal(err)
		}
	}
	elapsed, cpu := time.Since(start), cpuTime(b)-cpu0
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	perFrame := elapsed.Seconds() / float64(b.N)
	cpuPerFrame := cpu.Seconds() / float64(b.N)
	b.ReportMetric(perFrame*1e6, "µs/frame")
	b.ReportMetric(FrameDuration.Seconds()/perFrame, "x_realtime")
	b.ReportMetric(cpuPerFrame*1e6, "cpu_µs/frame")
	b.ReportMetric(FrameDuration.Seconds()/cpuPerFrame, "x_realtime_cpu")
	// Garbage a live stream produces per second of audio, which the GC has
	// to collect for every concurrent channel.
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(b.N)*float64(time.Second/FrameDuration)/1e6, "MB/s_audio")
}

// BenchmarkVAD measures the VAD state machine alone on precomputed
// features: it is cheap next to extraction, and this keeps it so.
func BenchmarkVAD(b *testing.B) {
	x := benchSpeech(b)
	e := NewFeatureExtractor(FeatureConfig{})
	var fs []Features
	for i := 0; i+FrameSize <= len(x); i += FrameSize {
		f, err := e.Extract(x[i : i+FrameSize])
		if err != nil {
			b.Fatal(err)
		}
		fs = append(fs, f)
	}
	v := NewVAD(VADConfig{})
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		j := i % len(fs)
		if j == 0 {
			v.Flush(time.Duration(i) * FrameDuration)
		}
		v.Push(fs[j], time.Duration(i)*FrameDuration)
	}
	perFrame := time.Since(start).Seconds() / float64(b.N)
	b.ReportMetric(perFrame*1e9, "ns/frame")
	b.ReportMetric(FrameDuration.Seconds()/perFrame, "x_realtime")
}

// BenchmarkDetectSpeech is the offline path `earshot analyze` runs per
// channel: extraction plus VAD over a whole recording.
func BenchmarkDetectSpeech(b *testing.B) {
	x := benchSpeech(b)
	audioSec := float64(len(x)) / float64(PipelineRate)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime(b)
	for i := 0; i < b.N; i++ {
		DetectSpeech(x, VADConfig{})
	}
	b.ReportMetric(audioSec*float64(b.N)/time.Since(start).Seconds(), "x_realtime")
	b.ReportMetric(audioSec*float64(b.N)/(cpuTime(b)-cpu0).Seconds(), "x_realtime_cpu")
}
