package main

import (
	"math/rand/v2"
	"strings"
)

var ones = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
	"ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}

var tens = []string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}

// cardinal spells 0 <= n < 1,000,000 the way people say amounts.
func cardinal(n int) string {
	switch {
	case n < 20:
		return ones[n]
	case n < 100:
		if n%10 == 0 {
			return tens[n/10]
		}
		return tens[n/10] + " " + ones[n%10]
	case n < 1000:
		s := ones[n/100] + " hundred"
		if n%100 != 0 {
			s += " " + cardinal(n%100)
		}
		return s
	default:
		s := cardinal(n/1000) + " thousand"
		if n%1000 != 0 {
			s += " " + cardinal(n%1000)
		}
		return s
	}
}

var ordinalWords = map[int]string{1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth",
	6: "sixth", 7: "seventh", 8: "eighth", 9: "ninth", 10: "tenth", 11: "eleventh", 12: "twelfth",
	13: "thirteenth", 14: "fourteenth", 15: "fifteenth", 16: "sixteenth", 17: "seventeenth",
	18: "eighteenth", 19: "nineteenth", 20: "twentieth", 30: "thirtieth"}

// ordinal spells 1..31 as a day of the month.
func ordinal(n int) string {
	if w, ok := ordinalWords[n]; ok {
		return w
	}
	return tens[n/10] + " " + ordinalWords[n%10]
}

var months = []string{"january", "february", "march", "april", "may", "june", "july",
	"august", "september", "october", "november", "december"}

var weekdays = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

// digitWord speaks one digit; callers on the phone say "oh" for zero about
// as often as "zero".
func digitWord(r *rand.Rand, d int) string {
	if d == 0 && r.IntN(2) == 0 {
		return "oh"
	}
	return ones[d]
}

// digits speaks a string of n random digits the way callers read card and
// account numbers: digit by digit, sometimes "double four" or "triple two".
func digits(r *rand.Rand, n int) string {
	ds := make([]int, n)
	for i := range ds {
		ds[i] = r.IntN(10)
		// Repeats are common in real numbers; make them common here so the
		// model learns "double" and "triple".
		if i > 0 && r.IntN(6) == 0 {
			ds[i] = ds[i-1]
		}
	}
	var out []string
	for i := 0; i < len(ds); {
		j := i
		for j < len(ds) && ds[j] == ds[i] {
			j++
		}
		run := j - i
		switch {
		case run == 2 && r.IntN(3) > 0:
			out = append(out, "double", digitWord(r, ds[i]))
		case run == 3 && r.IntN(2) == 0:
			out = append(out, "triple", digitWord(r, ds[i]))
		default:
			for k := i; k < j; k++ {
				out = append(out, digitWord(r, ds[k]))
			}
		}
		i = j
	}
	return strings.Join(out, " ")
}

// cardGroups speaks a card number in the four groups of four people use.
func cardGroups(r *rand.Rand, groups int) string {
	parts := make([]string, groups)
	for i := range parts {
		parts[i] = digits(r, 4)
	}
	return strings.Join(parts, " ")
}

// money speaks an amount of dollars, with or without cents.
func money(r *rand.Rand) string {
	var d int
	switch r.IntN(4) {
	case 0:
		d = 1 + r.IntN(20)
	case 1:
		d = 10 + r.IntN(90)
	case 2:
		d = 100 + r.IntN(400)
	default:
		d = 1000 + r.IntN(2000)
	}
	cur := "dollars"
	if d == 1 {
		cur = "dollar"
	}
	switch r.IntN(4) {
	case 0:
		c := 1 + r.IntN(99)
		return cardinal(d) + " " + cur + " and " + cardinal(c) + " cents"
	case 1:
		// "forty nine ninety nine": how amounts are said quickly.
		c := 10 + r.IntN(90)
		return cardinal(d) + " " + cardinal(c)
	default:
		return cardinal(d) + " " + cur
	}
}

// date speaks a calendar date in one of the common orders.
func date(r *rand.Rand) string {
	m := months[r.IntN(12)]
	d := 1 + r.IntN(28)
	switch r.IntN(3) {
	case 0:
		return m + " " + ordinal(d)
	case 1:
		return "the " + ordinal(d) + " of " + m
	default:
		return m + " " + ordinal(d)
	}
}

// expiry speaks a card expiry date: "oh nine twenty seven", "twelve twenty six",
// "march twenty twenty eight".
func expiry(r *rand.Rand) string {
	mo := 1 + r.IntN(12)
	yr := 25 + r.IntN(9)
	var ms string
	if mo < 10 {
		ms = digitWord(r, 0) + " " + ones[mo]
	} else {
		ms = cardinal(mo)
	}
	switch r.IntN(3) {
	case 0:
		return ms + " " + cardinal(yr)
	case 1:
		return months[mo-1] + " twenty " + cardinal(yr)
	default:
		return ms + " slash " + cardinal(yr)
	}
}

// year speaks a recent year.
func year(r *rand.Rand) string {
	return "twenty " + cardinal(18+r.IntN(10))
}

// clock speaks a time of day.
func clock(r *rand.Rand) string {
	h := 1 + r.IntN(12)
	switch r.IntN(4) {
	case 0:
		return cardinal(h) + " o'clock"
	case 1:
		return cardinal(h) + " thirty"
	case 2:
		return cardinal(h) + " fifteen"
	default:
		ap := []string{"in the morning", "in the afternoon", "p m", "a m"}[r.IntN(4)]
		return cardinal(h) + " " + ap
	}
}

// smallCount speaks a small quantity.
func smallCount(r *rand.Rand) string {
	return cardinal(2 + r.IntN(12))
}
