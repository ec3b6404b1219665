package protocol

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestEventDataKeepsOffTheEnvelope: an event's data is spliced into the
// envelope's object, so a data field named like an envelope field would
// appear twice (and a browser would read the last one).
func TestEventDataKeepsOffTheEnvelope(t *testing.T) {
	envelopeKeys := map[string]bool{}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[envelope]()) {
		envelopeKeys[strings.Split(f.Tag.Get("json"), ",")[0]] = true
	}
	for _, v := range []any{CallStarted{}, CallEnded{}, Partial{}, Utterance{}, Sentiment{}, Dynamics{},
		DynamicsSnapshot{}, Category{}, Hint{}, Alert{}, Error{}} {
		for _, f := range reflect.VisibleFields(reflect.TypeOf(v)) {
			if key := strings.Split(f.Tag.Get("json"), ",")[0]; envelopeKeys[key] {
				t.Errorf("%T.%s is written as %q, a key of the event envelope", v, f.Name, key)
			}
		}
	}
}

func TestEventMarshalJSON(t *testing.T) {
	ts := time.Date(2026, 12, 4, 10, 0, 0, 5, time.FixedZone("x", 3600))
	for _, tc := range []struct {
		name string
		ev   Event
		want string
	}{
		{"no data", Event{Type: EventCallEnded, CallID: "c1", Seq: 3, T: 1500 * time.Millisecond, TS: ts},
			`{"type":"call.ended","call_id":"c1","seq":3,"t":1.5,"ts":"2026-12-04T09:00:00.000000005Z"}`},
		{"empty data", Event{Type: EventError, CallID: "c1", AgentID: "A1", TS: ts, Data: struct{}{}},
			`{"type":"error","call_id":"c1","agent_id":"A1","seq":0,"t":0,"ts":"2026-12-04T09:00:00.000000005Z"}`},
		{"hint", Event{Type: EventHint, CallID: "c1", Seq: 9, T: 2001 * time.Millisecond, TS: ts,
			Data: Hint{ID: "h", Kind: HintKB, Title: "T", Text: "x", TTLS: 8}},
			`{"type":"hint","call_id":"c1","seq":9,"t":2.001,"ts":"2026-12-04T09:00:00.000000005Z","id":"h","kind":"kb","title":"T","text":"x","ttl_s":8}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	if _, err := json.Marshal(Event{Type: EventHint, Data: []int{1}}); err == nil || !strings.Contains(err.Error(), "must be a JSON object") {
		t.Errorf("array data: %v, want an error naming it", err)
	}
}
