package insights

import "testing"

// sentimentTable is issue 15's sentiment table: short utterances of the
// kinds a contact center hears, each with the label a supervisor would
// give it. The agent's apology and empathy name the caller's trouble
// ("your frustration", "the inconvenience") but are not a negative
// moment of the call; negation turns words around ("not happy", "not
// bad", "not a problem"), but not across a new clause ("no, this is
// terrible").
var sentimentTable = []struct {
	speaker Speaker
	text    string
	want    SentimentLabel
}{
	// The agent's apology and empathy.
	{Agent, "I completely understand your frustration", Neutral},
	{Agent, "I'm sorry to hear that", Neutral},
	{Agent, "I apologize for the inconvenience", Neutral},
	{Agent, "I understand how frustrating that is", Neutral},
	{Agent, "sorry about the wait", Neutral},
	{Agent, "I'm so sorry you've had such a bad experience", Neutral},
	{Agent, "I can imagine how annoying that must be", Neutral},
	{Agent, "my apologies for the delay", Neutral},
	{Agent, "I'm sorry this has been so frustrating for you", Neutral},
	{Agent, "sorry about that, let me get that fixed for you", Positive},
	{Agent, "thank you for your patience", Positive},
	{Agent, "that's not a problem at all", Positive},
	// Empathy is not a blanket pass for the agent: bad news still reads
	// as bad news, and a caller's complaint after "sorry" stays one.
	{Agent, "unfortunately the refund was declined", Negative},
	{Caller, "I'm sorry but this is ridiculous", Negative},
	{Caller, "sorry this is just ridiculous", Negative},
	{Caller, "this has been so frustrating", Negative},
	// The same words read by speaker: the agent's apology, the caller's
	// complaint with "sorry" in front.
	{Agent, "I'm sorry this is so frustrating", Neutral},
	{Caller, "I'm sorry this is so frustrating", Negative},
	// Plain complaints and thanks.
	{Caller, "this is terrible", Negative},
	{Caller, "thank you so much", Positive},
	{Caller, "great, that worked", Positive},
	// Negation.
	{Caller, "I'm not happy", Negative},
	{Caller, "I'm not happy with the service at all", Negative},
	{Caller, "it's not great", Negative},
	{Caller, "you haven't been helpful at all", Negative},
	{Caller, "nothing has been fixed", Negative},
	{Caller, "it's not working again", Negative},
	{Caller, "not bad at all", Positive},
	{Caller, "that's not bad", Positive},
	{Caller, "not too bad", Positive},
	{Caller, "that's not a problem", Positive},
	{Caller, "no problem", Positive},
	{Caller, "I can't thank you enough", Positive},
	{Caller, "I couldn't be happier", Positive},
	{Caller, "I don't want to cancel, I'm happy with you", Positive},
	{Caller, "I've never had an issue before", Neutral},
	{Caller, "I don't have any problems with it", Neutral},
	// A negator does not reach into a new clause or an idiom, written or
	// (as the recognizer gives it) unpunctuated.
	{Caller, "I can't believe how bad this is", Negative},
	{Caller, "no, this is terrible", Negative},
	{Caller, "no that's wrong", Negative},
	// Neutral business.
	{Caller, "my account number is in the email", Neutral},
	{Agent, "let me check that for you", Neutral},
	{Caller, "no I don't have it with me", Neutral},
	{Agent, "can you hold on a moment", Neutral},
	{Caller, "I'm calling about my bill", Neutral},
}

func TestSentimentTable(t *testing.T) {
	for _, tc := range sentimentTable {
		t.Run("the "+tc.speaker.String()+" saying "+tc.text+" reads "+string(tc.want), func(t *testing.T) {
			s := NewSentimentScorer(SentimentConfig{}).Score(Utterance{Speaker: tc.speaker, Text: tc.text}, Prosody{})
			if s.Label != tc.want {
				t.Errorf("label %s (score %.3f), want %s", s.Label, s.Score, tc.want)
			}
		})
	}
}

// BenchmarkSentimentScore measures the text and voice reading of one
// final utterance alone, the part of the per-utterance cost the sentiment
// rules add, over the table's utterances.
func BenchmarkSentimentScore(b *testing.B) {
	sc := NewSentimentScorer(SentimentConfig{})
	p := Prosody{MeanF0Hz: 120, MeanLevelDBFS: -24, WPM: 150}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tc := sentimentTable[i%len(sentimentTable)]
		sc.Score(Utterance{Speaker: tc.speaker, Text: tc.text}, p)
		if i%300 == 299 {
			sc = NewSentimentScorer(SentimentConfig{}) // a new call: history stays call-sized
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e3, "µs/utterance")
}
