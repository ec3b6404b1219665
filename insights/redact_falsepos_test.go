package insights

import (
	"strings"
	"testing"
	"time"
)

// fpTurn is one final utterance and what the stored transcript must say.
type fpTurn struct {
	sp   Speaker
	text string
	want string
}

// redactOnlyCardsCases are issue 15 item 5: numbers that are not card data
// stay as spoken outside a payment context, and card data is redacted
// wherever it is read, misheard or split. Each case is a call from its
// start, one utterance every 3 s.
var redactOnlyCardsCases = []struct {
	name  string
	turns []fpTurn
}{
	// Numbers that are not cards, outside a payment context.
	{name: "a discount in percent stays", turns: []fpTurn{
		{Agent, "i can give you thirty percent off your monthly bill", "i can give you thirty percent off your monthly bill"}}},
	{name: "fifteen percent stays", turns: []fpTurn{
		{Agent, "that is fifteen percent more than last year", "that is fifteen percent more than last year"}}},
	{name: "an amount in words stays", turns: []fpTurn{
		{Agent, "your balance is two hundred and fifty dollars", "your balance is two hundred and fifty dollars"}}},
	{name: "a balance without its currency stays", turns: []fpTurn{
		{Agent, "your balance is two hundred and fifty", "your balance is two hundred and fifty"}}},
	{name: "a balance read as pairs stays", turns: []fpTurn{
		{Agent, "your balance is forty two fifty", "your balance is forty two fifty"}}},
	{name: "an address number stays", turns: []fpTurn{
		{Caller, "it is twenty one maple avenue in springfield", "it is twenty one maple avenue in springfield"}}},
	{name: "a four digit house number stays", turns: []fpTurn{
		{Caller, "it is twelve thirty four north maple street", "it is twelve thirty four north maple street"}}},
	{name: "a zip code stays", turns: []fpTurn{
		{Caller, "the zip code is nine four one zero five", "the zip code is nine four one zero five"}}},
	{name: "an order number stays", turns: []fpTurn{
		{Caller, "my order number is four five six seven eight", "my order number is four five six seven eight"}}},
	{name: "an order number read in two parts stays", turns: []fpTurn{
		{Caller, "the order number is four five six", "the order number is four five six"},
		{Caller, "seven eight nine", "seven eight nine"}}},
	{name: "a phone number stays", turns: []fpTurn{
		{Caller, "my phone number is five five five one two three four five six seven", "my phone number is five five five one two three four five six seven"}}},
	{name: "a phone number read in groups with the agent between stays", turns: []fpTurn{
		{Caller, "you can call me on five five five", "you can call me on five five five"},
		{Agent, "go on", "go on"},
		{Caller, "one two three", "one two three"},
		{Caller, "four five six seven", "four five six seven"}}},
	{name: "a date with a day before the month stays", turns: []fpTurn{
		{Agent, "i can see two payments of forty nine dollars on the third of may one of them is a duplicate",
			"i can see two payments of forty nine dollars on the third of may one of them is a duplicate"}}},
	{name: "the third of may with its year stays", turns: []fpTurn{
		{Caller, "the bill from the third of may twenty twenty four", "the bill from the third of may twenty twenty four"}}},
	{name: "a password length stays", turns: []fpTurn{
		{Agent, "it needs at least twelve characters with one number and one symbol", "it needs at least twelve characters with one number and one symbol"}}},
	{name: "a number after an order number is not a payment context", turns: []fpTurn{
		{Caller, "my order number is four five six seven eight", "my order number is four five six seven eight"},
		{Caller, "i have two kids", "i have two kids"},
		{Caller, "and it was on page two three", "and it was on page two three"}}},
	{name: "a date with a slash outside a payment stays", turns: []fpTurn{
		{Caller, "the letter is dated oh nine slash two seven", "the letter is dated oh nine slash two seven"}}},
	{name: "a percentage heard as per cent after a card is mentioned stays", turns: []fpTurn{
		{Caller, "i want to cancel my credit card", "i want to cancel my credit card"},
		{Agent, "i can give you thirty per cent off", "i can give you thirty per cent off"}}},
	{name: "a password length in a payment context stays", turns: []fpTurn{
		{Agent, "you can also pay online", "you can also pay online"},
		{Agent, "the password needs twelve characters", "the password needs twelve characters"}}},
	{name: "the third of may after a card is mentioned stays", turns: []fpTurn{
		{Agent, "your card was charged forty nine dollars on the third of may one of them is a duplicate",
			"your card was charged forty nine dollars on the third of may one of them is a duplicate"}}},
	{name: "a billing address in a payment context stays", turns: []fpTurn{
		{Agent, "what is the billing address on the card", "what is the billing address on the card"},
		{Caller, "twenty one maple avenue", "twenty one maple avenue"}}},
	{name: "a thirteen digit phone number that fails luhn stays", turns: []fpTurn{
		{Caller, "my phone number is four four seven seven zero zero nine zero zero one two three four",
			"my phone number is four four seven seven zero zero nine zero zero one two three four"}}},

	// Card data, wherever it is read.
	{name: "sixteen digits in one utterance are a card", turns: []fpTurn{
		{Caller, "four five three two oh one one eight four four seven six nine oh two two", "[card number]"}}},
	{name: "sixteen digits that pass luhn are a card whatever they are called", turns: []fpTurn{
		{Caller, "my order number is four five three two oh one one eight four four seven six nine oh two two", "my order number is [card number]"}}},
	{name: "thirteen digits that pass luhn are a card even called a phone number", turns: []fpTurn{
		{Caller, "my phone number is four four seven seven zero zero nine zero zero one two three seven", "my phone number is [card number]"}}},
	{name: "a card split over two utterances with the agent between is redacted", turns: []fpTurn{
		{Agent, "can i take the long card number please", "can i take the long card number please"},
		{Caller, "it is four five three two oh one one eight", "it is [card number]"},
		{Agent, "yes go on", "yes go on"},
		{Caller, "double four seven six nine oh two two", "[card number]"}}},
	{name: "a card read in groups without a payment word is redacted", turns: []fpTurn{
		{Caller, "four five three two", "[card number]"},
		{Agent, "mm hmm", "mm hmm"},
		{Caller, "oh one one eight", "[card number]"},
		{Caller, "four four seven six", "[card number]"},
		{Caller, "nine oh two two", "[card number]"}}},
	{name: "a misheard digit in a payment context still leaves nothing", turns: []fpTurn{
		{Agent, "can i take the card number", "can i take the card number"},
		{Caller, "four five tree two oh one won eight", "[card number] tree [card number]"}}},
	{name: "a misrecognized full reading that fails luhn in a payment context is redacted", turns: []fpTurn{
		{Agent, "what is the card number", "what is the card number"},
		{Caller, "four five three two oh one one eight four four seven six nine oh two three", "[card number]"}}},
	{name: "an order label inside a payment context keeps nothing", turns: []fpTurn{
		{Agent, "what is the card number", "what is the card number"},
		{Caller, "the number on my order is four five six seven", "the number on my order is [card number]"}}},
	{name: "expiry and security code after the agent asks for them", turns: []fpTurn{
		{Agent, "please read the long number on the front of the card", "please read the long number on the front of the card"},
		{Caller, "four five three two oh one one eight four four seven six nine oh two two", "[card number]"},
		{Agent, "and the expiry date", "and the expiry date"},
		{Caller, "oh nine twenty seven", "[expiry]"},
		{Agent, "and the three digit security code on the back", "and the three digit security code on the back"},
		{Caller, "seven one five", "[security code]"}}},
	{name: "a balance read after the card stays", turns: []fpTurn{
		{Agent, "can i take the card number", "can i take the card number"},
		{Caller, "four five three two oh one one eight four four seven six nine oh two two", "[card number]"},
		{Agent, "thank you the payment went through your new balance is twelve fifty", "thank you the payment went through your new balance is twelve fifty"}}},
	{name: "an expiry with a slash in a payment context", turns: []fpTurn{
		{Agent, "what is the expiry date on the card", "what is the expiry date on the card"},
		{Caller, "oh nine slash two seven", "[expiry]"}}},
	{name: "an expiry as a month and year after the agent asks", turns: []fpTurn{
		{Agent, "what is the card number", "what is the card number"},
		{Caller, "four five three two oh one one eight four four seven six nine oh two two", "[card number]"},
		{Agent, "and when does it expire", "and when does it expire"},
		{Caller, "may twenty seven", "[expiry]"}}},
}

// TestRedactOnlyCards runs each case through a Redactor as the pipeline
// does, a partial and then the final of every utterance: the stored text
// must be the case's, a call without card data must not start the payment
// hint (CardReading), and a partial of an utterance holding card data must
// show no digit at all. Outside a payment context a partial reads as its
// final; inside one it masks every digit not followed by a unit, even
// those the final keeps, because a partial is a guess the recognizer
// revises (RedactPartial).
func TestRedactOnlyCards(t *testing.T) {
	for _, tc := range redactOnlyCardsCases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRedactor(RedactorConfig{})
			for i, tn := range tc.turns {
				now := at(float64(10 + 3*i))
				partial := r.RedactPartial(tn.sp, tn.text, now)
				strict := r.InPaymentContext(now)
				got, _, _ := r.Redact(tn.sp, tn.text, nil, now)
				if got != tn.want {
					t.Errorf("turn %d %q: stored %q, want %q", i, tn.text, got, tn.want)
				}
				if tn.want != tn.text {
					assertNoDigitWord(t, "partial", partial)
				} else if !strict && partial != tn.want {
					t.Errorf("turn %d %q: partial %q, want %q as its final", i, tn.text, partial, tn.want)
				}
			}
			end := at(float64(10 + 3*len(tc.turns)))
			if !strings.Contains(strings.Join(wants(tc.turns), " "), "[") && (r.CardReading(Caller, end) || r.DigitsStarted(Caller) || r.DigitsStarted(Agent)) {
				t.Errorf("a call without card data started card digits (the payment hint would fire): %+v", r.State())
			}
		})
	}
}

// assertNoDigitWord fails when text shows any digit word or numeral.
func assertNoDigitWord(t *testing.T, what, text string) {
	t.Helper()
	for _, f := range strings.Fields(text) {
		if checkerDigitWords[normToken(f)] || strings.ContainsAny(f, "0123456789") {
			t.Errorf("%s shows %q: %q", what, f, text)
			return
		}
	}
}

// BenchmarkRedactCall measures Redact alone on the cases above, one final
// utterance at a time, a new Redactor per case as a new call has.
func BenchmarkRedactCall(b *testing.B) {
	var n int
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		for _, tc := range redactOnlyCardsCases {
			r := NewRedactor(RedactorConfig{})
			for i, tn := range tc.turns {
				r.Redact(tn.sp, tn.text, nil, at(float64(10+3*i)))
				n++
			}
		}
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(n)/1e3, "µs/utterance")
}

func wants(turns []fpTurn) []string {
	var w []string
	for _, tn := range turns {
		w = append(w, tn.want)
	}
	return w
}

// TestCardInTextFindsCards keeps the fuzz targets' card check honest: it
// must see a card read whole, and not a number that fails Luhn.
func TestCardInTextFindsCards(t *testing.T) {
	tests := []struct {
		name, text string
		card       bool
	}{
		{"a card in numerals is found", "it is 4532 0118 4476 9022 thanks", true},
		{"a card in digit words is found", "four five three two oh one one eight four four seven six nine oh two two", true},
		{"a card after a misheard digit is found", "nine four five three two oh one one eight four four seven six nine oh two two", true},
		{"a card-long number failing luhn is not a card", "four four seven seven zero zero nine zero zero one two three four", false},
		{"twenty digits are always too many", "1234 5678 9012 3456 7891", true},
		{"a phone number is not a card", "five five five one two three four five six seven", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, got := cardInText(tc.text); got != tc.card {
				t.Errorf("cardInText(%q) = %v, want %v", tc.text, got, tc.card)
			}
		})
	}
}
