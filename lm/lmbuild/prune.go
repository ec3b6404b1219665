package main

import (
	"math"
	"sort"
)

// Pruning makes the shipped model small enough that each concurrent call
// stream's decoder stays within issue 3's memory budget: PocketSphinx
// loads the LM, the dictionary and a search tree over every word per
// decoder, and none of it can be shared between decoders (FACTS.md).

// pruneVocab keeps the size most probable words by unigram probability,
// plus every word in keep (the domain corpus's words) and the sentence
// markers, and drops every n-gram that uses another word. Unigram
// probabilities are renormalised over the kept words and the backoff
// weights recomputed, so the result is a proper backoff model again.
func pruneVocab(m *model, size int, keep map[string]bool) *model {
	if size <= 0 || size >= len(m.words) {
		return m
	}
	order := make([]int32, len(m.words))
	for i := range order {
		order[i] = int32(i)
	}
	sort.SliceStable(order, func(i, j int) bool { return m.uni[order[i]] > m.uni[order[j]] })
	kept := make([]bool, len(m.words))
	kept[m.index[bos]], kept[m.index[eos]] = true, true
	n := 0
	for _, id := range order {
		if n < size || keep[m.words[id]] {
			kept[id] = true
			n++
		}
	}
	for w := range keep {
		if id, ok := m.index[w]; ok {
			kept[id] = true
		}
	}
	// New ids in the old order (deterministic output).
	newID := make([]int32, len(m.words))
	var words []string
	for id, w := range m.words {
		newID[id] = -1
		if kept[id] {
			newID[id] = int32(len(words))
			words = append(words, w)
		}
	}
	out := newModel(words)
	mass := 0.0
	for id := range m.words {
		if kept[id] && !math.IsInf(m.uni[id], -1) {
			mass += math.Exp(m.uni[id])
		}
	}
	norm := math.Log(mass)
	for id, nid := range newID {
		if nid >= 0 {
			out.uni[nid] = m.uni[id] - norm
		}
	}
	out.bi = remapNgrams(&m.bi, newID, 2)
	out.tri = remapNgrams(&m.tri, newID, 3)
	out.unigramBackoffs()
	out.bigramBackoffs()
	return out
}

// remapNgrams keeps the n-grams whose words all have new ids.
func remapNgrams(g *ngrams, newID []int32, order int) ngrams {
	var out ngrams
	if g.bow != nil {
		out.bow = []float64{}
	}
	for i, k := range g.keys {
		var nk uint64
		ok := true
		for j := range order {
			id := newID[int32(k>>(uint(j)*wordBits))&wordMask]
			if id < 0 {
				ok = false
				break
			}
			nk |= uint64(id) << (uint(j) * wordBits)
		}
		if !ok {
			continue
		}
		out.keys = append(out.keys, nk)
		out.prob = append(out.prob, g.prob[i])
		if g.bow != nil {
			out.bow = append(out.bow, 0)
		}
	}
	// Renumbering keeps the relative order of kept ids, so keys stay sorted.
	return out
}

// pruneNgrams drops the trigrams, then the bigrams, whose loss costs the
// model least, by the weighted-difference criterion (Seymore and
// Rosenfeld): an n-gram h w goes when P(h w) · (log P(w|h) − log of its
// backoff estimate) is below threshold, that is when the model predicts it
// nearly as well without listing it or the history is rare. A bigram that
// is the context of a kept trigram stays. Backoff weights are recomputed
// after each order.
func pruneNgrams(m *model, threshold float64) *model {
	if threshold <= 0 {
		return m
	}
	// Trigrams u v w: P(u v w) = P(u) P(v|u) P(w|u v).
	keepTri := make([]bool, m.tri.Len())
	for i, k := range m.tri.keys {
		u, v, w := int32(k>>(2*wordBits)), int32((k>>wordBits)&wordMask), int32(k&wordMask)
		hist := historyLog(m, u) + m.logProb2(u, v)
		p := m.tri.prob[i]
		b := 0.0
		if j, ok := m.bi.find(key2(u, v)); ok {
			b = m.bi.bow[j]
		}
		q := b + m.logProb2(v, w)
		keepTri[i] = math.Exp(hist+p)*(p-q) >= threshold
	}
	m.tri = filterNgrams(&m.tri, keepTri)
	// Bigrams v w: P(v w) = P(v) P(w|v).
	needed := make(map[uint64]bool)
	for _, k := range m.tri.keys {
		needed[k>>wordBits] = true
	}
	keepBi := make([]bool, m.bi.Len())
	for i, k := range m.bi.keys {
		v, w := int32(k>>wordBits), int32(k&wordMask)
		p := m.bi.prob[i]
		q := m.ubow[v] + m.uni[w]
		keepBi[i] = needed[k] || math.Exp(historyLog(m, v)+p)*(p-q) >= threshold
	}
	m.bi = filterNgrams(&m.bi, keepBi)
	m.unigramBackoffs()
	m.bigramBackoffs()
	return m
}

// sentenceStartLog is log P(<s>) as a history: one sentence start in
// about ten words of conversational text. The model itself gives <s> no
// probability, since it is never predicted.
var sentenceStartLog = math.Log(0.1)

// historyLog is the log probability of w as the first word of a history.
func historyLog(m *model, w int32) float64 {
	if math.IsInf(m.uni[w], -1) {
		return sentenceStartLog
	}
	return m.uni[w]
}

func filterNgrams(g *ngrams, keep []bool) ngrams {
	var out ngrams
	if g.bow != nil {
		out.bow = []float64{}
	}
	for i, k := range g.keys {
		if keep[i] {
			out.keys = append(out.keys, k)
			out.prob = append(out.prob, g.prob[i])
			if g.bow != nil {
				out.bow = append(out.bow, g.bow[i])
			}
		}
	}
	return out
}
