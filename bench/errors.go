package bench

import "errors"

// Sentinel errors.
var (
	// ErrNoSamples means the binary embeds no sample calls to replay.
	ErrNoSamples = errors.New("bench: no embedded sample calls")
	// ErrConfig means a LiveConfig value is out of range.
	ErrConfig = errors.New("bench: bad configuration")
)
