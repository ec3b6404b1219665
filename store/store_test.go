package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tidwall/buntdb"

	"github.com/earshot/earshot/protocol"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func open(t *testing.T, path string, cfg Config) *Store {
	t.Helper()
	s, err := Open(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func call(id CallID, agent AgentID, start time.Time) Call {
	return Call{ID: id, AgentID: agent, StartedAt: start, Status: StatusLive, Ack: -1}
}

func TestCallLifecycleSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "earshot.db")
	s := open(t, path, Config{})
	c := call("c-1", "A17", t0)
	if err := s.CreateCall(c); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateCall(c); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	for seq := uint64(1); seq <= 3; seq++ {
		if err := s.AppendEvent("c-1", seq, []byte(fmt.Sprintf(`{"type":"x","seq":%d}`, seq))); err != nil {
			t.Fatal(err)
		}
	}
	// Utterances arrive out of start order (the caller's final comes after
	// the agent's later one); Detail returns them in call order.
	if err := s.AppendUtterance("c-1", Utterance{Speaker: protocol.ChannelCaller, Start: sec(2.5), End: sec(3), Text: "second"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendUtterance("c-1", Utterance{Speaker: protocol.ChannelAgent, Start: sec(0.5), End: sec(2), Text: "first"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendHint("c-1", "retention_offer", []byte(`{"type":"hint","id":"retention_offer","title":"one"}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendHint("c-1", "retention_offer", []byte(`{"type":"hint","id":"retention_offer","title":"two"}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFeedback("c-1", "retention_offer", Feedback{Action: "accept", At: t0, By: "A17"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendGap("c-1", Gap{FromSeq: 10, ToSeq: 19, From: sec(0.1), To: sec(0.2), Frames: 10, Reason: "buffer_overflow"}); err != nil {
		t.Fatal(err)
	}
	end := t0.Add(time.Minute)
	c.Status, c.EndedAt, c.Frames = StatusEnded, &end, 3000
	if err := s.PutCall(c); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	s2 := open(t, path, Config{})
	d, err := s2.Detail("c-1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != StatusEnded || d.Frames != 3000 || d.EndedAt == nil {
		t.Errorf("summary not kept: %+v", d.Call)
	}
	if len(d.Events) != 3 || !strings.Contains(string(d.Events[2]), `"seq":3`) {
		t.Errorf("events %s", d.Events)
	}
	if len(d.Utterances) != 2 || d.Utterances[0].Text != "first" {
		t.Errorf("utterances %+v", d.Utterances)
	}
	if len(d.Hints) != 1 || !strings.Contains(string(d.Hints[0].Event), "one") || d.Hints[0].Feedback == nil || d.Hints[0].Feedback.Action != "accept" {
		t.Errorf("hints %+v", d.Hints)
	}
	if len(d.Gaps) != 1 || d.Gaps[0].Frames != 10 {
		t.Errorf("gaps %+v", d.Gaps)
	}
	// The list index was rebuilt on open.
	p, err := s2.List(Query{AgentID: "A17"})
	if err != nil || len(p.Calls) != 1 {
		t.Errorf("list after reopen: %+v %v", p, err)
	}
}

func TestErrors(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "db"), Config{})
	if err := s.CreateCall(call("ok", "A1", t0)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		err  error
		want error
	}{
		{"an unknown call is not found", func() error { _, err := s.Detail("nope"); return err }(), ErrNotFound},
		{"an event for an unknown call is refused", s.AppendEvent("nope", 1, []byte(`{}`)), ErrNotFound},
		{"feedback on an unknown hint is not found", s.SetFeedback("ok", "nohint", Feedback{Action: "accept"}), ErrNotFound},
		{"an id with a slash is bad", s.CreateCall(call("a/b", "A1", t0)), ErrBadID},
		{"an empty id is bad", func() error { _, err := s.GetCall(""); return err }(), ErrBadID},
		{"a made-up cursor is bad", func() error { _, err := s.List(Query{Cursor: "zzz"}); return err }(), ErrBadCursor},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.want) {
				t.Errorf("got %v, want %v", tt.err, tt.want)
			}
		})
	}
}

func TestSecondProcessIsLockedOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	open(t, path, Config{})
	if _, err := Open(path, Config{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
}

func TestCallsWithTheSameIDPrefixStaySeparate(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "db"), Config{})
	for _, id := range []CallID{"a", "a:b", "a.1"} {
		if err := s.CreateCall(call(id, "A1", t0)); err != nil {
			t.Fatal(err)
		}
		if err := s.AppendEvent(id, 1, []byte(`{"id":"`+id+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	d, err := s.Detail("a")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Events) != 1 {
		t.Errorf("call a sees %d events: %s", len(d.Events), d.Events)
	}
}

func f(v float64) *float64 { return &v }

func TestListFiltersAndPaginates(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "db"), Config{})
	// 30 calls a minute apart; agents alternate; every third is churn risk;
	// caller sentiment falls from 0.9 in steps of 0.05. Calls 10 and 11
	// start at the same instant to exercise ties in the cursor.
	for i := 0; i < 30; i++ {
		c := call(CallID(fmt.Sprintf("c-%02d", i)), []AgentID{"A1", "A2"}[i%2], t0.Add(time.Duration(i)*time.Minute))
		if i == 11 {
			c.StartedAt = t0.Add(10 * time.Minute)
		}
		if i%3 == 0 {
			c.Categories = []string{"churn_risk"}
		}
		c.Sentiment.Caller = 0.9 - 0.05*float64(i)
		if err := s.CreateCall(c); err != nil {
			t.Fatal(err)
		}
	}
	all := func(q Query) []string {
		var ids []string
		for pages := 0; ; pages++ {
			p, err := s.List(q)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range p.Calls {
				ids = append(ids, string(c.ID))
			}
			if p.NextCursor == "" || pages > 100 {
				return ids
			}
			q.Cursor = p.NextCursor
		}
	}
	count := func(pred func(i int) bool) int {
		n := 0
		for i := 0; i < 30; i++ {
			if pred(i) {
				n++
			}
		}
		return n
	}
	tests := []struct {
		name string
		q    Query
		want int
	}{
		{"all calls come back newest first across pages of 7", Query{Limit: 7}, 30},
		{"an agent filter returns only that agent's calls", Query{AgentID: "A1", Limit: 4}, 15},
		{"a time range is inclusive at both ends", Query{From: t0.Add(5 * time.Minute), To: t0.Add(9 * time.Minute), Limit: 2}, 5},
		{"a category filter keeps churn calls", Query{Category: "churn_risk", Limit: 3}, 10},
		{"a sentiment range filters on the caller", Query{SentimentMin: f(-0.001), SentimentMax: f(0.5001), Limit: 5}, count(func(i int) bool { v := 0.9 - 0.05*float64(i); return v >= -0.001 && v <= 0.5001 })},
		{"agent and category combine", Query{AgentID: "A2", Category: "churn_risk"}, count(func(i int) bool { return i%2 == 1 && i%3 == 0 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := all(tt.q)
			if len(ids) != tt.want {
				t.Fatalf("got %d calls %v, want %d", len(ids), ids, tt.want)
			}
			seen := map[string]bool{}
			var prev Call
			for i, id := range ids {
				if seen[id] {
					t.Fatalf("call %s on two pages", id)
				}
				seen[id] = true
				c, _ := s.GetCall(CallID(id))
				if i > 0 && c.StartedAt.After(prev.StartedAt) {
					t.Errorf("%s is newer than the call before it", id)
				}
				if tt.q.AgentID != "" && c.AgentID != tt.q.AgentID {
					t.Errorf("%s belongs to %s", id, c.AgentID)
				}
				prev = c
			}
		})
	}
}

func TestRetentionExpiresEveryKeyOfACall(t *testing.T) {
	// The store's clock runs with the real one, as in production: buntdb
	// expires keys by the real clock, so a frozen clock would give keys
	// written later a later expiry.
	realStart := time.Now()
	clock := func() time.Time { return t0.Add(time.Since(realStart)) }
	s := open(t, filepath.Join(t.TempDir(), "db"), Config{Retention: 2 * time.Second, Now: clock})
	// The call started 1 s before "now", so its keys expire about 1 s from now.
	if err := s.CreateCall(call("old", "A1", t0.Add(-time.Second))); err != nil {
		t.Fatal(err)
	}
	// A record written later (on a busy machine, much later) must not
	// outlive its call.
	time.Sleep(300 * time.Millisecond) // the delay under test, not synchronization
	if err := s.AppendEvent("old", 1, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the call to expire", func() bool {
		_, err := s.GetCall("old")
		return errors.Is(err, ErrNotFound)
	})
	// Its event expires with it: not readable 100 ms later (a floor of 1 s
	// on the TTL once let it live on for most of a second).
	waitFor(t, 100*time.Millisecond, "the call's event to expire with it", func() bool {
		return len(readableKeys(t, s, "evt:*")) == 0
	})
	// And buntdb's sweep (once a second) removes every key from the file.
	waitFor(t, 5*time.Second, "the sweep to remove the call's keys", func() bool {
		n := 0
		_ = s.db.View(func(tx *buntdb.Tx) error {
			return tx.AscendKeys("*", func(string, string) bool { n++; return true })
		})
		return n == 0
	})
}

// readableKeys lists the keys matching pattern that a read still returns
// (AscendKeys also lists expired keys that the sweep has not removed yet).
func readableKeys(t *testing.T, s *Store, pattern string) []string {
	t.Helper()
	var keys, readable []string
	if err := s.db.View(func(tx *buntdb.Tx) error {
		if err := tx.AscendKeys(pattern, func(k, _ string) bool { keys = append(keys, k); return true }); err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := tx.Get(k); err == nil {
				readable = append(readable, k)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return readable
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

func TestParseSyncPolicy(t *testing.T) {
	for in, want := range map[string]SyncPolicy{"": SyncEverySecond, "always": SyncAlways, "never": SyncNever} {
		if got, err := ParseSyncPolicy(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := ParseSyncPolicy("sometimes"); err == nil {
		t.Error("bad policy accepted")
	}
}

func TestDetailJSONHasTheDocumentedFields(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "db"), Config{})
	if err := s.CreateCall(call("c", "A1", t0)); err != nil {
		t.Fatal(err)
	}
	d, err := s.Detail("c")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(d)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, k := range []string{"id", "agent_id", "started_at", "duration_s", "status", "categories", "sentiment", "talk_ratio", "hints", "alerts", "utterances", "events", "gaps"} {
		if _, ok := m[k]; !ok {
			t.Errorf("detail JSON lacks %q: %s", k, b)
		}
	}
}

func TestLastEventSeq(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "db"), Config{})
	for _, id := range []CallID{"a", "b"} {
		if err := s.CreateCall(call(id, "A1", t0)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.LastEventSeq("a"); err != nil || n != 0 {
		t.Fatalf("no events: %d %v", n, err)
	}
	for _, seq := range []uint64{3, 12, 7} {
		s.AppendEvent("a", seq, []byte(`{}`))
	}
	s.AppendEvent("b", 99, []byte(`{}`))
	if n, err := s.LastEventSeq("a"); err != nil || n != 12 {
		t.Fatalf("got %d %v, want 12", n, err)
	}
}

// FuzzListCursor feeds List cursors a client could send: anything but a
// cursor this store made must be ErrBadCursor or a valid page, never a panic.
func FuzzListCursor(f *testing.F) {
	f.Add("")
	f.Add("zzz")
	f.Add(encodeCursor(cursor{NS: 5, Key: "call:x"}))
	f.Add(encodeCursor(cursor{NS: -1 << 63, Key: "call:"}))
	f.Add("eyJuIjoxLCJrIjoiZXZ0OngifQ")
	dir := f.TempDir()
	s, err := Open(filepath.Join(dir, "db"), Config{})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 5; i++ {
		s.CreateCall(call(CallID(fmt.Sprintf("c%d", i)), "A1", t0.Add(time.Duration(i)*time.Minute)))
	}
	f.Fuzz(func(t *testing.T, cur string) {
		p, err := s.List(Query{Cursor: cur, Limit: 2})
		if err != nil && !errors.Is(err, ErrBadCursor) {
			t.Fatalf("cursor %q: %v", cur, err)
		}
		if err == nil && len(p.Calls) > 2 {
			t.Fatalf("page of %d", len(p.Calls))
		}
	})
}

func TestReplaceUtterance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "earshot.db")
	s := open(t, path, Config{})
	if err := s.CreateCall(call("c-1", "A17", t0)); err != nil {
		t.Fatal(err)
	}
	part := Utterance{Speaker: protocol.ChannelCaller, Start: sec(10.24), End: sec(11.5), Text: "i would like", Seq: 40}
	other := Utterance{Speaker: protocol.ChannelAgent, Start: sec(10.5), End: sec(11), Text: "mm", Seq: 41}
	for _, u := range []Utterance{part, other} {
		if err := s.AppendUtterance("c-1", u); err != nil {
			t.Fatal(err)
		}
	}
	whole := Utterance{Speaker: protocol.ChannelCaller, Start: sec(10.24), End: sec(13), Text: "i would like to cancel", Seq: 57}
	if err := s.ReplaceUtterance("c-1", part, whole); err != nil {
		t.Fatal(err)
	}
	d, err := s.Detail("c-1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range d.Utterances {
		got = append(got, fmt.Sprintf("%s %d %q", u.Speaker, u.Seq, u.Text))
	}
	if want := `[caller 57 "i would like to cancel" agent 41 "mm"]`; fmt.Sprint(got) != want {
		t.Errorf("utterances %v, want %v", got, want)
	}
	if err := s.ReplaceUtterance("c-2", part, whole); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown call: %v, want ErrNotFound", err)
	}
}

// withUmask runs the test under umask 022, the usual default, under which
// a file created 0666 (as buntdb does) ends up 0644.
func withUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestTheDatabaseFileIsOnlyReadableByItsOwner(t *testing.T) {
	withUmask(t)
	t.Run("a new file is created 0600", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "earshot.db")
		s := open(t, path, Config{})
		if err := s.CreateCall(call("c-1", "A17", t0)); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, path + ".lock"} {
			if m := mode(t, p); m != 0o600 {
				t.Errorf("%s: mode %v, want 0600", filepath.Base(p), m)
			}
		}
	})
	t.Run("a file an older version left 0644 is tightened at open", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "earshot.db")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		open(t, path, Config{})
		if m := mode(t, path); m != 0o600 {
			t.Errorf("mode %v, want 0600", m)
		}
	})
	t.Run("the compacted file of a shrink stays 0600", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "earshot.db")
		s := open(t, path, Config{})
		for i := range 20 {
			if err := s.CreateCall(call(CallID(fmt.Sprintf("c-%d", i)), "A17", t0)); err != nil {
				t.Fatal(err)
			}
		}
		before, _ := os.Stat(path)
		if err := s.Shrink(); err != nil {
			t.Fatal(err)
		}
		after, _ := os.Stat(path)
		if os.SameFile(before, after) {
			t.Fatal("Shrink did not replace the file; the test shows nothing")
		}
		if m := mode(t, path); m != 0o600 {
			t.Errorf("mode after Shrink %v, want 0600", m)
		}
		if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Shrink left %s.tmp behind: %v", path, err)
		}
	})
}

// sec is x seconds of call time.
func sec(x float64) time.Duration { return protocol.FromSeconds(x) }
