package call

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/internal/testdeps"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/samples"
	"github.com/earshot/earshot/stt/eval"
)

// TestPipelineResumedMidUtteranceDecodesItWhole stops a call's pipeline in
// the middle of speech, as an engine shutdown does, and resumes it from
// the record's channel states, as the restarted engine does: the utterance
// in progress is decoded whole by the new pipeline (from the open speech
// the record kept), so the call's transcript is the uncut one's, with the
// first part's final superseded rather than repeated. Not word for word:
// the resumed recognizer starts from the stopped one's voice adaptation,
// which is not where the uncut one stood, so later words can differ too.
func TestPipelineResumedMidUtteranceDecodesItWhole(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes a 40 s call 17 times")
	}
	const clip = 40 * time.Second
	tr, err := samples.Call("address_change")
	if err != nil {
		t.Fatal(err)
	}
	agent, caller := testdeps.Sample(t, tr)
	n := audio.PipelineRate.Samples(clip)
	agent, caller = agent[:n], caller[:n]
	deps := realDeps(t, 2)

	// run returns each speaker's transcript; with cut > 0 the first
	// pipeline stops at cut and a second resumes there, given the open
	// speech when carry is set (else the utterance is split, as before).
	type final struct {
		start time.Duration
		text  string
	}
	run := func(cut time.Duration, carry bool) (texts [2]string, carried int) {
		var finals [2][]final
		var replace [2]bool // the next final of the channel may take the place of the stopped part
		var openFrom [2]time.Duration
		add := func(evs []protocol.Event) {
			for _, e := range evs {
				u, ok := e.Data.(protocol.Utterance)
				if e.Type != protocol.EventTranscriptFinal || !ok {
					continue
				}
				ch := 0
				if u.Speaker == protocol.ChannelCaller {
					ch = 1
				}
				f := final{protocol.FromSeconds(u.Start), u.Text}
				// As the session does: the resumed pipeline's first final of
				// a channel that stopped in speech, if it starts before the
				// cut, replaces the stopped part's final.
				if replace[ch] {
					replace[ch] = false
					if l := len(finals[ch]); f.start < cut && l > 0 && finals[ch][l-1].start >= openFrom[ch]-time.Millisecond {
						finals[ch] = finals[ch][:l-1]
						carried++
					}
				}
				finals[ch] = append(finals[ch], f)
			}
		}
		p, err := New(context.Background(), deps, Config{CallID: "c"})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+audio.FrameSize <= n; i += audio.FrameSize {
			at := time.Duration(i/audio.FrameSize) * audio.FrameDuration
			if at == cut {
				evs, r, err := p.Finish(at)
				if err != nil {
					t.Fatal(err)
				}
				add(evs)
				for ch, c := range r.Channels {
					if !carry {
						r.Channels[ch].OpenSpeech = nil
						continue
					}
					replace[ch] = len(c.OpenSpeech) > 0
					openFrom[ch] = c.OpenSpeechFrom
				}
				p, err = New(context.Background(), deps, Config{CallID: "c", Start: at, PriorSegments: r.Segments, Resume: r.Channels})
				if err != nil {
					t.Fatal(err)
				}
			}
			for ch, x := range [2][]float32{agent, caller} {
				evs, err := p.Push(protocol.Channel(ch), x[i:i+audio.FrameSize], at)
				if err != nil {
					t.Fatal(err)
				}
				add(evs)
			}
		}
		evs, _, err := p.Finish(clip)
		if err != nil {
			t.Fatal(err)
		}
		add(evs)
		for ch := range finals {
			var words []string
			for _, f := range finals[ch] {
				words = append(words, f.text)
			}
			texts[ch] = strings.Join(words, " ")
		}
		return texts, carried
	}
	truth := clipTruth(tr, clip)
	whole, _ := run(-1, true)
	var uncut, carriedWER, splitWER, carriedDiff, splitDiff eval.Counts
	for ch := range whole {
		uncut = uncut.Add(eval.Score(truth[ch], whole[ch]))
	}
	var cuts, carriedTotal int
	for cut := 5 * time.Second; cut < 35*time.Second; cut += 3700 * time.Millisecond {
		got, carried := run(cut, true)
		split, _ := run(cut, false)
		cuts++
		carriedTotal += carried
		for ch := range got {
			if os.Getenv("CARRY_DEBUG") != "" {
				t.Logf("cut %v ch %d\n whole %s\n carry %s\n split %s", cut, ch, whole[ch], got[ch], split[ch])
			}
			carriedWER = carriedWER.Add(eval.Score(truth[ch], got[ch]))
			splitWER = splitWER.Add(eval.Score(truth[ch], split[ch]))
			carriedDiff = carriedDiff.Add(eval.Score(whole[ch], got[ch]))
			splitDiff = splitDiff.Add(eval.Score(whole[ch], split[ch]))
		}
	}
	t.Logf("%d cuts, %d utterances carried over a cut. WER against the truth: uncut %.3f, carried over %.3f, split %.3f; "+
		"words differing from the uncut transcript: carried over %.3f, split %.3f",
		cuts, carriedTotal, uncut.WER(), carriedWER.WER(), splitWER.WER(), carriedDiff.WER(), splitDiff.WER())
	if carriedTotal < cuts/2 {
		t.Errorf("only %d of %d cuts fell in an utterance: the test shows little", carriedTotal, cuts)
	}
	if carriedWER.WER() > splitWER.WER() {
		t.Errorf("carrying the open utterance over: WER %.3f, splitting it %.3f", carriedWER.WER(), splitWER.WER())
	}
}

// TestPipelineResumedWhereTheUtteranceBeganHearsItWhole models a crash in
// the middle of speech, as the engine's checkpoints see one: the pipeline
// is gone without a Finish (the finals it gave are kept, the utterance in
// progress had none), and the endpoint resends what was not acknowledged.
// When the checkpoint held the ack at the start of the utterance in
// progress (OpenSince) and recorded it as the channel's HeardTo, the next
// pipeline hears that utterance whole; without, only its part after the
// crash.
func TestPipelineResumedWhereTheUtteranceBeganHearsItWhole(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes a 30 s call 5 times")
	}
	const clip = 30 * time.Second
	tr, err := samples.Call("address_change")
	if err != nil {
		t.Fatal(err)
	}
	agent, caller := testdeps.Sample(t, tr)
	n := audio.PipelineRate.Samples(clip)
	pcm := [2][]float32{agent[:n], caller[:n]}
	deps := realDeps(t, 2)

	// run returns each speaker's transcript, with a crash at cut (none when
	// cut < 0); hold says the checkpoint held the ack, else it acknowledged
	// everything received.
	run := func(cut time.Duration, hold bool) (texts [2]string, held int) {
		var words [2][]string
		add := func(evs []protocol.Event) {
			for _, e := range evs {
				if u, ok := e.Data.(protocol.Utterance); ok && e.Type == protocol.EventTranscriptFinal {
					ch := map[protocol.Channel]int{protocol.ChannelAgent: 0, protocol.ChannelCaller: 1}[u.Speaker]
					words[ch] = append(words[ch], u.Text)
				}
			}
		}
		p, err := New(context.Background(), deps, Config{CallID: "c"})
		if err != nil {
			t.Fatal(err)
		}
		var heard [2]time.Duration
		crashed := false
		for i := 0; i+audio.FrameSize <= n; i += audio.FrameSize {
			at := time.Duration(i/audio.FrameSize) * audio.FrameDuration
			if at == cut && !crashed {
				crashed = true
				var resume [2]ChannelState
				for ch := range heard {
					heard[ch] = cut
					if !hold {
						continue
					}
					resume[ch] = p.LiveState(protocol.Channel(ch))
					if from, ok := p.OpenSince(protocol.Channel(ch)); ok {
						heard[ch] = from.Truncate(audio.FrameDuration)
						resume[ch].HeardTo, resume[ch].Speaking = heard[ch], false
						held++
					}
				}
				p.Close() // the crash: no Finish
				if p, err = New(context.Background(), deps, Config{CallID: "c", Start: cut, Resume: resume}); err != nil {
					t.Fatal(err)
				}
				i = audio.PipelineRate.Samples(min(heard[0], heard[1])) // the endpoint resends
				at = min(heard[0], heard[1])
			}
			for ch, x := range pcm {
				if at < heard[ch] {
					continue // analysed before the crash, and not held
				}
				evs, err := p.Push(protocol.Channel(ch), x[i:i+audio.FrameSize], at)
				if err != nil {
					t.Fatal(err)
				}
				add(evs)
			}
		}
		evs, _, err := p.Finish(clip)
		if err != nil {
			t.Fatal(err)
		}
		add(evs)
		for ch := range words {
			texts[ch] = strings.Join(words[ch], " ")
		}
		return texts, held
	}
	truth := clipTruth(tr, clip)
	whole, _ := run(-1, false)
	var uncut, heldWER, lostWER, heldDiff, lostDiff eval.Counts
	for ch := range whole {
		uncut = uncut.Add(eval.Score(truth[ch], whole[ch]))
	}
	cuts, heldTotal := 0, 0
	for cut := 6 * time.Second; cut < 28*time.Second; cut += 14600 * time.Millisecond {
		got, held := run(cut, true)
		lost, _ := run(cut, false)
		cuts++
		heldTotal += held
		for ch := range got {
			heldWER = heldWER.Add(eval.Score(truth[ch], got[ch]))
			lostWER = lostWER.Add(eval.Score(truth[ch], lost[ch]))
			heldDiff = heldDiff.Add(eval.Score(whole[ch], got[ch]))
			lostDiff = lostDiff.Add(eval.Score(whole[ch], lost[ch]))
		}
	}
	t.Logf("%d crashes, %d in an utterance. WER against the truth: uncut %.3f, ack held %.3f, not held %.3f; "+
		"words differing from the uncut transcript: held %.3f, not held %.3f",
		cuts, heldTotal, uncut.WER(), heldWER.WER(), lostWER.WER(), heldDiff.WER(), lostDiff.WER())
	if heldTotal < cuts/2 {
		t.Errorf("only %d of %d crashes fell in an utterance: the test shows little", heldTotal, cuts)
	}
	if heldDiff.WER() >= lostDiff.WER() {
		t.Errorf("resuming where the utterance began differs from the uncut call by %.3f, resuming at the crash by %.3f", heldDiff.WER(), lostDiff.WER())
	}
}

// clipTruth is what each side (agent, caller) says in the first clip of a
// sample call.
func clipTruth(tr samples.Truth, clip time.Duration) (truth [2]string) {
	for _, seg := range tr.Segments {
		if seg.End <= clip.Seconds() {
			ch := map[string]int{"agent": 0, "caller": 1}[seg.Speaker]
			truth[ch] += " " + seg.Text
		}
	}
	return truth
}
