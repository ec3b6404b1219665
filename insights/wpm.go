package insights

import (
	"strings"
	"time"
)

// rateSample is the words and speaking time of one utterance.
type rateSample struct {
	words      int
	span       time.Duration
	start, end time.Duration
}

// utteranceRate counts the words of u and the time they took. With word
// timings the span runs from the first word's start to the last word's end,
// so the recognizer's padding around the utterance does not slow the rate;
// without them it is the utterance's own span. Tokens in brackets
// ("<sil>", "[noise]") are not words; a redaction placeholder is one word.
func utteranceRate(u Utterance) rateSample {
	s := rateSample{start: u.Start, end: u.End}
	if len(u.Words) > 0 {
		first, last := -1, -1
		for i, w := range u.Words {
			if !isWordToken(w.Text) && !isPlaceholder(w.Text) {
				continue
			}
			s.words++
			if first < 0 {
				first = i
			}
			last = i
		}
		if first >= 0 {
			s.span = u.Words[last].End - u.Words[first].Start
		}
		return s
	}
	inBracket := false
	for _, f := range strings.Fields(u.Text) {
		// "[card number]" spans two fields and is one word.
		switch {
		case strings.HasPrefix(f, "[") && !strings.HasSuffix(f, "]"):
			inBracket = true
			s.words++
		case inBracket:
			inBracket = !strings.HasSuffix(f, "]")
		case isWordToken(f) || isPlaceholder(f):
			s.words++
		}
	}
	s.span = u.End - u.Start
	return s
}

// isWordToken reports whether a recognizer token is a spoken word rather
// than a silence or noise marker.
func isWordToken(t string) bool {
	return t != "" && t[0] != '<' && t[0] != '[' && t[0] != '('
}

// isPlaceholder reports whether t is a redaction placeholder.
func isPlaceholder(t string) bool {
	return strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") && len(t) > 2
}

// wpm is words per minute; 0 without speaking time.
func wpm(words int, span time.Duration) float64 {
	if span <= 0 {
		return 0
	}
	return float64(words) / span.Minutes()
}

// AddWPM sets d.WPM from the call's final utterances: per side, all words
// divided by the minutes those words took (word timings when present,
// otherwise the utterances' spans). A side with no timed words gets 0.
func (d *Dynamics) AddWPM(utts []Utterance) {
	var words BySpeaker[int]
	var span BySpeaker[time.Duration]
	for _, u := range utts {
		if !u.Speaker.Valid() {
			continue
		}
		r := utteranceRate(u)
		if r.span <= 0 {
			continue
		}
		*words.Ptr(u.Speaker) += r.words
		*span.Ptr(u.Speaker) += r.span
	}
	d.WPM.Agent = wpm(words.Agent, span.Agent)
	d.WPM.Caller = wpm(words.Caller, span.Caller)
}
