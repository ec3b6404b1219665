package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/insights"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/store"
)

// TestStoredSentimentResumesTheSummary: the scores of a call's stored
// utterances are read back in publishing order (those without one skipped) and a
// resumed pipeline's summary includes them.
func TestStoredSentimentResumesTheSummary(t *testing.T) {
	utt := func(seq uint64, sp protocol.Channel, end time.Duration, sentiment *protocol.UtteranceSentiment) store.Utterance {
		return store.Utterance{Speaker: sp, End: end, Seq: seq, Sentiment: sentiment}
	}
	stored := []store.Utterance{
		utt(9, protocol.ChannelCaller, 12*time.Second, &protocol.UtteranceSentiment{Score: 0.5, Label: "positive"}),
		utt(3, protocol.ChannelCaller, 4*time.Second, &protocol.UtteranceSentiment{Score: -0.8, Label: "negative"}),
		utt(5, protocol.ChannelAgent, 6*time.Second, &protocol.UtteranceSentiment{Score: 0.2}),
		utt(8, protocol.ChannelCaller, 10*time.Second, nil),
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

	p, err := call.New(context.Background(), call.Deps{}, call.Config{CallID: "r", Start: 15 * time.Second, PriorSentiment: got})
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

// TestOpenUtterancesFindTheStoppedPart: the stored final a carried-over
// utterance replaces is the speaker's last one from where the open speech
// began; a channel without open speech, or whose part had no words, has
// none.
func TestOpenUtterancesFindTheStoppedPart(t *testing.T) {
	stored := []store.Utterance{
		{Speaker: protocol.ChannelAgent, Start: 1 * time.Second, End: 3 * time.Second, Seq: 4},
		{Speaker: protocol.ChannelCaller, Start: 4 * time.Second, End: 6 * time.Second, Seq: 9},
		{Speaker: protocol.ChannelAgent, Start: 7200 * time.Millisecond, End: 9900 * time.Millisecond, Seq: 12},
		{Speaker: protocol.ChannelCaller, Start: 8 * time.Second, End: 9900 * time.Millisecond, Seq: 13},
	}
	open := func(from float64) store.ChannelState {
		return store.ChannelState{Speaking: true, OpenSpeech: make([]byte, 640), OpenSpeechFrom: protocol.FromSeconds(from)}
	}
	tests := []struct {
		name   string
		resume [2]store.ChannelState
		want   map[string]uint64
	}{
		{"agent stopped mid-utterance", [2]store.ChannelState{open(7.0), {}}, map[string]uint64{"agent": 12}},
		{"both stopped mid-utterance", [2]store.ChannelState{open(7.0), open(7.9)}, map[string]uint64{"agent": 12, "caller": 13}},
		{"the caller's part had no words", [2]store.ChannelState{{}, open(9.5)}, map[string]uint64{}},
		{"speaking without open speech kept", [2]store.ChannelState{{Speaking: true}, {Speaking: true}}, map[string]uint64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]uint64{}
			for sp, u := range openUtterances(tt.resume, stored) {
				got[sp.String()] = u.Seq
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("replaces %v, want %v", got, tt.want)
			}
		})
	}
}
