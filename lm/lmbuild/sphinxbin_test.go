package main

import (
	"math"
	"os"
	"testing"
)

const debianLM = "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin"

// TestReadSphinxBinIsAProperModel reads Debian's generic model and checks
// that what the reader recovers is a probability model: unigrams sum to
// one, and sampled contexts' backoff distributions sum to one within the
// error the 16-bit quantization allows.
func TestReadSphinxBinIsAProperModel(t *testing.T) {
	if _, err := os.Stat(debianLM); err != nil {
		t.Skip("pocketsphinx-en-us not installed")
	}
	m, err := readSphinxBin(debianLM)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d words, %d bigrams, %d trigrams", len(m.words), m.bi.Len(), m.tri.Len())
	sum := 0.0
	for _, p := range m.uni {
		sum += math.Exp(p)
	}
	if math.Abs(sum-1) > 0.01 {
		t.Fatalf("unigram probabilities sum to %v, want 1", sum)
	}
	for _, ctx := range [][]string{{"the"}, {"go"}, {"i", "want"}, {"thank", "you"}, {"<s>"}} {
		t.Run("context "+ctx[len(ctx)-1], func(t *testing.T) {
			s := 0.0
			for _, w := range m.words {
				s += math.Exp(m.logProb(ctx, w))
			}
			if math.Abs(s-1) > 0.03 {
				t.Errorf("P(.|%v) sums to %v, want 1", ctx, s)
			}
		})
	}
	if p := m.logProb([]string{"go", "forward"}, "ten"); p < math.Log(1e-6) {
		t.Errorf("P(ten | go forward) = %v, implausibly low", math.Exp(p))
	}
}
