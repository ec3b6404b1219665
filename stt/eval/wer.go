package eval

import (
	"strings"
	"unicode"
)

// Counts are the outcome of aligning a hypothesis with a reference.
type Counts struct {
	Ref int `json:"ref_words"`
	Sub int `json:"sub"`
	Del int `json:"del"`
	Ins int `json:"ins"`
}

// Errors returns substitutions + deletions + insertions.
func (c Counts) Errors() int { return c.Sub + c.Del + c.Ins }

// WER returns errors per reference word. With an empty reference it is 0
// when the hypothesis is empty too, and 1 otherwise (every word inserted is
// wrong, and the rate must stay finite).
func (c Counts) WER() float64 {
	if c.Ref == 0 {
		if c.Errors() == 0 {
			return 0
		}
		return 1
	}
	return float64(c.Errors()) / float64(c.Ref)
}

// Add returns the sum of two counts; totals are sums, so a total WER is
// total errors over total reference words, not a mean of rates.
func (c Counts) Add(o Counts) Counts {
	return Counts{c.Ref + o.Ref, c.Sub + o.Sub, c.Del + o.Del, c.Ins + o.Ins}
}

// Align computes the minimum-edit alignment of hyp against ref (unit costs)
// and counts its substitutions, deletions and insertions. Among alignments
// of equal cost it prefers substitutions over a deletion plus an insertion,
// as NIST sclite does.
func Align(ref, hyp []string) Counts {
	type cell struct{ cost, sub, del, ins int }
	prev := make([]cell, len(hyp)+1)
	cur := make([]cell, len(hyp)+1)
	for j := range prev {
		prev[j] = cell{cost: j, ins: j}
	}
	for i := 1; i <= len(ref); i++ {
		cur[0] = cell{cost: i, del: i}
		for j := 1; j <= len(hyp); j++ {
			d := prev[j-1]
			if ref[i-1] != hyp[j-1] {
				d.cost++
				d.sub++
			}
			best := d
			if del := prev[j]; del.cost+1 < best.cost {
				best = del
				best.cost++
				best.del++
			}
			if ins := cur[j-1]; ins.cost+1 < best.cost {
				best = ins
				best.cost++
				best.ins++
			}
			cur[j] = best
		}
		prev, cur = cur, prev
	}
	c := prev[len(hyp)]
	return Counts{Ref: len(ref), Sub: c.sub, Del: c.del, Ins: c.ins}
}

// Normalize lower-cases text and splits it into words: punctuation is
// dropped except apostrophes and hyphens inside words (hyphens split the
// word); recognizer markup such as <sil>, [noise] or ++breath++ is removed,
// and pronunciation variants "word(2)" lose their suffix.
func Normalize(text string) []string {
	var out []string
	for _, f := range strings.Fields(strings.ToLower(text)) {
		if strings.HasPrefix(f, "<") || strings.HasPrefix(f, "[") || strings.HasPrefix(f, "++") {
			continue
		}
		if i := strings.IndexByte(f, '('); i > 0 && strings.HasSuffix(f, ")") {
			f = f[:i]
		}
		for _, part := range strings.FieldsFunc(f, func(r rune) bool {
			return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'')
		}) {
			part = strings.Trim(part, "'")
			if part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// Score normalises both texts and aligns them. Digit strings in the
// hypothesis are spelled out as words (digit by digit when they start with
// 0 or are longer than four digits, as a cardinal number otherwise) only
// when the reference itself uses no digits, so a reference written with
// digits is compared digit for digit.
func Score(reference, hypothesis string) Counts {
	ref, hyp := Normalize(reference), Normalize(hypothesis)
	if !hasDigits(ref) {
		var spelled []string
		for _, w := range hyp {
			spelled = append(spelled, spellDigits(w)...)
		}
		hyp = spelled
	}
	return Align(ref, hyp)
}

func hasDigits(words []string) bool {
	for _, w := range words {
		for _, r := range w {
			if unicode.IsDigit(r) {
				return true
			}
		}
	}
	return false
}

var digitNames = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
var teens = []string{"ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}
var tensNames = []string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}

func spellDigits(w string) []string {
	for _, r := range w {
		if r < '0' || r > '9' {
			return []string{w}
		}
	}
	if w[0] == '0' || len(w) > 4 {
		out := make([]string, len(w))
		for i := range w {
			out[i] = digitNames[w[i]-'0']
		}
		return out
	}
	n := 0
	for i := range w {
		n = n*10 + int(w[i]-'0')
	}
	return cardinalWords(n)
}

func cardinalWords(n int) []string {
	switch {
	case n < 10:
		return []string{digitNames[n]}
	case n < 20:
		return []string{teens[n-10]}
	case n < 100:
		if n%10 == 0 {
			return []string{tensNames[n/10]}
		}
		return []string{tensNames[n/10], digitNames[n%10]}
	case n < 1000:
		out := []string{digitNames[n/100], "hundred"}
		if n%100 != 0 {
			out = append(out, cardinalWords(n%100)...)
		}
		return out
	default:
		out := append(cardinalWords(n/1000), "thousand")
		if n%1000 != 0 {
			out = append(out, cardinalWords(n%1000)...)
		}
		return out
	}
}
