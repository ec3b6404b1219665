package stt

import (
	"fmt"

	"github.com/earshot/earshot/audio"
)

// TranscribeConfig tunes Transcribe. The zero value is the Earshot default.
type TranscribeConfig struct {
	// Rate is the rate of the samples. Zero means audio.PipelineRate; any
	// other rate fails with ErrSampleRate (resample first).
	Rate audio.SampleRate
	// VAD configures speech detection, including its feature extractor
	// (VAD.Features).
	VAD audio.VADConfig
	// Gate configures padding and pre-roll around speech.
	Gate GateConfig
}

// Transcribe runs feature extraction, voice activity detection and a Gate
// over one whole channel of 16 kHz mono samples in [-1, 1] and returns the
// final results in order (partials are dropped). rec must be at the start of
// a stream; it is left at the end of this one, not closed. Transcribe
// blocks while it decodes, about a tenth of the speech's duration.
func Transcribe(rec Recognizer, mono []float32, cfg TranscribeConfig) ([]Result, error) {
	if cfg.Rate != 0 && cfg.Rate != audio.PipelineRate {
		return nil, fmt.Errorf("stt: transcribing %d Hz audio: %w", cfg.Rate, ErrSampleRate)
	}
	ex := audio.NewFeatureExtractor(cfg.VAD.Features)
	vad := audio.NewVAD(cfg.VAD)
	gate := NewGate(rec, cfg.Gate)
	frame := make([]float32, audio.FrameSize)
	pcm := make([]int16, audio.FrameSize)
	var finals []Result
	keep := func(res []Result) {
		for _, r := range res {
			if r.Final {
				finals = append(finals, r)
			}
		}
	}
	for i := 0; i < len(mono); i += audio.FrameSize {
		n := copy(frame, mono[i:min(i+audio.FrameSize, len(mono))])
		clear(frame[n:])
		f, err := ex.Extract(frame)
		if err != nil {
			return finals, fmt.Errorf("stt: features at sample %d: %w", i, err)
		}
		ev := vad.Push(f, audio.PipelineRate.Duration(i))
		ToPCM(pcm, frame)
		res, err := gate.Push(pcm, ev)
		keep(res)
		if err != nil {
			return finals, err
		}
	}
	// The stream ends: the gate closes an open utterance itself, so the
	// VAD's own closing event adds nothing.
	vad.Flush(audio.PipelineRate.Duration(len(mono)))
	res, err := gate.Flush()
	keep(res)
	return finals, err
}

// ToPCM converts float samples in [-1, 1] to signed 16-bit, clipping, into
// dst (len(dst) must be at least len(src)). It never allocates.
func ToPCM(dst []int16, src []float32) {
	for i, s := range src {
		v := s * 32767
		switch {
		case v > 32767:
			v = 32767
		case v < -32768:
			v = -32768
		}
		dst[i] = int16(v)
	}
}
