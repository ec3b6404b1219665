package agentassist

import (
	"slices"
	"testing"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"punctuation and capitals are dropped", "Hello, I'd like to CANCEL!", []string{"hello", "i'd", "like", "to", "cancel"}},
		{"curly apostrophes become straight ones", "don’t", []string{"don't"}},
		{"leading and trailing quotes are not part of a word", "'cause it's 'fine'", []string{"cause", "it's", "fine"}},
		{"a redaction marker becomes plain words", "it is [card number] thanks", []string{"it", "is", "card", "number", "thanks"}},
		{"digits stay words", "call 911 now", []string{"call", "911", "now"}},
		{"empty text has no words", " ... ", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tokenize(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("tokenize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestStemGroupsForms(t *testing.T) {
	groups := []struct {
		name  string
		forms []string
	}{
		{"cancel forms share a stem", []string{"cancel", "cancels", "cancelled", "canceled", "cancelling", "canceling", "cancellation"}},
		{"manager and manage share a stem", []string{"manage", "manager", "managers", "managed", "managing"}},
		{"close forms share a stem", []string{"close", "closed", "closing", "closes"}},
		{"leave forms share a stem", []string{"leave", "leaving", "leaves"}},
		{"record forms share a stem", []string{"record", "recorded", "recording", "records"}},
		{"charge forms share a stem", []string{"charge", "charged", "charges", "charging"}},
		{"frustrate forms share a stem", []string{"frustrated", "frustrating"}},
		{"switch forms share a stem", []string{"switch", "switching", "switched"}},
		{"stop forms share a stem", []string{"stop", "stopped", "stopping", "stops"}},
		{"reply forms share a stem", []string{"reply", "replies", "replied"}},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			want := stem(g.forms[0])
			for _, f := range g.forms[1:] {
				if got := stem(f); got != want {
					t.Errorf("stem(%q) = %q, stem(%q) = %q", f, got, g.forms[0], want)
				}
			}
		})
	}
	distinct := []struct {
		name string
		a, b string
	}{
		{"bill and billing stay apart from ball", "bill", "ball"},
		{"call and cancel differ", "call", "cancel"},
		{"short words are untouched, so is and us differ", "is", "us"},
		{"leave and live differ", "leave", "live"},
	}
	for _, d := range distinct {
		t.Run(d.name, func(t *testing.T) {
			if stem(d.a) == stem(d.b) {
				t.Errorf("stem(%q) == stem(%q) == %q", d.a, d.b, stem(d.a))
			}
		})
	}
}

func TestStemLeavesShortAndPlainWords(t *testing.T) {
	for _, w := range []string{"a", "is", "was", "bus", "this", "call", "bill", "miss", "station", "ring"} {
		t.Run("stem keeps "+w+" recognisable", func(t *testing.T) {
			got := stem(w)
			if len(got) < 3 && len(w) >= 3 {
				t.Errorf("stem(%q) = %q, too short", w, got)
			}
		})
	}
}

func TestContainsSeq(t *testing.T) {
	hay := []string{"i", "want", "to", "cancel", "my", "account"}
	tests := []struct {
		name   string
		needle []string
		want   bool
	}{
		{"a contiguous run is found", []string{"cancel", "my", "account"}, true},
		{"a gap breaks the run", []string{"want", "cancel"}, false},
		{"the whole sequence is found", hay, true},
		{"a longer needle is not", append(slices.Clone(hay), "now"), false},
		{"an empty needle never matches", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := containsSeq(hay, tc.needle); got != tc.want {
				t.Errorf("got %v", got)
			}
		})
	}
}

func TestWithoutPlaceholders(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"text without placeholders is kept", "my card was charged", "my card was charged"},
		{"a redaction placeholder is dropped", "put me through to your [card number] now", "put me through to your   now"},
		{"every placeholder is dropped", "[card number] expires [expiry]", "  expires  "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := withoutPlaceholders(c.in); got != c.want {
				t.Errorf("withoutPlaceholders(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}
