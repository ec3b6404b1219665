package eval

import (
	"reflect"
	"testing"
)

func TestAlign(t *testing.T) {
	cases := []struct {
		name     string
		ref, hyp string
		want     Counts
	}{
		{"a perfect hypothesis has no errors", "go forward ten meters", "go forward ten meters", Counts{Ref: 4}},
		{"one wrong word is one substitution", "go forward ten meters", "go forward two meters", Counts{Ref: 4, Sub: 1}},
		{"a missing word is a deletion", "go forward ten meters", "go forward meters", Counts{Ref: 4, Del: 1}},
		{"an extra word is an insertion", "go forward ten meters", "go forward ten ten meters", Counts{Ref: 4, Ins: 1}},
		{"an empty hypothesis deletes everything", "i want to cancel", "", Counts{Ref: 4, Del: 4}},
		{"an empty reference makes every word an insertion", "", "hello there", Counts{Ins: 2}},
		{"a split word is a substitution and an insertion", "cancel my contract", "cancel my con tract", Counts{Ref: 3, Sub: 1, Ins: 1}},
		{"a shifted sentence is a deletion and an insertion", "a b c d e", "b c d e f", Counts{Ref: 5, Del: 1, Ins: 1}},
		{"three kinds of error at once", "i want to cancel my contract", "uh i want cancel my contact", Counts{Ref: 6, Sub: 1, Del: 1, Ins: 1}},
		{"equal cost prefers substitution to deletion plus insertion", "a b", "a c", Counts{Ref: 2, Sub: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Align(Normalize(c.ref), Normalize(c.hyp))
			if got != c.want {
				t.Errorf("Align(%q, %q) = %+v, want %+v", c.ref, c.hyp, got, c.want)
			}
		})
	}
}

func TestWER(t *testing.T) {
	cases := []struct {
		name string
		c    Counts
		want float64
	}{
		{"errors over reference words", Counts{Ref: 8, Sub: 1, Del: 1}, 0.25},
		{"insertions can push it past one", Counts{Ref: 2, Sub: 2, Ins: 1}, 1.5},
		{"nothing to say and nothing said is perfect", Counts{}, 0},
		{"nothing to say but something said is all wrong", Counts{Ins: 3}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.c.WER(); got != c.want {
				t.Errorf("%+v.WER() = %v, want %v", c.c, got, c.want)
			}
		})
	}
	t.Run("a total is total errors over total words, not a mean of rates", func(t *testing.T) {
		tot := Counts{Ref: 1, Sub: 1}.Add(Counts{Ref: 9})
		if got := tot.WER(); got != 0.1 {
			t.Errorf("total WER = %v, want 0.1 (mean of rates would be 0.5)", got)
		}
	})
}

func TestNormalize(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string
	}{
		{"case and punctuation go", "Hello, World! How's it going?", []string{"hello", "world", "how's", "it", "going"}},
		{"recognizer markup goes", "<s> go <sil> forward [noise] ++breath++ ten(2) meters </s>", []string{"go", "forward", "ten", "meters"}},
		{"hyphens split words", "well-known e-mail", []string{"well", "known", "e", "mail"}},
		{"quotes around words go, apostrophes inside stay", "'don't' say \"no\"", []string{"don't", "say", "no"}},
		{"nothing is nothing", "  \t ", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Normalize(c.in); !reflect.DeepEqual(got, c.want) {
				t.Errorf("Normalize(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestScore(t *testing.T) {
	cases := []struct {
		name     string
		ref, hyp string
		want     Counts
	}{
		{"digits are spelled when the reference uses words", "go forward ten meters", "go forward 10 meters", Counts{Ref: 4}},
		{"digit strings with a leading zero are read digit by digit", "my pin is zero four one two", "my pin is 0412", Counts{Ref: 7}},
		{"digits stay digits when the reference uses digits", "go forward 10 meters", "go forward ten meters", Counts{Ref: 4, Sub: 1}},
		{"capitals from the baseline do not count", "he was not an ill disposed young man", "He was not an illness those young man", Counts{Ref: 8, Sub: 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Score(c.ref, c.hyp); got != c.want {
				t.Errorf("Score(%q, %q) = %+v, want %+v", c.ref, c.hyp, got, c.want)
			}
		})
	}
}
