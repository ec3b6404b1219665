package audio

import (
	"fmt"
	"io"
	"math"
	"sync"
)

// Resampler design. The filter is a Kaiser-windowed sinc whose specification
// is stated relative to the Nyquist frequency of the lower of the two rates:
// flat (≤ 0.1 dB ripple) up to 0.9 of it, at least 60 dB down from 1.0 of it
// on, so nothing above the output Nyquist aliases into the output when
// downsampling and no image survives above the input Nyquist when
// upsampling. A Kaiser β of 7.857 puts the side lobes near -80 dB; 88 taps at
// the lower rate make the transition band fit the 10 % between the two edges
// (measured in the tests: ≤ 0.002 dB ripple, aliases and images ≤ -80 dB,
// so 20 dB of margin over the promise). 112 taps measured 5 dB better at 27 %
// more cost.
const (
	resampleCutoff    = 0.95 // -6 dB point, fraction of the lower Nyquist
	resampleHalfTaps  = 44   // filter half-length in samples of the lower rate
	resampleKaiser    = 7.857
	resampleMaxPhases = 1024 // exact polyphase table up to this many phases
	resampleInterp    = 512  // phases of the interpolated table beyond that
	resampleChunk     = 2048 // input frames read per refill
	resampleCacheMax  = 32
)

// resampleFilter is the read-only polyphase table for one rate pair; it is
// shared by every resampler converting between the same rates.
type resampleFilter struct {
	l, m  int64 // output/input rate ratio in lowest terms: to/from = l/m
	half  int   // filter half-length in input samples
	taps  int   // 2*half
	exact bool  // rows are indexed by phase directly (l rows) or interpolated (resampleInterp+1 rows)
	// sym is set for a whole-number decimation (one phase): the row is
	// symmetric about tap half-1 and its last tap is zero, so mono output
	// folds the taps (dotSym) and does half the multiplications.
	sym  bool
	rows int
	coef []float32 // rows × taps
}

var resampleCache struct {
	sync.Mutex
	m map[[2]SampleRate]*resampleFilter
}

// filterFor returns the shared filter for a rate pair, building it on first
// use. The cache is bounded so odd rates from untrusted files cannot grow it
// without limit.
func filterFor(from, to SampleRate) *resampleFilter {
	key := [2]SampleRate{from, to}
	resampleCache.Lock()
	f := resampleCache.m[key]
	resampleCache.Unlock()
	if f != nil {
		return f
	}
	f = newResampleFilter(from, to)
	resampleCache.Lock()
	if resampleCache.m == nil {
		resampleCache.m = make(map[[2]SampleRate]*resampleFilter)
	}
	if len(resampleCache.m) < resampleCacheMax {
		resampleCache.m[key] = f
	}
	resampleCache.Unlock()
	return f
}

func newResampleFilter(from, to SampleRate) *resampleFilter {
	g := gcd(int64(from), int64(to))
	f := &resampleFilter{l: int64(to) / g, m: int64(from) / g}
	// r scales the kernel to the lower rate, in units of input samples.
	r := math.Min(1, float64(to)/float64(from))
	f.half = int(math.Ceil(resampleHalfTaps / r))
	f.taps = 2 * f.half
	f.exact = f.l <= resampleMaxPhases
	f.rows = int(f.l)
	if !f.exact {
		f.rows = resampleInterp + 1
	}
	fc := 0.5 * resampleCutoff * r // cycles per input sample
	i0beta := bessI0(resampleKaiser)
	f.coef = make([]float32, f.rows*f.taps)
	row := make([]float64, f.taps)
	for p := range f.rows {
		var frac float64
		if f.exact {
			frac = float64(p) / float64(f.l)
		} else {
			frac = float64(p) / resampleInterp
		}
		sum := 0.0
		for i := range row {
			// Tap i weighs input sample ip-half+1+i for an output at
			// input time ip+frac.
			tau := float64(f.half-1-i) + frac
			x := tau / float64(f.half)
			w := 0.0
			if x > -1 && x < 1 {
				w = bessI0(resampleKaiser*math.Sqrt(1-x*x)) / i0beta
			}
			row[i] = 2 * fc * sinc(2*fc*tau) * w
			sum += row[i]
		}
		// Unit gain at DC for every phase, so a constant stays constant
		// instead of picking up a ripple at the phase pattern's rate.
		for i, v := range row {
			f.coef[p*f.taps+i] = float32(v / sum)
		}
	}
	if f.exact && f.rows == 1 {
		c := f.coef
		f.sym = c[f.taps-1] == 0
		for i := 0; i < f.half-1 && f.sym; i++ {
			f.sym = c[i] == c[f.taps-2-i]
		}
	}
	return f
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// bessI0 is the zeroth-order modified Bessel function of the first kind, by
// its power series (converges fast for the arguments a Kaiser window uses).
func bessI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 200; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return sum
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// resampler is the Source Resample returns.
type resampler struct {
	src    Source
	f      *resampleFilter
	format Format
	ch     int

	// buf holds interleaved input frames; buf[0:ch] is input frame base.
	// Frames before 0 and after the end are zeros, which is what a filter
	// sees beyond the ends of the signal.
	buf  []float32
	fill int // samples in buf
	base int64

	ip    int64 // input frame at or before the next output's time
	phase int64 // the next output's time is ip + phase/l

	srcDone bool
	total   int64 // input frames, known once srcDone
	err     error // from src, returned once output catches up
	stalls  int   // consecutive empty reads from src

	tmp  []float32 // interpolated coefficients (non-exact filters)
	pend []float32 // one output frame for reads smaller than a frame
	pLo  int
	pHi  int
}

// Resample returns a Source delivering src converted to the rate to, with
// the same channels. If src already has that rate, it returns src itself.
//
// The converter is a band-limited windowed-sinc (Kaiser) polyphase filter for
// any rate ratio, flat to within 0.1 dB up to 0.9 of the lower Nyquist
// frequency and at least 60 dB down from the lower Nyquist frequency on (see
// the package tests for the measured figures). It has no delay: output
// sample k is the input's value at time k/to, interpolated from 44 samples
// of the lower rate either side. It streams: Read pulls from
// src only as far as it needs and keeps filter state between calls, without
// allocating. A stream of n input frames gives ceil(n*to/from) output
// frames.
//
// Errors from src other than io.EOF are returned after the output computed
// before them. Resample panics if to is not positive or src's format has no
// rate or channels, which are programming errors.
func Resample(src Source, to SampleRate) Source {
	sf := src.Format()
	if to <= 0 || sf.Rate <= 0 || sf.Channels <= 0 {
		panic(fmt.Sprintf("audio.Resample: cannot convert %+v to %d Hz", sf, to))
	}
	if sf.Rate == to {
		return src
	}
	f := filterFor(sf.Rate, to)
	ch := sf.Channels
	r := &resampler{
		src:    src,
		f:      f,
		format: Format{Rate: to, Channels: ch},
		ch:     ch,
		buf:    make([]float32, (f.taps+f.half+resampleChunk)*ch),
		pend:   make([]float32, ch),
	}
	if !f.exact {
		r.tmp = make([]float32, f.taps)
	}
	// Zeros before the first sample: the first output needs half-1 of them.
	r.base = -int64(f.half - 1)
	r.fill = (f.half - 1) * ch
	return r
}

// Format reports the target rate and the source's channels.
func (r *resampler) Format() Format { return r.format }

// Read fills p with resampled frames; see Source for the legal returns.
func (r *resampler) Read(p []float32) (int, error) {
	n := 0
	if r.pLo < r.pHi {
		k := copy(p, r.pend[r.pLo:r.pHi])
		r.pLo += k
		n += k
	}
	for n < len(p) {
		if r.srcDone && r.ip >= r.total {
			break
		}
		// The next output needs input frames up to ip+half.
		if r.ip+int64(r.f.half) >= r.base+int64(r.fill/r.ch) {
			if r.srcDone || r.err != nil {
				break
			}
			r.pull()
			continue
		}
		if len(p)-n >= r.ch {
			r.compute(p[n : n+r.ch])
			n += r.ch
			continue
		}
		r.compute(r.pend)
		r.pLo = copy(p[n:], r.pend)
		r.pHi = r.ch
		n += r.pLo
	}
	if n > 0 || len(p) == 0 {
		return n, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	return 0, io.EOF
}

// compute writes one output frame to out and advances the output time.
func (r *resampler) compute(out []float32) {
	f := r.f
	var c []float32
	if f.exact {
		c = f.coef[int(r.phase)*f.taps : int(r.phase+1)*f.taps]
	} else {
		x := float64(r.phase) * resampleInterp / float64(f.l)
		row := int(x)
		a := float32(x - float64(row))
		c0 := f.coef[row*f.taps : (row+1)*f.taps]
		c1 := f.coef[(row+1)*f.taps : (row+2)*f.taps]
		c = r.tmp
		for i := range c {
			c[i] = c0[i] + a*(c1[i]-c0[i])
		}
	}
	s := int(r.ip-int64(f.half)+1-r.base) * r.ch
	x := r.buf[s : s+f.taps*r.ch]
	switch r.ch {
	case 1:
		if f.sym {
			out[0] = dotSym(c[:f.half], x)
		} else {
			out[0] = dot(c, x)
		}
	case 2:
		out[0], out[1] = dot2(c, x)
	default:
		for ch := range out {
			var acc float32
			for i, k := range c {
				acc += k * x[i*r.ch+ch]
			}
			out[ch] = acc
		}
	}
	r.phase += f.m
	r.ip += r.phase / f.l
	r.phase %= f.l
}

// pull drops input frames no output needs any more and reads more from src.
func (r *resampler) pull() {
	keep := r.ip - int64(r.f.half) + 1 // first frame the next output needs
	if drop := int(keep-r.base) * r.ch; drop > 0 {
		r.fill = copy(r.buf, r.buf[drop:r.fill])
		r.base = keep
	}
	// Leave room for the zero tail appended at the end of the stream.
	space := r.buf[r.fill : len(r.buf)-r.f.half*r.ch]
	n, err := r.src.Read(space)
	r.fill += n
	switch {
	case err == io.EOF:
		r.finish()
	case err != nil:
		r.err = err
	case n == 0:
		if r.stalls++; r.stalls > 100 {
			r.err = io.ErrNoProgress
		}
	default:
		r.stalls = 0
	}
}

// finish records the input length and appends the zeros the last outputs'
// filters reach into.
func (r *resampler) finish() {
	r.srcDone = true
	r.fill -= r.fill % r.ch // a trailing partial frame cannot be resampled
	r.total = r.base + int64(r.fill/r.ch)
	z := r.buf[r.fill : r.fill+r.f.half*r.ch]
	clear(z)
	r.fill += len(z)
}

// dot returns Σ c[i]·x[i]. Four independent sums let the additions overlap
// instead of each waiting for the previous one, which more than doubles the
// speed of the resampler's inner loop.
func dot(c, x []float32) float32 {
	x = x[:len(c)]
	var a0, a1, a2, a3 float32
	i := 0
	for ; i+4 <= len(c); i += 4 {
		cc, xx := c[i:i+4:i+4], x[i:i+4:i+4]
		a0 += cc[0] * xx[0]
		a1 += cc[1] * xx[1]
		a2 += cc[2] * xx[2]
		a3 += cc[3] * xx[3]
	}
	for ; i < len(c); i++ {
		a0 += c[i] * x[i]
	}
	return (a0 + a1) + (a2 + a3)
}

// dotSym is dot for a symmetric filter given by its first half c, whose
// last element is the centre tap: c[i] also weighs x[2(len(c)-1)-i]. Adding
// each pair of samples before the multiplication halves the multiplications;
// it measured 1.3× faster than dot for 48 kHz → 16 kHz.
func dotSym(c, x []float32) float32 {
	n := len(c) - 1 // taps either side of the centre
	lo, hi := x[:n], x[n+1:2*n+1]
	var a0, a1, a2, a3 float32
	i := 0
	for ; i+4 <= n; i += 4 {
		cc, ll := c[i:i+4:i+4], lo[i:i+4:i+4]
		hh := hi[n-i-4 : n-i : n-i]
		a0 += cc[0] * (ll[0] + hh[3])
		a1 += cc[1] * (ll[1] + hh[2])
		a2 += cc[2] * (ll[2] + hh[1])
		a3 += cc[3] * (ll[3] + hh[0])
	}
	for ; i < n; i++ {
		a0 += c[i] * (lo[i] + hi[n-1-i])
	}
	return (a0 + a1) + (a2 + a3) + c[n]*x[n]
}

// dot2 is dot for interleaved stereo x: it returns the sums for both
// channels.
func dot2(c, x []float32) (l, r float32) {
	x = x[:2*len(c)]
	var l0, r0, l1, r1 float32
	i := 0
	for ; i+2 <= len(c); i += 2 {
		cc, xx := c[i:i+2:i+2], x[2*i:2*i+4:2*i+4]
		l0 += cc[0] * xx[0]
		r0 += cc[0] * xx[1]
		l1 += cc[1] * xx[2]
		r1 += cc[1] * xx[3]
	}
	for ; i < len(c); i++ {
		l0 += c[i] * x[2*i]
		r0 += c[i] * x[2*i+1]
	}
	return l0 + l1, r0 + r1
}
