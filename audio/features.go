package audio

import (
	"fmt"
	"math"
	"math/cmplx"
	"time"

	"github.com/mjibson/go-dsp/fft"
	"github.com/mjibson/go-dsp/window"
)

func init() {
	// go-dsp's radix-2 FFT fans each transform out to GOMAXPROCS worker
	// goroutines unless told otherwise. For a 256-point transform the
	// hand-off costs more than the butterflies (measured 17 µs with one
	// worker vs 21 µs with two on a 2-core machine, and it grows with the
	// core count), and a server runs one extractor per channel and call in
	// parallel anyway. Package init is the only race-free place to set it.
	fft.SetWorkerPoolSize(1)
}

// Spectrum layout: the 20 ms frame is Hann-windowed and zero-padded to a
// 512-point real transform (31.25 Hz bins), computed as one 256-point
// complex FFT of the even/odd samples packed as real/imaginary parts.
const (
	specSize = 512
	specHalf = specSize / 2
	binHz    = float64(PipelineRate) / specSize
	// Flatness is measured over the telephone band only: above 3.4 kHz a
	// phone-band caller has no energy at all, and including those empty
	// bins would make every frame of such a channel look tonal.
	flatLowHz  = 300.0
	flatHighHz = 3400.0
	rolloffPct = 0.85
)

// FeatureConfig tunes a FeatureExtractor. The zero value gives the defaults
// documented on each field.
type FeatureConfig struct {
	// MinF0Hz and MaxF0Hz bound the pitch search (defaults 60 and 400 Hz,
	// which cover adult and most child voices).
	MinF0Hz, MaxF0Hz float64
	// VoicingThreshold is YIN's absolute threshold on the cumulative-mean
	// normalised difference: a frame is voiced when a period dips below it.
	// Lower is stricter. Default 0.3 (0.25 missed low, creaky phrase ends that Praat calls voiced; 0.35 let octave errors through on the phone-band sample).
	VoicingThreshold float64
	// PitchMinDBFS is the level below which a frame is reported unvoiced
	// without a period search (default -60 dBFS): far below conversational
	// speech, and it saves the search on silent channels.
	PitchMinDBFS float64
	// NoiseWindow is how far back the minimum-statistics noise tracker
	// looks (default 4 s). Longer survives longer stretches of unbroken
	// speech without the floor creeping up (2.5 s was too short for a
	// string of digits read without a pause); shorter follows rising noise
	// sooner.
	NoiseWindow time.Duration
	// NoiseBiasDB is added to the tracked minimum because the minimum of a
	// fluctuating level sits below its mean (default 1 dB, measured on
	// white and band-limited noise).
	NoiseBiasDB float64
}

func (c FeatureConfig) withDefaults() FeatureConfig {
	if c.MinF0Hz <= 0 {
		c.MinF0Hz = 60
	}
	if c.MaxF0Hz <= 0 {
		c.MaxF0Hz = 400
	}
	if c.MaxF0Hz > pitchCoarseRate/5 {
		c.MaxF0Hz = pitchCoarseRate / 5 // the coarse YIN pass needs ≥ 5 lags per period
	}
	if c.MinF0Hz >= c.MaxF0Hz {
		c.MinF0Hz = c.MaxF0Hz / 2
	}
	if c.VoicingThreshold <= 0 {
		c.VoicingThreshold = 0.3
	}
	if c.PitchMinDBFS == 0 {
		c.PitchMinDBFS = -60
	}
	if c.NoiseWindow <= 0 {
		c.NoiseWindow = 4 * time.Second
	}
	if c.NoiseBiasDB == 0 {
		c.NoiseBiasDB = 1.0
	}
	return c
}

// FeatureExtractor computes Features for consecutive 20 ms frames of one
// channel. It keeps state across frames (pitch history, noise floor), so use
// one extractor per channel and feed it every frame in order. It is not safe
// for concurrent use. After construction Extract allocates nothing itself;
// the go-dsp FFT it calls allocates its result and scratch space.
type FeatureExtractor struct {
	cfg     FeatureConfig
	win     []float64    // Hann window over one frame
	packed  []complex128 // FFT input: even samples real, odd imaginary
	twiddle []complex128 // e^{-2πik/512} for unpacking the real spectrum
	power   []float64    // |X[k]|² for k = 0..256
	clean   []float32    // sanitised copy of a frame holding NaN or ±Inf
	pitch   *pitchTracker
	noise   noiseTracker
}

// NewFeatureExtractor returns an extractor for one channel at PipelineRate.
func NewFeatureExtractor(cfg FeatureConfig) *FeatureExtractor {
	cfg = cfg.withDefaults()
	e := &FeatureExtractor{
		cfg:     cfg,
		win:     window.Hann(FrameSize),
		packed:  make([]complex128, specHalf),
		twiddle: make([]complex128, specHalf),
		power:   make([]float64, specHalf+1),
		clean:   make([]float32, FrameSize),
		pitch:   newPitchTracker(cfg.MinF0Hz, cfg.MaxF0Hz, cfg.VoicingThreshold),
	}
	for k := range e.twiddle {
		e.twiddle[k] = cmplx.Rect(1, -2*math.Pi*float64(k)/specSize)
	}
	e.noise.init(cfg.NoiseWindow, cfg.NoiseBiasDB)
	return e
}

// Extract computes the features of the next frame of the channel. frame must
// hold exactly FrameSize samples at PipelineRate (a zero-padded final frame
// is fine); any other length returns an error wrapping ErrFrameSize and leaves
// the extractor's state untouched. Extract does not keep frame.
func (e *FeatureExtractor) Extract(frame []float32) (Features, error) {
	if len(frame) != FrameSize {
		return Features{}, fmt.Errorf("audio: feature frame has %d samples, want %d: %w", len(frame), FrameSize, ErrFrameSize)
	}
	var f Features

	sum, crossings := levelAndCrossings(frame)
	if math.IsNaN(sum) || math.IsInf(sum, 0) {
		// A float WAV can carry NaN or infinite samples; one would poison
		// the noise floor and pitch history for good. Silence NaNs and
		// clip infinities, on a copy: the caller's frame is read-only.
		for i, v := range frame {
			switch {
			case v != v:
				e.clean[i] = 0
			case math.IsInf(float64(v), 0):
				e.clean[i] = float32(math.Copysign(1, float64(v)))
			default:
				e.clean[i] = v
			}
		}
		frame = e.clean
		sum, crossings = levelAndCrossings(frame)
	}
	meanSquare := sum / float64(FrameSize)
	f.LevelDBFS = powerDB(meanSquare)
	f.ZCR = float64(crossings) / float64(FrameSize-1)

	e.spectrum(frame)
	e.spectralShape(&f)

	e.pitch.push(frame)
	if f.LevelDBFS >= e.cfg.PitchMinDBFS {
		f.F0Hz = e.pitch.estimate()
	}

	f.NoiseFloorDBFS = e.noise.update(meanSquare)
	f.SNRDB = math.Max(0, f.LevelDBFS-f.NoiseFloorDBFS)
	return f, nil
}

// levelAndCrossings returns the sum of squares and the number of sign
// changes of a frame.
func levelAndCrossings(frame []float32) (sum float64, crossings int) {
	prev := frame[0] >= 0
	for _, s := range frame {
		v := float64(s)
		sum += v * v
		pos := s >= 0
		if pos != prev {
			crossings++
		}
		prev = pos
	}
	return sum, crossings
}

// Reset forgets the channel's history (pitch window and noise floor), for
// use after a gap in the stream where old context would mislead.
func (e *FeatureExtractor) Reset() {
	e.pitch.reset()
	e.noise.init(e.cfg.NoiseWindow, e.cfg.NoiseBiasDB)
}

// NoiseFloorDBFS is the channel's current background estimate in dBFS
// (MinDBFS before any sound): what ContinueNoiseFloor takes.
func (e *FeatureExtractor) NoiseFloorDBFS() float64 { return e.noise.floor() }

// ContinueNoiseFloor restarts the noise tracker from a floor measured
// earlier on the same channel, for a stream that continues one cut off
// (a call resumed after an engine restart). Left cold, the tracker takes
// its first frame for the background: resumed in the middle of a word, it
// reads the rest of that speech as noise until a pause has been seen. The
// earlier floor counts as one noise window's minimum and ages out like
// any other. A floor at or below MinDBFS (unknown) leaves the tracker cold.
// The pitch history is kept.
func (e *FeatureExtractor) ContinueNoiseFloor(dbfs float64) {
	e.noise.init(e.cfg.NoiseWindow, e.cfg.NoiseBiasDB)
	if dbfs > MinDBFS && !math.IsInf(dbfs, 0) {
		e.noise.seed(math.Pow(10, (dbfs-e.cfg.NoiseBiasDB)/10))
	}
}

// powerDB converts a mean-square value to dBFS, clamped at MinDBFS.
func powerDB(ms float64) float64 {
	if ms <= 0 {
		return MinDBFS
	}
	return math.Max(MinDBFS, 10*math.Log10(ms))
}

// spectrum fills e.power with the power spectrum of the windowed frame.
func (e *FeatureExtractor) spectrum(frame []float32) {
	z := e.packed
	for n := 0; n < FrameSize/2; n++ {
		z[n] = complex(e.win[2*n]*float64(frame[2*n]), e.win[2*n+1]*float64(frame[2*n+1]))
	}
	clear(z[FrameSize/2:])
	Z := fft.FFT(z)
	// Z = E + iO with E, O the 256-point spectra of the even and odd
	// samples; X[k] = E[k] + W^k O[k].
	e.power[0] = square(real(Z[0]) + imag(Z[0]))
	e.power[specHalf] = square(real(Z[0]) - imag(Z[0]))
	for k := 1; k < specHalf; k++ {
		zk := Z[k]
		zc := cmplx.Conj(Z[specHalf-k])
		even := (zk + zc) * 0.5
		odd := (zk - zc) * complex(0, -0.5)
		x := even + e.twiddle[k]*odd
		e.power[k] = real(x)*real(x) + imag(x)*imag(x)
	}
}

func square(v float64) float64 { return v * v }

// spectralShape derives centroid, roll-off and flatness from e.power. DC is
// left out: it carries offset, not sound.
func (e *FeatureExtractor) spectralShape(f *Features) {
	p := e.power
	var total, weighted float64
	for k := 1; k <= specHalf; k++ {
		total += p[k]
		weighted += float64(k) * binHz * p[k]
	}
	if total <= 1e-20 {
		return // digital silence: no spectral shape to speak of
	}
	f.CentroidHz = weighted / total
	target := rolloffPct * total
	var cum float64
	for k := 1; k <= specHalf; k++ {
		cum += p[k]
		if cum >= target {
			f.RolloffHz = float64(k) * binHz
			break
		}
	}
	lo := int(math.Ceil(flatLowHz / binHz))
	hi := int(math.Floor(flatHighHz / binHz))
	var bandSum float64
	for k := lo; k <= hi; k++ {
		bandSum += p[k]
	}
	n := float64(hi - lo + 1)
	mean := bandSum / n
	if mean <= 1e-20 {
		return
	}
	// A tiny relative floor keeps an exactly empty bin from sending the
	// geometric mean to zero on otherwise normal frames.
	eps := mean * 1e-10
	var logSum float64
	for k := lo; k <= hi; k++ {
		logSum += math.Log(p[k] + eps)
	}
	f.Flatness = math.Min(1, math.Exp(logSum/n)/mean)
}

// noiseTracker estimates a channel's background level by minimum statistics
// (after R. Martin, 2001): the minimum of the smoothed frame power over the
// last NoiseWindow, kept as a ring of sub-window minima so each frame costs
// O(1). Speech rarely goes that long without a pause, so the minimum sits on
// the background between words, and it follows rising noise within one
// window.
type noiseTracker struct {
	smooth  float64 // recursively smoothed mean-square
	started bool
	subLen  int       // frames per sub-window
	count   int       // frames in the current sub-window
	cur     float64   // minimum in the current sub-window
	mins    []float64 // minima of the completed sub-windows (ring)
	next    int
	filled  int
	biasDB  float64
}

const (
	noiseSubWindows = 8
	// noiseSmoothing is the weight of the previous smoothed power: about a
	// 50 ms time constant, enough to keep single quiet frames inside a word
	// from reading as background.
	noiseSmoothing = 0.6
)

func (t *noiseTracker) init(window time.Duration, biasDB float64) {
	frames := int(window / FrameDuration)
	sub := frames / noiseSubWindows
	if sub < 1 {
		sub = 1
	}
	*t = noiseTracker{
		subLen: sub,
		mins:   make([]float64, noiseSubWindows),
		cur:    math.Inf(1),
		biasDB: biasDB,
	}
}

// digitalSilence is the mean-square power (-90 dBFS, about the
// quantisation noise of 16-bit audio) that a frame of digital silence
// counts as in the noise tracker. A muted or zero-padded stretch does say
// the background is quiet, but not that it is 120 dB below full scale:
// taking MinDBFS at its word would make every later rustle stand out as
// loudly as speech for a whole noise window.
const digitalSilence = 1e-9

// update adds one frame's mean-square power and returns the floor in dBFS.
func (t *noiseTracker) update(ms float64) float64 {
	ms = math.Max(ms, digitalSilence)
	if !t.started {
		t.smooth = ms
		t.started = true
	} else {
		t.smooth = noiseSmoothing*t.smooth + (1-noiseSmoothing)*ms
	}
	t.cur = math.Min(t.cur, t.smooth)
	db := t.floor()
	t.count++
	if t.count == t.subLen {
		t.mins[t.next] = t.cur
		t.next = (t.next + 1) % len(t.mins)
		if t.filled < len(t.mins) {
			t.filled++
		}
		t.cur = math.Inf(1)
		t.count = 0
	}
	return db
}

// seed records a minimum carried over from an earlier stream as the first
// completed sub-window, so it stays in the estimate for a whole window.
func (t *noiseTracker) seed(ms float64) {
	t.mins[0] = math.Max(ms, digitalSilence)
	t.next, t.filled = 1%len(t.mins), 1
}

// floor is the current estimate in dBFS: MinDBFS before any sound.
func (t *noiseTracker) floor() float64 {
	if !t.started && t.filled == 0 {
		return MinDBFS
	}
	floor := t.cur
	for i := 0; i < t.filled; i++ {
		floor = math.Min(floor, t.mins[i])
	}
	db := powerDB(floor)
	if db <= MinDBFS {
		return MinDBFS
	}
	return db + t.biasDB
}
