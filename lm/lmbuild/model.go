package main

import (
	"math"
	"sort"
)

// Sentence markers, as every ARPA tool spells them.
const (
	bos = "<s>"
	eos = "</s>"
)

// wordBits is how many bits of a packed n-gram key one word index takes;
// 21 bits allow two million words, far more than either model holds.
const wordBits = 21

const wordMask = 1<<wordBits - 1

func key2(a, b int32) uint64    { return uint64(a)<<wordBits | uint64(b) }
func key3(a, b, c int32) uint64 { return uint64(a)<<(2*wordBits) | uint64(b)<<wordBits | uint64(c) }

// ngrams is one order of explicit n-grams, sorted by packed key so that all
// n-grams sharing a context are adjacent. Probabilities and backoff weights
// are natural-log values (ARPA files hold log10; conversion happens at I/O).
type ngrams struct {
	keys []uint64
	prob []float64
	bow  []float64 // nil for the highest order
}

func (g *ngrams) find(k uint64) (int, bool) {
	i := sort.Search(len(g.keys), func(i int) bool { return g.keys[i] >= k })
	return i, i < len(g.keys) && g.keys[i] == k
}

func (g *ngrams) Len() int           { return len(g.keys) }
func (g *ngrams) Less(i, j int) bool { return g.keys[i] < g.keys[j] }
func (g *ngrams) Swap(i, j int) {
	g.keys[i], g.keys[j] = g.keys[j], g.keys[i]
	g.prob[i], g.prob[j] = g.prob[j], g.prob[i]
	if g.bow != nil {
		g.bow[i], g.bow[j] = g.bow[j], g.bow[i]
	}
}

// model is a trigram backoff language model (the ARPA semantics):
// P(w|u v) = p3(u v w) if listed, else bow2(u v) * P(w|v);
// P(w|v) = p2(v w) if listed, else bow1(v) * P(w).
type model struct {
	words []string
	index map[string]int32
	uni   []float64 // log P(w); -inf for words never predicted (<s>)
	ubow  []float64 // log backoff weight of w as a context
	bi    ngrams
	tri   ngrams
}

func newModel(words []string) *model {
	m := &model{words: words, index: make(map[string]int32, len(words))}
	for i, w := range words {
		m.index[w] = int32(i)
	}
	m.uni = make([]float64, len(words))
	m.ubow = make([]float64, len(words))
	return m
}

// logProb2 returns log P(w|v) by backoff.
func (m *model) logProb2(v, w int32) float64 {
	if i, ok := m.bi.find(key2(v, w)); ok {
		return m.bi.prob[i]
	}
	return m.ubow[v] + m.uni[w]
}

// logProb3 returns log P(w|u v) by backoff.
func (m *model) logProb3(u, v, w int32) float64 {
	if i, ok := m.tri.find(key3(u, v, w)); ok {
		return m.tri.prob[i]
	}
	b := 0.0
	if i, ok := m.bi.find(key2(u, v)); ok {
		b = m.bi.bow[i]
	}
	return b + m.logProb2(v, w)
}

// logProb returns log P(w | history), using at most the last two words of
// history. Unknown words have probability zero (-inf); an unknown history
// word shortens the history.
func (m *model) logProb(hist []string, w string) float64 {
	wi, ok := m.index[w]
	if !ok {
		return math.Inf(-1)
	}
	ids := make([]int32, 0, 2)
	for _, h := range hist[max(0, len(hist)-2):] {
		if id, ok := m.index[h]; ok {
			ids = append(ids, id)
		} else {
			ids = ids[:0]
		}
	}
	switch len(ids) {
	case 2:
		return m.logProb3(ids[0], ids[1], wi)
	case 1:
		return m.logProb2(ids[0], wi)
	default:
		return m.uni[wi]
	}
}
