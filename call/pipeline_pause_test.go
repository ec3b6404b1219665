package call

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/earshot/earshot/agentassist"
	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/protocol"
)

// silencePlaybook hints at dead air, as the shipped playbook does, and
// alerts supervisors to a long one.
const silencePlaybook = `
rules:
  - id: dead_air
    any_of:
      - dynamics: {event: dead_air}
    actions:
      - hint: {id: dead_air, title: Long silence, text: Tell the caller what you are doing.}
  - id: long_silence
    any_of:
      - dynamics: {event: dead_air, min_duration_s: 10}
    actions:
      - alert: {id: long_silence, severity: warning, text: Nobody has spoken for 10 s.}
`

// TestPipelineReportedPauseIsNotDeadAir plays a call as an engine feeds
// it: the agent speaks 1-3 s (after a second for the detector to learn the
// line's silence), the line is silent 3-4 s, nothing arrives
// 4-24 s, silence again 24-25 s and the agent speaks 25-28 s. When the
// endpoint reported 4-24 s as paused (told before the audio after it, as
// an engine does on the endpoint's resume), the agent sees no dead-air
// event, no hint and no alert, and the record lists no dead air. The same
// 20 s with no pause message, audio missing or streamed as silence (a
// hold), is dead air: all three.
func TestPipelineReportedPauseIsNotDeadAir(t *testing.T) {
	pb, err := agentassist.ParsePlaybookWith("silence.yaml", []byte(silencePlaybook), agentassist.Options{NoPhonetic: true})
	if err != nil {
		t.Fatal(err)
	}
	tone := make([]float32, audio.FrameSize)
	for i := range tone {
		tone[i] = float32(0.3 * math.Sin(2*math.Pi*150*float64(i)/float64(audio.PipelineRate)))
	}
	silent := make([]float32, audio.FrameSize)
	const (
		pauseFrom = 4 * time.Second
		pauseTo   = 24 * time.Second
		end       = 28 * time.Second
	)
	tests := []struct {
		name     string
		reported bool // Gap(…, GapPaused) before the audio after the pause
		streamed bool // silent frames sent through the stretch (a hold)
		deadAir  bool
	}{
		{name: "a reported pause is not dead air", reported: true},
		{name: "the same stretch with no pause message is dead air", deadAir: true},
		{name: "a hold streamed as silence is dead air", streamed: true, deadAir: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(context.Background(), Deps{Playbook: pb}, Config{CallID: "c"})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			var evs []protocol.Event
			for at := time.Duration(0); at < end; at += audio.FrameDuration {
				if at == pauseTo && tc.reported {
					for _, ch := range protocol.BothChannels {
						p.Gap(ch, pauseFrom, pauseTo, GapPaused)
					}
				}
				if at >= pauseFrom && at < pauseTo && !tc.streamed {
					evs = append(evs, p.Tick(pauseFrom)...) // the engine's ticks: its audio clock stands still
					continue
				}
				frame := silent
				if (at >= time.Second && at < 3*time.Second) || at >= 25*time.Second {
					frame = tone
				}
				e, err := p.Push(protocol.ChannelAgent, frame, at)
				if err != nil {
					t.Fatal(err)
				}
				evs = append(evs, e...)
				e, err = p.Push(protocol.ChannelCaller, silent, at)
				if err != nil {
					t.Fatal(err)
				}
				evs = append(evs, e...)
			}
			last, rec, err := p.End(end)
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, last...)
			var events, hints, alerts int
			for _, e := range evs {
				switch d := e.Data.(type) {
				case protocol.Dynamics:
					if d.Event == "dead_air" {
						events++
						t.Logf("dead air %.2f-%.2f s (ongoing %v) at %v", d.Start, d.End, d.Ongoing, e.T)
					}
				case protocol.Hint:
					if d.ID == "dead_air" {
						hints++
					}
				case protocol.Alert:
					if d.ID == "long_silence" {
						alerts++
					}
				}
			}
			t.Logf("dead-air events %d, hints %d, alerts %d; record dead air %v", events, hints, alerts, rec.Dynamics.DeadAir)
			if !tc.deadAir {
				if events+hints+alerts > 0 || len(rec.Dynamics.DeadAir) > 0 {
					t.Errorf("a reported pause raised %d dead-air events, %d hints, %d alerts; record dead air %v",
						events, hints, alerts, rec.Dynamics.DeadAir)
				}
				return
			}
			if events == 0 || hints == 0 || alerts == 0 || len(rec.Dynamics.DeadAir) != 1 || rec.Dynamics.DeadAir[0].Len() < 20*time.Second {
				t.Errorf("20 s of silence raised %d dead-air events, %d hints, %d alerts; record dead air %v; want each, and one span of 20 s or more",
					events, hints, alerts, rec.Dynamics.DeadAir)
			}
		})
	}
}
