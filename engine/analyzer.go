package engine

import (
	"context"
	"runtime"
	"time"

	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/insights"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/stt"
)

// Analyzer is one call's analysis pipeline as a session drives it
// (*call.Pipeline is the one the engine runs; tests put others in its
// place). Only the session's goroutine calls it, in call-time order per
// channel; it must not start goroutines it does not stop in Close. The Data
// of the events it returns are the protocol package's types.
type Analyzer interface {
	// Push takes one 20 ms frame (audio.FrameSize samples at 16 kHz) of a
	// channel starting at call time at, and returns the events it caused.
	// The frame is only valid during the call.
	Push(ch protocol.Channel, frame []float32, at time.Duration) ([]protocol.Event, error)
	// Gap tells the pipeline audio from..to of a channel is missing.
	Gap(ch protocol.Channel, from, to time.Duration, reason string)
	// Tick lets time-driven rules (dead air) fire at call time at.
	Tick(at time.Duration) []protocol.Event
	// Finish flushes the call at call time at and returns the last events
	// and the call's record, without ending the call: it may go on in
	// another pipeline (a shutdown, a dropped endpoint).
	Finish(at time.Duration) ([]protocol.Event, call.Record, error)
	// End is Finish for a call that is over: rules waiting for the call's
	// end (a playbook absence window) are judged at at.
	End(at time.Duration) ([]protocol.Event, call.Record, error)
	// OpenSince is where the utterance channel ch is in the middle of
	// began, while the pipeline can still decode it whole; false when none
	// (call.Pipeline.OpenSince). The ack stops there (ackhold.go).
	OpenSince(ch protocol.Channel) (time.Duration, bool)
	// LiveState is where channel ch stands now (noise floor, speaking,
	// the recognizer's adaptation), kept with each checkpoint so a pipeline
	// resumed from it starts there (call.Pipeline.LiveState).
	LiveState(ch protocol.Channel) call.ChannelState
	// RedactionState is where redaction stands, kept with each checkpoint.
	RedactionState() insights.RedactorState
	// Close releases the pipeline's resources (recognizers back to their pool).
	Close() error
}

// NewAnalyzerFunc makes a call's pipeline. The session fills in what it
// knows of the call (ids, where a resumed call stood); the func adds the
// rest. It may block briefly (taking recognizers from a pool); it must not
// block for long.
type NewAnalyzerFunc func(call.Config) (Analyzer, error)

// PipelineAnalyzers returns the NewAnalyzerFunc live sessions use: a
// call.Pipeline per call over the shared deps. A call resumed after an
// engine restart starts its pipeline at the resume time (call.Config.Start):
// the old process's analysis of the audio before it was lost with it, its
// stored events and utterances were not. Without a deps.Scheduler the calls
// share one with a slot per processor Go may use (GOMAXPROCS).
//
// A live call waits at most call.LiveRecognizerWait for recognizers: its
// audio queues meanwhile, and after that it goes on without a transcript.
func PipelineAnalyzers(ctx context.Context, deps call.Deps) NewAnalyzerFunc {
	if deps.Scheduler == nil {
		deps.Scheduler = stt.NewScheduler(runtime.GOMAXPROCS(0))
	}
	return func(cfg call.Config) (Analyzer, error) {
		cfg.RecognizerWait = call.LiveRecognizerWait
		p, err := call.New(ctx, deps, cfg)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
}
