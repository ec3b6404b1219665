package stt

import "errors"

// Sentinel errors. Implementations wrap them with detail, so callers test
// with errors.Is and print the whole message.
var (
	// ErrClosed means the recognizer was used after Close.
	ErrClosed = errors.New("stt: recognizer closed")
	// ErrSampleRate means audio or a configuration declared a sample rate
	// other than audio.PipelineRate (16 kHz); recognizers never resample.
	ErrSampleRate = errors.New("stt: sample rate must be 16000 Hz")
	// ErrModel means the acoustic model, dictionary or language model is
	// missing or could not be loaded.
	ErrModel = errors.New("stt: speech model unavailable")
	// ErrDecode means the decoder failed on audio it was given.
	ErrDecode = errors.New("stt: decoding failed")
	// ErrNegativeSkip means Skip was asked to go back in time.
	ErrNegativeSkip = errors.New("stt: negative skip")
	// ErrBadAdaptation means Adapt was given a state the recognizer cannot
	// use (another model's, or corrupt).
	ErrBadAdaptation = errors.New("stt: unusable adaptation state")
	// ErrFrameSize means a Gate was given a frame that is not
	// audio.FrameSize samples long.
	ErrFrameSize = errors.New("stt: frame is not 20 ms at 16 kHz")
	// ErrUtteranceOpen means a Gate was asked to continue an utterance
	// while one was open.
	ErrUtteranceOpen = errors.New("stt: utterance already open")
)
