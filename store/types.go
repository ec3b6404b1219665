package store

import (
	"encoding/json"
	"time"

	"github.com/earshot/earshot/protocol"
)

// CallID names a call (protocol.ValidID).
type CallID string

// AgentID names the agent a call belongs to.
type AgentID string

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
// checkpoints it with every ack) and at its end. Its JSON (the stored
// record and the REST API's) writes durations as seconds (duration_s,
// audio_s), as every release has.
type Call struct {
	ID         CallID             `json:"id"`
	AgentID    AgentID            `json:"agent_id"`
	StartedAt  time.Time          `json:"started_at"`
	EndedAt    *time.Time         `json:"ended_at,omitempty"`
	Duration   time.Duration      `json:"-"` // duration_s
	Status     string             `json:"status"`
	EndReason  protocol.EndReason `json:"end_reason,omitempty"`
	Categories []string           `json:"categories"`
	Sentiment  Sentiment          `json:"sentiment"`
	// TalkRatio is the agent's share of the call's speech time, 0..1.
	TalkRatio float64 `json:"talk_ratio"`
	Hints     int     `json:"hints"`
	Alerts    int     `json:"alerts"`

	// Ingest progress, the state a resumed call continues from.
	SampleRate int           `json:"sample_rate,omitempty"`
	Encoding   string        `json:"encoding,omitempty"`
	Frames     int64         `json:"frames"`      // distinct audio frames received with seq ≤ Ack
	FramesLost int64         `json:"frames_lost"` // frames reported lost or never received
	Ack        int64         `json:"ack"`         // highest seq with nothing missing before it; -1 none
	LastSeq    uint64        `json:"last_event_seq"`
	Audio      time.Duration `json:"-"` // call time reached by the audio (audio_s)
	// Channels is where each channel's analysis (agent, caller) stood when
	// the call's pipeline last stopped, for a resumed call to go on from.
	Channels []ChannelState `json:"channels,omitempty"`

	// Redaction is the call's redaction state (insights.RedactorState) at
	// the checkpoint: a call resumed after a crash in the middle of a card
	// reading still knows a card is being read. It holds no digits.
	Redaction json.RawMessage `json:"redaction,omitempty"`

	// Analysis results set when the pipeline stops: the dynamics
	// (insights.Dynamics' JSON, passed through) and who spoke when.
	Dynamics json.RawMessage    `json:"dynamics,omitempty"`
	Segments []protocol.Segment `json:"segments,omitempty"`

	// Node is the cluster node that runs the call's pipeline ("" on a
	// single engine and in releases before the cluster): only it ends the
	// call when its endpoint does not come back.
	Node string `json:"node,omitempty"`

	// StartNS indexes calls by start time (nanoseconds since the Unix epoch).
	StartNS int64 `json:"start_unix_ns"`
}

// callWire is what Call's JSON adds to its fields: durations in seconds.
type callWire struct {
	DurationS float64 `json:"duration_s"`
	AudioS    float64 `json:"audio_s"`
}

// MarshalJSON writes the call with its durations in seconds.
func (c Call) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		plainCall
		callWire
	}{plainCall(c), callWire{protocol.Seconds(c.Duration), protocol.Seconds(c.Audio)}})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *Call) UnmarshalJSON(b []byte) error {
	var w struct {
		*plainCall
		callWire
	}
	w.plainCall = (*plainCall)(c)
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	c.Duration, c.Audio = protocol.FromSeconds(w.DurationS), protocol.FromSeconds(w.AudioS)
	return nil
}

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
	// stopped (16 kHz PCM16 little-endian, from call time OpenSpeechFrom),
	// so the restarted engine decodes the utterance whole. It
	// is audio, so it is never stored with the call: the engine keeps it in
	// a file of its own until the call resumes or the resume window ends.
	OpenSpeech     []byte        `json:"-"`
	OpenSpeechFrom time.Duration `json:"-"` // open_speech_from, seconds
	// HeardTo, when set, is the call time up to which this channel was
	// analysed, before the call's audio end: a checkpoint taken in the
	// middle of an utterance acknowledges none of its audio, so the
	// endpoint resends it and the utterance is decoded whole after a crash
	// or on another node.
	HeardTo time.Duration `json:"-"` // heard_to, seconds
}

// MarshalJSON writes the state with OpenSpeechFrom in seconds.
func (c ChannelState) MarshalJSON() ([]byte, error) {
	type plain ChannelState
	return json.Marshal(struct {
		plain
		From    float64 `json:"open_speech_from,omitempty"`
		HeardTo float64 `json:"heard_to,omitempty"`
	}{plain(c), protocol.Seconds(c.OpenSpeechFrom), protocol.Seconds(c.HeardTo)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *ChannelState) UnmarshalJSON(b []byte) error {
	type plain ChannelState
	var w struct {
		*plain
		From    float64 `json:"open_speech_from"`
		HeardTo float64 `json:"heard_to"`
	}
	w.plain = (*plain)(c)
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	c.OpenSpeechFrom, c.HeardTo = protocol.FromSeconds(w.From), protocol.FromSeconds(w.HeardTo)
	return nil
}

// Utterance is one final utterance of a call, already redacted. Its JSON
// is the transcript.final event's data (protocol.Utterance, times in
// seconds) and its seq.
type Utterance struct {
	Speaker    protocol.Channel             `json:"speaker"`
	Start      time.Duration                `json:"-"` // start, seconds
	End        time.Duration                `json:"-"` // end, seconds
	Text       string                       `json:"text"`
	Words      []protocol.Word              `json:"words,omitempty"`
	Confidence float64                      `json:"confidence"`
	Sentiment  *protocol.UtteranceSentiment `json:"sentiment,omitempty"`
	Seq        uint64                       `json:"seq,omitempty"` // of its transcript.final event
}

// spanWire is a span's JSON: start and end in seconds.
type spanWire struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// MarshalJSON writes the utterance with its times in seconds.
func (u Utterance) MarshalJSON() ([]byte, error) {
	type plain Utterance
	return json.Marshal(struct {
		plain
		spanWire
	}{plain(u), spanWire{protocol.Seconds(u.Start), protocol.Seconds(u.End)}})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (u *Utterance) UnmarshalJSON(b []byte) error {
	type plain Utterance
	var w struct {
		*plain
		spanWire
	}
	w.plain = (*plain)(u)
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	u.Start, u.End = protocol.FromSeconds(w.spanWire.Start), protocol.FromSeconds(w.spanWire.End)
	return nil
}

// Gap is a stretch of a call with missing audio.
type Gap struct {
	FromSeq int64         `json:"from_seq"` // -1 when not known by sequence (pause)
	ToSeq   int64         `json:"to_seq"`
	From    time.Duration `json:"-"` // call time (from, seconds)
	To      time.Duration `json:"-"` // (to, seconds)
	Frames  int64         `json:"frames"`
	Reason  string        `json:"reason"`
}

// gapWire is a gap's JSON times, in seconds.
type gapWire struct {
	From float64 `json:"from"`
	To   float64 `json:"to"`
}

// MarshalJSON writes the gap with its times in seconds.
func (g Gap) MarshalJSON() ([]byte, error) {
	type plain Gap
	return json.Marshal(struct {
		plain
		gapWire
	}{plain(g), gapWire{protocol.Seconds(g.From), protocol.Seconds(g.To)}})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (g *Gap) UnmarshalJSON(b []byte) error {
	type plain Gap
	var w struct {
		*plain
		gapWire
	}
	w.plain = (*plain)(g)
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	g.From, g.To = protocol.FromSeconds(w.gapWire.From), protocol.FromSeconds(w.gapWire.To)
	return nil
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

// detailWire is a Detail's JSON: the call's fields and its records in one
// object. The records' "hints" (the list) hides the call's "hints" (the
// count), as it always has.
type detailWire struct {
	*plainCall
	callWire
	Utterances []Utterance       `json:"utterances"`
	Events     []json.RawMessage `json:"events"`
	Hints      []Hint            `json:"hints"`
	Gaps       []Gap             `json:"gaps"`
}

// plainCall is Call without its JSON methods.
type plainCall Call

// MarshalJSON writes the call's fields and its records in one object (the
// embedded Call's MarshalJSON alone would leave the records out).
func (d Detail) MarshalJSON() ([]byte, error) {
	return json.Marshal(detailWire{(*plainCall)(&d.Call), callWire{protocol.Seconds(d.Duration), protocol.Seconds(d.Audio)},
		d.Utterances, d.Events, d.Hints, d.Gaps})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (d *Detail) UnmarshalJSON(b []byte) error {
	w := detailWire{plainCall: (*plainCall)(&d.Call)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	d.Duration, d.Audio = protocol.FromSeconds(w.DurationS), protocol.FromSeconds(w.AudioS)
	d.Utterances, d.Events, d.Hints, d.Gaps = w.Utterances, w.Events, w.Hints, w.Gaps
	return nil
}

// Query selects calls for List. Zero fields do not filter.
type Query struct {
	AgentID  AgentID
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
