package insights

import "errors"

// Sentinel errors. Callers test with errors.Is; the returned errors wrap them
// with the offending value.
var (
	// ErrUnknownSpeaker means a speaker other than Agent or Caller was given.
	ErrUnknownSpeaker = errors.New("unknown speaker (want agent or caller)")
	// ErrSpeechState means a speech start arrived for a speaker who is
	// already speaking, or a speech end for one who is not: the voice
	// activity events of that channel are out of step.
	ErrSpeechState = errors.New("speech start/end out of step")
)
