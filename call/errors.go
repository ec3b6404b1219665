package call

import "errors"

// Pipeline errors.
var (
	// ErrPipelineDone means Push, Tick or Finish came after Finish or Close.
	ErrPipelineDone = errors.New("call: pipeline already finished")
	// ErrBadChannel means a channel other than the agent's or the caller's.
	ErrBadChannel = errors.New("call: channel out of range")
	// ErrBadFrame means a frame of the wrong length or out of time order.
	ErrBadFrame = errors.New("call: bad audio frame")
)
