package cli

import "errors"

// Sentinel errors a Command returns to choose its exit code without a
// message of its own.
var (
	// ErrUsage marks a command-line mistake that has already been
	// explained (the flag package, or the command, printed what was
	// wrong): exit status 2.
	ErrUsage = errors.New("usage error")
	// ErrReported marks a failure whose details were already printed (for
	// example some of several files failed): exit status 1, no message.
	ErrReported = errors.New("failed")
)
