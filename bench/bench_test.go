package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/audio"
)

func TestLiveReplaysASampleCallAndMeasuresIt(t *testing.T) {
	if testing.Short() {
		t.Skip("replays a sample call through an engine")
	}
	res, err := Live(context.Background(), LiveConfig{Calls: 1, Speed: 30})
	if err != nil {
		t.Fatal(err)
	}
	if res.Calls != 1 || res.Errors != 0 || res.FramesLost != 0 {
		t.Errorf("result %+v, want one call without errors or lost frames", res)
	}
	if res.AudioS < 10 || res.WallS <= 0 || res.WallS > res.AudioS {
		t.Errorf("%.1f s of audio in %.1f s wall at 30x", res.AudioS, res.WallS)
	}
	// Without recognizers there are no finals to time.
	if res.Finals != 0 {
		t.Errorf("%d finals without speech recognition", res.Finals)
	}
	var text, js bytes.Buffer
	if err := res.WriteText(&text); err != nil || !strings.Contains(text.String(), "final p50 s") {
		t.Errorf("text report %q, %v", text.String(), err)
	}
	var back LiveResult
	if err := res.WriteJSON(&js); err != nil || json.Unmarshal(js.Bytes(), &back) != nil || back != res {
		t.Errorf("JSON report %q does not read back as the result (%v)", js.String(), err)
	}
}

func TestLiveRefusesANegativeCallCount(t *testing.T) {
	if _, err := Live(context.Background(), LiveConfig{Calls: -1}); err == nil {
		t.Error("Live with -1 calls ran")
	}
}

func TestPercentileIsTheNearestRank(t *testing.T) {
	v := []float64{5, 1, 4, 2, 3}
	tests := []struct {
		name string
		p    float64
		want float64
	}{
		{"p50 of five is the third smallest", 0.5, 3},
		{"p95 of five is the largest", 0.95, 5},
		{"p0 is the smallest", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(v, tt.p); got != tt.want {
				t.Errorf("percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
	if percentile(nil, 0.5) != 0 {
		t.Error("the percentile of nothing is not 0")
	}
}

func TestHintLatencyStartsAtItsTrigger(t *testing.T) {
	final := arrival{typ: "transcript.final", t: 12.5, end: 12.0}
	if got := hintTrigger(final, arrival{typ: "hint", t: 12.5}); got != 12.0 {
		t.Errorf("a hint with its utterance's final: trigger %v, want the utterance's end 12.0", got)
	}
	if got := hintTrigger(final, arrival{typ: "hint", t: 30}); got != 30 {
		t.Errorf("a time-driven hint: trigger %v, want its own time 30", got)
	}
	if got := hintTrigger(arrival{}, arrival{typ: "hint", t: 3}); got != 3 {
		t.Errorf("a hint before any final: trigger %v, want 3", got)
	}
}

func TestSendClockMapsCallTimeToTheSlotThatCarriedIt(t *testing.T) {
	c := &sendClock{}
	t0 := time.Unix(1000, 0)
	for i := range 3 {
		c.note(time.Duration(i+1)*audio.FrameDuration, t0.Add(time.Duration(i)*time.Second))
	}
	if at, ok := c.at(30 * time.Millisecond); !ok || !at.Equal(t0.Add(time.Second)) {
		t.Errorf("30 ms was sent with the second slot: got %v %v", at, ok)
	}
	if _, ok := c.at(time.Second); ok {
		t.Error("audio not sent yet has a send time")
	}
}
