package insights

import (
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
		{"pairs read as tens", "forty five thirty two twelve", "[card number]"},
		{"fillers inside a run", "four five uh three two um one", "[card number]"},
		{"a misheard four between digits", "four five for two", "[card number]"},
		{"expiry after the keyword", "the expiry is oh nine twenty seven", "the expiry is [expiry]"},
		{"expiry with slash", "zero nine slash two seven", "[expiry]"},
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
			assertNoDigitRun(t, "text", text)
			var wt []string
			for _, w := range rw {
				wt = append(wt, w.Text)
			}
			assertNoDigitRun(t, "words", strings.Join(wt, " "))
			if sp == Caller {
				texts = append(texts, text)
				words = append(words, strings.Join(wt, " "))
			}
			assertNoDigitRun(t, "partial", NewRedactor(RedactorConfig{}).RedactPartial(Caller, utt, 0))
		}
		assertNoDigitRun(t, "the caller's utterances together", strings.Join(texts, " "))
		assertNoDigitRun(t, "the caller's words together", strings.Join(words, " "))
	})
}
