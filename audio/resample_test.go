package audio

import (
	"errors"
	"fmt"
	"io"
	"math"
	"testing"
)

// resampleAll runs x (mono at from) through Resample and returns the output.
func resampleAll(t testing.TB, x []float32, from, to SampleRate) []float32 {
	t.Helper()
	chans, err := ReadAll(Resample(NewSliceSource(Format{Rate: from, Channels: 1}, x), to))
	if err != nil {
		t.Fatal(err)
	}
	return chans[0]
}

// middle drops the ends of y, where the filter reaches past the signal.
func middle(y []float32, rate SampleRate) []float32 {
	edge := int(rate) / 50 // 20 ms, longer than any filter's half-length
	return y[edge : len(y)-edge]
}

func db(x float64) float64 { return 20 * math.Log10(x) }

func rms(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(x)))
}

func TestResampleKeepsEverySampleAndTheContract(t *testing.T) {
	pairs := [][2]SampleRate{{8000, 16000}, {44100, 16000}, {48000, 16000}, {22050, 16000}, {11025, 16000}, {16000, 8000}, {44056, 16000}, {32000, 44100}}
	for _, p := range pairs {
		for _, n := range []int{0, 1, 2, 37, 1000, 44101} {
			t.Run(fmt.Sprintf("%d frames from %d Hz to %d Hz", n, p[0], p[1]), func(t *testing.T) {
				x := make([]float32, 2*n)
				copy(x, tone(p[0], 300, 0.5, 2*n))
				y := checkSource(t, func() Source {
					return Resample(NewSliceSource(Format{Rate: p[0], Channels: 2}, x), p[1])
				}, Format{Rate: p[1], Channels: 2})
				exact := float64(n) * float64(p[1]) / float64(p[0])
				if got := len(y) / 2; math.Abs(float64(got)-math.Round(exact)) > 1 {
					t.Errorf("%d output frames, want round(%.2f) ± 1", got, exact)
				}
			})
		}
	}
}

func TestResampleReturnsTheSourceWhenTheRateMatches(t *testing.T) {
	src := NewSliceSource(Format{Rate: 16000, Channels: 1}, make([]float32, 10))
	if got := Resample(src, 16000); got != Source(src) {
		t.Errorf("Resample to the same rate returned %T, not the source", got)
	}
}

// TestResamplePassBandIsFlat steps a tone through the pass band (0.9 of the
// lower Nyquist frequency) and measures the gain of each. It also checks the
// output against the ideal sine at the output's sample times, which fails if
// the resampler delays, drops or repeats samples.
func TestResamplePassBandIsFlat(t *testing.T) {
	pairs := [][2]SampleRate{{48000, 16000}, {44100, 16000}, {22050, 16000}, {8000, 16000}, {44056, 16000}}
	for _, p := range pairs {
		from, to := p[0], p[1]
		t.Run(fmt.Sprintf("from %d Hz to %d Hz", from, to), func(t *testing.T) {
			edge := 0.9 * float64(min(from, to)) / 2
			lo, hi := math.Inf(1), math.Inf(-1)
			worstErr := math.Inf(-1)
			for hz := 50.0; hz <= edge; hz += edge / 40 {
				x := tone(from, hz, 0.5, int(from)/4)
				y := resampleAll(t, x, from, to)
				g := db(toneAmplitude(middle(y, to), to, hz) / 0.5)
				lo, hi = math.Min(lo, g), math.Max(hi, g)
				ideal := tone(to, hz, 0.5, len(y))
				diff := make([]float32, len(y))
				for i := range y {
					diff[i] = y[i] - ideal[i]
				}
				worstErr = math.Max(worstErr, db(rms(middle(diff, to))/(0.5/math.Sqrt2)))
			}
			t.Logf("pass band 50 Hz–%.0f Hz: gain %+.4f dB … %+.4f dB, ripple %.4f dB; worst error against the ideal sine %.1f dB",
				edge, lo, hi, hi-lo, worstErr)
			if lo < -0.1 || hi > 0.1 {
				t.Errorf("gain %+.4f dB … %+.4f dB, want within ±0.1 dB", lo, hi)
			}
			if worstErr > -60 {
				t.Errorf("output differs from the ideal sine by %.1f dB", worstErr)
			}
		})
	}
}

// TestResampleRejectsAliases feeds tones between the output Nyquist frequency
// and the input Nyquist frequency: whatever comes out is alias.
func TestResampleRejectsAliases(t *testing.T) {
	pairs := [][2]SampleRate{{48000, 16000}, {44100, 16000}, {22050, 16000}}
	for _, p := range pairs {
		from, to := p[0], p[1]
		t.Run(fmt.Sprintf("from %d Hz to %d Hz", from, to), func(t *testing.T) {
			worst, worstHz := -math.MaxFloat64, 0.0
			nyqOut := float64(to) / 2
			for hz := nyqOut; hz < float64(from)/2; hz += 97 {
				x := tone(from, hz, 0.5, int(from)/5)
				y := resampleAll(t, x, from, to)
				if r := db(rms(middle(y, to)) / (0.5 / math.Sqrt2)); r > worst {
					worst, worstHz = r, hz
				}
			}
			t.Logf("tones from %.0f Hz to %d Hz: strongest alias %.1f dB (at %.0f Hz)", nyqOut, from/2, worst, worstHz)
			if worst > -60 {
				t.Errorf("alias at %.0f Hz only %.1f dB down, want ≤ -60 dB", worstHz, worst)
			}
		})
	}
}

// TestResampleRejectsImages upsamples tones across the input band and
// measures the mirror image each leaves above the input Nyquist frequency.
func TestResampleRejectsImages(t *testing.T) {
	const from, to = 8000, 16000
	worst, worstHz := -math.MaxFloat64, 0.0
	for hz := 50.0; hz < from/2; hz += 50 {
		x := tone(from, hz, 0.5, from/4)
		y := middle(resampleAll(t, x, from, to), to)
		img := float64(from) - hz
		if r := db(toneAmplitude(y, to, img) / 0.5); r > worst {
			worst, worstHz = r, hz
		}
	}
	t.Logf("images of tones 50 Hz–3950 Hz upsampled 8 kHz → 16 kHz: strongest %.1f dB (of the %.0f Hz tone)", worst, worstHz)
	if worst > -60 {
		t.Errorf("image of %.0f Hz only %.1f dB down, want ≤ -60 dB", worstHz, worst)
	}
}

// trickle delivers at most one sample per Read, the worst case for a
// resampler's state handling.
type trickle struct{ Source }

func (s trickle) Read(p []float32) (int, error) { return s.Source.Read(p[:min(len(p), 1)]) }

func TestResampleGivesTheSameOutputHoweverTheInputArrives(t *testing.T) {
	x := tone(44100, 1234, 0.8, 2*5000)
	f := Format{Rate: 44100, Channels: 2}
	want, err := ReadAll(Resample(NewSliceSource(f, x), 16000))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadAll(Resample(trickle{NewSliceSource(f, x)}, 16000))
	if err != nil {
		t.Fatal(err)
	}
	for c := range want {
		assertSamples(t, got[c], want[c])
	}
}

// failing delivers its samples and then an error.
type failing struct {
	Source
	err error
}

func (s failing) Read(p []float32) (int, error) {
	n, err := s.Source.Read(p)
	if err == io.EOF {
		err = s.err
	}
	return n, err
}

func TestResamplePassesOnSourceErrors(t *testing.T) {
	boom := fmt.Errorf("%w: disk on fire", ErrTruncated)
	src := failing{NewSliceSource(Format{Rate: 48000, Channels: 1}, tone(48000, 440, 0.5, 4800)), boom}
	chans, err := ReadAll(Resample(src, 16000))
	if !errors.Is(err, boom) {
		t.Fatalf("ReadAll error = %v, want %v", err, boom)
	}
	if len(chans[0]) < 1500 {
		t.Errorf("only %d samples before the error, want the ones computable before it", len(chans[0]))
	}
}

func TestResampleReadsWithoutAllocating(t *testing.T) {
	for _, from := range []SampleRate{8000, 44100, 48000, 44056} {
		t.Run(fmt.Sprintf("from %d Hz", from), func(t *testing.T) {
			r := Resample(NewSliceSource(Format{Rate: from, Channels: 2}, tone(from, 440, 0.5, 2*int(from)*20)), 16000)
			p := make([]float32, 640)
			if a := testing.AllocsPerRun(100, func() { r.Read(p) }); a != 0 {
				t.Errorf("Read allocates %v times per call", a)
			}
		})
	}
}

func BenchmarkResample48kTo16k(b *testing.B) {
	for _, ch := range []int{1, 2} {
		b.Run(fmt.Sprintf("%dch", ch), func(b *testing.B) {
			const seconds = 10
			x := tone(48000, 440, 0.5, ch*48000*seconds)
			p := make([]float32, ch*320)
			b.SetBytes(int64(len(x) * 4))
			b.ResetTimer()
			for b.Loop() {
				r := Resample(NewSliceSource(Format{Rate: 48000, Channels: ch}, x), 16000)
				for {
					if _, err := r.Read(p); err != nil {
						break
					}
				}
			}
			perOp := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(seconds/perOp, "x_realtime")
			b.ReportMetric(perOp/(seconds*50)*1e6, "µs/frame")
		})
	}
}

func TestResampleFoldedFilterGivesTheFullFiltersOutput(t *testing.T) {
	tests := []struct {
		name     string
		from, to SampleRate
		wantSym  bool
	}{
		{"48 kHz to 16 kHz is a whole-number decimation and folds", 48000, 16000, true},
		{"32 kHz to 16 kHz folds", 32000, 16000, true},
		{"44.1 kHz to 16 kHz has many phases and does not fold", 44100, 16000, false},
		{"8 kHz to 16 kHz upsamples and does not fold", 8000, 16000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filterFor(tt.from, tt.to)
			if f.sym != tt.wantSym {
				t.Fatalf("sym = %v, want %v", f.sym, tt.wantSym)
			}
			if !f.sym {
				return
			}
			x := tone(tt.from, 1234, 0.8, f.taps)
			for i := range x {
				x[i] += float32(0.1 * math.Sin(float64(i*i))) // not symmetric itself
			}
			full, folded := dot(f.coef, x), dotSym(f.coef[:f.half], x)
			if d := math.Abs(float64(full - folded)); d > 1e-6 {
				t.Errorf("folded %v, full %v: differ by %g", folded, full, d)
			}
		})
	}
}
