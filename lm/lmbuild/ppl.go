package main

import "math"

// pplStats is the outcome of scoring text with a model.
type pplStats struct {
	logProb float64 // natural log, summed over scored tokens
	tokens  int     // words + one </s> per sentence, OOVs excluded
	oovs    int
}

func (s pplStats) perplexity() float64 { return math.Exp(-s.logProb / float64(s.tokens)) }

// scoreFunc returns log P(w | hist).
type scoreFunc func(hist []string, w string) float64

// perplexity scores sentences the way SRILM's `ngram -ppl` does: every word
// and the end-of-sentence marker are predicted from <s> and the words
// before them; a word the model cannot predict (probability zero) is
// counted as an OOV, not scored, and does not enter the history.
func perplexity(sentences [][]string, score scoreFunc) pplStats {
	var st pplStats
	for _, s := range sentences {
		hist := []string{bos}
		for _, w := range append(append([]string(nil), s...), eos) {
			lp := score(hist, w)
			if math.IsInf(lp, -1) {
				st.oovs++
				hist = []string{}
				continue
			}
			st.logProb += lp
			st.tokens++
			hist = append(hist, w)
		}
	}
	return st
}

// tuneLambda finds the interpolation weight of a that maximizes the
// likelihood of held-out sentences under lambda*a + (1-lambda)*b, by EM on
// the exact mixture (not its backoff approximation). Tokens either model
// cannot predict are skipped.
func tuneLambda(sentences [][]string, a, b scoreFunc) float64 {
	type pair struct{ pa, pb float64 }
	var ps []pair
	for _, s := range sentences {
		hist := []string{bos}
		for _, w := range append(append([]string(nil), s...), eos) {
			la, lb := a(hist, w), b(hist, w)
			if math.IsInf(la, -1) && math.IsInf(lb, -1) {
				hist = []string{}
				continue
			}
			ps = append(ps, pair{math.Exp(la), math.Exp(lb)})
			hist = append(hist, w)
		}
	}
	lambda := 0.5
	for range 200 {
		post := 0.0
		for _, p := range ps {
			x := lambda * p.pa
			post += x / (x + (1-lambda)*p.pb)
		}
		next := post / float64(len(ps))
		if math.Abs(next-lambda) < 1e-7 {
			return next
		}
		lambda = next
	}
	return lambda
}

// tuneBalanced finds the domain weight that minimizes the sum of the log
// perplexities of the exact mixture on domain held-out text and on general
// English text: a call is part contact-center talk and part ordinary talk,
// and template-generated held-out text alone (which the corpus predicts far
// too well) would push the weight to 0.98 and ruin everything else. The
// objective is unimodal in lambda, so a golden-section search suffices.
func tuneBalanced(domain, general [][]string, a, b scoreFunc) float64 {
	f := func(l float64) float64 {
		s := mixScore(a, b, l)
		return math.Log(perplexity(domain, s).perplexity()) + math.Log(perplexity(general, s).perplexity())
	}
	lo, hi := 0.01, 0.99
	g := (math.Sqrt(5) - 1) / 2
	x1, x2 := hi-g*(hi-lo), lo+g*(hi-lo)
	f1, f2 := f(x1), f(x2)
	for hi-lo > 1e-3 {
		if f1 < f2 {
			hi, x2, f2 = x2, x1, f1
			x1 = hi - g*(hi-lo)
			f1 = f(x1)
		} else {
			lo, x1, f1 = x1, x2, f2
			x2 = lo + g*(hi-lo)
			f2 = f(x2)
		}
	}
	return (lo + hi) / 2
}

// tuneConstrained returns the largest domain weight, up to ceiling, whose
// exact mixture raises the perplexity of general English text by at most
// the factor maxRise over the generic model alone. Perplexity on general
// text grows with the domain weight, so bisection finds it.
func tuneConstrained(general [][]string, a, b scoreFunc, ceiling, maxRise float64) float64 {
	limit := maxRise * perplexity(general, b).perplexity()
	ok := func(l float64) bool { return perplexity(general, mixScore(a, b, l)).perplexity() <= limit }
	if ok(ceiling) {
		return ceiling
	}
	lo, hi := 0.0, ceiling
	for hi-lo > 1e-3 {
		mid := (lo + hi) / 2
		if ok(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}
