package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tidwall/buntdb"

	"github.com/earshot/earshot/protocol"
)

// callStore is what the engine uses of its store. The Journal must keep
// the Store's signatures so the engine can take either.
type callStore interface {
	CreateCall(c Call) error
	PutCall(c Call) error
	GetCall(id CallID) (Call, error)
	Detail(id CallID) (Detail, error)
	AppendEvent(id CallID, seq uint64, event []byte) error
	AppendUtterance(id CallID, u Utterance) error
	ReplaceUtterance(id CallID, old, u Utterance) error
	AppendHint(id CallID, hintID string, event []byte) error
	AppendGap(id CallID, g Gap) error
	SetFeedback(id CallID, hintID string, fb Feedback) error
	List(q Query) (Page, error)
	Calls(status string) ([]Call, error)
	LastEventSeq(id CallID) (uint64, error)
	Close() error
}

var _, _ callStore = (*Store)(nil), (*Journal)(nil)

// jetStreamServer is an embedded nats-server with JetStream and the calls
// stream, as the cluster package sets it up, for one test.
type jetStreamServer struct {
	ns     *server.Server
	js     jetstream.JetStream
	stream jetstream.Stream
}

func startJetStream(t testing.TB) *jetStreamServer {
	t.Helper()
	ns, err := server.NewServer(&server.Options{JetStream: true, StoreDir: t.TempDir(), DontListen: true, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.CreateStream(context.Background(), jetstream.StreamConfig{
		Name: DefaultJournalStream, Subjects: []string{"earshot.call.>"}, AllowMsgTTL: true, AllowRollup: true,
		Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &jetStreamServer{ns: ns, js: js, stream: stream}
}

// msgs is how many records the stream holds.
func (s *jetStreamServer) msgs(t testing.TB) uint64 {
	t.Helper()
	info, err := s.stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// node is one engine node: its own store file and a Journal on the shared
// stream.
type node struct {
	*Journal
	path string
	logs *logRecorder
	stop func() // stops Run and waits for it; idempotent
}

type nodeConfig struct {
	store   Config
	journal JournalConfig
	noRun   bool
}

func startNode(t testing.TB, js jetstream.JetStream, path string, cfg nodeConfig) *node {
	t.Helper()
	logs := &logRecorder{}
	cfg.store.Logger = slog.New(logs)
	st, err := Open(path, cfg.store)
	if err != nil {
		t.Fatal(err)
	}
	j, err := NewJournal(st, js, cfg.journal)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{Journal: j, path: path, logs: logs, stop: func() {}}
	if !cfg.noRun {
		n.run(t)
	}
	t.Cleanup(func() { n.stop(); j.Close() })
	return n
}

// run starts the node's Run in a goroutine the test owns.
func (n *node) run(t testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	var once sync.Once
	n.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
}

func (n *node) waitCaughtUp(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.WaitCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
}

// logRecorder keeps the store's log records: the tests read which stream
// sequences the projection handled from them.
type logRecorder struct {
	mu   sync.Mutex
	recs []logRec
}

type logRec struct {
	level slog.Level
	msg   string
	seq   uint64
	text  string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := logRec{level: r.Level, msg: r.Message, text: r.Message}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "stream_seq" {
			rec.seq = a.Value.Uint64()
		}
		rec.text += " " + a.String()
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, rec)
	l.mu.Unlock()
	return nil
}

// projected returns the stream sequences the projection handled with
// message msg ("" for any), in order.
func (l *logRecorder) projected(msgs ...string) []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var seqs []uint64
	for _, r := range l.recs {
		for _, m := range msgs {
			if r.msg == m {
				seqs = append(seqs, r.seq)
			}
		}
	}
	return seqs
}

func (l *logRecorder) all() []logRec {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]logRec(nil), l.recs...)
}

const (
	logApplied  = "store journal: applied"
	logAlready  = "store journal: applied already"
	logSkipped  = "store journal: skipped a message that is not a record"
	logImported = "store journal: imported"
)

// callSteps are the writes of one whole call, as the engine makes them:
// a create, utterances, events, a hint with feedback, a gap, a replaced
// utterance (a resume decoded it whole) and the final summary.
func callSteps(id CallID, agent AgentID, start time.Time) []func(callStore) error {
	part := Utterance{Speaker: protocol.ChannelCaller, Start: sec(10.24), End: sec(11.5), Text: "i would like", Seq: 40}
	whole := Utterance{Speaker: protocol.ChannelCaller, Start: sec(10.24), End: sec(13), Text: "i would like to cancel", Seq: 57, Confidence: 0.8}
	event := func(seq uint64) func(callStore) error {
		return func(s callStore) error {
			return s.AppendEvent(id, seq, fmt.Appendf(nil, `{"type":"transcript.final","seq":%d}`, seq))
		}
	}
	return []func(callStore) error{
		func(s callStore) error { return s.CreateCall(call(id, agent, start)) },
		func(s callStore) error {
			return s.AppendUtterance(id, Utterance{Speaker: protocol.ChannelAgent, Start: sec(0.5), End: sec(2), Text: "thanks for calling", Seq: 1})
		},
		event(1),
		func(s callStore) error { return s.AppendUtterance(id, part) },
		event(2),
		func(s callStore) error {
			return s.AppendHint(id, "retention_offer", []byte(`{"type":"hint","id":"retention_offer"}`))
		},
		func(s callStore) error {
			return s.SetFeedback(id, "retention_offer", Feedback{Action: "accept", At: start.Add(time.Minute), By: string(agent)})
		},
		func(s callStore) error {
			return s.AppendGap(id, Gap{FromSeq: 10, ToSeq: 19, From: sec(0.1), To: sec(0.3), Frames: 10, Reason: "buffer_overflow"})
		},
		func(s callStore) error { return s.ReplaceUtterance(id, part, whole) },
		event(3),
		func(s callStore) error {
			c := call(id, agent, start)
			end := start.Add(2 * time.Minute)
			c.Status, c.EndedAt, c.Duration, c.Frames, c.Ack = StatusEnded, &end, 2*time.Minute, 6000, 5999
			c.Categories = []string{"churn_risk"}
			return s.PutCall(c)
		},
	}
}

// callRecords is how many records callSteps leaves in a store: a summary,
// two utterances, three events, a hint, its feedback and a gap.
const callRecords = 9

func writeSteps(t testing.TB, s callStore, steps []func(callStore) error) {
	t.Helper()
	for i, step := range steps {
		if err := step(s); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
}

// detailJSON is all a store has about a call, as the REST API shows it.
func detailJSON(t testing.TB, s callStore, id CallID) string {
	t.Helper()
	d, err := s.Detail(id)
	if err != nil {
		t.Fatalf("detail of %s: %v", id, err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// localJSON is what a node's own store holds of a call: the summary, its
// highest event seq and the whole file's keys of the call.
func localJSON(t testing.TB, n *node, id CallID) string {
	t.Helper()
	c, err := n.GetCall(id)
	if err != nil {
		t.Fatal(err)
	}
	last, err := n.LastEventSeq(id)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := n.st.db.View(func(tx *buntdb.Tx) error {
		return tx.AscendKeys("*"+string(id)+"*", func(k, v string) bool {
			keys = append(keys, k+"="+v)
			return true
		})
	}); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(c)
	return fmt.Sprintf("%s last event %d, keys %q", b, last, keys)
}

func listJSON(t testing.TB, s callStore) string {
	t.Helper()
	p, err := s.List(Query{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(p)
	return string(b)
}

// checkWholeCall fails unless d is what callSteps wrote.
func checkWholeCall(t testing.TB, d Detail) {
	t.Helper()
	var utts []string
	for _, u := range d.Utterances {
		utts = append(utts, fmt.Sprintf("%s %d %q", u.Speaker, u.Seq, u.Text))
	}
	if want := `[agent 1 "thanks for calling" caller 57 "i would like to cancel"]`; fmt.Sprint(utts) != want {
		t.Errorf("utterances %v, want %v", utts, want)
	}
	if d.Status != StatusEnded || d.Frames != 6000 || len(d.Events) != 3 || len(d.Gaps) != 1 ||
		len(d.Hints) != 1 || d.Hints[0].Feedback == nil || d.Hints[0].Feedback.Action != "accept" {
		t.Errorf("detail %+v", d)
	}
}

func TestACallWrittenOnOneNodeReadsTheSameOnAnother(t *testing.T) {
	s := startJetStream(t)
	dir := t.TempDir()
	a := startNode(t, s.js, filepath.Join(dir, "a.db"), nodeConfig{journal: JournalConfig{Node: "a"}})
	b := startNode(t, s.js, filepath.Join(dir, "b.db"), nodeConfig{journal: JournalConfig{Node: "b"}})
	start := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	writeSteps(t, a, callSteps("c-1", "A17", start))
	writeSteps(t, a, callSteps("c.2", "A18", start.Add(time.Minute))) // a '.' in the id
	b.waitCaughtUp(t)
	a.waitCaughtUp(t)
	for _, id := range []CallID{"c-1", "c.2"} {
		want := detailJSON(t, a, id)
		if got := detailJSON(t, b, id); got != want {
			t.Errorf("call %s on b:\n%s\nwant, as on a:\n%s", id, got, want)
		}
		d, _ := b.Detail(id)
		checkWholeCall(t, d)
	}
	if got, want := listJSON(t, b), listJSON(t, a); got != want {
		t.Errorf("b lists %s, a %s", got, want)
	}
	if !b.CaughtUp() || b.Lag() != 0 {
		t.Errorf("b caught up %v, lag %d", b.CaughtUp(), b.Lag())
	}
	// Each node's projection handled every record once; b applied all of
	// them, a only those its consumer met before the write applied them.
	// A call's first summary is in the stream until its last rolls it up:
	// a projection that was behind then never meets it.
	records, held := 2*len(callSteps("", "", start)), int(s.msgs(t))
	for name, n := range map[string]*node{"a": a, "b": b} {
		got := n.logs.projected(logApplied, logAlready)
		if len(got) < held || len(got) > records || len(got) != len(slices.Compact(slices.Clone(got))) {
			t.Errorf("%s's projection handled records %v, want each of the %d to %d once", name, got, held, records)
		}
	}
	if got := b.logs.projected(logApplied); len(got) < held || len(got) > records {
		t.Errorf("b applied %d records, want %d to %d", len(got), held, records)
	}
	for _, r := range append(a.logs.all(), b.logs.all()...) {
		if r.level > slog.LevelDebug {
			t.Errorf("log above debug: %s", r.text)
		}
	}
}

func TestANodeCatchesUpFromTheStream(t *testing.T) {
	start := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	steps := callSteps("c-1", "A17", start)
	t.Run("a node started with an empty store catches up completely", func(t *testing.T) {
		s := startJetStream(t)
		a := startNode(t, s.js, filepath.Join(t.TempDir(), "a.db"), nodeConfig{})
		writeSteps(t, a, steps)
		c := startNode(t, s.js, filepath.Join(t.TempDir(), "c.db"), nodeConfig{})
		c.waitCaughtUp(t)
		if got, want := detailJSON(t, c, "c-1"), detailJSON(t, a, "c-1"); got != want {
			t.Errorf("c has\n%s\nwant\n%s", got, want)
		}
	})
	t.Run("a node restarted mid-way resumes after its stored sequence", func(t *testing.T) {
		s := startJetStream(t)
		a := startNode(t, s.js, filepath.Join(t.TempDir(), "a.db"), nodeConfig{})
		path := filepath.Join(t.TempDir(), "c.db")
		writeSteps(t, a, steps[:4]) // up to the part utterance
		c := startNode(t, s.js, path, nodeConfig{})
		c.waitCaughtUp(t)
		c.stop()
		// Read after the stop: WaitCaughtUp may return on the consumer's
		// word (nothing pending) while the last records are still being
		// applied.
		stoppedAt := c.AppliedSeq()
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		writeSteps(t, a, steps[4:]) // with the replace of the part
		c = startNode(t, s.js, path, nodeConfig{})
		if c.AppliedSeq() != stoppedAt {
			t.Fatalf("reopened at stream sequence %d, stopped at %d", c.AppliedSeq(), stoppedAt)
		}
		c.waitCaughtUp(t)
		seqs := c.logs.projected(logApplied, logAlready, logSkipped)
		if len(seqs) != len(steps)-4 || seqs[0] != stoppedAt+1 {
			t.Errorf("after the restart the projection handled sequences %v, want the %d after %d", seqs, len(steps)-4, stoppedAt)
		}
		d, err := c.Detail("c-1")
		if err != nil {
			t.Fatal(err)
		}
		checkWholeCall(t, d) // exactly one caller utterance: the replace held
		if got, want := detailJSON(t, c, "c-1"), detailJSON(t, a, "c-1"); got != want {
			t.Errorf("c has\n%s\nwant\n%s", got, want)
		}
	})
}

func TestARecordOlderThanTheWatermarkIsNotAppliedOverANewerOne(t *testing.T) {
	// a writes with its projection stopped; when Run starts it meets the
	// older summaries after the newest one was applied at its write.
	s := startJetStream(t)
	a := startNode(t, s.js, filepath.Join(t.TempDir(), "a.db"), nodeConfig{noRun: true})
	start := time.Now().Truncate(time.Millisecond)
	c := call("c-1", "A1", start)
	if err := a.CreateCall(c); err != nil {
		t.Fatal(err)
	}
	for frames := int64(1); frames <= 3; frames++ {
		c.Frames = frames
		if err := a.PutCall(c); err != nil {
			t.Fatal(err)
		}
	}
	// The stream keeps the newest summary only (a roll-up); hand the
	// projection a record as a lagging consumer would meet it, at a stream
	// sequence below the call's watermark: it must not be applied.
	msg, err := s.stream.GetLastMsgForSubject(context.Background(), recordSubject("c-1", kindCall))
	if err != nil {
		t.Fatal(err)
	}
	msg.Sequence = 1
	e, expires, err := decodeRecord(msg.Subject, msg.Header, msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	var applied bool
	if err := a.st.db.Update(func(tx *buntdb.Tx) error {
		applied, err = a.st.applyAt(tx, e, expires, msg.Sequence, false)
		return err
	}); err != nil || applied {
		t.Fatalf("the first record was applied again: %v %v", applied, err)
	}
	a.run(t)
	a.waitCaughtUp(t)
	got, err := a.GetCall("c-1")
	if err != nil || got.Frames != 3 {
		t.Errorf("summary after the projection ran: frames %d, %v; want 3", got.Frames, err)
	}
	if seqs := a.logs.projected(logApplied); len(seqs) != 0 {
		t.Errorf("the projection applied %v again", seqs)
	}
}

func TestJournalWritesKeepTheStoresErrorsAndPublishNothing(t *testing.T) {
	s := startJetStream(t)
	a := startNode(t, s.js, filepath.Join(t.TempDir(), "a.db"), nodeConfig{})
	if err := a.CreateCall(call("ok", "A1", time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := a.AppendHint("ok", "h1", []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	before := s.msgs(t)
	for _, tt := range []struct {
		name string
		err  error
		want error
	}{
		{"creating a call that exists fails with ErrExists", a.CreateCall(call("ok", "A1", time.Now())), ErrExists},
		{"an event for an unknown call is not found", a.AppendEvent("nope", 1, []byte(`{}`)), ErrNotFound},
		{"feedback on an unknown hint is not found", a.SetFeedback("ok", "nohint", Feedback{Action: "accept"}), ErrNotFound},
		{"an id with a slash is bad", a.CreateCall(call("a/b", "A1", time.Now())), ErrBadID},
		{"a second event of a hint id keeps the first", a.AppendHint("ok", "h1", []byte(`{"n":2}`)), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.want) {
				t.Errorf("got %v, want %v", tt.err, tt.want)
			}
		})
	}
	if after := s.msgs(t); after != before {
		t.Errorf("refused writes published %d records", after-before)
	}
	if d, _ := a.Detail("ok"); len(d.Hints) != 1 || string(d.Hints[0].Event) != `{"n":1}` {
		t.Errorf("hints %+v", d.Hints)
	}
}

func TestAWriteWithoutJetStreamFailsAndIsNotApplied(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for _, tt := range []struct {
		name string
		down func(s *jetStreamServer) error
		// the NATS connection is lost too, so the node is not caught up
		disconnected bool
	}{
		{"when the server is gone", func(s *jetStreamServer) error { s.ns.Shutdown(); return nil }, true},
		{"when JetStream is disabled", func(s *jetStreamServer) error { return s.ns.DisableJetStream() }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startJetStream(t)
			a := startNode(t, s.js, filepath.Join(t.TempDir(), "a.db"), nodeConfig{journal: JournalConfig{PublishTimeout: timeout, DetailTimeout: timeout}})
			start := time.Now()
			if err := a.CreateCall(call("c-1", "A1", start)); err != nil {
				t.Fatal(err)
			}
			if err := a.AppendHint("c-1", "h1", []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			if err := a.AppendEvent("c-1", 7, []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			before := localJSON(t, a, "c-1")
			a.waitCaughtUp(t)
			if !a.CaughtUp() {
				t.Error("not caught up before JetStream went")
			}
			if err := tt.down(s); err != nil {
				t.Fatal(err)
			}
			ended := call("c-1", "A1", start)
			ended.Status = StatusEnded
			for _, w := range []struct {
				what  string
				write func() error
			}{
				{"a new call", func() error { return a.CreateCall(call("c-2", "A1", start)) }},
				{"a summary", func() error { return a.PutCall(ended) }},
				{"an utterance", func() error { return a.AppendUtterance("c-1", Utterance{Text: "lost", Start: sec(1)}) }},
				{"a replace", func() error { return a.ReplaceUtterance("c-1", Utterance{}, Utterance{Text: "lost"}) }},
				{"an event", func() error { return a.AppendEvent("c-1", 1, []byte(`{}`)) }},
				{"a hint", func() error { return a.AppendHint("c-1", "h2", []byte(`{}`)) }},
				{"feedback", func() error { return a.SetFeedback("c-1", "h1", Feedback{Action: "accept"}) }},
				{"a gap", func() error { return a.AppendGap("c-1", Gap{From: sec(1), To: sec(2)}) }},
			} {
				t0 := time.Now()
				err := w.write()
				if took := time.Since(t0); !errors.Is(err, ErrJournalUnavailable) || took > timeout+2*time.Second {
					t.Errorf("%s: %v after %v, want ErrJournalUnavailable within %v", w.what, err, took, timeout)
				}
			}
			if after := localJSON(t, a, "c-1"); after != before {
				t.Errorf("the local store took writes JetStream did not:\n%s\nwas\n%s", after, before)
			}
			// The details are in JetStream only: without it they cannot
			// be read, and Detail says so within its timeout.
			t0 := time.Now()
			if _, err := a.Detail("c-1"); !errors.Is(err, ErrJournalUnavailable) || time.Since(t0) > timeout+2*time.Second {
				t.Errorf("Detail without JetStream: %v after %v, want ErrJournalUnavailable within %v", err, time.Since(t0), timeout)
			}
			if _, err := a.GetCall("c-2"); !errors.Is(err, ErrNotFound) {
				t.Errorf("the new call is readable: %v", err)
			}
			if tt.disconnected && a.CaughtUp() {
				t.Error("caught up without a server")
			}
		})
	}
}

func TestImportingABuntdbOnlyDirectory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "earshot.db")
	now := time.Now().Truncate(time.Millisecond)
	// An engine from before the cluster, which kept calls for a long time.
	old, err := Open(path, Config{Retention: 10 * 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	writeSteps(t, old, callSteps("c-1", "A17", now.Add(-time.Hour)))
	writeSteps(t, old, callSteps("c-2", "A18", now.Add(-2*time.Hour)))
	writeSteps(t, old, callSteps("past", "A17", now.Add(-400*24*time.Hour)))
	want := map[CallID]string{"c-1": detailJSON(t, old, "c-1"), "c-2": detailJSON(t, old, "c-2")}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	s := startJetStream(t)
	// Now with the default retention: "past" is beyond it.
	a := startNode(t, s.js, path, nodeConfig{})
	n, err := a.ImportLocal(context.Background())
	if err != nil || n != 2*callRecords {
		t.Fatalf("import: %d records, %v; want %d", n, err, 2*callRecords)
	}
	b := startNode(t, s.js, filepath.Join(dir, "b.db"), nodeConfig{})
	b.waitCaughtUp(t)
	for id, w := range want {
		if got := detailJSON(t, b, id); got != w {
			t.Errorf("call %s on b:\n%s\nwant\n%s", id, got, w)
		}
	}
	if _, err := b.GetCall("past"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a call past its retention was imported: %v", err)
	}
	held := s.msgs(t)

	t.Run("a second import publishes nothing", func(t *testing.T) {
		if n, err := a.ImportLocal(context.Background()); n != 0 || err != nil {
			t.Errorf("second import: %d, %v", n, err)
		}
		if s.msgs(t) != held {
			t.Errorf("stream holds %d records, %d before", s.msgs(t), held)
		}
	})
	t.Run("an import interrupted before its marks were written publishes nothing twice", func(t *testing.T) {
		a.waitCaughtUp(t) // the projection is done with c-1 and c-2
		if err := a.st.db.Update(func(tx *buntdb.Tx) error {
			for _, k := range []string{metaImported, watermarkPfx + "c-1", watermarkPfx + "c-2"} {
				if _, err := tx.Delete(k); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n, err := a.ImportLocal(context.Background()); n != 0 || err != nil {
			t.Errorf("import again: %d new records, %v; want 0 (duplicates)", n, err)
		}
		if s.msgs(t) != held {
			t.Errorf("stream holds %d records, %d before", s.msgs(t), held)
		}
	})
	t.Run("a node that got its calls from the stream imports none", func(t *testing.T) {
		if n, err := b.ImportLocal(context.Background()); n != 0 || err != nil {
			t.Errorf("import on b: %d, %v", n, err)
		}
		if s.msgs(t) != held {
			t.Errorf("stream holds %d records, %d before", s.msgs(t), held)
		}
	})
}

func TestACallsRecordsLeaveTheStreamWithItsRetention(t *testing.T) {
	s := startJetStream(t)
	dir := t.TempDir()
	short := startNode(t, s.js, filepath.Join(dir, "short.db"), nodeConfig{store: Config{Retention: 2 * time.Second}})
	long := startNode(t, s.js, filepath.Join(dir, "long.db"), nodeConfig{})
	start := time.Now()
	writeSteps(t, short, callSteps("brief", "A1", start))
	if err := long.CreateCall(call("kept", "A1", start)); err != nil {
		t.Fatal(err)
	}
	// The short call's records, its first summary rolled up by its last,
	// and the kept call's summary.
	if n := s.msgs(t); n != uint64(len(callSteps("", "", start))) {
		t.Fatalf("stream holds %d records", n)
	}
	waitFor(t, 10*time.Second, "the short call's records to leave the stream", func() bool { return s.msgs(t) == 1 })
	if _, err := s.stream.GetLastMsgForSubject(context.Background(), CallSubjects("kept")); err != nil {
		t.Errorf("the call kept for 90 days left the stream too: %v", err)
	}
	// Every node's projection expires the call with the stream, whatever
	// its own retention.
	long.waitCaughtUp(t)
	for name, n := range map[string]*node{"its writer": short, "a node keeping calls 90 days": long} {
		if _, err := n.GetCall("brief"); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s still has the short call: %v", name, err)
		}
	}
}

func TestAMessageThatIsNotARecordIsSkipped(t *testing.T) {
	s := startJetStream(t)
	a := startNode(t, s.js, filepath.Join(t.TempDir(), "a.db"), nodeConfig{})
	b := startNode(t, s.js, filepath.Join(t.TempDir(), "b.db"), nodeConfig{})
	start := time.Now()
	if err := a.CreateCall(call("c-1", "A1", start)); err != nil {
		t.Fatal(err)
	}
	ns := fmt.Sprint(start.Add(time.Hour).UnixNano())
	for _, m := range []*nats.Msg{
		{Subject: "earshot.call.c-1.evt", Data: []byte(`{}`)}, // no headers
		{Subject: "earshot.call.c-1.evt", Data: []byte(`{}`), Header: nats.Header{ // another call's key
			hdrKind: {kindEvent}, hdrKey: {"evt:c-2/00000000000000000001"}, hdrExpiry: {ns}}},
		{Subject: "earshot.call.c-1.call", Data: []byte(`{}`), Header: nats.Header{ // the journal's own keys
			hdrKind: {kindCall}, hdrKey: {metaStreamSeq}, hdrExpiry: {ns}}},
		{Subject: "earshot.call.c-1.evt", Data: []byte(`not json`), Header: nats.Header{
			hdrKind: {kindEvent}, hdrKey: {"evt:c-1/00000000000000000001"}, hdrExpiry: {ns}}},
	} {
		if _, err := s.js.PublishMsg(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.AppendEvent("c-1", 2, []byte(`{"ok":true}`)); err != nil {
		t.Fatal(err)
	}
	b.waitCaughtUp(t)
	if got := b.logs.projected(logSkipped); len(got) != 4 {
		t.Errorf("b skipped %v, want the 4 bad messages", got)
	}
	if got, want := detailJSON(t, b, "c-1"), detailJSON(t, a, "c-1"); got != want {
		t.Errorf("b has\n%s\nwant\n%s", got, want)
	}
	if _, err := b.GetCall("c-2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("c-2: %v", err)
	}
}

// BenchmarkJournalAppendUtterance compares a write through JetStream (an
// in-process server, file storage, the projection running as in an
// engine) with the plain store's.
func BenchmarkJournalAppendUtterance(b *testing.B) {
	u := Utterance{Speaker: protocol.ChannelCaller, Start: sec(10.24), End: sec(13), Text: "i would like to cancel my subscription please", Confidence: 0.8}
	bench := func(b *testing.B, s callStore) {
		if err := s.CreateCall(call("c-1", "A1", time.Now())); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		i := 0
		for b.Loop() {
			u.Seq = uint64(i)
			i++
			if err := s.AppendUtterance("c-1", u); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/record")
	}
	b.Run("store", func(b *testing.B) {
		st, err := Open(filepath.Join(b.TempDir(), "db"), Config{})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		bench(b, st)
	})
	b.Run("journal", func(b *testing.B) {
		s := startJetStream(b)
		n := startNode(b, s.js, filepath.Join(b.TempDir(), "db"), nodeConfig{})
		bench(b, n)
	})
}

func TestTheStreamKeepsOnlyTheNewestSummaryOfACall(t *testing.T) {
	s := startJetStream(t)
	a := startNode(t, s.js, filepath.Join(t.TempDir(), "a.db"), nodeConfig{})
	c := Call{ID: "c.1", AgentID: "A1", StartedAt: time.Now().Truncate(time.Millisecond), Status: StatusLive, Ack: -1, Categories: []string{}}
	if err := a.CreateCall(c); err != nil {
		t.Fatal(err)
	}
	// A checkpoint every 200 ms rewrites the summary: 50 of them.
	for i := range 50 {
		c.Ack, c.Frames = int64(i), int64(i+1)
		if err := a.PutCall(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.AppendUtterance("c.1", Utterance{Speaker: 1, Start: time.Second, End: 2 * time.Second, Seq: 1, Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	if got := s.msgs(t); got != 2 {
		t.Errorf("the stream holds %d messages, want 2 (the newest summary and the utterance)", got)
	}
	b := startNode(t, s.js, filepath.Join(t.TempDir(), "b.db"), nodeConfig{})
	b.waitCaughtUp(t)
	if got, err := b.GetCall("c.1"); err != nil || got.Ack != 49 {
		t.Errorf("a node that caught up has ack %d (%v), want 49", got.Ack, err)
	}
}

func TestAStreamMadeAnewGetsThisNodesCallsAgain(t *testing.T) {
	s := startJetStream(t)
	path := filepath.Join(t.TempDir(), "a.db")
	// A node that runs alone keeps its calls' details: they are all it
	// has to publish to the stream made anew.
	alone := nodeConfig{journal: JournalConfig{KeepDetails: true}}
	a := startNode(t, s.js, path, alone)
	if reset, err := a.Reconcile(context.Background()); err != nil || reset {
		t.Fatalf("the first reconcile reset (%v, %v)", reset, err)
	}
	writeSteps(t, a, callSteps("c-1", "A17", time.Now().Add(-time.Hour).Truncate(time.Millisecond)))
	a.waitCaughtUp(t)
	want := detailJSON(t, a, "c-1")
	a.stop()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// The stream is made anew, as when a standalone node restarts as a
	// node of a cluster: it holds none of the calls.
	ctx := context.Background()
	if err := s.js.DeleteStream(ctx, DefaultJournalStream); err != nil {
		t.Fatal(err)
	}
	if _, err := s.js.CreateStream(ctx, jetstream.StreamConfig{Name: DefaultJournalStream, Subjects: []string{"earshot.call.>"},
		AllowMsgTTL: true, AllowRollup: true, Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	// Now a node of a cluster, which keeps summaries only: it publishes
	// the details first and drops them after.
	a = startNode(t, s.js, path, nodeConfig{noRun: true})
	reset, err := a.Reconcile(ctx)
	if err != nil || !reset {
		t.Fatalf("a stream made anew was not noticed (%v, %v)", reset, err)
	}
	if n, err := a.ImportLocal(ctx); err != nil || n == 0 {
		t.Fatalf("imported %d records (%v), want the call's", n, err)
	}
	if n, err := a.DropLocalDetails(); err != nil || n == 0 {
		t.Fatalf("dropped %d local details (%v), want the call's", n, err)
	}
	if got := detailJSON(t, a, "c-1"); got != want {
		t.Errorf("the node, its details dropped, has\n%s\nwant\n%s", got, want)
	}
	a.run(t)
	a.waitCaughtUp(t)
	b := startNode(t, s.js, filepath.Join(t.TempDir(), "b.db"), nodeConfig{})
	b.waitCaughtUp(t)
	if got := detailJSON(t, b, "c-1"); got != want {
		t.Errorf("a node that caught up from the new stream has\n%s\nwant\n%s", got, want)
	}
	if reset, err := a.Reconcile(ctx); err != nil || reset {
		t.Errorf("a second reconcile reset again (%v, %v)", reset, err)
	}
}
