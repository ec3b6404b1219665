package protocol

import (
	"encoding/json"
	"fmt"
	"time"
)

// Event types pushed to live subscribers (docs/protocol.md, "Live events").
const (
	EventCallStarted       = "call.started"
	EventTranscriptPartial = "transcript.partial"
	EventTranscriptFinal   = "transcript.final"
	EventSentiment         = "sentiment"
	EventDynamics          = "dynamics"
	EventCategory          = "category"
	EventHint              = "hint"
	EventAlert             = "alert"
	EventCallEnded         = "call.ended"
	EventError             = "error"
)

// Event is one thing that happened in a call, as pushed to overlays and
// supervisors and kept with the call. Data is a struct (or map) whose JSON
// fields are merged into the top-level object next to the common fields, so
// the wire form is flat: {"type":…,"call_id":…,"seq":…,"t":…,"ts":…, …Data}.
type Event struct {
	Type    string
	CallID  string
	AgentID string
	Seq     uint64        // per call, assigned by the hub; 0 before publication
	T       time.Duration // call time
	TS      time.Time     // engine time when the event was made
	Data    any
}

// envelope is the part of an event's wire form every event has.
type envelope struct {
	Type    string  `json:"type"`
	CallID  string  `json:"call_id"`
	AgentID string  `json:"agent_id,omitempty"`
	Seq     uint64  `json:"seq"`
	T       float64 `json:"t"`
	TS      string  `json:"ts"`
}

// MarshalJSON writes the flat wire form: the envelope, then Data's fields.
// Data is marshalled once and spliced in, never decoded: the event JSON of
// a final transcript costs one encoding of the utterance.
func (e Event) MarshalJSON() ([]byte, error) {
	out, err := json.Marshal(envelope{Type: e.Type, CallID: e.CallID, AgentID: e.AgentID, Seq: e.Seq,
		T: Seconds(e.T), TS: e.TS.UTC().Format(time.RFC3339Nano)})
	if err != nil || e.Data == nil {
		return out, err
	}
	data, err := json.Marshal(e.Data)
	if err != nil {
		return nil, fmt.Errorf("event %s data: %w", e.Type, err)
	}
	if len(data) < 2 || data[0] != '{' {
		return nil, fmt.Errorf("event %s data must be a JSON object, not %.20s", e.Type, data)
	}
	if len(data) == 2 { // {}
		return out, nil
	}
	out[len(out)-1] = ','
	return append(out, data[1:]...), nil
}

// MaxEventBytes bounds the wire form of one event that another node relays:
// the largest the engine makes (a long final transcript with its words) is
// a few kilobytes.
const MaxEventBytes = 64 << 10

// ParseEvent reads the common fields of an event's wire form, as another
// node of the cluster published it. Data stays nil: a relaying node passes
// the bytes on unchanged and never needs the fields behind the envelope.
// Errors wrap ErrBadEvent and say which field was wrong.
func ParseEvent(b []byte) (Event, error) {
	if len(b) > MaxEventBytes {
		return Event{}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrBadEvent, len(b), MaxEventBytes)
	}
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	switch {
	case env.Type == "" || len(env.Type) > 32:
		return Event{}, fmt.Errorf("%w: type %.32q", ErrBadEvent, env.Type)
	case !ValidID(env.CallID):
		return Event{}, fmt.Errorf("%w: call_id %.70q is not %s", ErrBadEvent, env.CallID, IDRule)
	case env.AgentID != "" && !ValidID(env.AgentID):
		return Event{}, fmt.Errorf("%w: agent_id %.70q is not %s", ErrBadEvent, env.AgentID, IDRule)
	case env.Seq == 0:
		return Event{}, fmt.Errorf("%w: seq 0 (events are numbered from 1)", ErrBadEvent)
	case env.T < 0 || env.T > MaxCaptureTime.Seconds():
		return Event{}, fmt.Errorf("%w: t %v out of range", ErrBadEvent, env.T)
	}
	ts, err := time.Parse(time.RFC3339Nano, env.TS)
	if err != nil {
		return Event{}, fmt.Errorf("%w: ts: %v", ErrBadEvent, err)
	}
	return Event{Type: env.Type, CallID: env.CallID, AgentID: env.AgentID, Seq: env.Seq,
		T: FromSeconds(env.T), TS: ts}, nil
}
