package insights

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

//go:embed sentiment_lexicon.txt
var lexiconText string

// lexEntry is one lexicon term. An empathy entry is an apology or an
// acknowledgement ("sorry", "understand your"): it is read only in the
// agent's speech, where it also keeps the rest of its clause from counting
// negative, since there the bad words name the caller's trouble, not the
// agent's mood.
type lexEntry struct {
	tokens  []string
	valence float64
	empathy bool
}

// lexicon maps a term's first token to its entries, longest first and, of
// the same length, empathy entries first so the agent's reading wins.
var lexicon = mustParseLexicon(lexiconText)

// mustParseLexicon reads the embedded lexicon. A malformed line is a bug in
// the package, caught by every test run, so it panics.
func mustParseLexicon(text string) map[string][]lexEntry {
	m := map[string][]lexEntry{}
	for n, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) < 2 {
			panic(fmt.Sprintf("insights: sentiment lexicon line %d: want term<TAB>valence", n+1))
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil || v < -4 || v > 4 {
			panic(fmt.Sprintf("insights: sentiment lexicon line %d: bad valence %q", n+1, f[1]))
		}
		tag := ""
		if len(f) > 2 {
			tag = f[2]
		}
		if tag != "" && tag != "asr" && tag != "empathy" {
			panic(fmt.Sprintf("insights: sentiment lexicon line %d: unknown tag %q", n+1, tag))
		}
		if tag == "empathy" && v < 0 {
			panic(fmt.Sprintf("insights: sentiment lexicon line %d: an empathy term cannot be negative", n+1))
		}
		toks := strings.Fields(f[0])
		m[toks[0]] = append(m[toks[0]], lexEntry{toks, v, tag == "empathy"})
	}
	for k := range m {
		slices.SortStableFunc(m[k], func(a, b lexEntry) int {
			if n := len(b.tokens) - len(a.tokens); n != 0 {
				return n
			}
			switch {
			case a.empathy == b.empathy:
				return 0
			case a.empathy:
				return -1
			}
			return 1
		})
	}
	return m
}

// Words that turn the valence of the first sentiment term in the next
// three tokens around.
var negators = setOf("not no never don't doesn't didn't isn't wasn't aren't weren't can't cannot couldn't " +
	"won't wouldn't shouldn't haven't hasn't hadn't nothing nobody none neither nor without " +
	"dont doesnt didnt isnt wasnt cant wont wouldnt havent hasnt")

var (
	// Boosters raise the magnitude of the next sentiment word; dampeners lower it.
	boosters = setOf("absolutely really so very extremely totally completely complete incredibly truly " +
		"super such too utterly highly most quite seriously deeply entirely")
	dampeners = setOf("slightly somewhat barely hardly kinda marginally")
	// Clause words after which the rest of the utterance weighs more.
	contrasts = setOf("but however although though")
	// Words that begin a new clause. Recognizer output has no punctuation,
	// so "no that's wrong" must end the negation at "that's" by itself;
	// "that" alone is not here because "not that bad" is one phrase.
	clauseStarts = setOf("and or but however although though because cause since unless until if when while " +
		"unfortunately i i'm i've i'd i'll you you're you've we we're we've they they're he he's she she's " +
		"it it's this these those there there's here that's what how why who")
	// Words after which a negator negates nothing: "can't believe how bad",
	// "not only", "no wonder", "no doubt".
	negationIdioms = setOf("believe only wonder doubt")
)

func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// VADER's constants: a booster adds 0.293 to a word's magnitude, negation
// of a positive word scales it by -0.74, and the raw sum s maps to
// s/sqrt(s²+15). A negated negative word is scaled by -0.5 instead: "not
// bad" is faint praise, weaker than "bad" is blame (human ratings of
// negated phrases show this asymmetry: Kiritchenko & Mohammad 2016, "The
// Effect of Negators, Modals, and Degree Adverbs on Sentiment
// Composition").
const (
	boostIncrement       = 0.293
	negationScale        = -0.74
	negatedNegativeScale = -0.5
	normAlpha            = 15
	beforeContrast       = 0.5
	afterContrast        = 1.5
	negationReach        = 3   // tokens from a negator to the term it negates
	empathyReach         = 8   // tokens after an apology whose bad words it covers
	clauseBreak          = "," // the token for , . ; : ! ?
	clausePunctuation    = ",.;:!?"
)

// tokenize lower-cases text and splits it into words appended to toks,
// keeping apostrophes inside words ("don't") and dropping other
// punctuation except that a clause break (, . ; : ! ?) becomes the token
// clauseBreak: written text marks "no, this is terrible" as two clauses
// and the negation must stop there.
func tokenize(text string, toks []string) []string {
	lower := strings.ToLower(text)
	start := -1
	for i, r := range lower {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			toks = append(toks, lower[start:i])
			start = -1
		}
		if strings.ContainsRune(clausePunctuation, r) && len(toks) > 0 && toks[len(toks)-1] != clauseBreak {
			toks = append(toks, clauseBreak)
		}
	}
	if start >= 0 {
		toks = append(toks, lower[start:])
	}
	return toks
}

// TextSentiment scores text alone in [-1, 1] with the lexicon model, read
// as a caller's words; TextSentimentBy reads an agent's. Terms match
// longest first; a negator up to three tokens before a term, in the same
// clause, turns the first term after it around (positive ×-0.74, negative
// ×-0.5); each booster ("really", "so") just before adds 0.293 to its
// magnitude, each dampener takes it off; after a contrast word ("but")
// terms weigh 1.5 and before it 0.5; the sum s is squashed to s/sqrt(s²+15)
// as in VADER.
func TextSentiment(text string) float64 {
	return TextSentimentBy(Caller, text)
}

// TextSentimentBy is TextSentiment for text said by sp. For the agent,
// apology and empathy ("I'm sorry", "I understand your frustration") read
// mildly positive, and the bad words in the rest of their clause (up to
// eight tokens, to a clause break, "but" or "unfortunately") count 0: the
// agent is naming the caller's trouble, which is good service, not a
// negative moment. Any other speaker reads as a caller, for whom "sorry
// but this is ridiculous" is a complaint.
func TextSentimentBy(sp Speaker, text string) float64 {
	// Buffers for a typical utterance on the stack: this runs for every
	// final utterance of every live call.
	var tokBuf [32]string
	return textScore(tokenize(text, tokBuf[:0]), sp == Agent)
}

// termHit is a lexicon term found at toks[pos:pos+n] with its valence
// after boosters and negation.
type termHit struct {
	pos, n  int
	v       float64
	empathy bool
}

func textScore(toks []string, agent bool) float64 {
	var hitBuf [8]termHit
	var consumedBuf [32]bool
	consumed := consumedBuf[:min(len(toks), len(consumedBuf))]
	if len(toks) > len(consumedBuf) {
		consumed = make([]bool, len(toks))
	}
	hits := findTerms(toks, agent, consumed, hitBuf[:0])
	if len(hits) == 0 {
		return 0
	}
	coverEnd := -1 // the agent's apology covers tokens before this
	for i := range hits {
		h := &hits[i]
		h.v = intensify(toks, consumed, h.pos, h.v)
		if negated(toks, consumed, h.pos) {
			if h.v > 0 {
				h.v *= negationScale
			} else {
				h.v *= negatedNegativeScale
			}
		}
		switch {
		case h.empathy && h.v > 0: // "I'm not sorry" apologises for nothing
			coverEnd = empathyEnd(toks, h.pos+h.n)
		case h.v < 0 && h.pos < coverEnd:
			h.v = 0
		}
	}
	cut := -1
	for i, t := range toks {
		if contrasts[t] {
			cut = i
		}
	}
	var sum float64
	for _, h := range hits {
		switch {
		case cut < 0:
			sum += h.v
		case h.pos < cut:
			sum += h.v * beforeContrast
		default:
			sum += h.v * afterContrast
		}
	}
	return sum / math.Sqrt(sum*sum+normAlpha)
}

// findTerms matches the lexicon left to right, longest term first,
// appends each term to hits and marks the tokens it takes up in consumed.
func findTerms(toks []string, agent bool, consumed []bool, hits []termHit) []termHit {
	for i := 0; i < len(toks); {
		e, ok := matchLexicon(toks, i, agent)
		if !ok {
			i++
			continue
		}
		for k := range e.tokens {
			consumed[i+k] = true
		}
		hits = append(hits, termHit{pos: i, n: len(e.tokens), v: e.valence, empathy: e.empathy})
		i += len(e.tokens)
	}
	return hits
}

// intensify applies the boosters and dampeners directly before the term at
// pos, nearest first, fading with distance as in VADER.
func intensify(toks []string, consumed []bool, pos int, v float64) float64 {
	scale := 1.0
	for k := pos - 1; k >= 0 && k >= pos-3 && !consumed[k] && toks[k] != clauseBreak; k-- {
		var d float64
		switch {
		case boosters[toks[k]]:
			d = boostIncrement
		case dampeners[toks[k]]:
			d = -boostIncrement
		case toks[k] == "bit" || toks[k] == "little" || toks[k] == "of":
			// "a bit", "a little", "kind of": dampening phrases.
			if toks[k] != "of" || (k > 0 && (toks[k-1] == "kind" || toks[k-1] == "sort")) {
				d = -boostIncrement
			}
		default:
			continue
		}
		if v < 0 {
			d = -d
		}
		v += d * scale
		scale -= 0.05
	}
	return v
}

// negated reports whether a negator negates the term at pos, and marks
// that negator used: it turns around only the first term after it ("not
// angry just disappointed" is still disappointed). A negator reaches at
// most negationReach tokens and never past a clause break or the start of
// a new clause ("no, this is terrible"; "no that's wrong").
func negated(toks []string, consumed []bool, pos int) bool {
	for k := pos - 1; k >= 0 && k >= pos-negationReach; k-- {
		t := toks[k]
		if t == clauseBreak || clauseStarts[t] {
			return false
		}
		if !negators[t] || consumed[k] {
			continue
		}
		if k+1 < len(toks) && negationIdioms[toks[k+1]] {
			return false
		}
		consumed[k] = true
		return true
	}
	return false
}

// empathyEnd is where the clause an apology ending at from opens stops:
// empathyReach tokens on, or earlier at a clause break, a contrast word or
// "unfortunately" (the agent's own bad news follows).
func empathyEnd(toks []string, from int) int {
	end := min(len(toks), from+empathyReach)
	for k := from; k < end; k++ {
		if t := toks[k]; t == clauseBreak || contrasts[t] || t == "unfortunately" {
			return k
		}
	}
	return end
}

func matchLexicon(toks []string, i int, agent bool) (lexEntry, bool) {
	for _, e := range lexicon[toks[i]] {
		if e.empathy && !agent {
			continue
		}
		if i+len(e.tokens) <= len(toks) && slices.Equal(toks[i:i+len(e.tokens)], e.tokens) {
			return e, true
		}
	}
	return lexEntry{}, false
}

// Prosody is how an utterance sounded: its mean pitch over voiced frames,
// mean level over speech frames, and speaking rate. A zero field means
// "not measured" and is left out of the arousal.
type Prosody struct {
	MeanF0Hz      float64
	MeanLevelDBFS float64
	WPM           float64
}

// SentimentConfig tunes a SentimentScorer. The zero value means the
// defaults given on each field.
type SentimentConfig struct {
	// NeutralBand is the score magnitude up to which an utterance is
	// labelled neutral (default 0.25: one mild word such as "refund" or
	// "issue" alone does not make an utterance negative).
	NeutralBand float64
	// ArousalGain is how much a fully raised voice deepens a negative text
	// score (default 0.5: up to 1.5× as negative).
	ArousalGain float64
	// BaselineUtterances is how many of a speaker's utterances establish
	// their baseline voice before arousal is measured (default 2).
	BaselineUtterances int
	// BaselineWindow is how many recent utterances the baseline medians
	// run over (default 20).
	BaselineWindow int
	// Smoothing is the weight of the newest utterance in the rolling
	// sentiment per speaker (exponentially weighted, default 0.4).
	Smoothing float64
}

func (c SentimentConfig) withDefaults() SentimentConfig {
	if c.NeutralBand <= 0 {
		c.NeutralBand = 0.25
	}
	if c.ArousalGain <= 0 {
		c.ArousalGain = 0.5
	}
	if c.BaselineUtterances <= 0 {
		c.BaselineUtterances = 2
	}
	if c.BaselineWindow <= 0 {
		c.BaselineWindow = 20
	}
	if c.Smoothing <= 0 || c.Smoothing > 1 {
		c.Smoothing = 0.4
	}
	return c
}

// TimedScore is one utterance's sentiment at a point in the call.
type TimedScore struct {
	Speaker Speaker
	At      time.Duration // the utterance's end
	Score   float64
}

// voiceBaseline keeps a speaker's recent prosody values.
type voiceBaseline struct {
	f0, level, rate []float64
}

// SentimentScorer scores the final utterances of one call. It keeps each
// speaker's voice baseline, rolling sentiment and score history. It is not
// safe for concurrent use.
type SentimentScorer struct {
	cfg      SentimentConfig
	baseline BySpeaker[voiceBaseline]
	rolling  BySpeaker[float64]
	seen     BySpeaker[bool]
	history  []TimedScore
}

// NewSentimentScorer returns a scorer for one call.
func NewSentimentScorer(cfg SentimentConfig) *SentimentScorer {
	return &SentimentScorer{cfg: cfg.withDefaults()}
}

// Score reads one final utterance: the text score from the lexicon model
// for its speaker (TextSentimentBy; NoSpeaker reads as the caller), the
// arousal of its voice against the speaker's baseline so far, and the
// combined score and label. Then it adds the utterance to the speaker's
// baseline, rolling sentiment and history.
//
// Arousal is 0.45·pitch + 0.35·level + 0.2·rate, each term clamped to 0..1:
// pitch = (F0/baselineF0 − 1)/0.3 (30 % above the speaker's median is
// full), level = (dBFS − baseline dBFS)/8 dB, rate = (WPM/baselineWPM −
// 1)/0.35. Baselines are medians of the speaker's last BaselineWindow
// utterances; until BaselineUtterances of them carried a value, that term is
// 0. Only raised voices count: calmer than usual is 0, not negative.
//
// The combined score is text·(1 + ArousalGain·arousal), capped at -1, when
// the text is negative, and the text score otherwise: a raised voice makes
// a complaint read worse but never turns kind words or neutral ones into
// a negative reading (people also raise their voice when pleased or on a
// bad line).
func (s *SentimentScorer) Score(u Utterance, p Prosody) Sentiment {
	sp := u.Speaker
	if !sp.Valid() {
		sp = Caller
	}
	text := TextSentimentBy(sp, u.Text)
	b := s.baseline.Ptr(sp)
	arousal := 0.45*raise(p.MeanF0Hz, b.f0, s.cfg.BaselineUtterances, func(x, base float64) float64 { return (x/base - 1) / 0.30 }) +
		0.35*raise(p.MeanLevelDBFS, b.level, s.cfg.BaselineUtterances, func(x, base float64) float64 { return (x - base) / 8 }) +
		0.20*raise(p.WPM, b.rate, s.cfg.BaselineUtterances, func(x, base float64) float64 { return (x/base - 1) / 0.35 })
	arousal = clamp(arousal, 0, 1)
	score := text
	if text < 0 {
		score = max(-1, text*(1+s.cfg.ArousalGain*arousal))
	}
	b.f0 = pushWindow(b.f0, p.MeanF0Hz, s.cfg.BaselineWindow)
	b.level = pushWindow(b.level, p.MeanLevelDBFS, s.cfg.BaselineWindow)
	b.rate = pushWindow(b.rate, p.WPM, s.cfg.BaselineWindow)

	s.add(TimedScore{sp, u.End, score})
	return Sentiment{Score: score, Label: s.label(score), Text: text, Arousal: arousal}
}

func (s *SentimentScorer) label(score float64) SentimentLabel {
	switch {
	case score > s.cfg.NeutralBand:
		return Positive
	case score < -s.cfg.NeutralBand:
		return Negative
	}
	return Neutral
}

// raise is one arousal term: 0 while x is unmeasured or the baseline is
// still forming, else f(x, median baseline) clamped to 0..1.
func raise(x float64, base []float64, need int, f func(x, base float64) float64) float64 {
	if x == 0 || len(base) < need {
		return 0
	}
	m := median(base)
	if m == 0 {
		return 0
	}
	return clamp(f(x, m), 0, 1)
}

func pushWindow(w []float64, x float64, n int) []float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return w
	}
	w = append(w, x)
	if len(w) > n {
		w = slices.Delete(w, 0, len(w)-n)
	}
	return w
}

func median(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := slices.Clone(x)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func clamp(x, lo, hi float64) float64 {
	if math.IsNaN(x) {
		return lo
	}
	return min(hi, max(lo, x))
}

// Continue takes the scores of the call's earlier utterances, in the order
// they were scored, for a call resumed after an engine restart: the history
// (so the summary and trend cover the whole call) and each speaker's
// rolling sentiment go on from them. Voice baselines are learnt afresh; the
// prosody of earlier utterances is not kept. Call it before Score.
func (s *SentimentScorer) Continue(prior []TimedScore) {
	for _, sc := range prior {
		if sc.Speaker.Valid() {
			s.add(sc)
		}
	}
}

// add counts one score in its speaker's rolling sentiment and the history.
func (s *SentimentScorer) add(sc TimedScore) {
	sp := sc.Speaker
	if s.seen.Of(sp) {
		*s.rolling.Ptr(sp) = s.cfg.Smoothing*sc.Score + (1-s.cfg.Smoothing)*s.rolling.Of(sp)
	} else {
		*s.seen.Ptr(sp), *s.rolling.Ptr(sp) = true, sc.Score
	}
	s.history = append(s.history, sc)
}

// Rolling returns sp's exponentially weighted sentiment over their
// utterances so far (0 before the first).
func (s *SentimentScorer) Rolling(sp Speaker) float64 { return s.rolling.Of(sp) }

// History returns every score so far in scoring order; the caller owns the
// copy.
func (s *SentimentScorer) History() []TimedScore { return slices.Clone(s.history) }

// Trend compares the mean score in the first third of the call with the
// mean in the last third (by each score's At) and returns both and
// last-first. A third without scores reads 0 (neutral).
func Trend(scores []TimedScore, duration time.Duration) (first, last, delta float64) {
	var n1, n3 int
	for _, sc := range scores {
		switch {
		case sc.At*3 <= duration:
			first += sc.Score
			n1++
		case sc.At*3 >= 2*duration:
			last += sc.Score
			n3++
		}
	}
	if n1 > 0 {
		first /= float64(n1)
	}
	if n3 > 0 {
		last /= float64(n3)
	}
	return first, last, last - first
}

// SentimentSummary is a call's sentiment: each side's mean utterance score
// and the caller's trend (last third minus first third of the call, so
// positive means the caller ended happier than they started).
type SentimentSummary struct {
	Caller float64 `json:"caller"`
	Agent  float64 `json:"agent"`
	Trend  float64 `json:"trend"`
}

// Summary sums up the call so far for a call of the given duration.
// Values are rounded to 0.001.
func (s *SentimentScorer) Summary(duration time.Duration) SentimentSummary {
	var sum BySpeaker[float64]
	var n BySpeaker[int]
	var caller []TimedScore
	for _, h := range s.history {
		*sum.Ptr(h.Speaker) += h.Score
		*n.Ptr(h.Speaker) += 1
		if h.Speaker == Caller {
			caller = append(caller, h)
		}
	}
	var out SentimentSummary
	if n.Caller > 0 {
		out.Caller = round(sum.Caller/float64(n.Caller), 1000)
	}
	if n.Agent > 0 {
		out.Agent = round(sum.Agent/float64(n.Agent), 1000)
	}
	_, _, d := Trend(caller, duration)
	out.Trend = round(d, 1000)
	return out
}

// MarshalJSON writes a Sentiment as {"score","label","text","arousal"},
// numbers rounded to 0.001.
func (s Sentiment) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Score   float64        `json:"score"`
		Label   SentimentLabel `json:"label"`
		Text    float64        `json:"text"`
		Arousal float64        `json:"arousal"`
	}{round(s.Score, 1000), s.Label, round(s.Text, 1000), round(s.Arousal, 1000)})
}

// TrendWord names a caller's sentiment trend (SentimentSummary.Trend) for
// list views: "improving" or "worsening" from a change of 0.15 either way,
// else "steady".
func TrendWord(delta float64) string {
	switch {
	case delta >= 0.15:
		return "improving"
	case delta <= -0.15:
		return "worsening"
	default:
		return "steady"
	}
}
