package insights

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/stt"
)

// benchUtterances is a call's worth of final utterances with word timings,
// alternating speakers, including card digits.
func benchUtterances(b *testing.B) []Utterance {
	var texts []string
	for _, x := range loadSentimentSet(&testing.T{}, "testdata/sentiment.tsv") {
		texts = append(texts, x.text)
	}
	texts = append(texts,
		"can i take the long card number please",
		"yes it's four five three two one two three four",
		"five six seven eight nine oh double four",
		"and the expiry date",
		"oh nine twenty seven",
		"and the security code on the back",
		"one two three")
	var utts []Utterance
	t := time.Duration(0)
	for i, text := range texts {
		sp := Caller
		if i%2 == 1 {
			sp = Agent
		}
		u := Utterance{Speaker: sp, Start: t, Text: text}
		for _, w := range strings.Fields(text) {
			u.Words = append(u.Words, stt.Word{Text: w, Start: t, End: t + 280*time.Millisecond, Confidence: 0.8})
			t += 300 * time.Millisecond
		}
		u.End = t
		utts = append(utts, u)
		t += 700 * time.Millisecond
	}
	return utts
}

// BenchmarkFinalUtteranceInsights measures everything insights does for one
// final utterance in a live call: redaction of text and words, the speech
// start and end reaching the dynamics tracker, the speaking-rate update,
// sentiment with prosody, the rolling value and the call summary. A new
// call starts every 300 utterances so state sizes stay those of real calls.
// It reports the p99 and median latency per utterance.
func BenchmarkFinalUtteranceInsights(b *testing.B) {
	utts := benchUtterances(b)
	var (
		red     *Redactor
		scorer  *SentimentScorer
		tracker *DynamicsTracker
		offset  time.Duration
	)
	newCall := func() {
		red = NewRedactor(RedactorConfig{})
		scorer = NewSentimentScorer(SentimentConfig{})
		tracker = NewDynamicsTracker(DynamicsConfig{})
		offset = 0
	}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%300 == 0 {
			newCall()
		}
		u := utts[i%len(utts)]
		if i%len(utts) == 0 && i > 0 {
			offset += utts[len(utts)-1].End + time.Second
		}
		u.Start += offset
		u.End += offset
		p := Prosody{MeanF0Hz: 120 + float64(i%7)*5, MeanLevelDBFS: -24 + float64(i%5), WPM: 150 + float64(i%11)*4}

		t0 := time.Now()
		tracker.SpeechStart(u.Speaker, u.Start, u.Start+100*time.Millisecond)
		tracker.SpeechEnd(u.Speaker, u.End, u.End+300*time.Millisecond)
		text, words, _ := red.Redact(u.Speaker, u.Text, u.Words, u.End)
		u.Text, u.Words = text, words
		tracker.AddUtterance(u)
		scorer.Score(u, p)
		_ = scorer.Rolling(u.Speaker)
		_ = scorer.Summary(u.End)
		_ = red.DigitsStarted(u.Speaker)
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	slices.Sort(lat)
	b.ReportMetric(float64(sum.Nanoseconds())/float64(len(lat))/1e3, "mean-µs/utterance")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs/utterance")
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs/utterance")
}

// BenchmarkTrackerTick measures the per-frame cost of settling dynamics
// time (called every 20 ms frame by the engine).
func BenchmarkTrackerTick(b *testing.B) {
	tr := NewDynamicsTracker(DynamicsConfig{})
	at := time.Duration(0)
	const frame = 20 * time.Millisecond
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		at += frame
		switch i % 200 { // a 2 s turn every 4 s per side
		case 0:
			tr.SpeechStart(Agent, at-frame, at)
		case 100:
			tr.SpeechEnd(Agent, at-3*frame, at)
			tr.SpeechStart(Caller, at-2*frame, at)
		case 199:
			tr.SpeechEnd(Caller, at-3*frame, at)
		}
		tr.Tick(at)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e3, "µs/frame")
}
