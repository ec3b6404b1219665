package protocol

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseEventReadsWhatMarshalJSONWrote(t *testing.T) {
	ts := time.Date(2026, 12, 7, 9, 0, 0, 123456000, time.UTC)
	in := Event{Type: EventHint, CallID: "c.1", AgentID: "A17", Seq: 42, T: 61234 * time.Millisecond, TS: ts,
		Data: Hint{ID: "h1", Title: "Offer the secure line"}}
	b, err := in.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	in.Data = nil
	if got != in {
		t.Errorf("got %+v, want %+v", got, in)
	}
}

func TestParseEventNamesWhatIsWrong(t *testing.T) {
	ok := `"call_id":"c1","seq":1,"t":1.5,"ts":"2026-12-07T09:00:00Z"`
	for _, tc := range []struct {
		name, in, want string
	}{
		{"not JSON", `{"type":`, "unexpected end"},
		{"no type", `{` + ok + `}`, "type"},
		{"a bad call id", `{"type":"hint","call_id":"a b","seq":1,"t":0,"ts":"2026-12-07T09:00:00Z"}`, "call_id"},
		{"a bad agent id", `{"type":"hint","agent_id":"a/b",` + ok + `}`, "agent_id"},
		{"seq zero", `{"type":"hint","call_id":"c1","seq":0,"t":0,"ts":"2026-12-07T09:00:00Z"}`, "seq 0"},
		{"a negative time", `{"type":"hint","call_id":"c1","seq":1,"t":-1,"ts":"2026-12-07T09:00:00Z"}`, "t -1"},
		{"no ts", `{"type":"hint","call_id":"c1","seq":1,"t":1}`, "ts"},
		{"too long", `{"type":"hint",` + ok + `,"x":"` + string(make([]byte, MaxEventBytes)) + `"}`, "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseEvent([]byte(tc.in))
			if !errors.Is(err, ErrBadEvent) {
				t.Fatalf("err = %v, want ErrBadEvent", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %q does not say %q", err, tc.want)
			}
		})
	}
}

func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(`{"type":"hint","call_id":"c1","agent_id":"A1","seq":3,"t":1.5,"ts":"2026-12-07T09:00:00Z","id":"h"}`))
	f.Add([]byte(`{"type":"call.ended","call_id":"c1","seq":1,"t":0,"ts":"2026-12-07T09:00:00.5+01:00"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := ParseEvent(b)
		if err != nil {
			return
		}
		if !ValidID(ev.CallID) || ev.Seq == 0 || ev.T < 0 || ev.Type == "" {
			t.Fatalf("accepted an event with a bad field: %+v", ev)
		}
	})
}
