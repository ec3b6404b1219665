package eval

import "errors"

// Sentinel errors; wrapped with the detail (file, line) of what was wrong.
var (
	// ErrManifest means a manifest line is malformed.
	ErrManifest = errors.New("eval: bad manifest")
	// ErrBaseline means pocketsphinx_continuous could not be run or failed.
	ErrBaseline = errors.New("eval: baseline recognizer failed")
	// ErrFormat means a report format other than text or json was asked for.
	ErrFormat = errors.New("eval: unknown report format")
)
