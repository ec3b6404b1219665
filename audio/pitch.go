package audio

import (
	"math"

	"github.com/mjibson/go-dsp/window"
)

// Pitch is estimated with YIN (de Cheveigné & Kawahara, 2002) in two
// passes. Voice F0 stays below 400 Hz, so the period search does not need
// the 16 kHz band: the coarse pass runs YIN's cumulative-mean normalised
// difference on the channel decimated to 4 kHz (a 16th of the work at the
// full rate) and makes the voicing decision; the fine pass evaluates the
// plain difference function at 8 kHz only at the few lags around the coarse
// period and interpolates the dip parabolically, which keeps the estimate
// within a fraction of a percent at 300 Hz. A single 8 kHz pass had the
// difference function as the largest cost of the extractor; the split cut
// the whole extractor from 43 to 31 CPU µs per frame.
const (
	// pitchFineRate and pitchCoarseRate are the rates of the two passes.
	pitchFineRate   = float64(PipelineRate) / 2
	pitchCoarseRate = pitchFineRate / 2
	// pitchTaps is the length of each half-band decimator's low-pass: 31
	// Blackman-windowed taps.
	pitchTaps = 31
	// The cut-offs leave room for the transition band below each stage's
	// new Nyquist frequency; the coarse pass keeps harmonics up to about
	// 1.3 kHz, plenty to find the period even of a phone-band voice whose
	// fundamental is missing.
	pitchFineCutoff   = 3300.0 / float64(PipelineRate)
	pitchCoarseCutoff = 1360.0 / pitchFineRate
	// pitchFineWindow and pitchCoarseWindow are YIN's integration windows:
	// one 20 ms frame at each rate.
	pitchFineWindow   = FrameSize / 2
	pitchCoarseWindow = FrameSize / 4
	// pitchRefine is how many fine lags either side of twice the coarse
	// period are searched: the coarse period is within a lag (two fine
	// lags) of the truth, and one more covers the decimators' ripple.
	pitchRefine = 2
)

// halver low-passes a block and keeps every second sample, carrying the
// filter's history across blocks.
type halver struct {
	taps []float64
	buf  []float64 // last len(taps)-1 inputs, then the current block
}

func newHalver(cutoff float64, block int) *halver {
	return &halver{
		taps: lowPassTaps(pitchTaps, cutoff),
		buf:  make([]float64, pitchTaps-1+block),
	}
}

// block returns the slot the next input block is written to.
func (h *halver) block() []float64 { return h.buf[len(h.taps)-1:] }

// run filters the block written into h.block() into dst (half as long) and
// keeps the history for the next block.
func (h *halver) run(dst []float64) {
	n := len(h.taps)
	for j := range dst {
		// Output j is aligned with input 2j+1 of the block.
		seg := h.buf[2*j+1 : 2*j+1+n]
		dst[j] = dot64(h.taps, seg)
	}
	copy(h.buf, h.buf[len(h.buf)-(n-1):])
}

func (h *halver) reset() { clear(h.buf) }

// pitchTracker keeps the decimated history of one channel and runs YIN on
// the newest analysis window each frame. It never allocates after
// construction.
type pitchTracker struct {
	fine, coarse *halver
	hist8        []float64 // 8 kHz history, oldest first
	hist4        []float64 // 4 kHz history, oldest first
	diff         []float64 // coarse difference function, then its normalisation
	minTau       int       // shortest coarse period searched, in 4 kHz samples
	maxTau       int       // longest coarse period searched
	threshold    float64   // YIN absolute threshold on the normalised difference
	minF0        float64
	maxF0        float64
}

func newPitchTracker(minF0, maxF0, threshold float64) *pitchTracker {
	p := &pitchTracker{
		threshold: threshold,
		minF0:     minF0,
		maxF0:     maxF0,
		minTau:    int(math.Floor(pitchCoarseRate / maxF0)),
		maxTau:    int(math.Ceil(pitchCoarseRate / minF0)),
	}
	if p.minTau < 2 {
		p.minTau = 2
	}
	p.fine = newHalver(pitchFineCutoff, FrameSize)
	p.coarse = newHalver(pitchCoarseCutoff, FrameSize/2)
	p.hist4 = make([]float64, pitchCoarseWindow+p.maxTau+2)
	// The fine pass looks up to 2·(maxTau+1)+pitchRefine+1 lags back.
	p.hist8 = make([]float64, pitchFineWindow+2*p.maxTau+pitchRefine+5)
	p.diff = make([]float64, p.maxTau+2)
	return p
}

// lowPassTaps designs a Blackman-windowed sinc low-pass with unity DC gain;
// cutoff is a fraction of the sample rate.
func lowPassTaps(n int, cutoff float64) []float64 {
	w := window.Blackman(n)
	h := make([]float64, n)
	mid := float64(n-1) / 2
	var sum float64
	for i := range h {
		t := float64(i) - mid
		s := 2 * cutoff
		if t != 0 {
			s = math.Sin(2*math.Pi*cutoff*t) / (math.Pi * t)
		}
		h[i] = s * w[i]
		sum += h[i]
	}
	for i := range h {
		h[i] /= sum
	}
	return h
}

// push decimates one frame into both histories.
func (p *pitchTracker) push(frame []float32) {
	in := p.fine.block()
	for i, v := range frame {
		in[i] = float64(v)
	}
	half := FrameSize / 2
	copy(p.hist8, p.hist8[half:])
	new8 := p.hist8[len(p.hist8)-half:]
	p.fine.run(new8)

	copy(p.coarse.block(), new8)
	quarter := FrameSize / 4
	copy(p.hist4, p.hist4[quarter:])
	p.coarse.run(p.hist4[len(p.hist4)-quarter:])
}

// estimate returns the F0 of the newest analysis window in Hz, or 0 when no
// period is clear enough to call the window voiced.
func (p *pitchTracker) estimate() float64 {
	tau := p.coarsePeriod()
	if tau < 0 {
		return 0
	}
	period := p.finePeriod(tau)
	f0 := pitchFineRate / period
	if f0 < p.minF0 || f0 > p.maxF0 {
		return 0
	}
	return f0
}

// coarsePeriod runs YIN at 4 kHz and returns the period in 4 kHz samples,
// or -1 when no dip of the normalised difference is below the threshold.
func (p *pitchTracker) coarsePeriod() int {
	x := p.hist4
	n := len(x)
	w := pitchCoarseWindow
	d := p.diff
	// The fixed window is the newest w samples (the current frame), compared
	// with copies of itself τ samples earlier, so F0 describes this frame.
	// d(τ) = Σ (a[j] - x[n-w-τ+j])² is written as e(a) + e(τ) - 2 r(τ) so the
	// inner loop is a plain dot product.
	a := x[n-w:]
	var e0 float64
	for _, v := range a {
		e0 += v * v
	}
	if e0 == 0 {
		return -1
	}
	et := e0
	d[0] = 0
	for tau := 1; tau <= p.maxTau+1; tau++ {
		// Slide the energy of the lagged window one sample back.
		et += x[n-w-tau]*x[n-w-tau] - x[n-tau]*x[n-tau]
		r := dot64(a, x[n-w-tau:n-tau])
		v := e0 + et - 2*r
		if v < 0 {
			v = 0 // rounding in the sliding energy
		}
		d[tau] = v
	}
	// Cumulative mean normalised difference.
	var run float64
	d[0] = 1
	for tau := 1; tau <= p.maxTau+1; tau++ {
		run += d[tau]
		if run == 0 {
			d[tau] = 1
			continue
		}
		d[tau] *= float64(tau) / run
	}
	tau := -1
	for t := p.minTau; t <= p.maxTau; t++ {
		// A dip whose bottom lies below the shortest period searched (a
		// strong formant harmonic above 400 Hz) is not a candidate.
		if t == p.minTau && d[t-1] < d[t] {
			continue
		}
		if d[t] < p.threshold {
			tau = p.localMin(t)
			break
		}
	}
	if tau < 0 {
		return -1
	}
	// YIN takes the first dip under the threshold, which can be a fraction
	// of the period when one harmonic dominates, as on a phone-band voice
	// that has lost its fundamental and keeps a strong third or fourth
	// harmonic: the true period then dips far deeper. A genuinely periodic
	// signal dips about as deep at 2τ, 3τ as at τ, so only a clearly deeper
	// dip elsewhere moves the estimate.
	// Dips are compared at their interpolated bottoms: a period that falls
	// between lags dips shallower when sampled than a multiple of it that
	// lands on a lag, which is no reason to prefer the multiple.
	best := tau
	for t := p.minTau; t <= p.maxTau; t++ {
		if d[t] < d[best] {
			best = t
		}
	}
	first, deepest := p.dipBottom(tau), p.dipBottom(best)
	if deepest < octaveRatio*first && first-deepest > octaveMargin {
		tau = best
	}
	return tau
}

// A dip replaces the first one only if it is both octaveRatio times and
// octaveMargin deeper: relative depth alone would let tiny differences
// between two near-zero dips of a clean periodic signal decide.
const (
	octaveRatio  = 0.5
	octaveMargin = 0.1
)

// dipBottom is the parabolically interpolated minimum of the normalised
// difference around lag t.
func (p *pitchTracker) dipBottom(t int) float64 {
	d := p.diff
	d0, d1, d2 := d[t-1], d[t], d[t+1]
	den := d0 - 2*d1 + d2
	if den <= 0 {
		return d1
	}
	return max(0, d1-(d0-d2)*(d0-d2)/(8*den))
}

// localMin walks down the normalised difference from t to the bottom of
// its dip.
func (p *pitchTracker) localMin(t int) int {
	d := p.diff
	for t+1 <= p.maxTau && d[t+1] < d[t] {
		t++
	}
	return t
}

// finePeriod refines a coarse period (4 kHz samples) to a fractional period
// in 8 kHz samples: the minimum of the plain difference function near twice
// the coarse lag, interpolated parabolically.
func (p *pitchTracker) finePeriod(coarse int) float64 {
	x := p.hist8
	n := len(x)
	w := pitchFineWindow
	a := x[n-w:]
	diff := func(tau int) float64 {
		var s float64
		b := x[n-w-tau : n-tau]
		for j, v := range a {
			e := v - b[j]
			s += e * e
		}
		return s
	}
	lo := max(2, 2*coarse-pitchRefine)
	hi := 2*coarse + pitchRefine
	var vals [2*pitchRefine + 3]float64
	for tau := lo - 1; tau <= hi+1; tau++ {
		vals[tau-lo+1] = diff(tau)
	}
	best := lo
	for tau := lo + 1; tau <= hi; tau++ {
		if vals[tau-lo+1] < vals[best-lo+1] {
			best = tau
		}
	}
	period := float64(best)
	d0, d1, d2 := vals[best-lo], vals[best-lo+1], vals[best-lo+2]
	if den := d0 - 2*d1 + d2; den > 0 {
		if off := 0.5 * (d0 - d2) / den; off > -1 && off < 1 {
			period += off
		}
	}
	return period
}

// dot64 is the inner product of two equal-length slices, unrolled with four
// accumulators because it is the inner loop of both the decimators and YIN.
func dot64(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

// reset forgets the history, as after a gap in the stream.
func (p *pitchTracker) reset() {
	p.fine.reset()
	p.coarse.reset()
	clear(p.hist8)
	clear(p.hist4)
}
