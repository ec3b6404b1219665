package store

import (
	"encoding/json"
	"time"
)

// Call statuses.
const (
	StatusLive  = "live"
	StatusEnded = "ended"
)

// Sentiment is a call's sentiment summary: the last rolling score of each
// side (-1..1) and the caller's trend ("improving", "worsening", "steady" or "").
type Sentiment struct {
	Caller float64 `json:"caller"`
	Agent  float64 `json:"agent"`
	Trend  string  `json:"trend"`
}

// Call is one call's summary, rewritten as the call progresses (the engine
// checkpoints it with every ack) and at its end.
type Call struct {
	ID         string     `json:"id"`
	AgentID    string     `json:"agent_id"`
	StartedAt  time.Time  `json:"started_at"`
	EndedAt    *time.Time `json:"ended_at,omitempty"`
	DurationS  float64    `json:"duration_s"`
	Status     string     `json:"status"`
	EndReason  string     `json:"end_reason,omitempty"`
	Categories []string   `json:"categories"`
	Sentiment  Sentiment  `json:"sentiment"`
	// TalkRatio is the agent's share of the call's speech time, 0..1.
	TalkRatio float64 `json:"talk_ratio"`
	Hints     int     `json:"hints"`
	Alerts    int     `json:"alerts"`

	// Ingest progress, the state a resumed call continues from.
	SampleRate int     `json:"sample_rate,omitempty"`
	Encoding   string  `json:"encoding,omitempty"`
	Frames     int64   `json:"frames"`      // distinct audio frames received with seq ≤ Ack
	FramesLost int64   `json:"frames_lost"` // frames reported lost or never received
	Ack        int64   `json:"ack"`         // highest seq with nothing missing before it; -1 none
	LastSeq    uint64  `json:"last_event_seq"`
	AudioS     float64 `json:"audio_s"` // call time reached by the audio, seconds
	// Channels is where each channel's analysis (agent, caller) stood when
	// the call's pipeline last stopped, for a resumed call to go on from.
	Channels []ChannelState `json:"channels,omitempty"`

	// Redaction is the call's redaction state (insights.RedactorState) at
	// the checkpoint: a call resumed after a crash in the middle of a card
	// reading still knows a card is being read. It holds no digits.
	Redaction json.RawMessage `json:"redaction,omitempty"`

	// Analysis results set when the call ends, passed through as JSON.
	Dynamics json.RawMessage `json:"dynamics,omitempty"`
	Segments json.RawMessage `json:"segments,omitempty"`

	// StartNS indexes calls by start time (nanoseconds since the Unix epoch).
	StartNS int64 `json:"start_unix_ns"`
}

// EndReason is why a call ended (Call.EndReason).
type EndReason string

// End reasons.
const (
	EndEnd          EndReason = "end"           // the endpoint ended it
	EndShutdown     EndReason = "shutdown"      // the engine stopped; the call may resume
	EndEndpointLost EndReason = "endpoint_lost" // the endpoint did not resume in time
	EndNoAudio      EndReason = "no_audio"      // no audio came within the limit after start
	EndError        EndReason = "error"         // the call's analysis failed
)

// ChannelState is where one channel's analysis stood when its pipeline
// stopped (an engine shutdown in the middle of a call).
type ChannelState struct {
	// NoiseFloorDBFS is the channel's background level.
	NoiseFloorDBFS float64 `json:"noise_floor_dbfs"`
	// Speaking is whether the channel was in the middle of speech.
	Speaking bool `json:"speaking,omitempty"`
	// Adaptation is what the channel's recognizer had learned of the voice
	// and line (stt.Adaptive), opaque here.
	Adaptation []float32 `json:"adaptation,omitempty"`
	// OpenSpeech is the audio of the utterance in progress when an engine
	// stopped (16 kHz PCM16 little-endian, from OpenSpeechFrom seconds of
	// call time), so the restarted engine decodes the utterance whole. It
	// is audio, so it is never stored with the call: the engine keeps it in
	// a file of its own until the call resumes or the resume window ends.
	OpenSpeech     []byte  `json:"-"`
	OpenSpeechFrom float64 `json:"open_speech_from,omitempty"`
}

// Utterance is one final utterance of a call, already redacted.
type Utterance struct {
	Speaker    string          `json:"speaker"`
	Start      float64         `json:"start"`
	End        float64         `json:"end"`
	Text       string          `json:"text"`
	Words      json.RawMessage `json:"words,omitempty"`
	Confidence float64         `json:"confidence"`
	Sentiment  json.RawMessage `json:"sentiment,omitempty"`
	Seq        uint64          `json:"seq,omitempty"` // of its transcript.final event
}

// Gap is a stretch of a call with missing audio.
type Gap struct {
	FromSeq int64   `json:"from_seq"` // -1 when not known by sequence (pause)
	ToSeq   int64   `json:"to_seq"`
	From    float64 `json:"from"` // call time, seconds
	To      float64 `json:"to"`
	Frames  int64   `json:"frames"`
	Reason  string  `json:"reason"`
}

// Feedback is an agent's reaction to a hint.
type Feedback struct {
	Action string    `json:"action"` // "accept" or "dismiss"
	At     time.Time `json:"at"`
	By     string    `json:"by,omitempty"` // agent id or role of who gave it
}

// Hint is a hint shown in a call: its first hint event and the feedback.
type Hint struct {
	ID       string          `json:"id"`
	Event    json.RawMessage `json:"event"`
	Feedback *Feedback       `json:"feedback,omitempty"`
}

// Detail is everything stored about a call.
type Detail struct {
	Call
	Utterances []Utterance       `json:"utterances"`
	Events     []json.RawMessage `json:"events"`
	Hints      []Hint            `json:"hints"`
	Gaps       []Gap             `json:"gaps"`
}

// Query selects calls for List. Zero fields do not filter.
type Query struct {
	AgentID  string
	From, To time.Time // started in [From, To]
	Category string
	// SentimentMin and SentimentMax bound the caller's sentiment when set.
	SentimentMin, SentimentMax *float64
	Status                     string
	Limit                      int    // default 50, at most 500
	Cursor                     string // from a previous Page
}

// Page is one page of List results, newest first.
type Page struct {
	Calls      []Call `json:"calls"`
	NextCursor string `json:"next_cursor"`
}
