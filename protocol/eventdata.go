package protocol

import "time"

// The Data of each live event type (docs/protocol.md, "Live events"). Their
// JSON fields are merged into the event's object, so none of them may use
// a name of the envelope: type, call_id, agent_id, seq, t, ts
// (TestEventDataKeepsOffTheEnvelope). Times are seconds (Seconds).

// CallStarted is the data of call.started.
type CallStarted struct {
	StartedAt time.Time `json:"started_at"` // UTC
}

// CallEnded is the data of call.ended.
type CallEnded struct {
	Reason    EndReason `json:"reason"`
	DurationS float64   `json:"duration_s"`
}

// Partial is the data of transcript.partial: the recognizer's current
// guess at the utterance in progress, already redacted.
type Partial struct {
	Speaker Channel `json:"speaker"`
	Start   float64 `json:"start"`
	End     float64 `json:"end"`
	Text    string  `json:"text"`
}

// Segment is a stretch of one speaker's speech, as a stored call and
// `earshot analyze` list them.
type Segment struct {
	Speaker Channel `json:"speaker"`
	Start   float64 `json:"start"`
	End     float64 `json:"end"`
}

// Word is one word of a final transcript.
type Word struct {
	Text       string  `json:"text"`
	Start      float64 `json:"start"`
	End        float64 `json:"end"`
	Confidence float64 `json:"confidence"`
}

// UtteranceSentiment is how one utterance scored.
type UtteranceSentiment struct {
	Score   float64 `json:"score"` // -1..1, text and voice
	Label   string  `json:"label"`
	Text    float64 `json:"text"` // the text-only score
	Arousal float64 `json:"arousal"`
}

// Utterance is the data of transcript.final: one utterance, redacted, with
// its words and sentiment. It is also the utterance record the engine stores.
type Utterance struct {
	Speaker    Channel             `json:"speaker"`
	Start      float64             `json:"start"`
	End        float64             `json:"end"`
	Text       string              `json:"text"`
	Words      []Word              `json:"words"`
	Confidence float64             `json:"confidence"`
	Sentiment  *UtteranceSentiment `json:"sentiment,omitempty"`
	// Replaces is the seq of an earlier final this one takes the place of:
	// the first part of an utterance an engine restart cut, now decoded
	// whole. Zero (left out) otherwise.
	Replaces uint64 `json:"replaces,omitempty"`
}

// Sentiment is the data of a sentiment event: the utterance's score and
// label, the speaker's rolling sentiment, and the caller's change over the
// call so far (the trend).
type Sentiment struct {
	Speaker Channel `json:"speaker"`
	Score   float64 `json:"score"`
	Label   string  `json:"label"`
	Rolling float64 `json:"rolling"`
	Trend   float64 `json:"trend"`
}

// Dynamics is the data of a dynamics event about one moment of the
// conversation (dead air, overtalk, an interruption, a monologue…).
type Dynamics struct {
	Event string `json:"event"`
	// Speaker is "agent", "caller", or "" for a moment that is nobody's
	// (dead air): the one speaker field that may name neither side.
	Speaker string  `json:"speaker"`
	Start   float64 `json:"start"`
	End     float64 `json:"end"`
	Ongoing bool    `json:"ongoing"`
	Value   float64 `json:"value"`
}

// DynamicsSnapshot is the data of the periodic dynamics event: Event is
// "snapshot" and Dynamics the call's figures so far (insights.Dynamics).
type DynamicsSnapshot struct {
	Event    string `json:"event"`
	Dynamics any    `json:"dynamics"`
}

// Category is the data of a category event.
type Category struct {
	ID string `json:"id"`
}

// Hint kinds.
const (
	HintPlaybook = "playbook"
	HintKB       = "kb"
)

// Hint is the data of a hint event: what the overlay shows the agent.
type Hint struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"` // HintPlaybook or HintKB
	Title    string `json:"title"`
	Text     string `json:"text"`
	Priority int    `json:"priority,omitempty"`
	KB       string `json:"kb,omitempty"`
	// TTLS is how long (seconds) the overlay shows the hint; zero leaves
	// it to the overlay's default.
	TTLS float64 `json:"ttl_s,omitempty"`
}

// Alert severities.
const (
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Alert is the data of an alert event, raised for supervisors.
type Alert struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Text     string `json:"text"`
}

// Error is the data of an error event.
type Error struct {
	Message string `json:"message"`
}

// EndReason is why a call ended: the reason of call.ended and of the stored
// call.
type EndReason string

// End reasons.
const (
	EndEnd          EndReason = "end"           // the endpoint ended it
	EndShutdown     EndReason = "shutdown"      // the engine stopped; the call may resume
	EndEndpointLost EndReason = "endpoint_lost" // the endpoint did not resume in time
	EndNoAudio      EndReason = "no_audio"      // no audio came within the limit after start
	EndError        EndReason = "error"         // the call's analysis failed
)
