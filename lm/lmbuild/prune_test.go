package main

import (
	"math"
	"testing"
)

func TestPruneVocab(t *testing.T) {
	m := estimateKN(tiny)
	keep := map[string]bool{"supervisor": true}
	p := pruneVocab(m, 6, keep)
	t.Run("keeps the most probable words, the kept ones and the markers", func(t *testing.T) {
		if _, ok := p.index["supervisor"]; !ok {
			t.Error("a word to keep was dropped")
		}
		// KN unigrams count distinct left contexts: "my" and "to" follow
		// many words, "i" only <s>.
		for _, w := range []string{bos, eos, "my", "to"} {
			if _, ok := p.index[w]; !ok {
				t.Errorf("%q dropped; words %v", w, p.words)
			}
		}
		if len(p.words) > 6+1+2 {
			t.Errorf("%d words kept, want at most 9: %v", len(p.words), p.words)
		}
	})
	t.Run("no n-gram uses a dropped word", func(t *testing.T) {
		for _, k := range p.bi.keys {
			if int(k>>wordBits) >= len(p.words) || int(k&wordMask) >= len(p.words) {
				t.Fatalf("bigram key %x out of the vocabulary", k)
			}
		}
		if p.bi.Len() == 0 || p.bi.Len() >= m.bi.Len() {
			t.Errorf("%d bigrams of %d kept", p.bi.Len(), m.bi.Len())
		}
	})
	t.Run("every context's distribution sums to one", func(t *testing.T) { sumsToOne(t, p) })
	t.Run("probabilities of kept n-grams are unchanged", func(t *testing.T) {
		if a, b := m.logProb([]string{"to"}, "cancel"), p.logProb([]string{"to"}, "cancel"); math.Abs(a-b) > 1e-12 {
			t.Errorf("P(cancel|to) %.6f before, %.6f after", math.Exp(a), math.Exp(b))
		}
	})
	t.Run("a size at or above the vocabulary changes nothing", func(t *testing.T) {
		if pruneVocab(m, 0, nil) != m || pruneVocab(m, len(m.words), nil) != m {
			t.Error("model rebuilt")
		}
	})
}

func TestPruneNgrams(t *testing.T) {
	tests := []struct {
		name               string
		threshold          float64
		wantBi, wantTri    func(before, after int) bool
		describeBi, descTr string
	}{
		{"zero threshold keeps everything", 0,
			func(b, a int) bool { return a == b }, func(b, a int) bool { return a == b }, "all", "all"},
		{"a middling threshold drops some", 1e-2,
			func(b, a int) bool { return a > 0 && a < b }, func(b, a int) bool { return a < b }, "some", "fewer"},
		{"a huge threshold drops every n-gram", 1e9,
			func(b, a int) bool { return a == 0 }, func(b, a int) bool { return a == 0 }, "none", "none"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := estimateKN(tiny)
			bi, tri := m.bi.Len(), m.tri.Len()
			p := pruneNgrams(m, tc.threshold)
			if !tc.wantBi(bi, p.bi.Len()) || !tc.wantTri(tri, p.tri.Len()) {
				t.Errorf("bigrams %d -> %d (want %s), trigrams %d -> %d (want %s)", bi, p.bi.Len(), tc.describeBi, tri, p.tri.Len(), tc.descTr)
			}
			for _, k := range p.tri.keys {
				if _, ok := p.bi.find(k >> wordBits); !ok {
					t.Errorf("trigram %x kept without its context bigram", k)
				}
			}
			sumsToOne(t, p)
		})
	}
}
