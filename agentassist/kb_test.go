package agentassist

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/earshot/earshot/insights"
)

func openSampleKB(t testing.TB) *KB {
	t.Helper()
	k, err := OpenKBDir("../samples/kb")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseArticle(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		title     string
		summary   string
		bodyStart string
		err       bool
	}{
		{"front matter gives title, keywords and summary", "---\ntitle: Refunds\nkeywords: [money back]\nsummary: Short.\n---\nBody text.\n", "Refunds", "Short.", "Body text.", false},
		{"a first-line heading gives the title and leaves the body", "# Late fees\n\nFirst paragraph\nwraps here.\n\nSecond.\n", "Late fees", "First paragraph wraps here.", "First paragraph", false},
		{"no title is refused", "Just text.\n", "", "", "", true},
		{"an unknown front matter key is refused", "---\ntitle: X\nauthor: me\n---\nBody\n", "", "", "", true},
		{"unclosed front matter is refused", "---\ntitle: X\nBody\n", "", "", "", true},
		{"windows line ends are accepted", "---\r\ntitle: X\r\n---\r\nBody\r\n", "X", "Body", "Body", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseArticle("art", []byte(tc.src))
			if tc.err {
				if !errors.Is(err, ErrKB) {
					t.Fatalf("err = %v, want ErrKB", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Title != tc.title || a.Summary != tc.summary || !strings.HasPrefix(a.Body, tc.bodyStart) {
				t.Errorf("got %+v", a)
			}
		})
	}
}

func TestOpenKBRefusesEmptyAndBadDirectories(t *testing.T) {
	if _, err := OpenKB(fstest.MapFS{}); !errors.Is(err, ErrKB) {
		t.Errorf("empty: err = %v", err)
	}
	bad := fstest.MapFS{"x.md": {Data: []byte("no title")}}
	if _, err := OpenKB(bad); !errors.Is(err, ErrKB) || !strings.Contains(err.Error(), "x.md") {
		t.Errorf("bad article: err = %v", err)
	}
}

func TestSampleKBHasTheRequiredArticles(t *testing.T) {
	k := openSampleKB(t)
	ids := k.IDs()
	if len(ids) < 12 {
		t.Errorf("%d articles, want at least 12", len(ids))
	}
	a, ok := k.Article("card-payments")
	if !ok || a.Title == "" || !strings.Contains(a.Body, "secure payment line") {
		t.Errorf("card-payments = %+v, %v", a, ok)
	}
	if _, ok := k.Article("nope"); ok {
		t.Error("unknown article found")
	}
}

// TestSuggestCalibration is the threshold's calibration set, written as a
// caller would put each topic (not taken from the sample scripts): every
// on-topic turn must rank its article first above DefaultMinScore, and
// small talk must stay below it.
func TestSuggestCalibration(t *testing.T) {
	k := openSampleKB(t)
	onTopic := []struct{ query, article string }{
		{"i want to cancel my account", "cancellation"},
		{"i'm thinking of switching to another provider it's too expensive", "cancellation"},
		{"i was charged twice this month", "duplicate-charges"},
		{"there are two payments on my statement for the same bill", "duplicate-charges"},
		{"my internet has been down since yesterday", "outages"},
		{"i can't log in i forgot my password", "password-reset"},
		{"my account is locked", "password-reset"},
		{"where is my order it hasn't arrived", "shipping-delays"},
		{"my parcel is late the tracking hasn't moved", "shipping-delays"},
		{"i'm moving house next month", "address-change"},
		{"i'd like to pay my bill by card", "card-payments"},
		{"why is my bill so high this month", "bill-increase"},
		{"i got a late fee", "late-fees"},
		{"i want my money back", "refunds"},
		{"i'd like to upgrade to a faster plan", "plan-changes"},
		{"i want to make a formal complaint", "escalation-policy"},
		{"the router lights are flashing red and the wifi keeps dropping", "router-reboot"},
		{"i don't want this call recorded what do you do with my personal data", "recording-privacy"},
	}
	for _, tc := range onTopic {
		t.Run("the caller saying "+tc.query+" gets "+tc.article, func(t *testing.T) {
			hits, err := k.Suggest(tc.query, 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(hits) == 0 || hits[0].Article != tc.article || hits[0].Score < DefaultMinScore {
				t.Fatalf("hits = %+v", hits)
			}
			t.Logf("score %.3f (next %s)", hits[0].Score, describeHits(hits[1:]))
		})
	}
	for _, q := range []string{"hello how are you", "yes that's right", "my name is john smith", "thank you very much", "okay", "yeah sure go ahead", "it's four five six seven", "good morning", "one moment please"} {
		t.Run("small talk "+q+" stays below the threshold", func(t *testing.T) {
			hits, err := k.Suggest(q, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(hits) > 0 && hits[0].Score >= DefaultMinScore {
				t.Errorf("hits = %+v", hits)
			}
			t.Logf("best %s", describeHits(hits))
		})
	}
}

func TestSuggester(t *testing.T) {
	k := openSampleKB(t)
	c := func(startS, endS float64, text string) insights.Utterance {
		return insights.Utterance{Speaker: insights.Caller, Start: secs(startS), End: secs(endS), Text: text}
	}
	type step struct {
		u    insights.Utterance
		want string
	}
	tests := []struct {
		name  string
		mark  string
		steps []step
	}{
		{"an on-topic turn suggests its article once per call", "", []step{
			{c(1, 4, "i was charged twice for my bill"), "hint:kb:duplicate-charges@4000"},
			{c(5, 8, "yes charged twice, two payments"), ""},
			{c(9, 12, "and i was charged twice last month too"), ""},
		}},
		{"agent turns are ignored", "", []step{
			{insights.Utterance{Speaker: insights.Agent, End: secs(3), Text: "i was charged twice"}, ""},
		}},
		{"a thank-you after an on-topic turn suggests nothing new", "", []step{
			{c(1, 4, "my parcel hasn't arrived"), "hint:kb:shipping-delays@4000"},
			{c(5, 6, "thank you"), ""},
		}},
		{"an article already shown by a playbook hint is not suggested", "cancellation", []step{
			{c(1, 4, "i want to cancel my account"), ""},
		}},
		{"a new topic later in the call gets its own article", "", []step{
			{c(1, 4, "i forgot my password and i'm locked out"), "hint:kb:password-reset@4000"},
			{c(100, 104, "also i got a late payment fee on my bill"), "hint:kb:late-fees@104000"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := k.NewSuggester(SuggesterConfig{})
			if tc.mark != "" {
				s.MarkShown(tc.mark)
			}
			for i, st := range tc.steps {
				got, err := s.OnUtterance(st.u)
				if err != nil {
					t.Fatal(err)
				}
				if ids(got) != st.want {
					t.Errorf("step %d: got %q, want %q", i, ids(got), st.want)
				}
				for _, a := range got {
					art, _ := k.Article(a.KB)
					if a.Title != art.Title || a.Text == "" || a.Rule != "kb" || a.At != st.u.End {
						t.Errorf("suggestion fields: %+v", a)
					}
				}
			}
		})
	}
}

func TestCheckKB(t *testing.T) {
	k := openSampleKB(t)
	pb := mustParse(t, `
rules:
  - id: r
    any_of:
      - digits:
    actions:
      - hint: {id: h, title: T, text: X, kb: no-such-article}
`)
	if err := pb.CheckKB(k); !errors.Is(err, ErrUnknownArticle) || !strings.Contains(err.Error(), "test.yaml:3") {
		t.Errorf("err = %v", err)
	}
	def, err := LoadPlaybook("../samples/playbook.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := def.CheckKB(k); err != nil {
		t.Errorf("default playbook vs sample KB: %v", err)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func describeHits(hs []Suggestion) string {
	if len(hs) == 0 {
		return "none"
	}
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = fmt.Sprintf("%s=%.3f", h.Article, h.Score)
	}
	return strings.Join(parts, " ")
}
