package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func sentences(lines ...string) [][]string {
	var out [][]string
	for _, l := range lines {
		out = append(out, strings.Fields(l))
	}
	return out
}

var tiny = sentences(
	"i want to cancel my contract",
	"i want to close my account",
	"i want to speak to your manager",
	"let me speak to your supervisor",
	"my card number is four four one two",
	"i was charged twice on my card",
	"cancel my account please",
	"please close my contract",
)

// sumsToOne checks every context the model can be asked about: each word
// alone, and every listed bigram used as a two-word history.
func sumsToOne(t *testing.T, m *model) {
	t.Helper()
	check := func(hist []string) {
		s := 0.0
		for _, w := range m.words {
			s += math.Exp(m.logProb(hist, w))
		}
		if math.Abs(s-1) > 1e-6 {
			t.Errorf("P(.|%v) sums to %.9f, want 1 within 1e-6", hist, s)
		}
	}
	check(nil)
	for _, w := range m.words {
		if w != eos {
			check([]string{w})
		}
	}
	for _, k := range m.bi.keys {
		if m.words[k&wordMask] != eos {
			check([]string{m.words[k>>wordBits], m.words[k&wordMask]})
		}
	}
}

func TestEstimateKN(t *testing.T) {
	m := estimateKN(tiny)
	t.Run("every context's distribution sums to one", func(t *testing.T) { sumsToOne(t, m) })
	t.Run("a seen continuation beats an unseen one", func(t *testing.T) {
		seen := m.logProb([]string{"want", "to"}, "cancel")
		unseen := m.logProb([]string{"want", "to"}, "twice")
		if !(seen > unseen) {
			t.Errorf("P(cancel|want to)=%v not above P(twice|want to)=%v", math.Exp(seen), math.Exp(unseen))
		}
	})
	t.Run("the start marker is never predicted", func(t *testing.T) {
		if p := m.logProb([]string{"my"}, bos); !math.IsInf(p, -1) {
			t.Errorf("P(<s>|my) = %v, want 0", math.Exp(p))
		}
	})
	t.Run("a trigram with a single context is discounted by D3", func(t *testing.T) {
		// "speak to your" is followed by manager once and supervisor once:
		// c(speak to your)=2, two types, so P(manager|to your) =
		// (1-D3)/2 + D3*2/2*P2(manager|your).
		p := math.Exp(m.logProb([]string{"to", "your"}, "manager"))
		if p <= 0.1 || p >= 0.75 {
			t.Errorf("P(manager|to your) = %v, want between 0.1 and 0.75", p)
		}
	})
}

func TestARPARoundTrip(t *testing.T) {
	m := estimateKN(tiny)
	var buf bytes.Buffer
	if err := writeARPA(&buf, m); err != nil {
		t.Fatal(err)
	}
	r, err := readARPA(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range [][]string{{"i", "want", "to"}, {"my", "card", "number"}, {"please", "close", "my"}, {"cancel", "my", "manager"}} {
		want, got := m.logProb(tc[:2], tc[2]), r.logProb(tc[:2], tc[2])
		if math.Abs(want-got) > 1e-5 {
			t.Errorf("P(%s|%s %s): wrote %v, read back %v", tc[2], tc[0], tc[1], want, got)
		}
	}
}

func TestMix(t *testing.T) {
	a := estimateKN(tiny)
	b := estimateKN(sentences(
		"the old house at the end of the road",
		"she opened the window and listened",
		"i want to go home",
		"the card was on the table",
	))
	for _, lambda := range []float64{0.2, 0.5, 0.9} {
		m := mix(a, b, lambda)
		t.Run("the merged model is normalized", func(t *testing.T) { sumsToOne(t, m) })
		t.Run("listed n-grams get the exact mixture", func(t *testing.T) {
			for _, tc := range [][]string{{"i", "want", "to"}, {"at", "the", "end"}, {"my", "card", "number"}} {
				want := lambda*math.Exp(a.logProb(tc[:2], tc[2])) + (1-lambda)*math.Exp(b.logProb(tc[:2], tc[2]))
				got := math.Exp(m.logProb(tc[:2], tc[2]))
				if math.Abs(want-got) > 1e-9 {
					t.Errorf("lambda %v: P(%s|%s %s) = %v, want %v", lambda, tc[2], tc[0], tc[1], got, want)
				}
			}
		})
	}
	t.Run("the weight found by EM moves toward the model that fits", func(t *testing.T) {
		domainHeld := sentences("i want to cancel my card", "let me speak to your manager")
		if l := tuneLambda(domainHeld, a.logProb, b.logProb); l < 0.6 {
			t.Errorf("lambda on domain text = %v, want > 0.6", l)
		}
	})
}

func TestDiscount(t *testing.T) {
	cases := []struct {
		name   string
		n1, n2 float64
		want   float64
	}{
		{"singletons and doubletons give Ney's estimate", 10, 5, 0.5},
		{"mostly singletons discount heavily", 90, 5, 0.9},
		{"no doubletons fall back to a half", 10, 0, 0.5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ney(c.n1, c.n2); math.Abs(got-c.want) > 1e-12 {
				t.Errorf("ney(%v, %v) = %v, want %v", c.n1, c.n2, got, c.want)
			}
		})
	}
}
