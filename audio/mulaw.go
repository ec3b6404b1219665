package audio

import "math/bits"

// G.711 μ-law works on magnitudes biased by 0x84 (132) in the 16-bit domain,
// so that every segment boundary falls on a power of two; the largest
// magnitude it can express is 32635 + 132 = 0x7FFF.
const (
	mulawBias = 0x84
	mulawClip = 32635
)

// mulawTable maps every μ-law byte to its linear value, scaled to [-1, 1).
// Decoding is a table look-up because it runs on every ingest frame of every
// phone call.
var mulawTable = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(mulawToLinear(byte(i))) / pcm16Scale
	}
	return t
}()

// mulawToLinear decodes one μ-law byte to 16-bit linear per ITU-T G.711.
func mulawToLinear(u byte) int16 {
	u = ^u
	t := (int(u&0x0F)<<3 + mulawBias) << ((u & 0x70) >> 4)
	if u&0x80 != 0 {
		return int16(mulawBias - t)
	}
	return int16(t - mulawBias)
}

// linearToMulaw encodes one 16-bit linear sample to μ-law per ITU-T G.711.
func linearToMulaw(v int16) byte {
	mask := byte(0xFF)
	x := int(v)
	if x < 0 {
		x = -x
		mask = 0x7F
	}
	x = min(x, mulawClip) + mulawBias
	// x is in [0x84, 0x7FFF]: its highest set bit (7..14) picks the segment.
	seg := bits.Len(uint(x)) - 8
	return (byte(seg<<4) | byte(x>>(seg+3))&0x0F) ^ mask
}

// MulawEncode encodes float32 samples in [-1, 1] to G.711 μ-law bytes (values
// outside the range are clamped) and returns how many it encoded:
// min(len(dst), len(src)).
func MulawEncode(dst []byte, src []float32) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, s := range src {
		dst[i] = linearToMulaw(floatToInt16(s))
	}
	return n
}

// MulawDecode decodes G.711 μ-law bytes to float32 samples in [-1, 1) and
// returns how many it decoded: min(len(dst), len(src)).
func MulawDecode(dst []float32, src []byte) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, b := range src {
		dst[i] = mulawTable[b]
	}
	return n
}
