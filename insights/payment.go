package insights

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/earshot/earshot/protocol"
)

// ErrRedactorState means a RedactorState holds a value no Redactor could
// have produced: a negative or out-of-range time or count, or an unknown
// kind. A state comes back from disk after an engine restart; a bad one is
// refused rather than trusted either way.
var ErrRedactorState = errors.New("invalid redactor state")

// maxStateTime is the latest call time a RedactorState holds (about 13
// days): up to it a time survives the trip through seconds in JSON to the
// nanosecond.
const maxStateTime = time.Duration(1) << 50

// RedactorState is everything a Redactor carries from one utterance to the
// next, so a call resumed after an engine restart redacts its remaining
// utterances exactly as the uncut call would have: a card read in groups
// across the restart, or digits read after a payment question asked before
// it. All times are call time. It holds no slices or maps: a copy is an
// independent value. The JSON form (MarshalJSON) has times in seconds.
type RedactorState struct {
	// Context is whether a payment context was opened (a payment word or a
	// redacted digit run); it lasts until ContextUntil.
	Context      bool
	ContextUntil time.Duration
	// Expect is the kind of number the last payment question asked for
	// (Expiry, SecurityCode, or "" for none), asked at ExpectAt.
	Expect   RedactionKind
	ExpectAt time.Duration
	// CardNamed is whether either side named a payment card in a final
	// utterance ("card", "visa"…), the last time at CardNamedAt.
	CardNamed   bool
	CardNamedAt time.Duration
	// Speakers is each side's digit reading.
	Speakers BySpeaker[SpeakerDigits]
}

// SpeakerDigits is one speaker's part of a RedactorState: the digits they
// have read so far in the payment context.
type SpeakerDigits struct {
	// Tail is how many digits ended the speaker's last utterance, which
	// ended at TailAt: the next utterance's digits may go on from them.
	Tail   int
	TailAt time.Duration
	// TailNotCard is whether words labelled those digits as something
	// other than a card ("my phone number is five five five"): digits
	// going on from them keep the label until they would be card-long.
	TailNotCard bool
	// Started is whether the speaker has read card data (a redacted digit
	// run) in this call (Redactor.DigitsStarted).
	Started bool
	// CardDigits counts the card-number digits read in this payment
	// context; ExpiryDone is whether an expiry date followed them.
	CardDigits int
	ExpiryDone bool
}

// State returns everything the Redactor carries between utterances, to
// save with a call's checkpoint and give back through RedactorConfig.Resume
// or Restore.
func (r *Redactor) State() RedactorState { return r.st }

// Restore replaces the Redactor's state with st, which usually comes from
// State through a checkpoint on disk. A state that fails Validate is
// refused with an error wrapping ErrRedactorState and the Redactor is left
// as it was.
func (r *Redactor) Restore(st RedactorState) error {
	if err := st.Validate(); err != nil {
		return err
	}
	r.st = st
	return nil
}

// Validate reports, with an error wrapping ErrRedactorState, a state no
// Redactor could have produced: a time outside 0…2⁵⁰ ns (13 days), a negative count
// or an unknown Expect kind.
func (st RedactorState) Validate() error {
	bad := func(what string, v any) error { return fmt.Errorf("insights: %s %v: %w", what, v, ErrRedactorState) }
	for _, t := range []struct {
		what string
		d    time.Duration
	}{
		{"context end", st.ContextUntil}, {"question time", st.ExpectAt}, {"card named at", st.CardNamedAt},
		{"agent digits at", st.Speakers.Agent.TailAt}, {"caller digits at", st.Speakers.Caller.TailAt},
	} {
		if t.d < 0 || t.d > maxStateTime {
			return bad(t.what, t.d)
		}
	}
	switch st.Expect {
	case "", Expiry, SecurityCode:
	default:
		return bad("expected kind", fmt.Sprintf("%q", st.Expect))
	}
	for _, sp := range []Speaker{Agent, Caller} {
		d := st.Speakers.Of(sp)
		if d.Tail < 0 || d.CardDigits < 0 {
			return bad(sp.String()+" digit count", fmt.Sprintf("%d/%d", d.Tail, d.CardDigits))
		}
	}
	return nil
}

type speakerDigitsJSON struct {
	Tail        int     `json:"tail"`
	TailAt      float64 `json:"tail_at"`
	TailNotCard bool    `json:"tail_not_card,omitempty"`
	Started     bool    `json:"started"`
	CardDigits  int     `json:"card_digits"`
	ExpiryDone  bool    `json:"expiry_done"`
}

type redactorStateJSON struct {
	Context      bool          `json:"context"`
	ContextUntil float64       `json:"context_until"`
	Expect       RedactionKind `json:"expect,omitempty"`
	ExpectAt     float64       `json:"expect_at"`
	CardNamed    bool          `json:"card_named"`
	CardNamedAt  float64       `json:"card_named_at"`
	Speakers     speakersJSON  `json:"speakers"`
}

type speakersJSON struct {
	Agent  speakerDigitsJSON `json:"agent"`
	Caller speakerDigitsJSON `json:"caller"`
}

// MarshalJSON writes the state with times as seconds of call time, at full
// precision so they read back to the nanosecond:
//
//	{"context":b,"context_until":s,"expect":"expiry"|"security_code","expect_at":s,
//	 "card_named":b,"card_named_at":s,"speakers":{"agent":{…},"caller":{…}}}
//
// with each speaker {"tail":n,"tail_at":s,"tail_not_card":b,"started":b,"card_digits":n,"expiry_done":b}
// ("tail_not_card" only when true, so states saved before it read the same).
func (st RedactorState) MarshalJSON() ([]byte, error) {
	sp := func(d SpeakerDigits) speakerDigitsJSON {
		return speakerDigitsJSON{d.Tail, d.TailAt.Seconds(), d.TailNotCard, d.Started, d.CardDigits, d.ExpiryDone}
	}
	j := redactorStateJSON{
		Context: st.Context, ContextUntil: st.ContextUntil.Seconds(),
		Expect: st.Expect, ExpectAt: st.ExpectAt.Seconds(),
		CardNamed: st.CardNamed, CardNamedAt: st.CardNamedAt.Seconds(),
	}
	j.Speakers.Agent, j.Speakers.Caller = sp(st.Speakers.Agent), sp(st.Speakers.Caller)
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes and validates it (Validate):
// bad input gives an error wrapping ErrRedactorState and leaves st unchanged.
func (st *RedactorState) UnmarshalJSON(b []byte) error {
	var j redactorStateJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("insights: redactor state: %w: %w", ErrRedactorState, err)
	}
	var err error
	dur := func(what string, s float64) time.Duration {
		// Checked here, before the conversion can overflow.
		if math.IsNaN(s) || s < 0 || s > maxStateTime.Seconds() {
			err = errors.Join(err, fmt.Errorf("insights: %s %v s: %w", what, s, ErrRedactorState))
			return 0
		}
		return protocol.FromSeconds(s)
	}
	sp := func(who string, d speakerDigitsJSON) SpeakerDigits {
		return SpeakerDigits{d.Tail, dur(who+" digits at", d.TailAt), d.TailNotCard, d.Started, d.CardDigits, d.ExpiryDone}
	}
	out := RedactorState{
		Context: j.Context, ContextUntil: dur("context end", j.ContextUntil),
		Expect: j.Expect, ExpectAt: dur("question time", j.ExpectAt),
		CardNamed: j.CardNamed, CardNamedAt: dur("card named at", j.CardNamedAt),
		Speakers: BySpeaker[SpeakerDigits]{sp("agent", j.Speakers.Agent), sp("caller", j.Speakers.Caller)},
	}
	if err != nil {
		return err
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*st = out
	return nil
}

// CardNamed reports whether either side named a payment card ("card",
// "credit", "debit", "visa", "mastercard", "amex") in a final utterance
// within CardWindow before call time at. Narrower than InPaymentContext,
// which any payment word or digit run opens: recognizers hear digit runs in
// ordinary speech ("to your four" → "two four four"), so a hint that a card
// is being read needs the card itself named.
func (r *Redactor) CardNamed(at time.Duration) bool {
	return r.st.CardNamed && at-r.st.CardNamedAt <= r.cfg.CardWindow
}

// CardReading reports whether sp is reading out a card at call time at:
// they have read card digits (DigitsStarted) and a card was named within
// CardWindow (CardNamed).
func (r *Redactor) CardReading(sp Speaker, at time.Duration) bool {
	return r.DigitsStarted(sp) && r.CardNamed(at)
}

// cardWords name a payment card.
var cardWords = setOf("card credit debit visa mastercard amex")

// mentionsCard reports whether redacted text names a payment card outside
// its placeholders: "[card number]" does not count, or misrecognized digits
// would make their own context.
func mentionsCard(redacted string) bool {
	inPlaceholder := false
	for _, w := range strings.Fields(redacted) {
		if strings.HasPrefix(w, "[") {
			inPlaceholder = true
		}
		if !inPlaceholder && cardWords[normToken(w)] {
			return true
		}
		if strings.HasSuffix(w, "]") {
			inPlaceholder = false
		}
	}
	return false
}
