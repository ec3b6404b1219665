package main

import (
	"math"
	"sort"
)

// estimateKN builds an interpolated Kneser-Ney trigram model from sentences
// (each a list of words without markers). It uses one absolute discount per
// order, D = n1 / (n1 + 2 n2) (Ney, Essen and Kneser), computed on the counts
// that order is estimated from. Lower orders use continuation counts (how
// many distinct words precede an n-gram), except n-grams that start with
// <s>, which nothing can precede and which keep their raw counts.
//
// The result is exact in backoff form: a listed n-gram holds the full
// interpolated probability, and a context's backoff weight is the mass its
// discounting freed, so that unlisted words fall through to the lower order.
// The unigram level interpolates with the uniform distribution over the
// vocabulary so every word but <s> has non-zero probability.
func estimateKN(sentences [][]string) *model {
	// Vocabulary: <s>, </s>, then words in first-seen order (deterministic).
	words := []string{bos, eos}
	idx := map[string]int32{bos: 0, eos: 1}
	var toks [][]int32
	for _, s := range sentences {
		t := make([]int32, 0, len(s)+2)
		t = append(t, 0)
		for _, w := range s {
			id, ok := idx[w]
			if !ok {
				id = int32(len(words))
				idx[w] = id
				words = append(words, w)
			}
			t = append(t, id)
		}
		t = append(t, 1)
		toks = append(toks, t)
	}
	m := newModel(words)
	V := len(words)

	c3 := map[uint64]float64{} // raw trigram counts
	c2raw := map[uint64]float64{}
	for _, t := range toks {
		for i := 1; i < len(t); i++ {
			c2raw[key2(t[i-1], t[i])]++
			if i >= 2 {
				c3[key3(t[i-2], t[i-1], t[i])]++
			}
		}
	}
	// Adjusted bigram counts: distinct left words of (v w), from the trigram
	// types; raw counts for (<s> w).
	a2 := map[uint64]float64{}
	for k := range c3 {
		a2[k&(1<<(2*wordBits)-1)]++
	}
	for k, c := range c2raw {
		if int32(k>>wordBits) == 0 {
			a2[k] = c
		}
	}
	// Adjusted unigram counts: distinct left words of w, from bigram types.
	a1 := make([]float64, V)
	for k := range c2raw {
		a1[int32(k&wordMask)]++
	}

	// Trigram level.
	d3 := discount(c3)
	type ctxStat struct{ total, types float64 }
	ctx3 := map[uint64]*ctxStat{}
	for k, c := range c3 {
		h := k >> wordBits
		s := ctx3[h]
		if s == nil {
			s = &ctxStat{}
			ctx3[h] = s
		}
		s.total += c
		s.types++
	}
	// Bigram level.
	d2 := discount(a2)
	ctx2 := map[int32]*ctxStat{}
	for k, c := range a2 {
		h := int32(k >> wordBits)
		s := ctx2[h]
		if s == nil {
			s = &ctxStat{}
			ctx2[h] = s
		}
		s.total += c
		s.types++
	}
	// Unigram level: interpolate with uniform over every word but <s>.
	d1 := discountSlice(a1)
	var tot1, types1 float64
	for _, c := range a1 {
		if c > 0 {
			tot1 += c
			types1++
		}
	}
	uniform := 1 / float64(V-1)
	p1 := make([]float64, V)
	for w := 1; w < V; w++ {
		p1[w] = math.Max(a1[w]-d1, 0)/tot1 + d1*types1/tot1*uniform
		m.uni[w] = math.Log(p1[w])
	}
	m.uni[0] = math.Inf(-1)

	// Bigrams, listed wherever an adjusted count exists.
	p2 := make(map[uint64]float64, len(a2))
	for k, c := range a2 {
		v, w := int32(k>>wordBits), int32(k&wordMask)
		s := ctx2[v]
		bo := d2 * s.types / s.total
		p2[k] = math.Max(c-d2, 0)/s.total + bo*p1[w]
	}
	for v, s := range ctx2 {
		m.ubow[v] = math.Log(d2 * s.types / s.total)
	}
	// A trigram context (u v) needs (u v) listed as a bigram to carry its
	// backoff weight; every such pair was seen, so it has an adjusted count.
	m.bi = fromMap(p2, true)
	for h, s := range ctx3 {
		if i, ok := m.bi.find(h); ok {
			m.bi.bow[i] = math.Log(d3 * s.types / s.total)
		}
	}
	p3 := make(map[uint64]float64, len(c3))
	for k, c := range c3 {
		h := k >> wordBits
		s := ctx3[h]
		v, w := int32(h&wordMask), int32(k&wordMask)
		lower := p2[key2(v, w)]
		if lower == 0 {
			lower = math.Exp(m.ubow[v]) * p1[w]
		}
		p3[k] = math.Max(c-d3, 0)/s.total + d3*s.types/s.total*lower
	}
	m.tri = fromMap(p3, false)
	return m
}

// fromMap turns probabilities keyed by packed n-gram into a sorted ngrams
// table of log probabilities; bow entries start at log 1 = 0.
func fromMap(p map[uint64]float64, withBow bool) ngrams {
	g := ngrams{keys: make([]uint64, 0, len(p))}
	for k := range p {
		g.keys = append(g.keys, k)
	}
	sort.Slice(g.keys, func(i, j int) bool { return g.keys[i] < g.keys[j] })
	g.prob = make([]float64, len(g.keys))
	for i, k := range g.keys {
		g.prob[i] = math.Log(p[k])
	}
	if withBow {
		g.bow = make([]float64, len(g.keys))
	}
	return g
}

// discount is Ney's absolute discount n1/(n1+2 n2), with 0.5 when the
// counts of counts are too sparse to say.
func discount(counts map[uint64]float64) float64 {
	var n1, n2 float64
	for _, c := range counts {
		switch c {
		case 1:
			n1++
		case 2:
			n2++
		}
	}
	return ney(n1, n2)
}

func discountSlice(counts []float64) float64 {
	var n1, n2 float64
	for _, c := range counts {
		switch c {
		case 1:
			n1++
		case 2:
			n2++
		}
	}
	return ney(n1, n2)
}

func ney(n1, n2 float64) float64 {
	if n1 == 0 || n2 == 0 {
		return 0.5
	}
	return n1 / (n1 + 2*n2)
}
