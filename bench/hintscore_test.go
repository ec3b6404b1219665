package bench

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/internal/testdeps"
	"github.com/earshot/earshot/samples"
)

// TestPipelineHintsMatchGroundTruth is issue 4's acceptance test: on every
// sample call, recognized by the real recognizer, each expected hint and
// category fires within 5 s after the utterance that calls for it ends and
// nothing unexpected fires.
func TestPipelineHintsMatchGroundTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes every sample call (about two minutes of CPU)")
	}
	d := testdeps.Real(t, 2)
	deps := call.Deps{Recognizers: d.Recognizers, Playbook: d.Playbook, KB: d.KB}
	truths, err := samples.Calls()
	if err != nil {
		t.Fatal(err)
	}
	var scores []HintScore
	for _, tr := range truths {
		agent, caller := testdeps.Sample(t, tr)
		rec, err := call.AnalyzeChannels(context.Background(), deps, call.Config{CallID: tr.Name}, agent, caller)
		if err != nil {
			t.Fatalf("%s: %v", tr.Name, err)
		}
		if tr.Name == "card_payment" {
			assertNoDigitRuns(t, rec)
		}
		s := ScoreHints(tr, rec)
		scores = append(scores, s)
		if len(s.Missed) > 0 || len(s.Unexpected) > 0 || len(s.MissingCategories) > 0 || len(s.UnexpectedCategories) > 0 {
			t.Errorf("%s: missed %v, unexpected %v, categories missing %v unexpected %v",
				tr.Name, s.Missed, s.Unexpected, s.MissingCategories, s.UnexpectedCategories)
		}
	}
	var b strings.Builder
	PrintHintScores(&b, scores)
	t.Log("\n" + b.String())
}

var digitToken = regexp.MustCompile(`^([0-9]+|zero|oh|o|one|two|three|four|five|six|seven|eight|nine|double|triple)$`)

// assertNoDigitRuns checks issue 4's redaction promise on what the call
// outputs: no run of four or more digits or digit words anywhere.
func assertNoDigitRuns(t *testing.T, rec call.Record) {
	t.Helper()
	out, err := json.Marshal(map[string]any{"utterances": call.UtterancesWire(rec.Utterances), "hints": rec.Hints, "alerts": rec.Alerts})
	if err != nil {
		t.Fatal(err)
	}
	run := 0
	for _, tok := range regexp.MustCompile(`[a-z0-9]+|[^a-z0-9\s]`).FindAllString(string(out), -1) {
		if digitToken.MatchString(tok) {
			run++
			if run >= 4 {
				t.Fatalf("card_payment output holds a run of %d digit tokens: %s", run, out)
			}
			continue
		}
		if tok != " " {
			run = 0
		}
	}
	if !regexp.MustCompile(`\[card number\]`).Match(out) {
		t.Errorf("card_payment output has no [card number]: the card was not recognized or not redacted")
	}
}
