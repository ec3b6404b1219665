package engine

import (
	"encoding/json"
	"time"

	"github.com/earshot/earshot/insights"
	"github.com/earshot/earshot/insights/store"
	"github.com/earshot/earshot/protocol"
)

// Analyzer is one call's analysis pipeline as a session drives it. Only the
// session's goroutine calls it, in call-time order per channel; it must not
// start goroutines it does not stop in Close.
type Analyzer interface {
	// Push takes one 20 ms frame (audio.FrameSize samples at 16 kHz) of
	// channel 0 (agent) or 1 (caller) starting at call time at, and returns
	// the events it caused. The frame is only valid during the call.
	Push(channel int, frame []float32, at time.Duration) ([]protocol.Event, error)
	// Gap tells the pipeline audio from..to of a channel is missing.
	Gap(channel int, from, to time.Duration, reason string)
	// Tick lets time-driven rules (dead air) fire at call time at.
	Tick(at time.Duration) []protocol.Event
	// Finish flushes the call at call time at and returns the last events
	// and the call's results for storage.
	Finish(at time.Duration) ([]protocol.Event, CallResult, error)
	// Close releases the pipeline's resources (recognizers back to their pool).
	Close() error
}

// CallResult is what a finished pipeline reports for the stored call. Zero
// fields leave what the session derived from the events.
type CallResult struct {
	TalkRatio  float64          // agent share of speech time, 0..1
	Categories []string         // overrides categories seen in events when set
	Sentiment  *store.Sentiment // overrides the event-derived sentiment when set
	Dynamics   any              // JSON-marshalable dynamics summary
	Segments   any              // JSON-marshalable speech segments
	// Channels is where each channel's analysis stood at the end, kept so
	// a call resumed after a restart goes on from there.
	Channels []store.ChannelState
}

// CallInfo describes a call to NewAnalyzer.
type CallInfo struct {
	ID, AgentID string
	StartedAt   time.Time
	// ResumedAt is the call time a call resumed after an engine restart
	// continues from (0 for a new call): the new pipeline starts there.
	ResumedAt time.Duration
	// PriorSegments are the speech segments the call's earlier pipeline
	// found before the restart (from the stored call), so the resumed
	// call's dynamics cover the whole call.
	PriorSegments []insights.SpeechSegment
	// PriorSentiment are the scores of the utterances stored before the
	// restart, in order, so the call's sentiment summary, trend and rolling
	// sentiment cover the whole call.
	PriorSentiment []insights.TimedScore
	// Resume is where each channel (agent, caller) of the earlier pipeline
	// stood when it stopped; zero when unknown.
	Resume [2]store.ChannelState
	// Redaction is the call's stored redaction state (store.Call.Redaction),
	// nil for a new call.
	Redaction json.RawMessage
}

// NewAnalyzerFunc makes a call's pipeline. It may block briefly (taking
// recognizers from a pool); it must not block for long.
type NewAnalyzerFunc func(CallInfo) (Analyzer, error)
