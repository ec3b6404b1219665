package audio

import (
	"math"

	"github.com/mjibson/go-dsp/window"
)

// Pitch is estimated with YIN (de Cheveigné & Kawahara, 2002) on the channel
// decimated to 8 kHz. Voice F0 stays below 400 Hz, so the top half of the
// 16 kHz band adds nothing to the period search; halving the rate cuts the
// difference function, the dominant cost of the extractor, by four. The
// fractional period from parabolic interpolation keeps the estimate well
// inside 1 % at 300 Hz, where one lag is about 4 % of the period.
const (
	pitchDecimation = 2
	pitchRate       = float64(PipelineRate) / pitchDecimation
	// pitchTaps is the length of the anti-alias low-pass in front of the
	// decimator: 31 taps with a Blackman window give > 50 dB of stop band
	// above 4 kHz, far more than the period search needs.
	pitchTaps = 31
	// pitchCutoffHz leaves room for the filter's transition band below the
	// 4 kHz Nyquist frequency of the decimated signal.
	pitchCutoffHz = 3300.0
	// pitchWindow is YIN's integration window: 20 ms at 8 kHz, one frame.
	pitchWindow = FrameSize / pitchDecimation
)

// pitchTracker keeps the decimated history of one channel and runs YIN on
// the newest analysis window each frame. It never allocates after
// construction.
type pitchTracker struct {
	taps      []float64 // anti-alias low-pass, symmetric
	in        []float64 // last pitchTaps-1 input samples, then the current frame
	hist      []float64 // decimated history, oldest first; len = window + maxTau + 2
	diff      []float64 // YIN difference function, then its cumulative-mean normalisation
	minTau    int       // shortest period searched, in decimated samples
	maxTau    int       // longest period searched
	threshold float64   // YIN absolute threshold on the normalised difference
	minF0     float64
	maxF0     float64
}

func newPitchTracker(minF0, maxF0, threshold float64) *pitchTracker {
	p := &pitchTracker{
		threshold: threshold,
		minF0:     minF0,
		maxF0:     maxF0,
		minTau:    int(math.Floor(pitchRate / maxF0)),
		maxTau:    int(math.Ceil(pitchRate / minF0)),
	}
	if p.minTau < 2 {
		p.minTau = 2
	}
	p.taps = lowPassTaps(pitchTaps, pitchCutoffHz/float64(PipelineRate))
	p.in = make([]float64, pitchTaps-1+FrameSize)
	p.hist = make([]float64, pitchWindow+p.maxTau+2)
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

// push low-passes and decimates one frame into the history.
func (p *pitchTracker) push(frame []float32) {
	keep := pitchTaps - 1
	copy(p.in, p.in[FrameSize:FrameSize+keep])
	for i, s := range frame {
		p.in[keep+i] = float64(s)
	}
	out := FrameSize / pitchDecimation
	copy(p.hist, p.hist[out:])
	dst := p.hist[len(p.hist)-out:]
	for j := range dst {
		// The output sample aligned with input sample 2j+1 of the frame
		// uses in[2j+1 .. 2j+1+keep].
		seg := p.in[2*j+1 : 2*j+1+pitchTaps]
		var acc float64
		for k, h := range p.taps {
			acc += h * seg[k]
		}
		dst[j] = acc
	}
}

// estimate returns the F0 of the newest analysis window in Hz, or 0 when no
// period is clear enough to call the window voiced.
func (p *pitchTracker) estimate() float64 {
	x := p.hist
	n := len(x)
	w := pitchWindow
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
		return 0
	}
	et := e0
	d[0] = 0
	for tau := 1; tau <= p.maxTau+1; tau++ {
		// Slide the energy of the lagged window one sample back.
		et += x[n-w-tau]*x[n-w-tau] - x[n-tau]*x[n-tau]
		r := dot(a, x[n-w-tau:n-tau])
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
		if d[t] < p.threshold {
			for t+1 <= p.maxTau && d[t+1] < d[t] {
				t++
			}
			tau = t
			break
		}
	}
	if tau < 0 {
		return 0
	}
	// Parabolic interpolation around the dip for a fractional period.
	period := float64(tau)
	d0, d1, d2 := d[tau-1], d[tau], d[tau+1]
	if den := d0 - 2*d1 + d2; den > 0 {
		off := 0.5 * (d0 - d2) / den
		if off > -1 && off < 1 {
			period += off
		}
	}
	f0 := pitchRate / period
	if f0 < p.minF0 || f0 > p.maxF0 {
		return 0
	}
	return f0
}

// dot is the inner product of two equal-length slices, unrolled with four
// accumulators because it runs ~130 times per frame.
func dot(a, b []float64) float64 {
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
	clear(p.in)
	clear(p.hist)
}
