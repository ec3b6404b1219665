package insights

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/stt"
)

// RedactionKind names what was redacted.
type RedactionKind string

// Redaction kinds.
const (
	CardNumber   RedactionKind = "card_number"
	Expiry       RedactionKind = "expiry"
	SecurityCode RedactionKind = "security_code"
)

// placeholder is the text that replaces a redacted stretch.
func (k RedactionKind) placeholder() string {
	switch k {
	case Expiry:
		return "[expiry]"
	case SecurityCode:
		return "[security code]"
	}
	return "[card number]"
}

// Redaction is one redacted stretch. With word timings Start and End are
// the first redacted word's start and the last one's end; for text alone
// both are the time passed to Redact.
type Redaction struct {
	Kind       RedactionKind
	Start, End time.Duration
}

// MarshalJSON writes {"kind","start","end"} with times in seconds.
func (r Redaction) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Kind  RedactionKind `json:"kind"`
		Start float64       `json:"start"`
		End   float64       `json:"end"`
	}{r.Kind, protocol.Seconds(r.Start), protocol.Seconds(r.End)})
}

// RedactorConfig tunes a Redactor. The zero value means the defaults given
// on each field.
type RedactorConfig struct {
	// ContextWindow is how long a payment context lasts after its last
	// sign — a payment word from either side ("card number", "security
	// code", "expiry") or a redacted digit run (default 60 s of call time).
	// Inside it any run of 2 or more digits is redacted, and a digit alone
	// of a speaker who has read card digits in it. A sign never shortens
	// it.
	ContextWindow time.Duration
	// TailWindow is how long a speaker's digits at the end of one
	// utterance still join digits at the start of their next one (default
	// 15 s): callers read a card in groups, one utterance each.
	TailWindow time.Duration
	// ExpectWindow is how long a question such as "and the security code?"
	// names the kind of the next digits read (default 20 s).
	ExpectWindow time.Duration
	// CardWindow is how long after a card is named (CardNamed) digits
	// count as a card being read (default 60 s).
	CardWindow time.Duration
	// Resume, if set, is where the call's earlier Redactor stood (its
	// State, saved with the call's checkpoint): a call resumed after an
	// engine restart goes on redacting the card being read across it. A
	// state that fails Validate cannot be trusted either way, so the
	// Redactor then starts in a payment context that does not end (it
	// redacts more, never less); use Restore to get the error instead.
	Resume *RedactorState
}

func (c RedactorConfig) withDefaults() RedactorConfig {
	if c.ContextWindow <= 0 {
		c.ContextWindow = 60 * time.Second
	}
	if c.TailWindow <= 0 {
		c.TailWindow = 15 * time.Second
	}
	if c.ExpectWindow <= 0 {
		c.ExpectWindow = 20 * time.Second
	}
	if c.CardWindow <= 0 {
		c.CardWindow = 60 * time.Second
	}
	return c
}

// Redactor removes spoken card numbers, expiry dates and security codes
// from one call's transcript. It keeps state across utterances and both
// speakers: once a payment context is seen (a payment word from either
// side, or a run of 4 or more digits), any run of 2 or more digits in the
// following ContextWindow is redacted too, and a speaker's digits that
// continue their previous utterance's digits count together. Redact before
// anything is stored or sent: the unredacted text must not leave the
// session. State returns what it carries between utterances, for a call's
// checkpoint; RedactorConfig.Resume or Restore goes on from it. It is not
// safe for concurrent use.
type Redactor struct {
	cfg RedactorConfig
	st  RedactorState
}

// NewRedactor returns a Redactor for one call, starting from cfg.Resume
// when set.
func NewRedactor(cfg RedactorConfig) *Redactor {
	r := &Redactor{cfg: cfg.withDefaults()}
	r.cfg.Resume = nil // copied, not kept
	if cfg.Resume != nil {
		if err := r.Restore(*cfg.Resume); err != nil {
			r.st = RedactorState{Context: true, ContextUntil: maxStateTime}
		}
	}
	return r
}

// Redact redacts one final utterance of sp ending at call time at. text is
// the utterance text and words its timed words (either may be empty; they
// are redacted separately, so they need not agree). A redacted run of words
// becomes one word with the placeholder text ("[card number]", "[expiry]",
// "[security code]"), the first word's start, the last word's end and the
// lowest confidence. Tokens are re-joined with single spaces. found lists
// what was redacted (from the words when given, else from the text).
// Redact never returns text or words holding a run of 4 or more digits,
// digit words or numerals.
func (r *Redactor) Redact(sp Speaker, text string, words []stt.Word, at time.Duration) (redactedText string, redactedWords []stt.Word, found []Redaction) {
	start := r.st
	toks := strings.Fields(text)
	textSpans, after := detect(start, r.cfg, sp, toks, at)
	if len(toks) > 0 {
		r.st = after
	}
	redactedText = joinRedacted(toks, textSpans)
	if len(words) > 0 {
		// A word's text is normally one token, but split it the way the
		// text is split so nothing hides inside a multi-token word.
		var wtoks []string
		var owner []int
		for i, w := range words {
			for _, f := range strings.Fields(w.Text) {
				wtoks = append(wtoks, f)
				owner = append(owner, i)
			}
		}
		tokSpans, wafter := detect(start, r.cfg, sp, wtoks, at)
		var wordSpans []span
		for _, s := range tokSpans {
			ws := span{owner[s.from], owner[s.to-1] + 1, s.kind}
			if n := len(wordSpans); n > 0 && wordSpans[n-1].to > ws.from {
				wordSpans[n-1].to = max(wordSpans[n-1].to, ws.to)
				continue
			}
			wordSpans = append(wordSpans, ws)
		}
		if len(toks) == 0 {
			r.st = wafter
		} else {
			// Keep what either reading learned about the speaker.
			d := r.st.Speakers.Ptr(sp)
			d.Started = d.Started || wafter.Speakers.Of(sp).Started
		}
		redactedWords = redactWords(words, wordSpans)
		for _, s := range wordSpans {
			found = append(found, Redaction{s.kind, words[s.from].Start, words[s.to-1].End})
		}
		r.noteCard(redactedText, at)
		for _, w := range redactedWords {
			r.noteCard(w.Text, at)
		}
		return redactedText, redactedWords, found
	}
	for _, s := range textSpans {
		found = append(found, Redaction{s.kind, at, at})
	}
	r.noteCard(redactedText, at)
	return redactedText, nil, found
}

// noteCard records a card named in a final utterance's redacted text.
func (r *Redactor) noteCard(redacted string, at time.Duration) {
	if mentionsCard(redacted) {
		r.st.CardNamed, r.st.CardNamedAt = true, at
	}
}

// RedactPartial redacts a partial hypothesis of sp at call time at, for
// the live overlay and anything else that sees it. Inside a payment
// context (InPaymentContext, including one this partial opens) or while
// sp's digits may go on from their last utterance, it is stricter than
// Redact: every digit word or numeral becomes a placeholder, even one
// alone ("is far five read" → "is far [card number] read"), because a
// partial is a guess the recognizer revises, and its digits, one partial
// at a time, are the card. Only a number followed by a unit ("sixty two
// dollars") is kept. Outside a payment context it redacts as Redact does
// ("one moment" stays). It reads the state but only adds to it what
// cannot hurt when the final result repeats the words: the payment
// context and DigitsStarted (so a payment hint can fire while the caller
// is still reading), not the digit count that joins the next utterance.
func (r *Redactor) RedactPartial(sp Speaker, text string, at time.Duration) string {
	toks := strings.Fields(text)
	spans, after := detect(r.st, r.cfg, sp, toks, at)
	tail := r.st.Speakers.Of(sp)
	goesOn := tail.Tail > 0 && !tail.TailNotCard && at-tail.TailAt <= r.cfg.TailWindow
	if (after.Context && at <= after.ContextUntil) || goesOn {
		spans = strictSpans(after, r.cfg, toks, spans, at)
	}
	if after.Context && (!r.st.Context || after.ContextUntil > r.st.ContextUntil) {
		r.st.Context, r.st.ContextUntil = true, after.ContextUntil
	}
	if after.Speakers.Of(sp).Started {
		r.st.Speakers.Ptr(sp).Started = true
	}
	return joinRedacted(toks, spans)
}

// DigitsStarted reports whether sp has read out card digits (a redacted
// digit run) in this call. It stays true once set.
func (r *Redactor) DigitsStarted(sp Speaker) bool { return r.st.Speakers.Of(sp).Started }

// InPaymentContext reports whether a payment context is active at call
// time at.
func (r *Redactor) InPaymentContext(at time.Duration) bool {
	return r.st.Context && at <= r.st.ContextUntil
}

// span is a redacted range of token indexes [from, to).
type span struct {
	from, to int
	kind     RedactionKind
}

func joinRedacted(toks []string, spans []span) string {
	var b strings.Builder
	next := 0
	for i := 0; i < len(toks); {
		if next < len(spans) && spans[next].from == i {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(spans[next].kind.placeholder())
			i = spans[next].to
			next++
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(toks[i])
		i++
	}
	return b.String()
}

func redactWords(words []stt.Word, spans []span) []stt.Word {
	out := make([]stt.Word, 0, len(words))
	next := 0
	for i := 0; i < len(words); {
		if next < len(spans) && spans[next].from == i {
			s := spans[next]
			w := stt.Word{Text: s.kind.placeholder(), Start: words[s.from].Start, End: words[s.to-1].End, Confidence: words[s.from].Confidence}
			for _, x := range words[s.from:s.to] {
				w.Confidence = min(w.Confidence, x.Confidence)
			}
			out = append(out, w)
			i = s.to
			next++
			continue
		}
		out = append(out, words[i])
		i++
	}
	return out
}
