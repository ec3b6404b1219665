package insights

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/earshot/earshot/stt"
)

// checkerDigitWords are the digit words the safety check looks for.
var checkerDigitWords = setOf("zero oh o one two three four five six seven eight nine")

// longestDigitRun returns the most consecutive digit words or numerals in
// text, and the most digits such a run stands for (a numeral counts its
// ASCII digits, a digit word one). This is the Must-show check: it is
// written independently of the redactor's own tokenizer.
func longestDigitRun(text string) (tokens, digits int) {
	var nt, nd int
	for _, f := range strings.Fields(text) {
		w := strings.TrimFunc(strings.ToLower(f), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		d := 0
		for _, r := range f {
			if r >= '0' && r <= '9' {
				d++
			}
		}
		if d == 0 && checkerDigitWords[w] {
			d = 1
		}
		if d == 0 {
			nt, nd = 0, 0
			continue
		}
		nt++
		nd += d
		tokens, digits = max(tokens, nt), max(digits, nd)
	}
	return tokens, digits
}

// checkerDigit maps the digit words the checks look for to their digit.
var checkerDigit = map[string]byte{"zero": '0', "oh": '0', "o": '0', "one": '1', "two": '2', "three": '3',
	"four": '4', "five": '5', "six": '6', "seven": '7', "eight": '8', "nine": '9'}

// cardInText returns a card text shows: a run of digit words or numerals
// (numerals without letters) of 20 digits or more, or one holding 13 to
// 19 digits in a row that pass the Luhn check. Like longestDigitRun it is
// written apart from the redactor, Luhn included.
func cardInText(text string) (string, bool) {
	var run []byte
	check := func() (string, bool) {
		if len(run) >= 20 {
			return string(run), true
		}
		for n := 13; n <= len(run); n++ {
			for i := 0; i+n <= len(run); i++ {
				if checkerLuhn(run[i : i+n]) {
					return string(run[i : i+n]), true
				}
			}
		}
		return "", false
	}
	for _, f := range strings.Fields(text) {
		w := strings.TrimFunc(strings.ToLower(f), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		if d, ok := checkerDigit[w]; ok {
			run = append(run, d)
			continue
		}
		if strings.ContainsAny(f, "0123456789") && !strings.ContainsFunc(f, unicode.IsLetter) {
			for _, r := range f {
				if r >= '0' && r <= '9' {
					run = append(run, byte(r))
				}
			}
			continue
		}
		if c, ok := check(); ok {
			return c, true
		}
		run = run[:0]
	}
	return check()
}

// checkerLuhn is the Luhn check, from the left with the parity of the length.
func checkerLuhn(d []byte) bool {
	sum := 0
	for i, c := range d {
		v := int(c - '0')
		if (len(d)-i)%2 == 0 {
			v = [10]int{0, 2, 4, 6, 8, 1, 3, 5, 7, 9}[v]
		}
		sum += v
	}
	return sum%10 == 0
}

// assertNoCard is the check that holds everywhere, outside a payment
// context too: no card is left in text.
func assertNoCard(t *testing.T, what, text string) {
	t.Helper()
	if c, ok := cardInText(text); ok {
		t.Errorf("%s keeps the card-like digits %s: %q", what, c, text)
	}
}

// assertNoDigitRun is the check inside a payment context, where redaction
// fails closed: no run of 4 digits or more is kept.
func assertNoDigitRun(t *testing.T, what, text string) {
	t.Helper()
	if n, d := longestDigitRun(text); n >= 4 || d >= 4 {
		t.Errorf("%s keeps a run of %d digit tokens (%d digits): %q", what, n, d, text)
	}
}

func at(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func TestRedactSingleUtterances(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"digit words in groups", "it's four five three two one two three four five six seven eight nine oh one two", "it's [card number]"},
		{"oh and zero are digits", "four oh oh zero", "[card number]"},
		{"double and triple", "five double four triple seven", "[card number]"},
		{"numerals", "my card is 4532 1234 5678 9012", "my card is [card number]"},
		{"a numeral glued to punctuation", "number: 4532-1234-5678-9012.", "number: [card number]"},
		{"digit words behind stray punctuation", "'!four '!five '!three '!two", "[card number]"},
		{"pairs read as tens", "forty five thirty two twelve", "[card number]"},
		{"fillers inside a run", "four five uh three two um one", "[card number]"},
		{"a misheard four between digits", "four five for two", "[card number]"},
		{"expiry after the keyword", "the expiry is oh nine twenty seven", "the expiry is [expiry]"},
		{"expiry with slash", "valid thru zero nine slash two seven", "valid thru [expiry]"},
		{"expiry with a month name", "it expires september twenty seven", "it expires [expiry]"},
		{"security code after the keyword", "the security code is one two three", "the security code is [security code]"},
		{"cvv", "cvv four four one", "cvv [security code]"},
		{"the three digits on the back", "the three digits on the back are seven one nine", "the three digits on the back are [security code]"},
		{"a lone number stays", "give me one moment", "give me one moment"},
		{"a short number outside a payment stays", "i have two kids", "i have two kids"},
		{"a year stays outside a payment", "i joined in twenty nineteen", "i joined in twenty nineteen"},
		{"a year read as words stays", "back in twenty twenty two", "back in twenty twenty two"},
		{"a homophone alone stays", "i called for two days", "i called for two days"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRedactor(RedactorConfig{})
			got, _, _ := r.Redact(Caller, tc.in, nil, at(10))
			if got != tc.want {
				t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
			}
			assertNoDigitRun(t, "output", got)
		})
	}
}

func TestRedactKinds(t *testing.T) {
	r := NewRedactor(RedactorConfig{})
	_, _, found := r.Redact(Caller, "card number four five three two one two three four five six seven eight nine oh one two expiry oh nine twenty seven security code one two three", nil, at(5))
	var kinds []RedactionKind
	for _, f := range found {
		kinds = append(kinds, f.Kind)
		if f.Start != at(5) || f.End != at(5) {
			t.Errorf("text-only redaction times %v-%v, want both at the call time 5s", f.Start, f.End)
		}
	}
	want := []RedactionKind{CardNumber, Expiry, SecurityCode}
	if strings.Join(kindsToStrings(kinds), ",") != strings.Join(kindsToStrings(want), ",") {
		t.Errorf("kinds %v, want %v", kinds, want)
	}
}

func kindsToStrings(k []RedactionKind) []string {
	var s []string
	for _, x := range k {
		s = append(s, string(x))
	}
	return s
}

// A caller reading a card in groups across utterances, as in a real call.
func TestRedactAcrossUtterances(t *testing.T) {
	tests := []struct {
		name  string
		turns []struct {
			sp   Speaker
			text string
		}
		want []string
	}{
		{
			name: "groups of four after the agent asks for the card number",
			turns: []struct {
				sp   Speaker
				text string
			}{
				{Agent, "can i take the long card number please"},
				{Caller, "yes it's four five three two"},
				{Caller, "one two three four"},
				{Caller, "five six seven eight"},
				{Caller, "nine oh double four"},
				{Agent, "and the expiry date"},
				{Caller, "oh nine twenty seven"},
				{Agent, "and the three digit security code on the back"},
				{Caller, "one two three"},
				{Agent, "thank you that's gone through"},
			},
			want: []string{"can i take the long card number please", "yes it's [card number]", "[card number]", "[card number]", "[card number]",
				"and the expiry date", "[expiry]", "and the three digit security code on the back", "[security code]", "thank you that's gone through"},
		},
		{
			name: "pairs read without any payment word",
			turns: []struct {
				sp   Speaker
				text string
			}{
				{Caller, "four five"},
				{Caller, "three two"},
				{Caller, "one two"},
				{Caller, "three four"},
			},
			want: []string{"four five", "[card number]", "[card number]", "[card number]"},
		},
		{
			name: "one digit at a time in a payment context",
			turns: []struct {
				sp   Speaker
				text string
			}{
				{Agent, "what's the card number"},
				{Caller, "four"},
				{Caller, "five"},
				{Caller, "three"},
			},
			want: []string{"what's the card number", "four", "[card number]", "[card number]"},
		},
		{
			name: "a lone digit while the card is read",
			turns: []struct {
				sp   Speaker
				text string
			}{
				{Agent, "what's the card number"},
				{Caller, "four five three two"},
				{Caller, "sorry double floors evans"},
				{Caller, "is it nine"},
				{Agent, "that was sixty two dollars"},
			},
			want: []string{"what's the card number", "[card number]", "sorry double floors evans", "is it [card number]", "that was sixty two dollars"},
		},
		{
			name: "expiry and code without keywords after a full card",
			turns: []struct {
				sp   Speaker
				text string
			}{
				{Caller, "four five three two one two three four"},
				{Caller, "five six seven eight nine oh one two"},
				{Caller, "oh nine two seven"},
				{Caller, "seven seven one"},
			},
			want: []string{"[card number]", "[card number]", "[expiry]", "[security code]"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRedactor(RedactorConfig{})
			var all []string
			for i, turn := range tc.turns {
				got, _, _ := r.Redact(turn.sp, turn.text, nil, at(float64(10+3*i)))
				if got != tc.want[i] {
					t.Errorf("turn %d %q: got %q, want %q", i, turn.text, got, tc.want[i])
				}
				all = append(all, got)
			}
			assertNoDigitRun(t, "the call", strings.Join(all, " "))
		})
	}
}

func TestPaymentContextExpires(t *testing.T) {
	r := NewRedactor(RedactorConfig{ContextWindow: 30 * time.Second})
	r.Redact(Agent, "can i take your card number", nil, at(10))
	if got, _, _ := r.Redact(Caller, "it's on page two three", nil, at(39)); got != "it's on page [card number]" {
		t.Errorf("29 s after the payment word: %q, want the pair redacted", got)
	}
	if got, _, _ := r.Redact(Caller, "it's on page two three", nil, at(70)); got != "it's on page two three" {
		t.Errorf("60 s after the payment word: %q, want the pair kept", got)
	}
	if got, _, _ := r.Redact(Agent, "that is forty five dollars", nil, at(20)); got != "that is forty five dollars" {
		t.Errorf("an amount in a payment context: %q, want it kept", got)
	}
}

func TestRedactWordsKeepTimes(t *testing.T) {
	words := []stt.Word{
		{Text: "it's", Start: at(1.0), End: at(1.2), Confidence: 0.9},
		{Text: "four", Start: at(1.3), End: at(1.5), Confidence: 0.8},
		{Text: "five", Start: at(1.5), End: at(1.7), Confidence: 0.7},
		{Text: "three", Start: at(1.7), End: at(1.9), Confidence: 0.95},
		{Text: "two", Start: at(1.9), End: at(2.2), Confidence: 0.9},
		{Text: "thanks", Start: at(2.4), End: at(2.8), Confidence: 0.9},
	}
	r := NewRedactor(RedactorConfig{})
	text, got, found := r.Redact(Caller, "it's four five three two thanks", words, at(3))
	if text != "it's [card number] thanks" {
		t.Errorf("text %q", text)
	}
	want := []stt.Word{words[0], {Text: "[card number]", Start: at(1.3), End: at(2.2), Confidence: 0.7}, words[5]}
	if len(got) != len(want) {
		t.Fatalf("words %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("word %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if len(found) != 1 || found[0] != (Redaction{CardNumber, at(1.3), at(2.2)}) {
		t.Errorf("found %v, want one card number 1.3-2.2 s", found)
	}
	if !r.DigitsStarted(Caller) || r.DigitsStarted(Agent) {
		t.Errorf("DigitsStarted caller %v agent %v, want true false", r.DigitsStarted(Caller), r.DigitsStarted(Agent))
	}
	if words[1].Text != "four" {
		t.Error("Redact changed the caller's words slice")
	}
}

func TestRedactPartialSignalsDigitsAtOnce(t *testing.T) {
	r := NewRedactor(RedactorConfig{})
	if r.DigitsStarted(Caller) {
		t.Fatal("digits started before any were read")
	}
	if got := r.RedactPartial(Caller, "sure it's four five three two", at(4)); got != "sure it's [card number]" {
		t.Errorf("partial = %q", got)
	}
	if !r.DigitsStarted(Caller) {
		t.Error("DigitsStarted not set by a partial holding card digits")
	}
	// The final repeats the partial's words: it is not counted twice.
	if got, _, _ := r.Redact(Caller, "sure it's four five three", nil, at(5)); got != "sure it's [card number]" {
		t.Errorf("final = %q (payment context from the partial should redact three digits)", got)
	}
}

// assertNoDigitInPayment checks that a partial in a payment context shows
// no digit word or numeral at all, unless a unit word makes it an amount.
func assertNoDigitInPayment(t *testing.T, utt string) {
	t.Helper()
	for _, f := range strings.Fields(utt) {
		if unitWords[normToken(f)] {
			return
		}
	}
	r := NewRedactor(RedactorConfig{})
	r.Redact(Agent, "can i take the card number", nil, at(1))
	got := r.RedactPartial(Caller, utt, at(2))
	for _, f := range strings.Fields(got) {
		w := strings.TrimFunc(strings.ToLower(f), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		if checkerDigitWords[w] || strings.ContainsFunc(f, func(r rune) bool { return r >= '0' && r <= '9' }) {
			t.Fatalf("a partial in a payment context shows %q: %q -> %q", f, utt, got)
		}
	}
}

// assertFinalFailsClosed checks that a final utterance read after the
// card number was asked for keeps no run of 4 digits, whatever words are
// around it ("my order number is four five six seven").
func assertFinalFailsClosed(t *testing.T, utt string) {
	t.Helper()
	r := NewRedactor(RedactorConfig{})
	r.Redact(Agent, "can i take the card number", nil, at(1))
	got, _, _ := r.Redact(Caller, utt, nil, at(2))
	assertNoDigitRun(t, "a final in a payment context", got)
}

func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		"four five three two one two three four",
		"my card is 4532 1234 5678 9012 expiry oh nine twenty seven cvv one two three",
		"four five|three two|one two|three four",
		"double four triple seven|oh oh|nine",
		"forty five thirty two|twelve",
		"twenty twenty two nineteen oh five one",
		"for to too won ate four",
		"ONE,TWO,THREE,FOUR",
		"o o o o",
		"is far five read",
		"now nine to",
		"double floors and and six",
		"my order number is four five six seven eight|nine one two three four",
		"my phone number is five five five|one two three|four five six seven|eight nine",
		"the zip code is nine four one zero five",
		"your balance is two hundred and fifty|four five six seven dollars",
		"it is twelve thirty four north maple street",
		"order number four five three two oh one one eight four four seven six nine oh two two",
		"tracking number 1234 5678 9012 3456 7890",
		"the third of may one of them|may twenty seven|oh nine slash two seven",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r := NewRedactor(RedactorConfig{})
		var texts, words []string
		for i, utt := range strings.Split(in, "|") {
			var ws []stt.Word
			for j, w := range strings.Fields(utt) {
				ws = append(ws, stt.Word{Text: w, Start: at(float64(i) + float64(j)*0.01), End: at(float64(i) + float64(j+1)*0.01)})
			}
			sp := Caller
			if i%5 == 4 {
				sp = Agent // the other side does not break the caller's run
			}
			text, rw, _ := r.Redact(sp, utt, ws, at(float64(i)))
			assertNoCard(t, "text", text)
			var wt []string
			for _, w := range rw {
				wt = append(wt, w.Text)
			}
			assertNoCard(t, "words", strings.Join(wt, " "))
			if sp == Caller {
				texts = append(texts, text)
				words = append(words, strings.Join(wt, " "))
			}
			assertNoCard(t, "partial", NewRedactor(RedactorConfig{}).RedactPartial(Caller, utt, 0))
			assertNoDigitInPayment(t, utt)
			assertFinalFailsClosed(t, utt)
		}
		assertNoCard(t, "the caller's utterances together", strings.Join(texts, " "))
		assertNoCard(t, "the caller's words together", strings.Join(words, " "))
	})
}

// turn is one final utterance of a call, read at call time at (seconds).
type turn struct {
	sp   Speaker
	text string
	at   float64
}

// cardPaymentTurns is card_payment's payment, as in
// samples/calls/card_payment.json: the caller reads the card in two
// utterances with the agent's "yes go on" between, then the expiry and the
// security code, each asked for. want is what an uninterrupted Redactor
// stores.
var cardPaymentTurns = []struct {
	turn
	want string
}{
	{turn{Agent, "i can take a card payment now please read the long number on the front of the card", 34.563}, "i can take a card payment now please read the long number on the front of the card"},
	{turn{Caller, "okay it is four five three two oh one one eight", 39.951}, "okay it is [card number]"},
	{turn{Agent, "yes go on", 41.731}, "yes go on"},
	{turn{Caller, "double four seven six nine oh two two", 45.059}, "[card number]"},
	{turn{Agent, "thank you and the expiry date", 48.177}, "thank you and the expiry date"},
	{turn{Caller, "oh nine twenty seven", 50.076}, "[expiry]"},
	{turn{Agent, "and the three digit security code on the back", 52.934}, "and the three digit security code on the back"},
	{turn{Caller, "seven one five", 54.842}, "[security code]"},
	{turn{Agent, "thank you the payment went through your balance is now zero", 61.115}, "thank you the payment went through your balance is now zero"},
}

// resumeAt runs turns through a Redactor up to cut, saves its State as
// JSON, and runs the rest through a new Redactor resumed from it, as a
// call resumed after an engine restart does. It returns every turn's
// redacted text and what was found.
func resumeAt(t *testing.T, turns []turn, cut int) (texts []string, kinds []string) {
	t.Helper()
	r := NewRedactor(RedactorConfig{})
	for i, tn := range turns {
		if i == cut {
			b, err := json.Marshal(r.State())
			if err != nil {
				t.Fatal(err)
			}
			var st RedactorState
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatalf("state %s does not read back: %v", b, err)
			}
			r = NewRedactor(RedactorConfig{Resume: &st})
		}
		text, _, found := r.Redact(tn.sp, tn.text, nil, at(tn.at))
		texts = append(texts, text)
		for _, f := range found {
			kinds = append(kinds, string(f.Kind))
		}
	}
	return texts, kinds
}

// TestRedactorResumedFromStateRedactsAsUncut cuts card_payment's payment
// between every two utterances, as an engine restart does, and resumes
// from the saved state: every utterance is redacted exactly as without the
// cut, the kinds included (a code read after the restart is still a
// security code because the question was asked before it).
func TestRedactorResumedFromStateRedactsAsUncut(t *testing.T) {
	var turns []turn
	for _, tc := range cardPaymentTurns {
		turns = append(turns, tc.turn)
	}
	whole, wholeKinds := resumeAt(t, turns, -1)
	for i, tc := range cardPaymentTurns {
		if whole[i] != tc.want {
			t.Errorf("uncut turn %d %q: got %q, want %q", i, tc.text, whole[i], tc.want)
		}
	}
	if got := strings.Join(wholeKinds, ","); got != "card_number,card_number,expiry,security_code" {
		t.Errorf("uncut redactions %s", got)
	}
	for cut := 1; cut < len(turns); cut++ {
		t.Run(fmt.Sprintf("cut before %q", turns[cut].text), func(t *testing.T) {
			got, kinds := resumeAt(t, turns, cut)
			for i := range got {
				if got[i] != whole[i] {
					t.Errorf("turn %d %q: resumed %q, uncut %q", i, turns[i].text, got[i], whole[i])
				}
			}
			if strings.Join(kinds, ",") != strings.Join(wholeKinds, ",") {
				t.Errorf("resumed redactions %v, uncut %v", kinds, wholeKinds)
			}
		})
	}
}

// TestRedactorStateCarriesTheCardAcrossARestart is issue 12 item 4: the
// engine killed while the caller reads the second card group, the rest of
// that group recognized after the restart as the stored
// utterance. A fresh Redactor stores the digits; one resumed from the
// state the first group left redacts them, as does the uncut call.
func TestRedactorStateCarriesTheCardAcrossARestart(t *testing.T) {
	tests := []struct {
		name      string
		before    []turn // up to the restart
		after     turn   // the first utterance after it
		want      string
		wantFresh string // what a Redactor that forgot the call stores
	}{
		{
			name:      "the rest of the second card group as the issue's crash stored it",
			before:    []turn{{Agent, "please read the long number on the front of the card", 34.6}, {Caller, "okay it is four five three two oh one one eight", 40}, {Agent, "yes go on", 41.7}},
			after:     turn{Caller, "double floors and six and nine and to do", 45.1},
			want:      "double floors and [card number] and to do",
			wantFresh: "double floors and six and nine and to do",
		},
		{
			name:      "a group cut after its first digits goes on at the restart",
			before:    []turn{{Agent, "please read the long number on the front of the card", 34.6}, {Caller, "okay it is four five three two oh one one eight", 40}, {Caller, "double four", 43}},
			after:     turn{Caller, "seven", 43.5},
			want:      "[card number]",
			wantFresh: "seven",
		},
		{
			name: "a group a graceful restart split, its first part already stored",
			before: []turn{{Agent, "please read the long number on the front of the card", 34.6}, {Caller, "okay it is four five three two oh one one eight", 40},
				{Agent, "yes go on", 41.7}, {Caller, "double floors evans", 43.4}},
			after:     turn{Caller, "nine out to do", 45.1},
			want:      "[card number] out to do",
			wantFresh: "nine out to do",
		},
		{
			name:      "the security code asked for before the restart",
			before:    []turn{{Agent, "please read the long number on the front of the card", 34.6}, {Caller, "four five three two oh one one eight double four seven six nine oh two two", 45}, {Agent, "and the three digit security code on the back", 52.9}},
			after:     turn{Caller, "seven one five", 54.8},
			want:      "[security code]",
			wantFresh: "seven one five",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRedactor(RedactorConfig{})
			for _, tn := range tc.before {
				r.Redact(tn.sp, tn.text, nil, at(tn.at))
			}
			uncut := *r
			b, err := json.Marshal(r.State())
			if err != nil {
				t.Fatal(err)
			}
			var st RedactorState
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatal(err)
			}
			resumed := NewRedactor(RedactorConfig{Resume: &st})
			got, _, _ := resumed.Redact(tc.after.sp, tc.after.text, nil, at(tc.after.at))
			if got != tc.want {
				t.Errorf("resumed: %q, want %q (state %s)", got, tc.want, b)
			}
			if u, _, _ := uncut.Redact(tc.after.sp, tc.after.text, nil, at(tc.after.at)); u != got {
				t.Errorf("resumed %q, uncut %q", got, u)
			}
			if resumed.State() != uncut.State() {
				t.Errorf("state after: resumed %+v, uncut %+v", resumed.State(), uncut.State())
			}
			if fresh, _, _ := NewRedactor(RedactorConfig{}).Redact(tc.after.sp, tc.after.text, nil, at(tc.after.at)); fresh != tc.wantFresh {
				t.Errorf("a fresh Redactor stores %q, want %q: the case no longer shows what the state is for", fresh, tc.wantFresh)
			}
		})
	}
}

// TestRedactPartialHidesEveryDigitInAPayment feeds partials as the
// recognizer streamed them in card_payment (issue 12 item 4): inside a
// payment context not one digit word may reach the overlay, even alone;
// outside one, partials are redacted as finals are.
func TestRedactPartialHidesEveryDigitInAPayment(t *testing.T) {
	cardAsked := []turn{{Agent, "identity card didn't announce please read the long number on the front of the card", 34.96}}
	tests := []struct {
		name    string
		before  []turn // finals before the partial
		partial turn
		want    string
	}{
		{"a single digit while the card is read", cardAsked, turn{Caller, "is far five read", 38.56}, "is far [card number] read"},
		{"an oh at the start of a group", cardAsked, turn{Caller, "oh", 39.4}, "[card number]"},
		{"a digit with its misheard neighbour", cardAsked, turn{Caller, "o line won a", 40}, "[card number] line won a"},
		{"a digit after a misheard double", append(cardAsked, turn{Caller, "is [card number] read you", 39}), turn{Caller, "double floors and and six", 43.82}, "double floors and and [card number]"},
		{"the expiry's first digit", append(cardAsked, turn{Agent, "sent use it and the expiry date", 48.58}), turn{Caller, "now nine to", 49.58}, "now [expiry]"},
		{"a digit after the caller's digits without a payment word", []turn{{Caller, "four five", 10}}, turn{Caller, "three", 12}, "[card number]"},
		{"a numeral", cardAsked, turn{Caller, "it's 4", 38}, "it's [card number]"},
		{"an amount in a payment context stays", cardAsked, turn{Agent, "that is sixty two dollars", 40}, "that is sixty two dollars"},
		{"a lone number outside a payment stays", nil, turn{Caller, "give me one moment", 10}, "give me one moment"},
		{"a short number outside a payment stays", nil, turn{Caller, "i have two kids", 10}, "i have two kids"},
		{"a lone number after the payment context ended stays", cardAsked, turn{Caller, "give me one moment", 200}, "give me one moment"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRedactor(RedactorConfig{})
			for _, tn := range tc.before {
				r.Redact(tn.sp, tn.text, nil, at(tn.at))
			}
			before := r.State()
			got := r.RedactPartial(tc.partial.sp, tc.partial.text, at(tc.partial.at))
			if got != tc.want {
				t.Errorf("RedactPartial(%q) = %q, want %q", tc.partial.text, got, tc.want)
			}
			// Only DigitsStarted may change: the final repeats the words.
			after := r.State().Speakers
			after.Agent.Started, after.Caller.Started = before.Speakers.Agent.Started, before.Speakers.Caller.Started
			if after != before.Speakers {
				t.Errorf("a partial changed the digits read: %+v -> %+v", before.Speakers, r.State().Speakers)
			}
		})
	}
}

// TestCardNamedNeedsTheCardItself: the payment hint's rule, that digits
// are a card being read only within CardWindow of the card being named.
func TestCardNamedNeedsTheCardItself(t *testing.T) {
	tests := []struct {
		name   string
		turns  []turn
		now    float64
		named  bool
		reads  bool // CardReading(Caller, now)
		within bool // InPaymentContext(now)
	}{
		{"the agent names the card and the caller reads digits", []turn{{Agent, "can i take your card number", 30}, {Caller, "four five three two", 36}}, 40, true, true, true},
		{"a minute after the card was named", []turn{{Agent, "can i take your card number", 30}, {Caller, "four five three two", 36}}, 91, false, false, true},
		{"digits without a card named", []turn{{Caller, "four five three two", 36}}, 40, false, false, true},
		{"a payment word is not a card", []turn{{Caller, "i would like to pay it now", 13}}, 20, false, false, true},
		{"a placeholder does not name a card", []turn{{Caller, "[card number] please", 13}}, 20, false, false, true},
		{"punctuation around the card", []turn{{Agent, "Your Visa, please.", 30}}, 31, true, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRedactor(RedactorConfig{})
			for _, tn := range tc.turns {
				r.Redact(tn.sp, tn.text, nil, at(tn.at))
			}
			if got := r.CardNamed(at(tc.now)); got != tc.named {
				t.Errorf("CardNamed = %v, want %v", got, tc.named)
			}
			if got := r.CardReading(Caller, at(tc.now)); got != tc.reads {
				t.Errorf("CardReading(caller) = %v, want %v", got, tc.reads)
			}
			if got := r.InPaymentContext(at(tc.now)); got != tc.within {
				t.Errorf("InPaymentContext = %v, want %v", got, tc.within)
			}
			st := r.State()
			if got := NewRedactor(RedactorConfig{Resume: &st}).CardReading(Caller, at(tc.now)); got != tc.reads {
				t.Errorf("resumed CardReading(caller) = %v, want %v", got, tc.reads)
			}
		})
	}
}

// TestRedactorStateFromDiskIsValidated: a checkpoint is outside input. A
// bad state is refused with ErrRedactorState, and one handed to
// NewRedactor anyway redacts more, never less.
func TestRedactorStateFromDiskIsValidated(t *testing.T) {
	good := `{"context":true,"context_until":94.96,"expect_at":0,"card_named":true,"card_named_at":34.96,` +
		`"speakers":{"agent":{"tail":0,"tail_at":41.7},"caller":{"tail":8,"tail_at":40,"started":true,"card_digits":8}}}`
	var st RedactorState
	if err := json.Unmarshal([]byte(good), &st); err != nil {
		t.Fatalf("a good state is refused: %v", err)
	}
	if st.Speakers.Caller.Tail != 8 || st.ContextUntil != at(94.96) || !st.CardNamed {
		t.Errorf("read %+v", st)
	}
	bad := []struct{ name, json string }{
		{"a negative time", `{"context":true,"context_until":-1}`},
		{"a time beyond any call", `{"context_until":1e300}`},
		{"a negative digit count", `{"speakers":{"caller":{"tail":-4}}}`},
		{"a negative card digit count", `{"speakers":{"agent":{"card_digits":-1}}}`},
		{"an unknown expected kind", `{"expect":"pin"}`},
		{"a string for a time", `{"tail_at":"soon","speakers":{"caller":{"tail_at":"soon"}}}`},
		{"not an object", `[1,2]`},
		{"truncated", `{"context":tr`},
	}
	for _, tc := range bad {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			keep := st
			err := json.Unmarshal([]byte(tc.json), &keep)
			if err == nil {
				t.Fatalf("accepted %s as %+v", tc.json, keep)
			}
			if !refused(err) {
				t.Errorf("error %v is neither ErrRedactorState nor a JSON syntax error", err)
			}
			if keep != st {
				t.Errorf("a refused state changed the value to %+v", keep)
			}
		})
	}
	r := NewRedactor(RedactorConfig{})
	r.Redact(Agent, "the card number please", nil, at(30))
	before := r.State()
	if err := r.Restore(RedactorState{ExpectAt: -time.Second}); !errors.Is(err, ErrRedactorState) {
		t.Errorf("Restore of a negative time: %v, want ErrRedactorState", err)
	}
	if r.State() != before {
		t.Error("a refused Restore changed the state")
	}
	invalid := RedactorState{Speakers: BySpeaker[SpeakerDigits]{Caller: SpeakerDigits{Tail: -1}}}
	r = NewRedactor(RedactorConfig{Resume: &invalid})
	if got, _, _ := r.Redact(Caller, "it's on page two three", nil, at(5000)); got != "it's on page [card number]" {
		t.Errorf("a Redactor given an invalid state: %q, want a pair redacted as in a payment context", got)
	}
	r.Redact(Agent, "and the card number", nil, at(5001))
	if got, _, _ := r.Redact(Caller, "it's on page two three", nil, at(9000)); got != "it's on page [card number]" {
		t.Errorf("a Redactor given an invalid state, after a payment word: %q, want the context still open", got)
	}
}

// refused reports whether err is how a bad checkpoint is refused: bytes
// that are not JSON fail in encoding/json before the state sees them.
func refused(err error) bool {
	var se *json.SyntaxError
	return errors.Is(err, ErrRedactorState) || errors.As(err, &se)
}

// FuzzRedactorState: any utterances, cut anywhere, through a state saved
// as JSON, redact as the uncut call; any bytes read as a state either fail
// with ErrRedactorState or give a valid state that round-trips and a
// Redactor that does not panic.
func FuzzRedactorState(f *testing.F) {
	f.Add("please read the card number|four five three two|double four|seven six|expiry|oh nine twenty seven", 3, []byte(`{"context":true,"context_until":94.96}`))
	f.Add("four five|three two|one two", 1, []byte(`{"speakers":{"caller":{"tail":2,"tail_at":10}}}`))
	f.Add("security code|seven one five", 1, []byte(`{"expect":"security_code","expect_at":1e6}`))
	f.Add("", 0, []byte(`{"context_until":-0}`))
	f.Add("my phone number is five five five|one two three|four five six seven", 2,
		[]byte(`{"speakers":{"caller":{"tail":3,"tail_at":2.5,"tail_not_card":true}}}`))
	f.Fuzz(func(t *testing.T, in string, cut int, raw []byte) {
		utts := strings.Split(in, "|")
		if len(utts) > 50 {
			utts = utts[:50]
		}
		run := func(cut int) []string {
			r := NewRedactor(RedactorConfig{})
			var out []string
			for i, u := range utts {
				if i == cut {
					b, err := json.Marshal(r.State())
					if err != nil {
						t.Fatal(err)
					}
					var st RedactorState
					if err := json.Unmarshal(b, &st); err != nil {
						t.Fatalf("state %s from a Redactor does not read back: %v", b, err)
					}
					if st != r.State() {
						t.Fatalf("state %+v reads back as %+v", r.State(), st)
					}
					r = NewRedactor(RedactorConfig{Resume: &st})
				}
				sp := Caller
				if i%3 == 0 {
					sp = Agent
				}
				now := at(float64(i) * 2.5)
				p := r.RedactPartial(sp, u, now)
				text, _, _ := r.Redact(sp, u, nil, now)
				out = append(out, p, text)
			}
			return out
		}
		whole, resumed := run(-1), run(cut)
		for i := range whole {
			if whole[i] != resumed[i] {
				t.Fatalf("cut at %d: output %d %q, uncut %q", cut, i, resumed[i], whole[i])
			}
		}

		checkDecodedState(t, utts, raw)
	})
}

// checkDecodedState is FuzzRedactorState's second half: raw either fails
// with ErrRedactorState or decodes to a valid state that round-trips, and
// a Redactor restored from it leaves no card in utts, and no run of 4
// digits while its payment context is open.
func checkDecodedState(t *testing.T, utts []string, raw []byte) {
	var st RedactorState
	if err := json.Unmarshal(raw, &st); err != nil {
		if !refused(err) {
			t.Fatalf("error %v is neither ErrRedactorState nor a JSON syntax error", err)
		}
		return
	}
	if err := st.Validate(); err != nil {
		t.Fatalf("a decoded state is invalid: %v", err)
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back RedactorState
	if err := json.Unmarshal(b, &back); err != nil || back != st {
		t.Fatalf("state %+v round-trips as %+v, %v", st, back, err)
	}
	r := NewRedactor(RedactorConfig{})
	if err := r.Restore(st); err != nil {
		t.Fatal(err)
	}
	for i, u := range utts {
		now := st.ContextUntil + at(float64(i)-10)
		r.RedactPartial(Caller, u, now)
		inPayment := r.InPaymentContext(now)
		text, _, _ := r.Redact(Caller, u, nil, now)
		assertNoCard(t, "text after a decoded state", text)
		if inPayment {
			assertNoDigitRun(t, "text in the payment context of a decoded state", text)
		}
	}
}
