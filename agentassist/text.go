package agentassist

import (
	"strings"
	"unicode"
)

// tokenize lower-cases text and splits it into words. Letters and digits
// make words; an apostrophe inside a word is kept ("don't", "i'm") because
// the pronunciation dictionary spells contractions that way; everything else
// (punctuation, the brackets of a redaction marker) separates words.
func tokenize(text string) []string {
	var words []string
	var b strings.Builder
	flush := func() {
		w := strings.Trim(b.String(), "'")
		if w != "" {
			words = append(words, w)
		}
		b.Reset()
	}
	for _, r := range text {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		case r == '\'' || r == '’':
			if b.Len() > 0 {
				b.WriteByte('\'')
			}
		default:
			flush()
		}
	}
	flush()
	return words
}

// normalize returns text as the rules see it: lower case, words separated
// by single spaces, no punctuation. Regular expressions in a playbook match
// this form, so they behave the same on recognizer output (which has no
// punctuation or capitals) and on typed text.
func normalize(text string) string {
	return strings.Join(tokenize(text), " ")
}

// isVowel reports whether b is an ASCII vowel; 'y' counts after a consonant.
func isVowelAt(w string, i int) bool {
	switch w[i] {
	case 'a', 'e', 'i', 'o', 'u':
		return true
	case 'y':
		return i > 0 && !isVowelAt(w, i-1)
	}
	return false
}

func hasVowel(w string) bool {
	for i := range len(w) {
		if isVowelAt(w, i) {
			return true
		}
	}
	return false
}

// stem reduces an English word to a crude stem by stripping inflectional
// and a few derivational suffixes. It is not a linguistic stemmer: its only
// promise is that the forms a caller or agent is likely to use for the same
// idea ("cancel", "cancels", "cancelled", "cancelling", "cancellation";
// "manage", "manager", "managers") reduce to the same string, and that
// short words are left alone. Playbook phrases and utterances go through the
// same function, so consistency matters more than correctness.
func stem(w string) string {
	if len(w) <= 3 {
		return w
	}
	w = strings.TrimSuffix(w, "'s")
	w = strings.TrimSuffix(w, "s'")
	// Plurals and third person.
	switch {
	case strings.HasSuffix(w, "sses"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") &&
		!strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is") && len(w) > 3:
		w = w[:len(w)-1]
	}
	// Derivational endings, longest first; each keeps a stem of at least
	// three letters with a vowel, so "station" or "ring" survive.
	for _, suf := range []string{"ations", "ation", "ments", "ment", "ness", "fully", "ful", "ingly", "ing", "edly", "ed", "ers", "er", "ly"} {
		if !strings.HasSuffix(w, suf) {
			continue
		}
		base := w[:len(w)-len(suf)]
		minBase := 3
		if suf == "ly" {
			minBase = 4 // "reply", "early" are not adverbs
		}
		if len(base) < minBase || !hasVowel(base) {
			continue
		}
		w = base
		// "cancell" -> "cancel", "stopp" -> "stop", but keep "ll"/"ss"
		// words like "bill" and "miss" intact below.
		if n := len(w); n >= 4 && w[n-1] == w[n-2] && !isVowelAt(w, n-1) {
			switch w[n-1] {
			case 's', 'z':
			case 'l':
				// "cancell" -> "cancel", but "bill"/"call" stay.
				if n > 4 {
					w = w[:n-1]
				}
			default:
				w = w[:n-1]
			}
		}
		break
	}
	if strings.HasSuffix(w, "y") && len(w) > 3 && !isVowelAt(w, len(w)-2) {
		w = w[:len(w)-1] + "i"
	}
	if strings.HasSuffix(w, "e") && len(w) > 3 {
		w = w[:len(w)-1]
	}
	return w
}

// stems returns the stem of every word.
func stems(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = stem(w)
	}
	return out
}

// containsSeq reports whether needle occurs as a contiguous run in hay.
func containsSeq(hay, needle []string) bool {
	if len(needle) == 0 || len(needle) > len(hay) {
		return false
	}
outer:
	for i := 0; i+len(needle) <= len(hay); i++ {
		for j, w := range needle {
			if hay[i+j] != w {
				continue outer
			}
		}
		return true
	}
	return false
}
