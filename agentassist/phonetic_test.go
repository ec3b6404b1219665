package agentassist

import (
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/earshot/earshot/insights"
)

// systemDict returns the CMUdict that ships with the recognizer model, or
// skips: phonetic matching is tested against the real dictionary because
// its pronunciations are what decide the matches.
func systemDict(t testing.TB) *Dict {
	t.Helper()
	if _, err := os.Stat(DefaultDictPath); err != nil {
		t.Skipf("no CMUdict at %s (install pocketsphinx-en-us)", DefaultDictPath)
	}
	d, err := DefaultDict()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDefaultDictIsLoadedOnce(t *testing.T) {
	a := systemDict(t)
	b, _ := DefaultDict()
	if a != b {
		t.Error("DefaultDict returned two different dictionaries")
	}
	if got := a.Pronunciations("cancel"); len(got) == 0 || got[0] != "K AE N S AH L" {
		t.Errorf("cancel = %q", got)
	}
}

func TestReadDict(t *testing.T) {
	const src = ";;; comment\nCANCEL  K AE1 N S AH0 L\ncan K AE N\ncan(2) K AH N\nbogus XX YY\n"
	d, err := ReadDict(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, word, want string
	}{
		{"stress marks are stripped and case folded", "cancel", "K AE N S AH L"},
		{"alternatives are kept in order", "can", "K AE N|K AH N"},
		{"a line with unknown phones is skipped", "bogus", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(d.Pronunciations(tc.word), "|"); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := ReadDict(strings.NewReader("nothing here\n")); !errors.Is(err, ErrDict) {
		t.Errorf("empty dictionary: err = %v, want ErrDict", err)
	}
	if _, err := LoadDict("/nonexistent/dict"); !errors.Is(err, ErrDict) {
		t.Errorf("missing file: err = %v, want ErrDict", err)
	}
}

func TestPhoneticMatching(t *testing.T) {
	d := systemDict(t)
	tests := []struct {
		name      string
		phrase    string
		utterance string
		want      bool
	}{
		{"cancel matches the misrecognized can sell", "cancel", "i want to can sell my account", true},
		{"cancel my account matches can sell my count", "cancel my account", "i'd like to can sell my a count", true},
		{"supervisor matches super visor", "supervisor", "get me your super visor", true},
		{"manager matches manage her", "manager", "i want to speak to your manage her", true},
		{"recorded for quality matches record it for quality", "recorded for quality", "this call is record it for quality", true},
		{"cancel does not match can tell", "cancel", "i can tell you the number", false},
		{"cancel does not match check my balance", "cancel", "i want to check my balance", false},
		{"a short word must match exactly: quit is not quite", "quit", "that is quite right", false},
		{"a phrase does not match inside a word", "leave", "please believe me", false},
		{"supervisor does not match super advisor service", "supervisor", "it was super fast", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var seq phoneSeq
			d.utterancePhones(tokenize(tc.utterance), &seq)
			prons := d.phraseProns(tokenize(tc.phrase))
			if len(prons) == 0 {
				t.Fatalf("no pronunciation for %q", tc.phrase)
			}
			got := false
			for _, p := range prons {
				if _, ok := phoneticMatch(p, &seq, nil); ok {
					got = true
				}
			}
			if got != tc.want {
				t.Errorf("phoneticMatch(%q in %q) = %v, want %v", tc.phrase, tc.utterance, got, tc.want)
			}
		})
	}
}

func TestPhraseRulesUsePronunciationsAndFallBackToStems(t *testing.T) {
	d := systemDict(t)
	const yml = `
rules:
  - id: r
    any_of:
      - phrase: {speaker: caller, any_of: [cancel my account]}
    actions:
      - hint: {id: h, title: T, text: X}
`
	u := insights.Utterance{Speaker: insights.Caller, Start: 0, End: ms(2000), Text: "i want to can sell my account"}
	tests := []struct {
		name string
		opts Options
		want int
	}{
		{"with the dictionary the misrecognition matches", Options{Dict: d}, 1},
		{"without it only stems match, so it does not", Options{NoPhonetic: true}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pb, err := ParsePlaybookWith("t.yaml", []byte(yml), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if pb.Phonetic() != (tc.opts.Dict != nil) {
				t.Errorf("Phonetic() = %v", pb.Phonetic())
			}
			if got := len(pb.NewSession(SessionConfig{}).OnUtterance(u, neutral, false)); got != tc.want {
				t.Errorf("got %d actions, want %d", got, tc.want)
			}
		})
	}
}

func TestAllowanceGrowsWithLength(t *testing.T) {
	tests := []struct{ n, want int }{{0, 0}, {4, 0}, {5, 2}, {9, 2}, {10, 4}, {15, 6}, {40, 6}}
	for _, tc := range tests {
		if got := allowance(tc.n); got != tc.want {
			t.Errorf("allowance(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

// fullMatch is the plain dynamic programme without the cut-off, kept as the
// reference phoneticMatch must agree with.
func fullMatch(pron string, seq *phoneSeq) bool {
	m, n := len(pron), len(seq.phones)
	if m == 0 || n == 0 {
		return false
	}
	limit := int32(allowance(m))
	const inf = 1 << 20
	col := make([]int32, m+1)
	for i := 1; i <= m; i++ {
		col[i] = col[i-1] + 2
	}
	for j := 1; j <= n; j++ {
		u := seq.phones[j-1]
		diag := col[0]
		col[0] = inf
		if seq.bound[j] {
			col[0] = 0
		}
		for i := 1; i <= m; i++ {
			up := col[i]
			col[i] = min(diag+int32(subCost[pron[i-1]][u]), up+2, col[i-1]+2)
			diag = up
		}
		if seq.bound[j] && col[m] <= limit {
			return true
		}
	}
	return false
}

func TestCutOffMatchAgreesWithTheFullDynamicProgramme(t *testing.T) {
	// A small phone alphabet makes near matches common, which is where a
	// wrong cut-off would show.
	alphabet := []byte{phoneIndex["K"], phoneIndex["AE"], phoneIndex["AH"], phoneIndex["N"], phoneIndex["M"], phoneIndex["S"], phoneIndex["Z"], phoneIndex["L"], oovPhone}
	r := rand.New(rand.NewPCG(1, 2))
	var col []int32
	matches := 0
	for trial := range 20000 {
		var seq phoneSeq
		seq.bound = append(seq.bound, true)
		for range 1 + r.IntN(12) {
			wl := 1 + r.IntN(4)
			for k := range wl {
				seq.phones = append(seq.phones, alphabet[r.IntN(len(alphabet)-1)])
				seq.bound = append(seq.bound, k == wl-1)
			}
		}
		var pron []byte
		if trial%2 == 0 {
			// Half the phrases are a stretch of the utterance with a few
			// random edits, so near matches are common.
			a := r.IntN(len(seq.phones))
			b := a + 1 + r.IntN(len(seq.phones)-a)
			pron = append(pron, seq.phones[a:b]...)
			for range r.IntN(3) {
				k := r.IntN(len(pron))
				switch r.IntN(3) {
				case 0:
					pron[k] = alphabet[r.IntN(len(alphabet)-1)]
				case 1:
					if len(pron) > 1 {
						pron = append(pron[:k], pron[k+1:]...)
					}
				default:
					pron = append(pron[:k], append([]byte{alphabet[r.IntN(len(alphabet)-1)]}, pron[k:]...)...)
				}
			}
		} else {
			pron = make([]byte, 1+r.IntN(16))
			for i := range pron {
				pron[i] = alphabet[r.IntN(len(alphabet)-1)]
			}
		}
		want := fullMatch(string(pron), &seq)
		var got bool
		col, got = phoneticMatch(string(pron), &seq, col)
		if got != want {
			t.Fatalf("trial %d: pron %v in %v (bounds %v): cut-off %v, full %v", trial, pron, seq.phones, seq.bound, got, want)
		}
		if want {
			matches++
		}
	}
	if matches < 2000 {
		t.Errorf("only %d of 20000 random cases matched; the test is not exercising near matches", matches)
	}
	t.Logf("%d of 20000 random cases matched", matches)
}
