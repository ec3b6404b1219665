package audio

import (
	"fmt"
	"math"
	"testing"
)

func TestMulawDecodeMatchesG711(t *testing.T) {
	// Values from the G.711 μ-law decoding table in the 16-bit domain.
	tests := []struct {
		code byte
		want int
	}{
		{0xFF, 0},
		{0x7F, 0},
		{0x00, -32124},
		{0x80, 32124},
		{0xFE, 8},
		{0x7E, -8},
		{0xF0, 120},
		{0xEF, 132},
		{0xDF, 396},
		{0xCF, 924},
		{0xBF, 1980},
		{0x9F, 8316},
		{0x8F, 16764},
		{0x0F, -16764},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("μ-law %#02x decodes to its table value", tc.code), func(t *testing.T) {
			var got [1]float32
			MulawDecode(got[:], []byte{tc.code})
			if want := float32(tc.want) / 32768; got[0] != want {
				t.Errorf("decoded %v (%v in 16-bit), want %d", got[0], got[0]*32768, tc.want)
			}
		})
	}
}

func TestMulawEncodeMatchesG711(t *testing.T) {
	tests := []struct {
		in   int // 16-bit linear
		want byte
	}{
		{0, 0xFF},
		{-1, 0x7F},
		{32767, 0x80},
		{-32768, 0x00},
		{32124, 0x80},
		{8316, 0x9F},
		{-8316, 0x1F},
		{120, 0xF0},
		{132, 0xEF},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("the 16-bit value %d encodes to its code", tc.in), func(t *testing.T) {
			var got [1]byte
			MulawEncode(got[:], []float32{float32(tc.in) / 32768})
			if got[0] != tc.want {
				t.Errorf("encoded %#02x, want %#02x", got[0], tc.want)
			}
		})
	}
}

func TestMulawRoundTrips(t *testing.T) {
	t.Run("every code survives decode then encode", func(t *testing.T) {
		for c := range 256 {
			var f [1]float32
			var back [1]byte
			MulawDecode(f[:], []byte{byte(c)})
			MulawEncode(back[:], f[:])
			want := byte(c)
			if want == 0x7F { // negative zero encodes as positive zero
				want = 0xFF
			}
			if back[0] != want {
				t.Errorf("code %#02x → %v → %#02x", c, f[0], back[0])
			}
		}
	})
	t.Run("every 16-bit value comes back within half a quantisation step", func(t *testing.T) {
		for v := -32768; v <= 32767; v++ {
			var code [1]byte
			var got [1]float32
			MulawEncode(code[:], []float32{float32(v) / 32768})
			MulawDecode(got[:], code[:])
			// The step doubles with every segment: 8 in the first, 1024 in the last.
			seg := (^code[0] >> 4) & 7
			step := 8 << seg
			limit := float64(step) / 2
			if math.Abs(float64(v)) > 32124+limit { // beyond the top code: clipped
				limit = math.Abs(float64(v)) - 32124
			}
			if err := math.Abs(float64(got[0])*32768 - float64(v)); err > limit+0.5 {
				t.Fatalf("%d → %#02x → %v: error %v, step %d", v, code[0], got[0]*32768, err, step)
			}
		}
	})
	t.Run("a speech-level tone keeps a G.711-like signal-to-noise ratio", func(t *testing.T) {
		x := tone(8000, 1004, math.Pow(10, -15.0/20)*math.Sqrt2, 8000) // -15 dBm0-ish
		code := make([]byte, len(x))
		y := make([]float32, len(x))
		MulawEncode(code, x)
		MulawDecode(y, code)
		var sig, noise float64
		for i := range x {
			sig += float64(x[i]) * float64(x[i])
			d := float64(y[i] - x[i])
			noise += d * d
		}
		snr := 10 * math.Log10(sig/noise)
		t.Logf("SNR of μ-law on a 1004 Hz tone at -15 dBFS: %.1f dB", snr)
		if snr < 35 {
			t.Errorf("SNR %.1f dB, want ≥ 35 dB (G.711 gives about 38)", snr)
		}
	})
}

func TestMulawClampsOutOfRangeInput(t *testing.T) {
	code := make([]byte, 4)
	MulawEncode(code, []float32{2, -2, float32(math.Inf(1)), float32(math.NaN())})
	if want := []byte{0x80, 0x00, 0x80, 0xFF}; string(code) != string(want) {
		t.Errorf("encoded % x, want % x", code, want)
	}
}

func TestMulawCodecDoesNotAllocate(t *testing.T) {
	x := tone(8000, 440, 0.5, 160)
	code := make([]byte, 160)
	y := make([]float32, 160)
	if a := testing.AllocsPerRun(100, func() { MulawEncode(code, x); MulawDecode(y, code) }); a != 0 {
		t.Errorf("%v allocations per 20 ms frame", a)
	}
}

func BenchmarkMulawDecode(b *testing.B) {
	code := make([]byte, 160)
	y := make([]float32, 160)
	b.SetBytes(160)
	for b.Loop() {
		MulawDecode(y, code)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/frame")
}
