package insights

import (
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/samples"
	"github.com/earshot/earshot/stt"
)

// TestRedactSampleCallTruth runs every sample call's true words through a
// Redactor in call order, as the engine does with final utterances: the
// card payment's digits, expiry and code must all be redacted, no output of
// any call may keep a run of 4 digit words, and the other calls must lose
// nothing.
func TestRedactSampleCallTruth(t *testing.T) {
	calls, err := samples.Calls()
	if err != nil {
		t.Fatal(err)
	}
	for _, call := range calls {
		t.Run(call.Name, func(t *testing.T) {
			r := NewRedactor(RedactorConfig{})
			var bySpeaker = map[string][]string{}
			var kinds []string
			for _, s := range call.Segments {
				sp := mustSpeaker(t, s.Speaker)
				start := time.Duration(s.Start * float64(time.Second))
				end := time.Duration(s.End * float64(time.Second))
				fields := strings.Fields(s.Text)
				var words []stt.Word
				for i, f := range fields {
					step := (end - start) / time.Duration(len(fields))
					words = append(words, stt.Word{Text: f, Start: start + time.Duration(i)*step, End: start + time.Duration(i+1)*step})
				}
				text, rw, found := r.Redact(sp, s.Text, words, end)
				assertNoDigitRun(t, "text", text)
				var wt []string
				for _, w := range rw {
					wt = append(wt, w.Text)
				}
				if got := strings.Join(wt, " "); got != text {
					t.Errorf("words %q differ from text %q", got, text)
				}
				for _, f := range found {
					kinds = append(kinds, string(f.Kind))
					if f.Start < start || f.End > end || f.End <= f.Start {
						t.Errorf("redaction %v-%v outside its utterance %v-%v", f.Start, f.End, start, end)
					}
				}
				if text != s.Text {
					t.Logf("%s %.1fs: %q -> %q", sp, s.Start, s.Text, text)
				}
				bySpeaker[s.Speaker] = append(bySpeaker[s.Speaker], text)
			}
			for sp, texts := range bySpeaker {
				assertNoDigitRun(t, sp+"'s whole call", strings.Join(texts, " "))
			}
			got := strings.Join(kinds, ",")
			switch call.Name {
			case "card_payment":
				if got != "card_number,card_number,expiry,security_code" {
					t.Errorf("redactions %s, want card_number,card_number,expiry,security_code", got)
				}
				if !r.DigitsStarted(Caller) {
					t.Error("DigitsStarted(caller) false after the card was read")
				}
			default:
				if got != "" {
					t.Errorf("redactions %s in a call without card data", got)
				}
			}
		})
	}
}

// TestDynamicsOfSampleCallTruth checks the definitions against the sample
// calls' ground truth: on the true segments, dead air, overtalk and
// interruptions must be what each call was written to show.
func TestDynamicsOfSampleCallTruth(t *testing.T) {
	calls, err := samples.Calls()
	if err != nil {
		t.Fatal(err)
	}
	secs := func(s float64) time.Duration { return time.Duration(s*1000+0.5) * time.Millisecond }
	for _, call := range calls {
		t.Run(call.Name, func(t *testing.T) {
			var segs []SpeechSegment
			for _, s := range call.Segments {
				segs = append(segs, SpeechSegment{mustSpeaker(t, s.Speaker), secs(s.Start), secs(s.End)})
			}
			d := AnalyzeDynamics(segs, secs(call.Duration), DynamicsConfig{})
			if len(d.DeadAir) != len(call.Expected.DeadAir) {
				t.Fatalf("dead air %v, want %v", d.DeadAir, call.Expected.DeadAir)
			}
			for i, w := range call.Expected.DeadAir {
				if g := d.DeadAir[i]; absDur(g.Start-secs(w.Start)) > 20*time.Millisecond || absDur(g.End-secs(w.End)) > 20*time.Millisecond {
					t.Errorf("dead air %d = %v, want %v", i, g, w)
				}
			}
			if d.Interruptions.Agent != call.Expected.Interruptions.Agent || d.Interruptions.Caller != call.Expected.Interruptions.Caller {
				t.Errorf("interruptions %+v, want %+v", d.Interruptions, call.Expected.Interruptions)
			}
			if len(d.Overtalk) != len(call.Expected.Overtalk) {
				t.Fatalf("overtalk %v, want %v", d.Overtalk, call.Expected.Overtalk)
			}
			for i, w := range call.Expected.Overtalk {
				g := d.Overtalk[i]
				if SpeakerName(g.By) != w.By || absDur(g.Start-secs(w.Start)) > 20*time.Millisecond || absDur(g.End-secs(w.End)) > 20*time.Millisecond {
					t.Errorf("overtalk %d = %v, want %+v", i, g, w)
				}
			}
			t.Logf("talk agent %.1fs caller %.1fs ratio %.2f, turns %d, mean response gap %.2fs, longest monologue agent %.1fs caller %.1fs",
				d.Talk.Agent.Seconds(), d.Talk.Caller.Seconds(), d.TalkRatio, d.Turns, d.MeanResponseGap.Seconds(),
				d.LongestMonologue.Agent.Seconds(), d.LongestMonologue.Caller.Seconds())
		})
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// mustSpeaker reads a sample's speaker name.
func mustSpeaker(t *testing.T, name string) Speaker {
	t.Helper()
	sp, err := ParseSpeaker(name)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}
