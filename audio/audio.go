package audio

import "time"

// SampleRate is a number of samples per second and per channel.
type SampleRate int

// PipelineRate is the rate every analysis stage works at: the recognizer's
// acoustic model is trained on 16 kHz speech.
const PipelineRate SampleRate = 16000

// FrameDuration is the analysis hop: features, VAD decisions and ingest
// frames are all 20 ms long.
const FrameDuration = 20 * time.Millisecond

// FrameSize is the number of samples in one frame at PipelineRate.
const FrameSize = int(PipelineRate) * int(FrameDuration/time.Millisecond) / 1000

// Channel indexes of a stereo call recording: left is the agent, right the caller.
const (
	AgentChannel  = 0
	CallerChannel = 1
)

// Format describes the samples a Source delivers.
type Format struct {
	Rate     SampleRate
	Channels int
}

// Source is a pull-based stream of interleaved float32 samples in [-1, 1].
//
// Read fills p with up to len(p) samples (a multiple of Format().Channels
// when len(p) is) and returns how many it wrote. It returns n > 0 with a nil
// error while audio remains, and 0, io.EOF at the end. Any other error means
// the stream is broken and names why. The caller owns p; a Source never keeps
// a reference to it. Read never blocks on anything but the underlying reader.
type Source interface {
	Read(p []float32) (n int, err error)
	Format() Format
}

// Duration returns how long n samples per channel last at rate r.
func (r SampleRate) Duration(n int) time.Duration {
	return time.Duration(n) * time.Second / time.Duration(r)
}

// Samples returns how many samples per channel d lasts at rate r.
func (r SampleRate) Samples(d time.Duration) int {
	return int(d * time.Duration(r) / time.Second)
}

// Features describe one 20 ms frame of one channel. They are computed by a
// FeatureExtractor, which keeps the running noise-floor estimate per channel.
type Features struct {
	LevelDBFS      float64 // RMS level in dB relative to full scale; MinDBFS for digital silence
	ZCR            float64 // zero crossings per sample, 0..1
	CentroidHz     float64 // spectral centroid
	Flatness       float64 // spectral flatness (geometric / arithmetic mean of the power spectrum), 0..1
	RolloffHz      float64 // frequency below which 85 % of the spectral energy lies
	F0Hz           float64 // fundamental frequency; 0 when the frame is unvoiced
	NoiseFloorDBFS float64 // running estimate of the channel's background level
	SNRDB          float64 // LevelDBFS - NoiseFloorDBFS, floored at 0
}

// MinDBFS is the level reported for digital silence.
const MinDBFS = -120.0

// Segment is a stretch of one channel's stream, in offsets from its start.
type Segment struct {
	Start, End time.Duration
}

// Duration returns how long the segment lasts.
func (s Segment) Duration() time.Duration { return s.End - s.Start }
