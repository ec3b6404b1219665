// Package audio is Earshot's sound vocabulary: sample formats, pull-based
// sources, WAV and MP3 decoding, band-limited resampling to 16 kHz, G.711
// μ-law, 20 ms framing, per-frame DSP features and voice activity detection.
//
// The package is pure Go: it starts no goroutines and imports no cgo, so the
// same code runs inside a live call session, in `earshot analyze` and in tests.
// Audio is pulled into buffers owned by the caller (see Source).
package audio
