package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/buntdb"

	"github.com/earshot/earshot/protocol"
)

// tangledSteps are the writes of a call that exercises every rule of
// applying records: an utterance replaced twice, an event seq stored
// twice (the last kept) and out of order, a hint id shown twice (the
// first kept), feedback changed (the last kept), two gaps.
func tangledSteps(id CallID, agent AgentID, start time.Time) []func(callStore) error {
	part := Utterance{Speaker: protocol.ChannelCaller, Start: sec(4), End: sec(5), Text: "my card", Seq: 5}
	more := Utterance{Speaker: protocol.ChannelCaller, Start: sec(4), End: sec(6), Text: "my card was", Seq: 9}
	whole := Utterance{Speaker: protocol.ChannelCaller, Start: sec(4), End: sec(8), Text: "my card was declined", Seq: 12, Confidence: 0.7}
	event := func(seq uint64, text string) func(callStore) error {
		return func(s callStore) error {
			return s.AppendEvent(id, seq, fmt.Appendf(nil, `{"type":"transcript.final","seq":%d,"text":%q}`, seq, text))
		}
	}
	hint := func(hintID, n string) func(callStore) error {
		return func(s callStore) error { return s.AppendHint(id, hintID, []byte(`{"type":"hint","n":`+n+`}`)) }
	}
	feedback := func(hintID, action string, at time.Duration) func(callStore) error {
		return func(s callStore) error {
			return s.SetFeedback(id, hintID, Feedback{Action: action, At: start.Add(at), By: string(agent)})
		}
	}
	return []func(callStore) error{
		func(s callStore) error { return s.CreateCall(call(id, agent, start)) },
		func(s callStore) error {
			return s.AppendUtterance(id, Utterance{Speaker: protocol.ChannelAgent, Start: sec(0.5), End: sec(2), Text: "hello", Seq: 1})
		},
		func(s callStore) error { return s.AppendUtterance(id, part) },
		event(3, "three"), event(1, "one"), event(2, "two, first"), event(2, "two, again"),
		func(s callStore) error { return s.ReplaceUtterance(id, part, more) },
		hint("h1", "1"), hint("h1", "2"), hint("h2", "3"),
		feedback("h1", "accept", time.Minute), feedback("h1", "dismiss", 2*time.Minute), feedback("h2", "accept", 3*time.Minute),
		func(s callStore) error { return s.ReplaceUtterance(id, more, whole) },
		func(s callStore) error {
			return s.AppendGap(id, Gap{FromSeq: 10, ToSeq: 19, From: sec(0.1), To: sec(0.3), Frames: 10, Reason: "buffer_overflow"})
		},
		func(s callStore) error {
			return s.AppendGap(id, Gap{FromSeq: -1, From: sec(20), To: sec(25), Reason: "pause"})
		},
		func(s callStore) error {
			c := call(id, agent, start)
			end := start.Add(3 * time.Minute)
			c.Status, c.EndedAt, c.Duration, c.Hints, c.LastSeq = StatusEnded, &end, 3*time.Minute, 2, 3
			return s.PutCall(c)
		},
	}
}

func TestDetailFromJetStreamIsTheStoresDetail(t *testing.T) {
	start := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	calls := []struct {
		name  string
		id    CallID
		steps []func(callStore) error
	}{
		{"a whole call", "c-1", callSteps("c-1", "A17", start)},
		{"a call with a dot in its id", "c.2", callSteps("c.2", "A17", start.Add(time.Minute))},
		{"replaced utterances, repeated events and hints, changed feedback", "c-3", tangledSteps("c-3", "A18", start.Add(2*time.Minute))},
		{"a call with its summary only", "c-4", []func(callStore) error{
			func(s callStore) error { return s.CreateCall(call("c-4", "A19", start.Add(3*time.Minute))) },
		}},
	}
	plain, err := Open(filepath.Join(t.TempDir(), "plain.db"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	s := startJetStream(t)
	dir := t.TempDir()
	a := startNode(t, s.js, filepath.Join(dir, "a.db"), nodeConfig{journal: JournalConfig{Node: "a"}})
	for _, c := range calls {
		writeSteps(t, plain, c.steps)
		writeSteps(t, a, c.steps)
	}
	// b starts empty once the calls are written, as a node added to the
	// cluster: it has them from the stream only.
	b := startNode(t, s.js, filepath.Join(dir, "b.db"), nodeConfig{journal: JournalConfig{Node: "b"}})
	b.waitCaughtUp(t)
	for _, c := range calls {
		t.Run(c.name+" reads the same on the node that wrote it and on a node started empty", func(t *testing.T) {
			want := detailJSON(t, plain, c.id)
			for name, n := range map[string]*node{"writer": a, "node started empty": b} {
				if got := detailJSON(t, n, c.id); got != want {
					t.Errorf("%s:\n%s\nwant, as a plain store has it:\n%s", name, got, want)
				}
				wantSeq, _ := plain.LastEventSeq(c.id)
				if got, err := n.LastEventSeq(c.id); err != nil || got != wantSeq {
					t.Errorf("%s: last event seq %d (%v), want %d", name, got, err, wantSeq)
				}
			}
		})
	}
	t.Run("the projections keep no utterances, events, gaps or feedback", func(t *testing.T) {
		for name, n := range map[string]*node{"writer": a, "node started empty": b} {
			if keys := detailKeys(t, n.st); len(keys) != 0 {
				t.Errorf("%s keeps %d detail records: %q", name, len(keys), keys[:min(len(keys), 5)])
			}
		}
		if got, want := listJSON(t, b), listJSON(t, plain); got != want {
			t.Errorf("b lists\n%s\nwant\n%s", got, want)
		}
	})
	d, err := b.Detail("c-3")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Utterances) != 2 || d.Utterances[1].Text != "my card was declined" || string(d.Events[1]) != `{"type":"transcript.final","seq":2,"text":"two, again"}` ||
		len(d.Hints) != 2 || string(d.Hints[0].Event) != `{"type":"hint","n":1}` || d.Hints[0].Feedback.Action != "dismiss" || len(d.Gaps) != 2 {
		t.Errorf("the tangled call reads %+v", d)
	}
}

// detailKeys lists the keys of a store that only Detail reads.
func detailKeys(t testing.TB, st *Store) []string {
	t.Helper()
	var keys []string
	err := st.db.View(func(tx *buntdb.Tx) error {
		return tx.AscendKeys("*", func(k, _ string) bool {
			for _, p := range dropPrefixes {
				if strings.HasPrefix(k, p) {
					keys = append(keys, k)
				}
			}
			return true
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestDetailErrorsAreTheStoresOrSayWhy(t *testing.T) {
	s := startJetStream(t)
	start := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	plain, err := Open(filepath.Join(t.TempDir(), "plain.db"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	a := startNode(t, s.js, filepath.Join(t.TempDir(), "a.db"), nodeConfig{})
	writeSteps(t, a, callSteps("c-1", "A17", start)) // 10 records in the stream
	a.waitCaughtUp(t)
	small := func(cfg JournalConfig) *node {
		return startNode(t, s.js, filepath.Join(t.TempDir(), "n.db"), nodeConfig{journal: cfg})
	}
	for _, tt := range []struct {
		name  string
		n     *node
		id    CallID
		want  error
		plain error // what a plain store answers, where it is the same
	}{
		{"an unknown call is not found, as in a plain store", a, "nope", ErrNotFound, ErrNotFound},
		{"a bad id is bad, as in a plain store", a, "a/b", ErrBadID, ErrBadID},
		{"a call with more records than the cap is too large", small(JournalConfig{DetailMaxRecords: 9}), "c-1", ErrTooLarge, nil},
		{"a call of more bytes than the cap is too large", small(JournalConfig{DetailMaxBytes: 1000}), "c-1", ErrTooLarge, nil},
		{"a call within both caps reads whole", small(JournalConfig{DetailMaxRecords: 10, DetailMaxBytes: 64 << 10}), "c-1", nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.n.waitCaughtUp(t)
			d, err := tt.n.Detail(tt.id)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Detail: %v, want %v", err, tt.want)
			}
			if tt.want == nil {
				checkWholeCall(t, d)
			}
			if tt.plain != nil {
				_, perr := plain.Detail(tt.id)
				if !errors.Is(perr, tt.plain) || perr.Error() != err.Error() {
					t.Errorf("Detail: %q, a plain store: %q", err, perr)
				}
			}
		})
	}
}

func TestAProjectionFromBeforeDropsItsDetails(t *testing.T) {
	s := startJetStream(t)
	path := filepath.Join(t.TempDir(), "a.db")
	start := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	// A node whose projection kept every record, as every node did before.
	old := startNode(t, s.js, path, nodeConfig{journal: JournalConfig{KeepDetails: true}, noRun: true})
	if _, err := old.ImportLocal(t.Context()); err != nil {
		t.Fatal(err)
	}
	writeSteps(t, old, tangledSteps("c-1", "A1", start))
	want := detailJSON(t, old, "c-1")
	if len(detailKeys(t, old.st)) == 0 {
		t.Fatal("the projection that keeps details kept none")
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("not before the file is imported", func(t *testing.T) {
		fresh := startNode(t, s.js, filepath.Join(t.TempDir(), "b.db"), nodeConfig{noRun: true})
		if _, err := fresh.DropLocalDetails(); err == nil {
			t.Error("dropped the details of a file not imported into JetStream")
		}
	})
	t.Run("after an upgrade in place", func(t *testing.T) {
		a := startNode(t, s.js, path, nodeConfig{noRun: true})
		n, err := a.DropLocalDetails()
		// Two utterances, three events, two gaps, two hints' feedback.
		if err != nil || n != 9 {
			t.Errorf("dropped %d records (%v), want 9", n, err)
		}
		if keys := detailKeys(t, a.st); len(keys) != 0 {
			t.Errorf("still kept: %q", keys)
		}
		if got := detailJSON(t, a, "c-1"); got != want {
			t.Errorf("after the drop:\n%s\nwant\n%s", got, want)
		}
		if last, err := a.LastEventSeq("c-1"); last != 3 || err != nil {
			t.Errorf("last event seq %d (%v), want 3", last, err)
		}
		if n, err := a.DropLocalDetails(); n != 0 || err != nil {
			t.Errorf("a second drop: %d, %v", n, err)
		}
	})
}
