package main

import (
	"math"
	"sort"
)

// mix returns the linear interpolation lambda*a + (1-lambda)*b of two
// trigram backoff models, itself in backoff form (the construction SRILM's
// `ngram -mix-lm` uses). The vocabulary and every order's explicit n-grams
// are the unions of the two models'. A listed n-gram gets the exact mixed
// probability, each model's own term computed by its own backoff; a
// context's backoff weight is then set so its distribution sums to one:
//
//	bow(h) = (1 - sum over listed w of P(w|h)) / (1 - sum over listed w of P(w|h'))
//
// with h' the context shortened by its oldest word. Unlisted words are the
// one approximation: they get bow(h)*P(w|h') instead of the exact mixture.
func mix(a, b *model, lambda float64) *model {
	// Union vocabulary: b's words in b's order (the big model), then a's new ones.
	words := append([]string(nil), b.words...)
	for _, w := range a.words {
		if _, ok := b.index[w]; !ok {
			words = append(words, w)
		}
	}
	m := newModel(words)
	V := len(words)
	amap := make([]int32, V) // union id -> a id, or -1
	bmap := make([]int32, V)
	for i, w := range words {
		amap[i], bmap[i] = -1, -1
		if id, ok := a.index[w]; ok {
			amap[i] = id
		}
		if id, ok := b.index[w]; ok {
			bmap[i] = id
		}
	}
	la, lb := math.Log(lambda), math.Log(1-lambda)
	// mixLog combines two log probabilities, either possibly -inf.
	mixLog := func(pa, pb float64) float64 {
		x, y := la+pa, lb+pb
		if math.IsInf(x, -1) {
			return y
		}
		if math.IsInf(y, -1) {
			return x
		}
		if x < y {
			x, y = y, x
		}
		return x + math.Log1p(math.Exp(y-x))
	}
	neg := math.Inf(-1)
	uniOf := func(mm *model, mp []int32, w int32) float64 {
		if mp[w] < 0 {
			return neg
		}
		return mm.uni[mp[w]]
	}
	for w := range V {
		m.uni[w] = mixLog(uniOf(a, amap, int32(w)), uniOf(b, bmap, int32(w)))
	}
	// Component probabilities of P(w|v) and P(w|u v) in union ids.
	p2 := func(mm *model, mp []int32, v, w int32) float64 {
		if mp[w] < 0 {
			return neg
		}
		if mp[v] < 0 {
			return mm.uni[mp[w]]
		}
		return mm.logProb2(mp[v], mp[w])
	}
	p3 := func(mm *model, mp []int32, u, v, w int32) float64 {
		if mp[w] < 0 {
			return neg
		}
		if mp[v] < 0 {
			return mm.uni[mp[w]]
		}
		if mp[u] < 0 {
			return mm.logProb2(mp[v], mp[w])
		}
		return mm.logProb3(mp[u], mp[v], mp[w])
	}

	// Bigrams: union of listed pairs.
	m.bi = unionKeys(remapKeys(a.bi.keys, amap, 2, a), remapKeys(b.bi.keys, bmap, 2, b), true)
	for i, k := range m.bi.keys {
		v, w := int32(k>>wordBits), int32(k&wordMask)
		m.bi.prob[i] = mixLog(p2(a, amap, v, w), p2(b, bmap, v, w))
	}
	m.unigramBackoffs()
	// Trigrams.
	m.tri = unionKeys(remapKeys(a.tri.keys, amap, 3, a), remapKeys(b.tri.keys, bmap, 3, b), false)
	for i, k := range m.tri.keys {
		u, v, w := int32(k>>(2*wordBits)), int32((k>>wordBits)&wordMask), int32(k&wordMask)
		m.tri.prob[i] = mixLog(p3(a, amap, u, v, w), p3(b, bmap, u, v, w))
	}
	m.bigramBackoffs()
	return m
}

// unigramBackoffs sets every word's backoff weight as a context so that
// its bigram distribution sums to one given the listed bigrams.
func (m *model) unigramBackoffs() {
	clear(m.ubow)
	forContexts(m.bi.keys, func(h uint64, lo, hi int) {
		num, den := 0.0, 0.0
		for i := lo; i < hi; i++ {
			num += math.Exp(m.bi.prob[i])
			den += math.Exp(m.uni[m.bi.keys[i]&wordMask])
		}
		m.ubow[h] = backoffWeight(num, den)
	})
}

// bigramBackoffs does the same for bigram contexts and their trigrams.
func (m *model) bigramBackoffs() {
	clear(m.bi.bow)
	forContexts(m.tri.keys, func(h uint64, lo, hi int) {
		num, den := 0.0, 0.0
		v := int32(h & wordMask)
		for i := lo; i < hi; i++ {
			num += math.Exp(m.tri.prob[i])
			den += math.Exp(m.logProb2(v, int32(m.tri.keys[i]&wordMask)))
		}
		if j, ok := m.bi.find(h); ok {
			m.bi.bow[j] = backoffWeight(num, den)
		}
	})
}

// backoffWeight is log((1-num)/(1-den)), guarded against the rounding of a
// quantized source model pushing either mass to or past one.
func backoffWeight(num, den float64) float64 {
	const eps = 1e-9
	return math.Log(math.Max(1-num, eps)) - math.Log(math.Max(1-den, eps))
}

// forContexts calls f for each run of keys sharing a context (all but the
// last word), with the context key and the run's bounds.
func forContexts(keys []uint64, f func(h uint64, lo, hi int)) {
	for lo := 0; lo < len(keys); {
		h := keys[lo] >> wordBits
		hi := lo + 1
		for hi < len(keys) && keys[hi]>>wordBits == h {
			hi++
		}
		f(h, lo, hi)
		lo = hi
	}
}

// remapKeys rewrites a model's n-gram keys into union word ids, sorted.
func remapKeys(keys []uint64, mp []int32, order int, src *model) []uint64 {
	back := make(map[int32]int32, len(src.words))
	for u, id := range mp {
		if id >= 0 {
			back[id] = int32(u)
		}
	}
	out := make([]uint64, len(keys))
	for i, k := range keys {
		if order == 2 {
			out[i] = key2(back[int32(k>>wordBits)], back[int32(k&wordMask)])
		} else {
			out[i] = key3(back[int32(k>>(2*wordBits))], back[int32((k>>wordBits)&wordMask)], back[int32(k&wordMask)])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// unionKeys merges two sorted key lists into one table without duplicates.
func unionKeys(x, y []uint64, withBow bool) ngrams {
	out := make([]uint64, 0, len(x)+len(y))
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case j >= len(y) || (i < len(x) && x[i] < y[j]):
			out = append(out, x[i])
			i++
		case i >= len(x) || y[j] < x[i]:
			out = append(out, y[j])
			j++
		default:
			out = append(out, x[i])
			i++
			j++
		}
	}
	g := ngrams{keys: out, prob: make([]float64, len(out))}
	if withBow {
		g.bow = make([]float64, len(out))
	}
	return g
}
