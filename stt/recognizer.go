package stt

// Recognizer turns one stream of 16 kHz mono speech into results. It is
// synchronous (the caller owns the goroutine that feeds it) and not safe for
// concurrent use, except that Close may be called from any goroutine.
//
// The stream clock starts at zero when the recognizer is created (or handed
// out by a pool) and advances by every sample passed to Accept or Skip, so
// result and word times are offsets from the start of the stream.
type Recognizer interface {
	// Accept decodes pcm (16 kHz mono, signed 16-bit) as the continuation of
	// the current utterance, opening one if none is open. It returns partial
	// results: at least one per 300 ms of audio accepted, each covering the
	// utterance so far (Text may be empty early in an utterance). The
	// returned slice is owned by the caller. Accept blocks while it decodes
	// (about a tenth of the audio's duration). It fails with ErrClosed after
	// Close and with an error wrapping ErrDecode when the decoder fails; the
	// utterance is then abandoned.
	Accept(pcm []int16) ([]Result, error)
	// Skip advances the stream clock over n samples that are not decoded
	// (silence outside speech), so word times stay offsets from the stream
	// start. Skipping inside an open utterance ends it first and returns its
	// final result, as if Flush had been called. n < 0 is ErrNegativeSkip.
	Skip(n int) ([]Result, error)
	// Flush ends the open utterance and returns its final result: one Result
	// with Final set, its words and confidence. It returns nothing when no
	// utterance is open or the utterance held no words.
	Flush() ([]Result, error)
	// Close releases the decoder. It is idempotent; every other method
	// fails with ErrClosed afterwards. An open utterance is discarded.
	Close() error
}

// Adaptive is a Recognizer whose adaptation to the speaker and the line
// (PocketSphinx's cepstral-mean estimate) can be saved and restored, so a
// stream resumed after an interruption (an engine restart mid-call) goes
// on from where it stood instead of misrecognising its first words while
// it learns the voice again.
type Adaptive interface {
	Recognizer
	// Adaptation returns the current state (nil when there is none); the
	// slice is the caller's.
	Adaptation() []float32
	// Adapt restores a state Adaptation returned, on a recognizer loaded
	// from the same model. A state it cannot use is refused with an error
	// wrapping ErrBadAdaptation and changes nothing.
	Adapt(state []float32) error
}
