package audio

import "math"

// pcm16Scale maps int16 full scale to [-1, 1). Dividing by 32768 rather than
// 32767 keeps the mapping exact in both directions: FloatToPCM16 undoes
// PCM16ToFloat bit for bit.
const pcm16Scale = 32768

// PCM16ToFloat converts 16-bit samples to float32 in [-1, 1) and returns how
// many it converted: min(len(dst), len(src)).
func PCM16ToFloat(dst []float32, src []int16) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, s := range src {
		dst[i] = float32(s) * (1.0 / pcm16Scale)
	}
	return n
}

// FloatToPCM16 converts float32 samples to 16-bit, rounding to nearest and
// clamping to the int16 range (NaN becomes 0). It returns how many it
// converted: min(len(dst), len(src)).
func FloatToPCM16(dst []int16, src []float32) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, s := range src {
		dst[i] = floatToInt16(s)
	}
	return n
}

// PCM16LEBytesToFloat converts little-endian signed 16-bit samples in b to
// float32 in [-1, 1) and returns how many samples it converted:
// min(len(dst), len(b)/2). A trailing odd byte is ignored.
func PCM16LEBytesToFloat(dst []float32, b []byte) int {
	n := min(len(dst), len(b)/2)
	dst, b = dst[:n], b[:2*n]
	for i := range dst {
		dst[i] = float32(int16(uint16(b[2*i])|uint16(b[2*i+1])<<8)) * (1.0 / pcm16Scale)
	}
	return n
}

func floatToInt16(s float32) int16 {
	v := float64(s) * pcm16Scale
	switch {
	case v >= math.MaxInt16:
		return math.MaxInt16
	case v <= math.MinInt16:
		return math.MinInt16
	case v != v: // NaN
		return 0
	}
	return int16(math.RoundToEven(v))
}

// clampSample maps a decoded float sample into the [-1, 1] range every Source
// promises; float WAV files may hold overs, infinities or NaN.
func clampSample(v float32) float32 {
	switch {
	case v > 1:
		return 1
	case v < -1:
		return -1
	case v != v:
		return 0
	}
	return v
}
