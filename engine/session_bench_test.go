package engine

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/store"
)

// BenchmarkAnUtteranceThroughSessionHubAndStore measures what one final
// transcript and its sentiment cost between the pipeline and disk: the
// session stamps and publishes them (the hub marshals each event once),
// stores the events and the utterance, and folds them into the summary.
func BenchmarkAnUtteranceThroughSessionHubAndStore(b *testing.B) {
	h := newSessionHarness(b)
	st, err := store.Open(filepath.Join(h.dir, "bench.db"), store.Config{Sync: store.SyncNever})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	h.srv.store = st
	c := store.Call{ID: "bench", AgentID: "A1", StartedAt: time.Now().UTC().Truncate(time.Second), Status: store.StatusLive,
		Ack: -1, SampleRate: 16000, Encoding: protocol.EncodingPCM16, Categories: []string{}}
	if err := st.CreateCall(c); err != nil {
		b.Fatal(err)
	}
	h.srv.hub.OpenCall(string(c.ID), string(c.AgentID), 0)
	s := newSession(h.srv, c, "bench")
	words := make([]protocol.Word, 12)
	for i := range words {
		words[i] = protocol.Word{Text: "word", Start: float64(i) * 0.3, End: float64(i)*0.3 + 0.25, Confidence: 0.9}
	}
	sent := protocol.UtteranceSentiment{Score: 0.2, Label: "neutral"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		at := time.Duration(i+1) * 4 * time.Second
		evs := []protocol.Event{
			{Type: protocol.EventTranscriptFinal, T: at, Data: protocol.Utterance{Speaker: protocol.ChannelCaller, Start: at.Seconds() - 3.6,
				End: at.Seconds(), Text: "i would like to pay my bill now please thank you very much", Words: words, Confidence: 0.9, Sentiment: &sent}},
			{Type: protocol.EventSentiment, T: at, Data: protocol.Sentiment{Speaker: protocol.ChannelCaller, Score: 0.2, Label: "neutral", Rolling: 0.1, Trend: 0.05}},
		}
		s.publish(evs)
	}
	b.StopTimer()
	if s.writes.failing() {
		b.Fatal(s.writes.err)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/utterance")
}
