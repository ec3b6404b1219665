package store

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// compatDir holds a database written by the store as it was at f701d06
// (seconds as floats, untyped ids) and what that store's Detail and List
// answered for it. See testdata/datadir-f701d06/README.md.
const compatDir = "testdata/datadir-f701d06"

// openCompat opens a copy of the old database: Open may rewrite it.
func openCompat(t *testing.T) *Store {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(compatDir, "earshot.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "earshot.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	// The fixture's calls were written with 100 years of retention.
	s, err := Open(path, Config{Retention: 100 * 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// sameJSON reports whether got and the golden file hold the same JSON
// value, whatever the key order and spacing.
func sameJSON(t *testing.T, got any, golden string) {
	t.Helper()
	gotJSON, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, err := os.ReadFile(filepath.Join(compatDir, golden))
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(gotJSON, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(wantJSON, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s differs from what the old store answered:\n got %s\nwant %s", golden, gotJSON, wantJSON)
	}
}

// TestReadsDataWrittenByTheOldStore: a data directory written before the
// store had typed ids and durations reads back the same, through the REST
// API's JSON and through the typed fields.
func TestReadsDataWrittenByTheOldStore(t *testing.T) {
	s := openCompat(t)
	ended, err := s.Detail("c-compat-1")
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, ended, "c-compat-1.detail.json")
	live, err := s.Detail("c-compat-2")
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, live, "c-compat-2.detail.json")
	page, err := s.List(Query{})
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, page, "list.json")

	checks := []struct {
		name      string
		got, want any
	}{
		{"duration", ended.Duration, 95020 * time.Millisecond},
		{"audio", ended.Audio, 95020 * time.Millisecond},
		{"agent", ended.AgentID, AgentID("A17")},
		{"end reason", string(ended.EndReason), "end"},
		{"open speech from", ended.Channels[0].OpenSpeechFrom, 93470 * time.Millisecond},
		{"first utterance start", ended.Utterances[0].Start, 1230 * time.Millisecond},
		{"first utterance end", ended.Utterances[0].End, 1830 * time.Millisecond},
		{"first word", ended.Utterances[0].Words[0].Text, "hello"},
		{"sentiment score", ended.Utterances[0].Sentiment.Score, -0.4},
		{"second utterance sentiment", ended.Utterances[1].Sentiment == nil, true},
		{"gap from", ended.Gaps[0].From, 1010 * time.Millisecond},
		{"pause to", ended.Gaps[1].To, 47930 * time.Millisecond},
		{"segment end", ended.Segments[1].End, 3.12},
		{"live call audio", live.Audio, 10020 * time.Millisecond},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestReplacesAnUtteranceWrittenByTheOldStore: an utterance's key is made
// from its start as the old store made it from seconds, so a resumed call
// replaces the part an old engine stored, not adds beside it.
func TestReplacesAnUtteranceWrittenByTheOldStore(t *testing.T) {
	s := openCompat(t)
	d, err := s.Detail("c-compat-1")
	if err != nil {
		t.Fatal(err)
	}
	old := d.Utterances[1]
	whole := old
	whole.Text, whole.End, whole.Seq = "how can i help you today", 4200*time.Millisecond, 11
	if err := s.ReplaceUtterance("c-compat-1", old, whole); err != nil {
		t.Fatal(err)
	}
	d, err = s.Detail("c-compat-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Utterances) != 2 || d.Utterances[1].Text != whole.Text {
		t.Errorf("utterances after the replace: %+v, want the first and the whole second", d.Utterances)
	}
}
