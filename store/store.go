package store

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tidwall/buntdb"

	"github.com/earshot/earshot/protocol"
)

// SyncPolicy says how often the database file is fsynced.
type SyncPolicy int

// Sync policies. The zero value is EverySecond, buntdb's default.
const (
	// SyncEverySecond fsyncs at most once a second: an OS crash or power
	// loss can lose the last second of writes; a process crash loses nothing.
	SyncEverySecond SyncPolicy = iota
	// SyncAlways fsyncs after every transaction (buntdb ignores fsync errors).
	SyncAlways
	// SyncNever leaves flushing to the OS.
	SyncNever
)

// ParseSyncPolicy parses "everysecond", "always" or "never".
func ParseSyncPolicy(s string) (SyncPolicy, error) {
	switch strings.ToLower(s) {
	case "", "everysecond", "every-second":
		return SyncEverySecond, nil
	case "always":
		return SyncAlways, nil
	case "never":
		return SyncNever, nil
	}
	return 0, fmt.Errorf("unknown sync policy %q (want everysecond, always or never)", s)
}

// DefaultRetention is how long calls are kept when Config.Retention is 0.
const DefaultRetention = 90 * 24 * time.Hour

// Config configures Open. The zero value is ready to use.
type Config struct {
	Retention time.Duration // default DefaultRetention
	Sync      SyncPolicy
	Logger    *slog.Logger     // default slog.Default()
	Now       func() time.Time // clock for expiry; default time.Now
}

// Store is an open call database.
type Store struct {
	db        *buntdb.DB
	path      string
	lock      *os.File
	retention time.Duration
	now       func() time.Time
	log       *slog.Logger
	closeOnce sync.Once
	closeErr  error
}

const (
	idxStart = "calls_by_start"
	idxAgent = "calls_by_agent"
)

// Open opens (creating if needed) the database file at path, takes an
// exclusive lock on path+".lock" so a second process gets ErrLocked, and
// rebuilds the indexes.
func Open(path string, cfg Config) (*Store, error) {
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("store %s: %w", path, ErrLocked)
	}
	// buntdb creates its file 0666 less the umask (0644 usually), and the
	// file holds every transcript: create it 0600 first, and tighten one an
	// older version left readable by others.
	if err := makePrivate(path); err != nil {
		lock.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	// buntdb stops at a damaged record with "invalid database", or, if its
	// damaged length runs past the end of the file, takes it for a torn
	// last write and truncates the file there, dropping every later call
	// without a word. Checking first costs one more read of the file (the
	// page cache serves buntdb's) and turns both into an error that says
	// where and what to do.
	if rep, err := Check(path); err != nil {
		lock.Close()
		return nil, fmt.Errorf("store: %w", err)
	} else if !rep.OK() {
		lock.Close()
		return nil, corruptError(rep)
	}
	db, err := buntdb.Open(path)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	var bc buntdb.Config
	if err := db.ReadConfig(&bc); err != nil {
		db.Close()
		lock.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	switch cfg.Sync {
	case SyncAlways:
		bc.SyncPolicy = buntdb.Always
	case SyncNever:
		bc.SyncPolicy = buntdb.Never
	default:
		bc.SyncPolicy = buntdb.EverySecond
	}
	if err := db.SetConfig(bc); err != nil {
		db.Close()
		lock.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	// Indexes live only in memory: build them on every open.
	if err := db.CreateIndex(idxStart, "call:*", buntdb.IndexJSON("start_unix_ns")); err != nil {
		db.Close()
		lock.Close()
		return nil, fmt.Errorf("store: index: %w", err)
	}
	if err := db.CreateIndex(idxAgent, "call:*", buntdb.IndexJSONCaseSensitive("agent_id"), buntdb.IndexJSON("start_unix_ns")); err != nil {
		db.Close()
		lock.Close()
		return nil, fmt.Errorf("store: index: %w", err)
	}
	return &Store{db: db, path: path, lock: lock, retention: cfg.Retention, now: cfg.Now, log: cfg.Logger}, nil
}

// Close flushes and closes the database and releases the lock. It is
// idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		err := s.db.Close()
		if errors.Is(err, buntdb.ErrDatabaseClosed) {
			err = nil
		}
		s.closeErr = errors.Join(err, s.lock.Close())
	})
	return s.closeErr
}

// ValidID reports whether id can be a call or hint id: the one id rule of
// the protocol (protocol.ValidID).
func ValidID(id string) bool { return protocol.ValidID(id) }

func checkID[ID ~string](what string, id ID) error {
	if !ValidID(string(id)) {
		return fmt.Errorf("%s %q: %w", what, id, ErrBadID)
	}
	return nil
}

// Key layout. '/' never occurs in ids, so a call's prefix never matches
// another call whose id merely starts the same way.
func callKey(id CallID) string              { return "call:" + string(id) }
func eventPrefix(id CallID) string          { return "evt:" + string(id) + "/" }
func eventKey(id CallID, seq uint64) string { return fmt.Sprintf("evt:%s/%020d", id, seq) }
func uttPrefix(id CallID) string            { return "utt:" + string(id) + "/" }
func hintPrefix(id CallID) string           { return "hint:" + string(id) + "/" }
func hintKey(id CallID, hint string) string { return "hint:" + string(id) + "/" + hint }
func fbKey(id CallID, hint string) string   { return "fb:" + string(id) + "/" + hint }
func gapPrefix(id CallID) string            { return "gap:" + string(id) + "/" }
func uttKey(id CallID, start time.Duration, speaker protocol.Channel, seq uint64) string {
	return fmt.Sprintf("utt:%s/%020d/%s/%020d", id, keyNanos(start), speaker, seq)
}

// keyNanos is a call time as keys hold it: the nanoseconds of its value in
// seconds, truncated, as releases that kept times as float seconds computed
// them. Times are whole milliseconds, so the two agree, and a key written
// by an earlier release is found again (ReplaceUtterance deletes by key).
func keyNanos(d time.Duration) int64 { return int64(protocol.Seconds(d) * float64(time.Second)) }

// opts gives every key of a call the same expiry: the call's start plus
// the retention period.
func (s *Store) opts(startedAt time.Time) *buntdb.SetOptions {
	return s.until(startedAt.Add(s.retention))
}

// until makes a key expire at t. buntdb takes a TTL from its own clock, so
// the TTL is worked out afresh for each write; a record written after its
// call has expired gets the smallest positive TTL rather than a floor that
// would let it outlive the call.
func (s *Store) until(t time.Time) *buntdb.SetOptions {
	ttl := t.Sub(s.now())
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	return &buntdb.SetOptions{Expires: true, TTL: ttl}
}

func wrapDB(err error) error {
	if errors.Is(err, buntdb.ErrDatabaseClosed) {
		return ErrClosed
	}
	return err
}

// CreateCall stores a new call. It fails with ErrExists if the id is taken.
func (s *Store) CreateCall(c Call) error { return s.write(callEntry(c, true)) }

// PutCall writes c over the stored summary (checkpoints and the final save).
func (s *Store) PutCall(c Call) error { return s.write(callEntry(c, false)) }

// GetCall returns a call's summary, or ErrNotFound.
func (s *Store) GetCall(id CallID) (Call, error) {
	var c Call
	if err := checkID("call", id); err != nil {
		return c, err
	}
	err := s.db.View(func(tx *buntdb.Tx) error {
		var err error
		c, err = readCall(tx, id)
		return err
	})
	return c, wrapDB(err)
}

// readCall reads a call's summary inside tx: ErrNotFound if there is none.
func readCall(tx *buntdb.Tx, id CallID) (Call, error) {
	var c Call
	return c, decodeCall(tx, id, &c)
}

// callStart reads only a call's start time inside tx, which every record
// of the call expires from; cheaper than the whole summary on the append
// path, which runs for every event.
func callStart(tx *buntdb.Tx, id CallID) (time.Time, error) {
	var c struct {
		StartedAt time.Time `json:"started_at"`
	}
	err := decodeCall(tx, id, &c)
	return c.StartedAt, err
}

// decodeCall unmarshals the stored summary of call id into dst.
func decodeCall(tx *buntdb.Tx, id CallID, dst any) error {
	v, err := tx.Get(callKey(id))
	if errors.Is(err, buntdb.ErrNotFound) {
		return fmt.Errorf("call %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(v), dst); err != nil {
		return fmt.Errorf("call %s: corrupt record: %w", id, err)
	}
	return nil
}

// AppendEvent stores one published event (its flat JSON) of a stored call.
// Storing the same seq twice keeps the last.
func (s *Store) AppendEvent(callID CallID, seq uint64, event []byte) error {
	return s.write(eventEntry(callID, seq, event))
}

// AppendUtterance stores one final utterance of a stored call.
func (s *Store) AppendUtterance(callID CallID, u Utterance) error {
	return s.write(utteranceEntry(callID, u))
}

// ReplaceUtterance stores u in place of old, an utterance of the call
// stored before (matched by start, speaker and seq), in one transaction:
// an engine restarted in the middle of an utterance decodes it again whole
// and its final replaces the part the stopping engine stored.
func (s *Store) ReplaceUtterance(callID CallID, old, u Utterance) error {
	return s.write(replaceEntry(callID, old, u))
}

// AppendHint stores a hint shown in a stored call: the first event of each
// hint id is kept, so feedback refers to one thing.
func (s *Store) AppendHint(callID CallID, hintID string, event []byte) error {
	return s.write(hintEntry(callID, hintID, event))
}

// AppendGap stores a gap of a stored call.
func (s *Store) AppendGap(callID CallID, g Gap) error {
	return s.write(gapEntry(callID, g))
}

// SetFeedback records an agent's feedback on a hint shown in a call,
// replacing earlier feedback. ErrNotFound if the call or hint is unknown.
func (s *Store) SetFeedback(callID CallID, hintID string, fb Feedback) error {
	return s.write(feedbackEntry(callID, hintID, fb))
}

// scanPrefix calls fn for every key with prefix, in key order, inside tx.
func scanPrefix(tx *buntdb.Tx, prefix string, fn func(key, val string) error) error {
	var ferr error
	err := tx.AscendGreaterOrEqual("", prefix, func(k, v string) bool {
		if !strings.HasPrefix(k, prefix) {
			return false
		}
		if err := fn(k, v); err != nil {
			ferr = err
			return false
		}
		return true
	})
	if ferr != nil {
		return ferr
	}
	return err
}

// Detail returns everything stored about a call, events in seq order and
// utterances in start order. ErrNotFound if there is no such call.
func (s *Store) Detail(id CallID) (Detail, error) {
	if err := checkID("call", id); err != nil {
		return Detail{}, err
	}
	var d Detail
	err := s.db.View(func(tx *buntdb.Tx) error {
		var err error
		d, err = readDetail(tx, id)
		return err
	})
	return d, wrapDB(err)
}

// readDetail builds a call's Detail from the keys tx holds: the one
// builder of a Detail, for a Store and for the records a Journal reads
// from JetStream into a scratch database.
func readDetail(tx *buntdb.Tx, id CallID) (Detail, error) {
	var d Detail
	var err error
	if d.Call, err = readCall(tx, id); err != nil {
		return d, err
	}
	d.Utterances, d.Events, d.Hints, d.Gaps = []Utterance{}, []json.RawMessage{}, []Hint{}, []Gap{}
	// Utterances are keyed by start, so they come in call order.
	if err := scanPrefix(tx, uttPrefix(id), func(_, v string) error {
		var u Utterance
		if err := json.Unmarshal([]byte(v), &u); err != nil {
			return err
		}
		d.Utterances = append(d.Utterances, u)
		return nil
	}); err != nil {
		return d, err
	}
	if err := scanPrefix(tx, eventPrefix(id), func(_, v string) error {
		d.Events = append(d.Events, json.RawMessage(v))
		return nil
	}); err != nil {
		return d, err
	}
	if err := scanPrefix(tx, gapPrefix(id), func(_, v string) error {
		var g Gap
		if err := json.Unmarshal([]byte(v), &g); err != nil {
			return err
		}
		d.Gaps = append(d.Gaps, g)
		return nil
	}); err != nil {
		return d, err
	}
	err = scanPrefix(tx, hintPrefix(id), func(_, v string) error {
		var h Hint
		if err := json.Unmarshal([]byte(v), &h); err != nil {
			return err
		}
		if fv, err := tx.Get(fbKey(id, h.ID)); err == nil {
			var fb Feedback
			if json.Unmarshal([]byte(fv), &fb) == nil {
				h.Feedback = &fb
			}
		}
		d.Hints = append(d.Hints, h)
		return nil
	})
	return d, err
}

// Calls returns the summaries of every stored call with the given status
// ("" for all), newest first. The engine uses it at start to find calls a
// crash left live.
func (s *Store) Calls(status string) ([]Call, error) {
	var out []Call
	err := s.db.View(func(tx *buntdb.Tx) error {
		return tx.Descend(idxStart, func(_, v string) bool {
			var c Call
			if json.Unmarshal([]byte(v), &c) == nil && (status == "" || c.Status == status) {
				out = append(out, c)
			}
			return true
		})
	})
	return out, wrapDB(err)
}

// cursor is the position after the last call of a page: its start and key.
type cursor struct {
	NS  int64  `json:"n"`
	Key string `json:"k"`
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || !strings.HasPrefix(c.Key, "call:") {
		return c, ErrBadCursor
	}
	return c, nil
}

// List returns one page of calls matching q, newest first. Agent and time
// filters use the indexes; category, sentiment and status filter the scan.
func (s *Store) List(q Query) (Page, error) {
	page := Page{Calls: []Call{}}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	if q.Limit > 500 {
		q.Limit = 500
	}
	var after *cursor
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		if err != nil {
			return page, err
		}
		after = &c
	}
	top := int64(1<<63 - 1)
	if !q.To.IsZero() {
		top = q.To.UnixNano()
	}
	if after != nil && after.NS < top {
		top = after.NS
	}
	var bottom int64 = -1 << 63
	if !q.From.IsZero() {
		bottom = q.From.UnixNano()
	}
	index, pivot := idxStart, fmt.Sprintf(`{"start_unix_ns":%d}`, top)
	if q.AgentID != "" {
		ab, _ := json.Marshal(q.AgentID)
		index, pivot = idxAgent, fmt.Sprintf(`{"agent_id":%s,"start_unix_ns":%d}`, ab, top)
	}
	err := s.db.View(func(tx *buntdb.Tx) error {
		var last cursor
		return tx.DescendLessOrEqual(index, pivot, func(k, v string) bool {
			var c Call
			if err := json.Unmarshal([]byte(v), &c); err != nil {
				s.log.Warn("store: skipping corrupt call record", "key", k, "err", err)
				return true
			}
			if q.AgentID != "" && c.AgentID != q.AgentID {
				return false // past this agent's calls in the index
			}
			if c.StartNS < bottom {
				return false
			}
			if after != nil && c.StartNS == after.NS && k >= after.Key {
				return true // already on an earlier page
			}
			if !matches(c, q) {
				return true
			}
			if len(page.Calls) == q.Limit {
				page.NextCursor = encodeCursor(last)
				return false
			}
			page.Calls = append(page.Calls, c)
			last = cursor{NS: c.StartNS, Key: k}
			return true
		})
	})
	return page, wrapDB(err)
}

func matches(c Call, q Query) bool {
	if q.Category != "" && !slices.Contains(c.Categories, q.Category) {
		return false
	}
	if q.SentimentMin != nil && c.Sentiment.Caller < *q.SentimentMin {
		return false
	}
	if q.SentimentMax != nil && c.Sentiment.Caller > *q.SentimentMax {
		return false
	}
	if q.Status != "" && c.Status != q.Status {
		return false
	}
	return true
}

// Shrink compacts the append-only file (deleted and overwritten values
// stay in it until then). The compacted file is 0600 like the original.
func (s *Store) Shrink() error {
	// buntdb writes the compacted copy to path+".tmp" with os.Create and
	// renames it over the file. os.Create keeps the mode of a file that
	// exists, so one made 0600 here gives the result that mode whatever
	// the umask. (buntdb's automatic shrink creates it 0666 less the umask:
	// `earshot` runs with umask 077 for that reason.)
	tmp := s.path + ".tmp"
	if err := makePrivate(tmp); err != nil {
		return fmt.Errorf("store: shrink: %w", err)
	}
	err := s.db.Shrink()
	if err != nil && !errors.Is(err, buntdb.ErrShrinkInProcess) {
		// A shrink that stopped before its rename leaves the copy.
		os.Remove(tmp)
	}
	err = wrapDB(err)
	if cerr := makePrivate(s.path); err == nil && cerr != nil {
		err = fmt.Errorf("store: shrink: %w", cerr)
	}
	return err
}

// makePrivate creates path with mode 0600 if it does not exist and removes
// any group and other permissions if it does.
func makePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil && st.Mode().Perm()&0o077 != 0 {
		err = f.Chmod(st.Mode().Perm() &^ 0o077)
	}
	return errors.Join(err, f.Close())
}

// LastEventSeq returns the highest event seq stored for a call (0 if none):
// a call resumed after a crash continues after it, even if the crash came
// before the summary recorded it. A Journal's projection that keeps no
// events keeps this number instead (lastEventKey).
func (s *Store) LastEventSeq(callID CallID) (uint64, error) {
	if err := checkID("call", callID); err != nil {
		return 0, err
	}
	var last uint64
	err := s.db.View(func(tx *buntdb.Tx) error {
		prefix := eventPrefix(callID)
		err := tx.DescendLessOrEqual("", prefix+"99999999999999999999", func(k, _ string) bool {
			if strings.HasPrefix(k, prefix) {
				last, _ = strconv.ParseUint(k[len(prefix):], 10, 64)
			}
			return false
		})
		if err != nil {
			return err
		}
		kept, err := readSeq(tx, lastEventKey(callID))
		last = max(last, kept)
		return err
	})
	return last, wrapDB(err)
}
