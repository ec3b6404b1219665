package protocol

import (
	"encoding/json"
	"fmt"
	"math"
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

// MarshalJSON writes the flat wire form.
func (e Event) MarshalJSON() ([]byte, error) {
	fields := map[string]any{}
	if e.Data != nil {
		raw, err := json.Marshal(e.Data)
		if err != nil {
			return nil, fmt.Errorf("event %s data: %w", e.Type, err)
		}
		if err := json.Unmarshal(raw, &fields); err != nil {
			return nil, fmt.Errorf("event %s data must be a JSON object: %w", e.Type, err)
		}
	}
	fields["type"] = e.Type
	fields["call_id"] = e.CallID
	if e.AgentID != "" {
		fields["agent_id"] = e.AgentID
	}
	fields["seq"] = e.Seq
	fields["t"] = math.Round(e.T.Seconds()*1000) / 1000
	fields["ts"] = e.TS.UTC().Format(time.RFC3339Nano)
	return json.Marshal(fields)
}
