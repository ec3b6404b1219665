package insights

import "strings"

// Words around a number that say what it is when it is not a card.
// Outside a payment context a labelled number stays as spoken, up to the
// length of a card (issue 15: amounts, addresses, zip codes, dates, order
// and phone numbers were redacted as cards and fired the payment hint).
var (
	// A number shortly after one of these is an amount.
	amountCues = setOf("balance total amount owe owing owed cost costs costing price priced fee fees " +
		"charge charges charged refund refunded bill billed worth")
	// A number shortly after one of these is a phone, order, reference or
	// postal number.
	numberCues = setOf("phone mobile cell telephone landline extension ext fax call reach text ring dial " +
		"order reference ref ticket case confirmation tracking invoice booking claim " +
		"zip zipcode postcode postal apartment apt suite flat room dated date")
	// A number a few words before one of these is an address.
	streetWords = setOf("avenue ave street st road rd lane ln drive dr boulevard blvd court ct place pl way " +
		"close crescent terrace highway hwy parkway square circle")
)

// cueSpan is how many words before a run a cue still labels it, and how
// many words after it a street word does ("twenty one north maple avenue").
const cueSpan = 4

// cardLen reports whether n digits are as many as a card number holds.
func cardLen(n int) bool { return n >= 13 && n <= 19 }

// luhn reports whether digits pass the Luhn check every card number
// passes; a misheard digit fails it nine times in ten.
func luhn(digits string) bool {
	sum := 0
	for i := range len(digits) {
		d := int(digits[len(digits)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// holdsCard reports whether any card-long stretch of digits passes Luhn:
// a card read with a digit misheard before or after it is still a card.
func holdsCard(digits string) bool {
	for n := 13; n <= min(19, len(digits)); n++ {
		for i := 0; i+n <= len(digits); i++ {
			if luhn(digits[i : i+n]) {
				return true
			}
		}
	}
	return false
}

// spelledDigits returns the most digits run r reads one at a time in a
// row, as digit words or numerals: the way a card is read. "Forty two
// fifty" and "two hundred" spell none or one; "four five six seven" four.
func spelledDigits(rt []rtoken, r digitRun) int {
	best, cur := 0, 0
	for _, t := range rt[r.from:r.to] {
		switch {
		case digitWords[t.norm] != "":
			cur++
		case t.class == tkDigits && strings.ContainsAny(t.norm, "0123456789"):
			cur += len(t.digits)
		default:
			cur = 0
		}
		best = max(best, cur)
	}
	return best
}

// runLabel is what the words around a digit run say it is.
type runLabel struct {
	unit   bool // a unit word follows or a currency or percent sign is on it: an amount or a count
	street bool // a street word follows within cueSpan words: an address number
	amount bool // an amount cue comes within cueSpan words before it
	number bool // a phone, order, reference or postal cue comes before it
	date   bool // a month next to it, "of" and a month after it, or a slash inside it
	scale  bool // it holds "hundred" or "thousand": a quantity, never read on a card
}

// any reports whether anything labels the run as something other than a card.
func (l runLabel) any() bool { return l.unit || l.street || l.amount || l.number || l.date || l.scale }

// labelRun reads the words around run r. Cues before it stop at another
// number, so a label names only the number it introduces.
func labelRun(rt []rtoken, r digitRun) runLabel {
	var l runLabel
	for _, t := range rt[r.from:r.to] {
		l.scale = l.scale || t.class == tkScale
		l.unit = l.unit || t.amount
	}
	l.date = r.slash || (r.from > 0 && months[rt[r.from-1].norm])
	if r.to < len(rt) {
		next := rt[r.to].norm
		l.unit = l.unit || unitWords[next]
		l.date = l.date || months[next] || (next == "of" && r.to+1 < len(rt) && months[rt[r.to+1].norm])
	}
	for i := r.to; i < len(rt) && i < r.to+cueSpan && rt[i].class != tkDigits; i++ {
		l.street = l.street || streetWords[rt[i].norm]
	}
	for i := r.from - 1; i >= 0 && i >= r.from-cueSpan && rt[i].class != tkDigits; i-- {
		l.amount = l.amount || amountCues[rt[i].norm]
		l.number = l.number || numberCues[rt[i].norm]
	}
	return l
}
