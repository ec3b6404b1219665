package call

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/earshot/earshot/agentassist"
	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/samples"
)

// shippedPlaybook is the default playbook, matched by stems only (no
// dictionary to load).
func shippedPlaybook(t *testing.T) *agentassist.Playbook {
	t.Helper()
	pb, err := agentassist.ParsePlaybookWith(samples.PlaybookName, samples.Playbook(), agentassist.Options{NoPhonetic: true})
	if err != nil {
		t.Fatal(err)
	}
	return pb
}

// TestPipelineAbsenceJudgedAtCallEnd runs calls without a word of the
// recording disclosure (silence: the shipped playbook's 30 s absence rule
// never hears it) and checks when the call gets compliance_miss: at the
// end of a call shorter than the window when the call ends, never when the
// pipeline only stops for a restart or a dropped endpoint, and not again
// in a pipeline resumed past the window (its predecessor judged it).
func TestPipelineAbsenceJudgedAtCallEnd(t *testing.T) {
	pb := shippedPlaybook(t)
	tests := []struct {
		name       string
		start, end time.Duration
		ended      bool // End, else Finish
		wantAt     time.Duration
		want       bool
	}{
		{name: "a 29 s call that ends without the disclosure misses it at its end", end: 29 * time.Second, ended: true,
			want: true, wantAt: 29 * time.Second},
		{name: "the same 29 s stopped for an engine shutdown is not judged", end: 29 * time.Second},
		{name: "a 12 s call that ends misses it at 12 s", end: 12 * time.Second, ended: true, want: true, wantAt: 12 * time.Second},
		{name: "a call resumed at 40 s does not miss again the window its earlier pipeline judged",
			start: 40 * time.Second, end: 45 * time.Second, ended: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(context.Background(), Deps{Playbook: pb}, Config{CallID: "c", Start: tc.start})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			var evs []protocol.Event
			frame := make([]float32, audio.FrameSize)
			for at := tc.start; at < tc.end; at += audio.FrameDuration {
				for _, ch := range protocol.BothChannels {
					e, err := p.Push(ch, frame, at)
					if err != nil {
						t.Fatal(err)
					}
					evs = append(evs, e...)
				}
			}
			stop := p.Finish
			if tc.ended {
				stop = p.End
			}
			last, rec, err := stop(tc.end)
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, last...)
			var cat, hint []time.Duration
			for _, e := range evs {
				switch d := e.Data.(type) {
				case protocol.Category:
					if d.ID == "compliance_miss" {
						cat = append(cat, e.T)
					}
				case protocol.Hint:
					if d.ID == "recording_disclosure" {
						hint = append(hint, e.T)
					}
				}
			}
			inRecord := slices.Contains(rec.Categories, "compliance_miss")
			if !tc.want {
				if len(cat)+len(hint) > 0 || inRecord {
					t.Errorf("judged: category at %v, hint at %v, in the record %v", cat, hint, inRecord)
				}
				return
			}
			if len(cat) != 1 || cat[0] != tc.wantAt || len(hint) != 1 || hint[0] != tc.wantAt || !inRecord {
				t.Errorf("category at %v, hint at %v, in the record %v; want one of each at %v, in the record", cat, hint, inRecord, tc.wantAt)
			}
		})
	}
}
