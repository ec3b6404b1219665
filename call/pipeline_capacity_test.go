package call

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/insights"
	"github.com/earshot/earshot/internal/testdeps"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/samples"
)

// TestPipelineBeyondTheRecognizerPool: a call that finds too few free
// recognizers waits RecognizerWait, then goes on with what it got, tells
// the overlay and the stored call with an alert, and still measures both
// channels' dynamics. Real decoders: a pool of three, two held by a call.
func TestPipelineBeyondTheRecognizerPool(t *testing.T) {
	deps := realDeps(t, 3)
	busy, err := New(context.Background(), deps, Config{CallID: "busy"})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	tr, err := samples.Call("address_change")
	if err != nil {
		t.Fatal(err)
	}
	agent, caller := testdeps.Sample(t, tr)
	const clip = 20 * time.Second
	n := audio.PipelineRate.Samples(clip)
	p, err := New(context.Background(), deps, Config{CallID: "late", RecognizerWait: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("a call beyond the pool failed instead of going on: %v", err)
	}
	var alerts []protocol.Alert
	for i := 0; i+audio.FrameSize <= n; i += audio.FrameSize {
		at := time.Duration(i/audio.FrameSize) * audio.FrameDuration
		for ch, x := range [2][]float32{agent, caller} {
			evs, err := p.Push(protocol.Channel(ch), x[i:i+audio.FrameSize], at)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				if ev.Type == protocol.EventAlert {
					alerts = append(alerts, ev.Data.(protocol.Alert))
				}
			}
		}
	}
	_, r, err := p.Finish(clip)
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 || alerts[0].ID != AlertNoTranscript || alerts[0].Severity != "warning" {
		t.Errorf("alert events %+v, want one %s warning", alerts, AlertNoTranscript)
	} else {
		t.Logf("alert: %s", alerts[0].Text)
	}
	if len(r.Alerts) != 1 || r.Alerts[0].ID != AlertNoTranscript {
		t.Errorf("stored alerts %+v", r.Alerts)
	}
	var bySpeaker = map[insights.Speaker]int{}
	for _, u := range r.Utterances {
		bySpeaker[u.Speaker]++
	}
	if bySpeaker[insights.Agent] == 0 || bySpeaker[insights.Caller] != 0 {
		t.Errorf("utterances per speaker %v: want the agent's (the one free decoder) and none of the caller's", bySpeaker)
	}
	for _, sp := range []insights.Speaker{insights.Agent, insights.Caller} {
		if r.Dynamics.Talk.Of(sp) < 3*time.Second {
			t.Errorf("%s talk %v in 20 s of the call: dynamics must go on without a transcript", sp, r.Dynamics.Talk.Of(sp))
		}
	}

	// With every decoder taken and no limit, the wait ends with the context.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := New(ctx, deps, Config{CallID: "cancelled"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("NewPipeline with a cancelled context: %v, want the context's error", err)
	}
}
