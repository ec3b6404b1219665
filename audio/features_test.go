package audio

import (
	"encoding/binary"
	"errors"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/mjibson/go-dsp/fft"
	"github.com/mjibson/go-dsp/window"
)

// Test signals. Everything is generated at PipelineRate from a fixed seed so
// a failure reproduces exactly.

func synthSine(hz, amp float64, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(amp * math.Sin(2*math.Pi*hz*float64(i)/float64(PipelineRate)))
	}
	return out
}

// harmonic is a buzzy vowel-like tone: harmonics from first to last with
// 1/k amplitudes, scaled to peak amplitude amp. first > 1 gives a
// "missing fundamental" as on a telephone line.
func harmonic(f0, amp float64, first, last, n int) []float32 {
	out := make([]float32, n)
	var peak float64
	tmp := make([]float64, n)
	for i := range tmp {
		t := float64(i) / float64(PipelineRate)
		for k := first; k <= last; k++ {
			tmp[i] += math.Sin(2*math.Pi*f0*float64(k)*t+float64(k)) / float64(k)
		}
		peak = math.Max(peak, math.Abs(tmp[i]))
	}
	for i := range out {
		out[i] = float32(amp * tmp[i] / peak)
	}
	return out
}

// whiteNoise returns Gaussian noise with the given RMS level in dBFS.
func whiteNoise(levelDB float64, n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	sd := math.Pow(10, levelDB/20)
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64() * sd)
	}
	return out
}

func rmsDB(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return powerDB(s / float64(len(x)))
}

// mix returns a + b·gain, as long as a (b repeats if shorter).
func mixNoise(a, b []float32, gain float64) []float32 {
	out := make([]float32, len(a))
	for i := range a {
		out[i] = a[i] + float32(gain*float64(b[i%len(b)]))
	}
	return out
}

// gainFor returns the gain that puts noise at snrDB below speech, with
// speech measured by its RMS over frames above -50 dBFS (the active part).
func gainFor(speech, noise []float32, snrDB float64) float64 {
	var s float64
	var n int
	for i := 0; i+FrameSize <= len(speech); i += FrameSize {
		fr := speech[i : i+FrameSize]
		if rmsDB(fr) > -50 {
			for _, v := range fr {
				s += float64(v) * float64(v)
			}
			n += FrameSize
		}
	}
	active := powerDB(s / float64(n))
	return math.Pow(10, (active-snrDB-rmsDB(noise))/20)
}

// readRaw16 loads raw 16 kHz s16le mono audio as shipped in
// pocketsphinx-testdata, skipping the test when it is not installed.
func readRaw16(t testing.TB, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("test speech not installed (Debian package pocketsphinx-testdata): %v", err)
	}
	out := make([]float32, len(b)/2)
	for i := range out {
		out[i] = float32(int16(binary.LittleEndian.Uint16(b[2*i:]))) / 32768
	}
	return out
}

const goForward = "/usr/share/pocketsphinx/test/data/goforward.raw"

// extractAll runs a fresh extractor over whole frames of x.
func extractAll(t testing.TB, cfg FeatureConfig, x []float32) []Features {
	t.Helper()
	e := NewFeatureExtractor(cfg)
	var out []Features
	for i := 0; i+FrameSize <= len(x); i += FrameSize {
		f, err := e.Extract(x[i : i+FrameSize])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

func medianF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	// Insertion sort is plenty for a few hundred frames and keeps the
	// helper free of sort-package ceremony.
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// field summarises one feature over frames [from, len).
func medianOf(fs []Features, from int, get func(Features) float64) float64 {
	var v []float64
	for _, f := range fs[from:] {
		v = append(v, get(f))
	}
	return medianF(v)
}

func TestPackedSpectrumMatchesRealFFT(t *testing.T) {
	// The extractor computes the 512-point real spectrum with one 256-point
	// complex FFT; it must agree with go-dsp's plain real FFT.
	x := harmonic(173, 0.5, 1, 12, FrameSize)
	noise := whiteNoise(-30, FrameSize, 1)
	x = mixNoise(x, noise, 1)
	e := NewFeatureExtractor(FeatureConfig{})
	e.spectrum(x)

	ref := make([]float64, specSize)
	w := window.Hann(FrameSize)
	for i := range FrameSize {
		ref[i] = w[i] * float64(x[i])
	}
	X := fft.FFTReal(ref)
	var peak float64
	for k := 0; k <= specHalf; k++ {
		peak = math.Max(peak, square(cmplx.Abs(X[k])))
	}
	for k := 0; k <= specHalf; k++ {
		want := square(cmplx.Abs(X[k]))
		if d := math.Abs(e.power[k] - want); d > 1e-9*peak {
			t.Fatalf("bin %d: power %g, real FFT gives %g", k, e.power[k], want)
		}
	}
}

func TestExtractRejectsWrongFrameLength(t *testing.T) {
	e := NewFeatureExtractor(FeatureConfig{})
	for _, n := range []int{0, FrameSize - 1, FrameSize + 1, 2 * FrameSize} {
		if _, err := e.Extract(make([]float32, n)); !errors.Is(err, ErrFrameSize) {
			t.Errorf("frame of %d samples: got %v, want ErrFrameSize", n, err)
		}
	}
}

func TestFeaturesOfSyntheticSignals(t *testing.T) {
	const n = 2 * int(PipelineRate) // 2 s: long enough for the noise window
	tests := []struct {
		name  string
		x     []float32
		check func(t *testing.T, level, zcr, centroid, flat, rolloff, f0 float64)
	}{
		{
			name: "digital silence reports MinDBFS, no pitch and no spectral shape",
			x:    make([]float32, n),
			check: func(t *testing.T, level, zcr, centroid, flat, rolloff, f0 float64) {
				if level != MinDBFS || zcr != 0 || centroid != 0 || flat != 0 || rolloff != 0 || f0 != 0 {
					t.Errorf("got level %v zcr %v centroid %v flatness %v rolloff %v f0 %v", level, zcr, centroid, flat, rolloff, f0)
				}
			},
		},
		{
			name: "a full-scale 1 kHz sine is at -3 dBFS with its energy at 1 kHz",
			x:    synthSine(1000, 1, n),
			check: func(t *testing.T, level, zcr, centroid, flat, rolloff, f0 float64) {
				if math.Abs(level+3.01) > 0.05 {
					t.Errorf("level %.2f dBFS, want -3.01", level)
				}
				if math.Abs(zcr-2*1000/16000.0) > 0.005 {
					t.Errorf("zcr %.4f, want 0.125", zcr)
				}
				if math.Abs(centroid-1000) > 40 {
					t.Errorf("centroid %.0f Hz, want about 1000", centroid)
				}
				if math.Abs(rolloff-1000) > 2*binHz {
					t.Errorf("roll-off %.0f Hz, want about 1000", rolloff)
				}
				if flat > 0.05 {
					t.Errorf("flatness %.3f, a pure tone should be far below 0.05", flat)
				}
			},
		},
		{
			name: "white noise at -40 dBFS is flat, high-centroid and unvoiced",
			x:    whiteNoise(-40, n, 2),
			check: func(t *testing.T, level, zcr, centroid, flat, rolloff, f0 float64) {
				if math.Abs(level+40) > 0.5 {
					t.Errorf("level %.2f dBFS, want -40", level)
				}
				if math.Abs(zcr-0.5) > 0.05 {
					t.Errorf("zcr %.3f, want about 0.5", zcr)
				}
				if math.Abs(centroid-4000) > 300 {
					t.Errorf("centroid %.0f Hz, want about 4000", centroid)
				}
				if math.Abs(rolloff-0.85*8000) > 400 {
					t.Errorf("roll-off %.0f Hz, want about 6800", rolloff)
				}
				if flat < 0.4 {
					t.Errorf("flatness %.3f, white noise should be above 0.4", flat)
				}
				if f0 != 0 {
					t.Errorf("median F0 %.1f, want 0 (unvoiced)", f0)
				}
			},
		},
		{
			name: "a 200 Hz harmonic vowel is voiced at 200 Hz with a tonal spectrum",
			x:    harmonic(200, 0.3, 1, 15, n),
			check: func(t *testing.T, level, zcr, centroid, flat, rolloff, f0 float64) {
				if math.Abs(f0-200) > 2 {
					t.Errorf("median F0 %.1f Hz, want 200", f0)
				}
				if flat > 0.1 {
					t.Errorf("flatness %.3f, harmonics should give below 0.1", flat)
				}
				if centroid < 200 || centroid > 1500 {
					t.Errorf("centroid %.0f Hz, want between 200 and 1500", centroid)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := extractAll(t, FeatureConfig{}, tc.x)
			from := 5 // skip the pitch history warm-up
			tc.check(t,
				medianOf(fs, from, func(f Features) float64 { return f.LevelDBFS }),
				medianOf(fs, from, func(f Features) float64 { return f.ZCR }),
				medianOf(fs, from, func(f Features) float64 { return f.CentroidHz }),
				medianOf(fs, from, func(f Features) float64 { return f.Flatness }),
				medianOf(fs, from, func(f Features) float64 { return f.RolloffHz }),
				medianOf(fs, from, func(f Features) float64 { return f.F0Hz }),
			)
		})
	}
}

func TestNoiseFloorFollowsTheBackground(t *testing.T) {
	sec := int(PipelineRate)
	tests := []struct {
		name string
		// x is the signal; at is the frame whose floor is checked.
		x       []float32
		at      int
		floorDB float64
		snrDB   float64 // expected SNR at frame at (±3 dB)
	}{
		{
			name:    "steady white noise at -50 dBFS gives a floor at -50 and no SNR",
			x:       whiteNoise(-50, 3*sec, 3),
			at:      140,
			floorDB: -50,
			snrDB:   0,
		},
		{
			name: "a vowel over -50 dBFS noise stands 20 dB above a floor that stays put",
			x: func() []float32 {
				x := whiteNoise(-50, 4*sec, 4)
				v := harmonic(150, 0.06, 1, 10, sec) // about -30 dBFS RMS
				for i := range v {
					x[2*sec+i] += v[i]
				}
				return x
			}(),
			at:      2*50 + 40,
			floorDB: -50,
			snrDB:   20,
		},
		{
			name: "noise rising 20 dB is followed within the noise window",
			x: func() []float32 {
				x := whiteNoise(-60, 2*sec, 5)
				return append(x, whiteNoise(-40, 6*sec, 6)...)
			}(),
			at:      2*50 + 250, // 5 s after the step
			floorDB: -40,
			snrDB:   0,
		},
		{
			name: "noise falling 20 dB is followed within half a second",
			x: func() []float32 {
				x := whiteNoise(-40, 2*sec, 7)
				return append(x, whiteNoise(-60, sec, 8)...)
			}(),
			at:      2*50 + 25, // 500 ms after the step
			floorDB: -60,
			snrDB:   0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := extractAll(t, FeatureConfig{}, tc.x)
			f := fs[tc.at]
			t.Logf("frame %d: level %.1f dBFS, floor %.1f dBFS, SNR %.1f dB", tc.at, f.LevelDBFS, f.NoiseFloorDBFS, f.SNRDB)
			if math.Abs(f.NoiseFloorDBFS-tc.floorDB) > 2 {
				t.Errorf("noise floor %.1f dBFS, want %.0f ± 2", f.NoiseFloorDBFS, tc.floorDB)
			}
			if math.Abs(f.SNRDB-tc.snrDB) > 3 {
				t.Errorf("SNR %.1f dB, want %.0f ± 3", f.SNRDB, tc.snrDB)
			}
		})
	}
}

func TestResetForgetsTheNoiseFloor(t *testing.T) {
	e := NewFeatureExtractor(FeatureConfig{})
	quiet := whiteNoise(-70, FrameSize, 9)
	for range 20 {
		if _, err := e.Extract(quiet); err != nil {
			t.Fatal(err)
		}
	}
	e.Reset()
	loud := whiteNoise(-30, FrameSize, 10)
	f, err := e.Extract(loud)
	if err != nil {
		t.Fatal(err)
	}
	if f.SNRDB > 3 {
		t.Errorf("after Reset the first frame stands %.1f dB above a floor it should not remember", f.SNRDB)
	}
}

func TestContinueNoiseFloorCarriesTheBackgroundOver(t *testing.T) {
	quiet := whiteNoise(-70, FrameSize, 11)
	loud := whiteNoise(-30, FrameSize, 12)
	first := NewFeatureExtractor(FeatureConfig{})
	for range 100 {
		if _, err := first.Extract(quiet); err != nil {
			t.Fatal(err)
		}
	}
	floor := first.NoiseFloorDBFS()
	if floor < -75 || floor > -65 {
		t.Fatalf("floor %.1f dBFS after 2 s of -70 dBFS noise", floor)
	}
	tests := []struct {
		name    string
		floor   float64
		wantSNR func(float64) bool
	}{
		{"continued from the earlier floor: loud frames stand out", floor, func(snr float64) bool { return snr > 30 }},
		{"unknown floor: the tracker starts cold", MinDBFS, func(snr float64) bool { return snr < 3 }},
		{"infinite floor is ignored", math.Inf(-1), func(snr float64) bool { return snr < 3 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := NewFeatureExtractor(FeatureConfig{})
			e.ContinueNoiseFloor(tc.floor)
			// Resumed in the middle of 1 s of loud sound: a cold tracker
			// takes it for background, a continued one does not.
			var f Features
			for range 50 {
				var err error
				if f, err = e.Extract(loud); err != nil {
					t.Fatal(err)
				}
			}
			if !tc.wantSNR(f.SNRDB) {
				t.Errorf("SNR %.1f dB after 1 s of -30 dBFS sound (floor given %.1f dBFS)", f.SNRDB, tc.floor)
			}
		})
	}
	// The carried floor ages out like any other minimum: after a noise
	// window of steady loud sound it is the new background.
	e := NewFeatureExtractor(FeatureConfig{})
	e.ContinueNoiseFloor(floor)
	var f Features
	for range int(5 * time.Second / FrameDuration) {
		f, _ = e.Extract(loud)
	}
	if f.SNRDB > 3 {
		t.Errorf("carried floor still in use after 5 s: SNR %.1f dB", f.SNRDB)
	}
}

// FuzzExtract feeds arbitrary float32 frames (NaN, infinities, denormals,
// huge values included) through the extractor and the VAD: neither may
// panic, and every feature must stay finite and inside its documented range,
// because one bad frame from a float WAV must not poison a channel's state.
func FuzzExtract(f *testing.F) {
	frameBytes := func(x []float32) []byte {
		b := make([]byte, 4*len(x))
		for i, v := range x {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		return b
	}
	f.Add(frameBytes(make([]float32, FrameSize)))
	f.Add(frameBytes(synthSine(440, 1, FrameSize)))
	f.Add(frameBytes(harmonic(120, 0.5, 1, 20, 3*FrameSize)))
	f.Add(frameBytes(whiteNoise(-10, 2*FrameSize, 1)))
	nan := synthSine(200, 0.5, FrameSize)
	nan[7] = float32(math.NaN())
	nan[100] = float32(math.Inf(1))
	f.Add(frameBytes(nan))
	huge := synthSine(200, 3e38, FrameSize)
	f.Add(frameBytes(huge))
	f.Fuzz(func(t *testing.T, b []byte) {
		e := NewFeatureExtractor(FeatureConfig{})
		v := NewVAD(VADConfig{})
		x := make([]float32, FrameSize)
		for n := 0; n*4*FrameSize < len(b) || n == 0; n++ {
			clear(x)
			for i := range x {
				if p := (n*FrameSize + i) * 4; p+4 <= len(b) {
					x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[p:]))
				}
			}
			// Each chunk goes in twice so state carried over is exercised.
			for range 2 {
				ft, err := e.Extract(x)
				if err != nil {
					t.Fatal(err)
				}
				for name, val := range map[string]float64{
					"level": ft.LevelDBFS, "zcr": ft.ZCR, "centroid": ft.CentroidHz, "flatness": ft.Flatness,
					"rolloff": ft.RolloffHz, "f0": ft.F0Hz, "floor": ft.NoiseFloorDBFS, "snr": ft.SNRDB,
				} {
					if math.IsNaN(val) || math.IsInf(val, 0) {
						t.Fatalf("%s is %v for frame %v", name, val, x[:8])
					}
				}
				if ft.ZCR < 0 || ft.ZCR > 1 || ft.Flatness < 0 || ft.Flatness > 1 || ft.SNRDB < 0 ||
					ft.CentroidHz < 0 || ft.CentroidHz > 8000 || ft.RolloffHz < 0 || ft.RolloffHz > 8000 ||
					(ft.F0Hz != 0 && (ft.F0Hz < 60 || ft.F0Hz > 400)) || ft.LevelDBFS < MinDBFS {
					t.Fatalf("feature out of range: %+v", ft)
				}
				v.Push(ft, time.Duration(n)*FrameDuration)
			}
		}
		v.Flush(time.Hour)
	})
}

func TestExtractAllocatesOnlyInsideTheFFT(t *testing.T) {
	// go-dsp's FFT allocates its result and scratch on every call; the
	// extractor itself must add nothing, or the garbage of thousands of
	// live channels grows with every feature.
	x := harmonic(130, 0.3, 1, 20, FrameSize)
	e := NewFeatureExtractor(FeatureConfig{})
	z := make([]complex128, specHalf)
	fftAllocs := testing.AllocsPerRun(200, func() { fft.FFT(z) })
	extractAllocs := testing.AllocsPerRun(200, func() {
		if _, err := e.Extract(x); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("allocations per frame: Extract %.1f, of which the 256-point FFT %.1f", extractAllocs, fftAllocs)
	if extractAllocs > fftAllocs {
		t.Errorf("Extract allocates %.1f times per frame, the FFT alone %.1f", extractAllocs, fftAllocs)
	}
}
