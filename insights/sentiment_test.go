package insights

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

type labelled struct {
	label SentimentLabel
	text  string
	asr   bool
}

func loadSentimentSet(t *testing.T, name string) []labelled {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []labelled
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) < 2 {
			t.Fatalf("%s:%d: want label<TAB>text", name, n)
		}
		l := SentimentLabel(fields[0])
		if l != Negative && l != Neutral && l != Positive {
			t.Fatalf("%s:%d: bad label %q", name, n, l)
		}
		out = append(out, labelled{l, fields[1], len(fields) > 2 && fields[2] == "asr"})
	}
	return out
}

// evaluate returns accuracy and macro-F1 of predict over set.
func evaluate(set []labelled, predict func(string) SentimentLabel) (acc, macroF1 float64, wrong []string) {
	labels := []SentimentLabel{Negative, Neutral, Positive}
	tp, fp, fn := map[SentimentLabel]int{}, map[SentimentLabel]int{}, map[SentimentLabel]int{}
	correct := 0
	for _, x := range set {
		got := predict(x.text)
		if got == x.label {
			correct++
			tp[got]++
			continue
		}
		fp[got]++
		fn[x.label]++
		wrong = append(wrong, string(x.label)+" read as "+string(got)+": "+x.text)
	}
	for _, l := range labels {
		p := float64(tp[l]) / math.Max(1, float64(tp[l]+fp[l]))
		r := float64(tp[l]) / math.Max(1, float64(tp[l]+fn[l]))
		if p+r > 0 {
			macroF1 += 2 * p * r / (p + r) / 3
		}
	}
	return float64(correct) / float64(len(set)), macroF1, wrong
}

func TestSentimentOnLabelledContactCenterSpeech(t *testing.T) {
	set := loadSentimentSet(t, "testdata/sentiment.tsv")
	if len(set) < 60 {
		t.Fatalf("only %d labelled utterances, want at least 60", len(set))
	}
	s := NewSentimentScorer(SentimentConfig{})
	predict := func(text string) SentimentLabel { return s.label(TextSentiment(text)) }
	acc, f1, wrong := evaluate(set, predict)
	var asr []labelled
	for _, x := range set {
		if x.asr {
			asr = append(asr, x)
		}
	}
	asrAcc, _, _ := evaluate(asr, predict)
	t.Logf("lexicon model on %d utterances: accuracy %.3f, macro-F1 %.3f; on the %d with recognition errors: accuracy %.3f", len(set), acc, f1, len(asr), asrAcc)
	for _, w := range wrong {
		t.Logf("miss: %s", w)
	}
	if acc < 0.75 {
		t.Errorf("accuracy %.3f, want at least 0.75", acc)
	}
	if f1 < 0.70 {
		t.Errorf("macro-F1 %.3f, want at least 0.70", f1)
	}
	// sentiment_heldout.tsv informed the second lexicon pass after one
	// measurement; sentiment_fresh.tsv was written after that and never
	// tuned on: its figure is the honest one for unseen speech.
	for _, name := range []string{"testdata/sentiment_heldout.tsv", "testdata/sentiment_fresh.tsv"} {
		held := loadSentimentSet(t, name)
		hacc, hf1, hwrong := evaluate(held, predict)
		t.Logf("%s, %d utterances: accuracy %.3f, macro-F1 %.3f", name, len(held), hacc, hf1)
		for _, w := range hwrong {
			t.Logf("miss: %s", w)
		}
		if hacc < 0.6 {
			t.Errorf("%s: accuracy %.3f, want at least 0.6", name, hacc)
		}
	}
}

func TestTextSentimentRules(t *testing.T) {
	tests := []struct {
		name string
		a, b string // want score(a) < score(b)
	}{
		{"negation turns a positive word negative", "i am not happy", "i am happy"},
		{"negation softens a negative word", "i am frustrated", "i am not frustrated"},
		{"an intensifier makes a negative word worse", "this is really terrible", "this is terrible"},
		{"an intensifier makes a positive word better", "that is good", "that is very good"},
		{"the clause after but weighs more when it is negative", "thanks but this is terrible", "this is terrible but thanks"},
		{"a dampener weakens a negative word", "i am frustrated", "i am slightly frustrated"},
		{"a misrecognised cancel still reads as churn", "i want to can sell my contract", "i want to check my contract"},
		{"charged twice is a complaint", "you charged me twice", "you charged me"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := TextSentiment(tc.a), TextSentiment(tc.b)
			if !(a < b) {
				t.Errorf("score(%q)=%.3f, score(%q)=%.3f: want the first lower", tc.a, a, tc.b, b)
			}
		})
	}
	if s := TextSentiment("the router has two lights on"); s != 0 {
		t.Errorf("a plain statement scored %.3f, want 0", s)
	}
	for _, text := range []string{"", "uh", "not not not", strings.Repeat("terrible ", 500)} {
		if s := TextSentiment(text); s < -1 || s > 1 || math.IsNaN(s) {
			t.Errorf("score(%.20q) = %v, outside [-1,1]", text, s)
		}
	}
}

func TestArousalDeepensOnlyNegativeReadings(t *testing.T) {
	calm := Prosody{MeanF0Hz: 120, MeanLevelDBFS: -26, WPM: 150}
	raised := Prosody{MeanF0Hz: 160, MeanLevelDBFS: -18, WPM: 210} // +33 % pitch, +8 dB, +40 % rate
	utt := func(text string) Utterance { return Utterance{Speaker: Caller, Text: text, End: time.Second} }
	tests := []struct {
		name        string
		text        string
		voice       Prosody
		wantArousal float64
		check       func(t *testing.T, s Sentiment)
	}{
		{"a calm voice leaves a complaint as the text reads", "this is terrible", calm, 0, func(t *testing.T, s Sentiment) {
			if s.Score != s.Text {
				t.Errorf("score %.3f, want the text score %.3f", s.Score, s.Text)
			}
		}},
		{"a raised voice makes a complaint 1.5 times as negative", "this is terrible", raised, 1, func(t *testing.T, s Sentiment) {
			if want := max(-1, s.Text*1.5); math.Abs(s.Score-want) > 1e-9 {
				t.Errorf("score %.3f, want %.3f", s.Score, want)
			}
		}},
		{"a raised voice never turns thanks negative", "thank you so much", raised, 1, func(t *testing.T, s Sentiment) {
			if s.Score != s.Text || s.Label != Positive {
				t.Errorf("score %.3f label %s, want the text score %.3f, positive", s.Score, s.Label, s.Text)
			}
		}},
		{"a raised voice leaves neutral words neutral", "my account number is in the email", raised, 1, func(t *testing.T, s Sentiment) {
			if s.Label != Neutral {
				t.Errorf("label %s, want neutral", s.Label)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := NewSentimentScorer(SentimentConfig{})
			// The first two utterances establish the baseline: no arousal yet.
			for range 2 {
				if s := sc.Score(utt("okay"), calm); s.Arousal != 0 {
					t.Fatalf("arousal %.3f while the baseline forms", s.Arousal)
				}
			}
			s := sc.Score(utt(tc.text), tc.voice)
			if math.Abs(s.Arousal-tc.wantArousal) > 1e-9 {
				t.Errorf("arousal %.3f, want %.3f", s.Arousal, tc.wantArousal)
			}
			tc.check(t, s)
		})
	}
}

func TestArousalIsRelativeToTheSpeakersOwnVoice(t *testing.T) {
	sc := NewSentimentScorer(SentimentConfig{})
	// A high-pitched caller and a low-pitched agent, each at their usual.
	for i := range 3 {
		sc.Score(Utterance{Speaker: Caller, Text: "okay", End: time.Duration(i) * time.Second}, Prosody{MeanF0Hz: 220})
		sc.Score(Utterance{Speaker: Agent, Text: "okay", End: time.Duration(i) * time.Second}, Prosody{MeanF0Hz: 100})
	}
	if s := sc.Score(Utterance{Speaker: Caller, Text: "this is bad"}, Prosody{MeanF0Hz: 225}); s.Arousal > 0.1 {
		t.Errorf("caller at their own usual pitch: arousal %.3f, want about 0", s.Arousal)
	}
	if s := sc.Score(Utterance{Speaker: Agent, Text: "this is bad"}, Prosody{MeanF0Hz: 130}); s.Arousal < 0.4 {
		t.Errorf("agent 30 %% above their usual pitch: arousal %.3f, want 0.45", s.Arousal)
	}
}

func TestTrendAndSummary(t *testing.T) {
	sc := NewSentimentScorer(SentimentConfig{})
	at := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	sc.Score(Utterance{Speaker: Caller, End: at(5), Text: "this is ridiculous"}, Prosody{})
	sc.Score(Utterance{Speaker: Caller, End: at(10), Text: "i am so frustrated"}, Prosody{})
	sc.Score(Utterance{Speaker: Agent, End: at(12), Text: "i am sorry let me fix that"}, Prosody{})
	sc.Score(Utterance{Speaker: Caller, End: at(45), Text: "my account number is in the email"}, Prosody{})
	sc.Score(Utterance{Speaker: Caller, End: at(80), Text: "thank you so much that is great"}, Prosody{})
	first, last, delta := Trend(sc.History(), at(90))
	if first >= 0 || last <= 0 || delta != last-first {
		t.Errorf("trend first %.3f last %.3f delta %.3f: want a negative start, a positive end", first, last, delta)
	}
	sum := sc.Summary(at(90))
	if sum.Trend <= 0.5 {
		t.Errorf("caller trend %.3f, want a clear rise", sum.Trend)
	}
	if sc.Rolling(Caller) <= 0 {
		t.Errorf("rolling caller sentiment %.3f after two kind utterances, want above 0", sc.Rolling(Caller))
	}
	b, _ := json.Marshal(sum)
	var m map[string]float64
	if err := json.Unmarshal(b, &m); err != nil || len(m) != 3 {
		t.Errorf("summary JSON %s, want {caller, agent, trend}", b)
	}
	for _, k := range []string{"caller", "agent", "trend"} {
		if _, ok := m[k]; !ok {
			t.Errorf("summary JSON %s lacks %q", b, k)
		}
	}
	if f, l, d := Trend(nil, at(90)); f != 0 || l != 0 || d != 0 {
		t.Errorf("trend of no scores = %v %v %v, want zeros", f, l, d)
	}
}

// TestSentimentContinuesAcrossARestart: a scorer that continues from the
// scores of a call's first k utterances ends where one that scored the
// whole call does (rolling sentiment, summary, trend), for every k. Voice
// prosody is left out: baselines are learnt afresh by design.
func TestSentimentContinuesAcrossARestart(t *testing.T) {
	lines := []struct {
		sp   Speaker
		text string
	}{
		{Agent, "thank you for calling how can i help"},
		{Caller, "i have been charged twice and i am really annoyed"},
		{Agent, "i am sorry about that let me look"},
		{Caller, "this is the third time it happened"},
		{Agent, "i have refunded the second charge"},
		{Caller, "great thank you that is very helpful"},
		{Caller, "perfect"},
	}
	utt := func(i int) Utterance {
		return Utterance{Speaker: lines[i].sp, Text: lines[i].text, Start: time.Duration(i) * 10 * time.Second, End: time.Duration(i)*10*time.Second + 4*time.Second}
	}
	const duration = 70 * time.Second
	whole := NewSentimentScorer(SentimentConfig{})
	for i := range lines {
		whole.Score(utt(i), Prosody{})
	}
	for k := 0; k <= len(lines); k++ {
		before := NewSentimentScorer(SentimentConfig{})
		for i := range k {
			before.Score(utt(i), Prosody{})
		}
		after := NewSentimentScorer(SentimentConfig{})
		after.Continue(before.History())
		for i := k; i < len(lines); i++ {
			after.Score(utt(i), Prosody{})
		}
		if got, want := after.Summary(duration), whole.Summary(duration); got != want {
			t.Errorf("cut after %d utterances: summary %+v, want %+v", k, got, want)
		}
		for _, sp := range []Speaker{Agent, Caller} {
			if got, want := after.Rolling(sp), whole.Rolling(sp); math.Abs(got-want) > 1e-12 {
				t.Errorf("cut after %d utterances: %s rolling %v, want %v", k, sp, got, want)
			}
		}
	}
}
