package samples

import "errors"

// Sentinel errors. Functions wrap them with the detail of what was wrong, so
// callers test with errors.Is and print the whole message.
var (
	// ErrBadTruth means a ground-truth document is not valid JSON of the
	// Truth schema or breaks one of its rules (unknown speaker, a segment
	// ending before it starts, a hint pointing past the segments).
	ErrBadTruth = errors.New("invalid ground truth")
	// ErrNoCall means no embedded call has the requested name.
	ErrNoCall = errors.New("no such sample call")
)
