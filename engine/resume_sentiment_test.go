package engine

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/earshot/earshot/insights"
	"github.com/earshot/earshot/insights/store"
)

// TestStoredSentimentResumesTheSummary: the scores of a call's stored
// utterances are read back in publishing order (bad ones skipped) and a
// resumed pipeline's summary includes them.
func TestStoredSentimentResumesTheSummary(t *testing.T) {
	utt := func(seq uint64, sp string, end float64, sentiment string) store.Utterance {
		return store.Utterance{Speaker: sp, End: end, Seq: seq, Sentiment: json.RawMessage(sentiment)}
	}
	stored := []store.Utterance{
		utt(9, "caller", 12, `{"score":0.5,"label":"positive"}`),
		utt(3, "caller", 4, `{"score":-0.8,"label":"negative"}`),
		utt(5, "agent", 6, `{"score":0.2}`),
		utt(7, "caller", 9, `not json`),
		utt(8, "caller", 10, ``),
		utt(6, "caller", 8, `{"label":"neutral"}`),
	}
	got := storedSentiment(stored)
	want := []insights.TimedScore{
		{Speaker: insights.Caller, At: 4 * time.Second, Score: -0.8},
		{Speaker: insights.Agent, At: 6 * time.Second, Score: 0.2},
		{Speaker: insights.Caller, At: 12 * time.Second, Score: 0.5},
	}
	if len(got) != len(want) {
		t.Fatalf("scores %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("score %d: %+v, want %+v", i, got[i], want[i])
		}
	}

	p, err := NewPipeline(context.Background(), Deps{}, PipelineConfig{CallID: "r", Start: 15 * time.Second, PriorSentiment: got})
	if err != nil {
		t.Fatal(err)
	}
	_, r, err := p.Finish(15 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sentiment.Caller != -0.15 || r.Sentiment.Agent != 0.2 {
		t.Errorf("resumed summary %+v, want caller -0.15 (mean of -0.8 and 0.5), agent 0.2", r.Sentiment)
	}
}
