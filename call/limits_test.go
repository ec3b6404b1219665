package call

import (
	"context"
	"testing"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/internal/testdeps"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/samples"
)

// TestAPipelineSkipsAJumpInsteadOfGeneratingIt: the real pipeline, with
// the real recognizer, over speech, then a jump of two hours, then speech:
// the jump costs at most a second of generated silence per channel, and
// the words after it are placed two hours later in call time.
func TestAPipelineSkipsAJumpInsteadOfGeneratingIt(t *testing.T) {
	deps := realDeps(t, 2)
	tr, err := samples.Call("address_change")
	if err != nil {
		t.Fatal(err)
	}
	agent, caller := testdeps.Sample(t, tr)
	p, err := New(context.Background(), deps, Config{CallID: "jump"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const clip = 12 * time.Second
	const jump = 2 * time.Hour
	n := audio.PipelineRate.Samples(clip)
	feed := func(offset time.Duration) {
		for i := 0; i+audio.FrameSize <= n; i += audio.FrameSize {
			at := offset + time.Duration(i/audio.FrameSize)*audio.FrameDuration
			for ch, x := range [2][]float32{agent, caller} {
				if _, err := p.Push(protocol.Channel(ch), x[i:i+audio.FrameSize], at); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	feed(0)
	before := p.silenceFrames
	cpu := testdeps.CPUTime()
	feed(jump)
	t.Logf("engine CPU for the jump and 12 s of speech after it: %v", testdeps.CPUTime()-cpu)
	if got := p.silenceFrames - before; got > 2*int64(settleSilence/audio.FrameDuration)+2 {
		t.Errorf("a 2 h jump generated %d silence frames, want at most %d", got, 2*settleSilence/audio.FrameDuration)
	}
	_, rec, err := p.Finish(jump + clip)
	if err != nil {
		t.Fatal(err)
	}
	var early, late int
	for _, u := range rec.Utterances {
		switch {
		case u.End <= clip+2*time.Second:
			early++
		case u.Start >= jump:
			late++
		default:
			t.Errorf("utterance %q at %v..%v is inside the jump", u.Text, u.Start, u.End)
		}
	}
	if early == 0 || late == 0 {
		t.Errorf("%d utterances before the jump and %d after, want both", early, late)
	}
}
