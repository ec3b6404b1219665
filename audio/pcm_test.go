package audio

import (
	"math"
	"testing"
)

func TestPCM16ConversionsRoundTripExactly(t *testing.T) {
	src := make([]int16, 65536)
	for i := range src {
		src[i] = int16(i - 32768)
	}
	f := make([]float32, len(src))
	if n := PCM16ToFloat(f, src); n != len(src) {
		t.Fatalf("converted %d", n)
	}
	back := make([]int16, len(src))
	FloatToPCM16(back, f)
	for i := range src {
		if back[i] != src[i] {
			t.Fatalf("%d → %v → %d", src[i], f[i], back[i])
		}
		if f[i] < -1 || f[i] >= 1 {
			t.Fatalf("%d → %v, outside [-1, 1)", src[i], f[i])
		}
	}
	b := make([]byte, 2*len(src))
	for i, s := range src {
		b[2*i], b[2*i+1] = byte(s), byte(uint16(s)>>8)
	}
	g := make([]float32, len(src))
	if n := PCM16LEBytesToFloat(g, append(b, 0x7F)); n != len(src) {
		t.Fatalf("PCM16LEBytesToFloat converted %d, want %d (the odd byte ignored)", n, len(src))
	}
	assertSamples(t, g, f)
}

func TestFloatToPCM16ClampsAndRounds(t *testing.T) {
	tests := []struct {
		name string
		in   float32
		want int16
	}{
		{"full scale positive clamps to the largest value", 1, 32767},
		{"beyond full scale clamps", 7.5, 32767},
		{"full scale negative is the smallest value", -1, -32768},
		{"beyond negative full scale clamps", -2, -32768},
		{"NaN becomes silence", float32(math.NaN()), 0},
		{"half an LSB rounds to even", 0.5 / 32768, 0},
		{"one and a half LSB rounds to even", 1.5 / 32768, 2},
		{"just under half scale rounds to nearest", 0.49999, 16384},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got [1]int16
			FloatToPCM16(got[:], []float32{tc.in})
			if got[0] != tc.want {
				t.Errorf("FloatToPCM16(%v) = %d, want %d", tc.in, got[0], tc.want)
			}
		})
	}
}

func TestPCMConversionsStopAtTheShorterSlice(t *testing.T) {
	if n := PCM16ToFloat(make([]float32, 3), make([]int16, 5)); n != 3 {
		t.Errorf("PCM16ToFloat converted %d, want 3", n)
	}
	if n := FloatToPCM16(make([]int16, 5), make([]float32, 2)); n != 2 {
		t.Errorf("FloatToPCM16 converted %d, want 2", n)
	}
	if n := PCM16LEBytesToFloat(make([]float32, 10), make([]byte, 7)); n != 3 {
		t.Errorf("PCM16LEBytesToFloat converted %d, want 3", n)
	}
}
