package agentassist

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/insights"
)

// sampleCall is the part of samples/calls/*.json these tests read: the
// script's truth segments and the expected dynamics, hints and categories.
type sampleCall struct {
	Name      string  `json:"name"`
	DurationS float64 `json:"duration_s"`
	Segments  []struct {
		Speaker string  `json:"speaker"`
		Start   float64 `json:"start"`
		End     float64 `json:"end"`
		Text    string  `json:"text"`
	} `json:"segments"`
	Expected struct {
		DeadAir []struct {
			Start float64 `json:"start"`
			End   float64 `json:"end"`
		} `json:"dead_air"`
		Overtalk []struct {
			Start float64 `json:"start"`
			End   float64 `json:"end"`
			By    string  `json:"by"`
		} `json:"overtalk"`
		Hints []struct {
			ID      string   `json:"id"`
			Segment int      `json:"segment"`
			T       *float64 `json:"t"`
		} `json:"hints"`
		Categories []string `json:"categories"`
	} `json:"expected"`
}

func secs(s float64) time.Duration { return durationFromSeconds(s) }

// digitWords are the words a caller reads a card number with.
var digitWords = map[string]bool{
	"zero": true, "oh": true, "one": true, "two": true, "three": true, "four": true, "five": true,
	"six": true, "seven": true, "eight": true, "nine": true, "double": true, "triple": true,
}

// hasDigitRun stands in for the redactor's flag in these tests: a run of
// four or more digit words.
func hasDigitRun(text string) bool {
	run := 0
	for _, w := range tokenize(text) {
		if digitWords[w] || strings.Trim(w, "0123456789") == "" {
			run++
			if run >= 4 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// sampleRun is what the default playbook and KB produced on one call.
type sampleRun struct {
	actions []Action // playbook actions, in the order they fired
	kb      []Action // KB suggestions
}

// runSample feeds a call's truth text to a session the way the engine
// would: each utterance when it ends (neutral sentiment), the expected
// dynamics events when they pass the tracker's thresholds (dead air 5 s,
// overtalk 0.5 s), and ticks whose watermark never passes the start of an
// utterance not yet delivered.
// sentiment scores each utterance: neutral, or the insights text scorer.
func runSample(t testing.TB, pb *Playbook, kb *KB, c *sampleCall, sentiment func(text string) float64) sampleRun {
	t.Helper()
	type item struct {
		at  time.Duration
		utt *insights.Utterance
		ev  *insights.DynamicsEvent
	}
	var items []item
	var starts []time.Duration
	for _, s := range c.Segments {
		u := &insights.Utterance{Speaker: speakerOf(s.Speaker), Start: secs(s.Start), End: secs(s.End), Text: s.Text}
		items = append(items, item{at: u.End, utt: u})
		starts = append(starts, u.Start)
	}
	for _, d := range c.Expected.DeadAir {
		ev := &insights.DynamicsEvent{Kind: insights.DeadAir, Speaker: insights.NoSpeaker, Start: secs(d.Start), End: secs(d.Start) + 5*time.Second, Ongoing: true}
		items = append(items, item{at: ev.End, ev: ev})
	}
	for _, o := range c.Expected.Overtalk {
		ev := &insights.DynamicsEvent{Kind: insights.Overtalk, Speaker: speakerOf(o.By), Start: secs(o.Start), End: secs(o.Start) + 500*time.Millisecond, Ongoing: true}
		items = append(items, item{at: ev.End, ev: ev})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].at < items[j].at })
	s := pb.NewSession(SessionConfig{})
	sug := kb.NewSuggester(SuggesterConfig{})
	var run sampleRun
	digitsSeen := false
	for _, it := range items {
		wm := it.at
		for _, it2 := range items {
			if it2.utt != nil && it2.at >= it.at && it2.utt.Start < wm && it2 != it {
				wm = it2.utt.Start
			}
		}
		run.actions = append(run.actions, s.Tick(wm)...)
		switch {
		case it.utt != nil:
			digits := false
			if it.utt.Speaker == insights.Caller && !digitsSeen && hasDigitRun(it.utt.Text) {
				digits, digitsSeen = true, true
			}
			acts := s.OnUtterance(*it.utt, insights.Sentiment{Score: sentiment(it.utt.Text)}, digits)
			for _, a := range acts {
				if a.KB != "" {
					sug.MarkShown(a.KB)
				}
			}
			run.actions = append(run.actions, acts...)
			k, err := sug.OnUtterance(*it.utt)
			if err != nil {
				t.Fatal(err)
			}
			run.kb = append(run.kb, k...)
		case it.ev != nil:
			run.actions = append(run.actions, s.OnDynamics(*it.ev)...)
		}
	}
	run.actions = append(run.actions, s.Tick(secs(c.DurationS))...)
	return run
}

func loadSampleCalls(t testing.TB) map[string]*sampleCall {
	t.Helper()
	files, _ := filepath.Glob("../samples/calls/*.json")
	if len(files) == 0 {
		t.Skip("no sample calls in samples/calls yet")
	}
	out := map[string]*sampleCall{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c sampleCall
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = &c
	}
	return out
}

// TestDefaultPlaybookOnSampleTruth is the must-show check on the truth
// text: every expected hint fires within 5 s after the end of the
// utterance that calls for it (or of its due time), every expected
// category fires, and nothing else does.
func TestDefaultPlaybookOnSampleTruth(t *testing.T) {
	pb, err := LoadPlaybook("../samples/playbook.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kb, err := OpenKBDir("../samples/kb")
	if err != nil {
		t.Fatal(err)
	}
	if err := pb.CheckKB(kb); err != nil {
		t.Fatal(err)
	}
	calls := loadSampleCalls(t)
	names := make([]string, 0, len(calls))
	for f := range calls {
		names = append(names, f)
	}
	sort.Strings(names)
	scorers := []struct {
		name string
		fn   func(string) float64
	}{
		// The brief's check: neutral sentiment, so phrases must do it.
		{"with neutral sentiment", func(string) float64 { return 0 }},
		// The same with the insights text scorer, which the sentiment
		// thresholds of the default playbook were set against.
		{"with text sentiment", insights.TextSentiment},
	}
	for _, sc := range scorers {
		for _, f := range names {
			c := calls[f]
			t.Run("the default playbook fires exactly the expected hints on "+c.Name+" "+sc.name, func(t *testing.T) {
				run := runSample(t, pb, kb, c, sc.fn)
				var fired []Action
				cats := map[string]bool{}
				for _, a := range run.actions {
					switch a.Kind {
					case KindHint:
						fired = append(fired, a)
					case KindCategory:
						cats[a.ID] = true
					}
				}
				used := make([]bool, len(fired))
				for _, h := range c.Expected.Hints {
					var lo, due time.Duration
					if h.Segment >= 0 {
						seg := c.Segments[h.Segment]
						lo, due = secs(seg.Start), secs(seg.End)
					} else {
						lo, due = secs(*h.T), secs(*h.T)
					}
					found := false
					for i, a := range fired {
						if !used[i] && a.ID == h.ID && a.At >= lo && a.At <= due+5*time.Second {
							used[i], found = true, true
							break
						}
					}
					if !found {
						t.Errorf("expected hint %s (segment %d, due %v) did not fire in time; fired: %s", h.ID, h.Segment, due, describeActions(fired))
					}
				}
				for i, a := range fired {
					if !used[i] {
						t.Errorf("unexpected hint %s at %v (rule %s)", a.ID, a.At, a.Rule)
					}
				}
				for _, want := range c.Expected.Categories {
					if !cats[want] {
						t.Errorf("expected category %s did not fire", want)
					}
					delete(cats, want)
				}
				for extra := range cats {
					t.Errorf("unexpected category %s", extra)
				}
				t.Logf("%s: playbook %s; kb %s", c.Name, describeActions(run.actions), describeActions(run.kb))
			})
		}
	}
}

func describeActions(as []Action) string {
	if len(as) == 0 {
		return "none"
	}
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = fmt.Sprintf("%s:%s@%.1fs", a.Kind, a.ID, a.At.Seconds())
	}
	return strings.Join(parts, " ")
}

// speakerOf reads a sample's speaker name; NoSpeaker for "" (overtalk both
// began at once) or a name that is no side of the call.
func speakerOf(name string) insights.Speaker {
	sp, err := insights.ParseSpeaker(name)
	if err != nil {
		return insights.NoSpeaker
	}
	return sp
}
