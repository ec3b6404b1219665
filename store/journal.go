package store

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tidwall/buntdb"

	"github.com/earshot/earshot/protocol"
)

// DefaultJournalStream is the JetStream stream of calls' records: the
// cluster package's calls stream (subjects earshot.call.>, per-message
// TTLs allowed).
const DefaultJournalStream = "EARSHOT_CALLS"

// DefaultPublishTimeout bounds a write's wait for JetStream's ack when
// JournalConfig.PublishTimeout is 0.
const DefaultPublishTimeout = 5 * time.Second

// subjectPrefix starts every record's subject: earshot.call.<id>.<kind>.
const subjectPrefix = "earshot.call."

// Headers of a record message. The payload is the record's value as the
// store keeps it; everything else the projection needs is here.
const (
	hdrKind   = "Earshot-Kind"    // the record kind (also the subject's last token)
	hdrKey    = "Earshot-Key"     // the store key the record sets
	hdrOldKey = "Earshot-Old-Key" // uttx: the key of the utterance replaced
	hdrExpiry = "Earshot-Expires" // when the call expires (its start plus the writer's retention), Unix ns
	hdrNode   = "Earshot-Node"    // the node that wrote the record
)

// Keys of the journal's own bookkeeping in the store file. They never
// match a call's key prefixes, so Detail, List and Calls do not see them.
const (
	metaStreamSeq = "meta:stream_seq" // the last stream sequence the projection applied
	metaImported  = "meta:imported"   // ImportLocal has published this file's calls
	metaStream    = "meta:stream"     // the creation time of the stream the projection follows
	watermarkPfx  = "pseq:"           // pseq:<call id>: the highest sequence applied for the call
	lastEventPfx  = "evtseq:"         // evtseq:<call id>: the highest event seq, where events are not kept
)

// lastEventKey is where a projection of summaries keeps a call's highest
// event seq (keepEntry).
func lastEventKey(id CallID) string { return lastEventPfx + string(id) }

// subjectToken is a call id as a subject token (protocol.SubjectToken, the
// one rule for ids in subjects): every call one token, and
// earshot.call.<token>.> one call's filter.
func subjectToken(id CallID) string { return protocol.SubjectToken(string(id)) }

// recordSubject is the subject of a record of kind for call id.
func recordSubject(id CallID, kind string) string {
	return subjectPrefix + subjectToken(id) + "." + kind
}

// CallSubjects returns the subject filter of every record of call id in
// the calls stream (earshot.call.<id>.>, with any '.' of the id written
// '~'): what a consumer of one call filters on, or a purge of it.
func CallSubjects(id CallID) string { return subjectPrefix + subjectToken(id) + ".>" }

// JournalConfig configures NewJournal. The zero value is ready to use.
type JournalConfig struct {
	// Stream is the stream the records go to; default DefaultJournalStream.
	// Its subjects must take earshot.call.> and it must allow per-message
	// TTLs (nats-server 2.11 or newer).
	Stream string
	// Node names this node in each record it writes (Earshot-Node), for
	// the logs of the nodes that apply it; default the host name.
	Node string
	// PublishTimeout bounds each write's wait for JetStream's ack; default
	// DefaultPublishTimeout.
	PublishTimeout time.Duration

	// KeepDetails makes the projection keep every record of every call,
	// as a Store does, and Detail answer from it. Without it the
	// projection keeps what the queries and the writes' checks need
	// (summaries and their indexes, hints, each call's highest event seq:
	// keepEntry) and Detail reads a call's records from JetStream. Set it
	// for a node that runs alone on its own embedded NATS server:
	// nats-server does not carry a standalone server's streams into a
	// cluster, so when such a node joins one, this file is the only other
	// copy of its calls' details, which Reconcile and ImportLocal publish
	// to the cluster's stream.
	KeepDetails bool
	// DetailTimeout bounds a Detail read from JetStream, its wait for a
	// turn included; default DefaultDetailTimeout.
	DetailTimeout time.Duration
	// DetailMaxRecords and DetailMaxBytes cap one call's records (their
	// number, and their bytes: payload, headers and subject) that a Detail
	// reads from JetStream; a call over either gets ErrTooLarge. Defaults
	// DefaultDetailMaxRecords and DefaultDetailMaxBytes.
	DetailMaxRecords, DetailMaxBytes int
	// DetailReads is how many Details read from JetStream at once (others
	// wait their turn within DetailTimeout); default DefaultDetailReads.
	DetailReads int
}

// Journal is a Store whose writes go to JetStream first: JetStream holds
// the truth, shared by every node, and the local Store is this node's
// projection of it, kept up to date by Run. It has every method of Store
// the engine uses, with the same signatures and errors, plus
// ErrJournalUnavailable. It is safe for concurrent use.
//
// A write publishes one record and waits for JetStream's ack, then applies
// the record to the local Store; it returns nil only when both happened.
// Reads answer from the local Store: for a call this node writes they are
// current; for calls other nodes write, as current as Run has got. Detail
// is the exception: unless JournalConfig.KeepDetails, the local Store has
// the call's summary only and Detail reads the rest from JetStream.
type Journal struct {
	st      *Store
	js      jetstream.JetStream
	stream  string
	node    string
	timeout time.Duration
	log     *slog.Logger

	// What a projection keeps and how Detail reads (JournalConfig).
	keepDetails          bool
	detailTimeout        time.Duration
	maxRecords, maxBytes int
	reads                chan struct{} // a slot per Detail reading from JetStream

	// locks orders a node's writes of one call: publish, ack, apply, then
	// the next one (see the watermark in projection.go). Striped by call
	// id: two calls share a stripe rarely and only wait one round trip.
	locks [64]sync.Mutex
	seed  maphash.Seed

	applied atomic.Uint64 // the last stream sequence the projection applied
	// sent and sentBytes count the records JetStream acknowledged (payload
	// and headers), for the traffic figures of a benchmark.
	sent, sentBytes atomic.Uint64
	pending         atomic.Uint64 // records the projection had still to apply, as of its last message
	running         atomic.Bool   // Run is running
	live            atomic.Bool   // Run has a consumer on the stream

	mu       sync.Mutex
	progress chan struct{}      // closed and replaced when the projection applies a message
	cons     jetstream.Consumer // Run's consumer, nil when it has none
	watched  bool               // someone waits on progress
}

// NewJournal returns a Journal that publishes st's calls' records to
// JetStream through js and projects the stream into st. The Journal takes
// st over: write through the Journal only (a write to st itself never
// reaches the other nodes), and close st with the Journal's Close. It
// starts nothing: the caller runs Run, and calls ImportLocal and
// WaitCaughtUp at start (see Run).
func NewJournal(st *Store, js jetstream.JetStream, cfg JournalConfig) (*Journal, error) {
	if cfg.Stream == "" {
		cfg.Stream = DefaultJournalStream
	}
	if cfg.Node == "" {
		cfg.Node, _ = os.Hostname()
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = DefaultPublishTimeout
	}
	if cfg.DetailTimeout <= 0 {
		cfg.DetailTimeout = DefaultDetailTimeout
	}
	if cfg.DetailMaxRecords <= 0 {
		cfg.DetailMaxRecords = DefaultDetailMaxRecords
	}
	if cfg.DetailMaxBytes <= 0 {
		cfg.DetailMaxBytes = DefaultDetailMaxBytes
	}
	if cfg.DetailReads <= 0 {
		cfg.DetailReads = DefaultDetailReads
	}
	j := &Journal{st: st, js: js, stream: cfg.Stream, node: cfg.Node, timeout: cfg.PublishTimeout,
		log: st.log, seed: maphash.MakeSeed(), progress: make(chan struct{}),
		keepDetails: cfg.KeepDetails, detailTimeout: cfg.DetailTimeout,
		maxRecords: cfg.DetailMaxRecords, maxBytes: cfg.DetailMaxBytes, reads: make(chan struct{}, cfg.DetailReads)}
	err := st.db.View(func(tx *buntdb.Tx) error {
		seq, err := readSeq(tx, metaStreamSeq)
		j.applied.Store(seq)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: journal: %w", wrapDB(err))
	}
	return j, nil
}

// Store returns the local Store, the projection. Read from it freely;
// writing to it bypasses JetStream, so other nodes never see the write.
func (j *Journal) Store() *Store { return j.st }

// Close closes the local Store. Stop Run first (cancel its context and
// wait for it): Run fails with ErrClosed on a closed store. The JetStream
// connection is the caller's. It is idempotent.
func (j *Journal) Close() error { return j.st.Close() }

// CreateCall publishes a new call's summary and then stores it. It fails
// with ErrExists if this node's store has the id (the projection is caught
// up for the calls this node owns), ErrJournalUnavailable if JetStream did
// not take it.
func (j *Journal) CreateCall(c Call) error { return j.write(callEntry(c, true)) }

// PutCall publishes c as the call's summary and then stores it over the
// stored one (checkpoints and the final save).
func (j *Journal) PutCall(c Call) error { return j.write(callEntry(c, false)) }

// AppendEvent publishes and then stores one published event (its flat
// JSON) of a stored call. ErrNotFound if this node has no such call.
func (j *Journal) AppendEvent(callID CallID, seq uint64, event []byte) error {
	return j.write(eventEntry(callID, seq, event))
}

// AppendUtterance publishes and then stores one final utterance of a
// stored call.
func (j *Journal) AppendUtterance(callID CallID, u Utterance) error {
	return j.write(utteranceEntry(callID, u))
}

// ReplaceUtterance publishes and then stores u in place of old (matched by
// start, speaker and seq), as Store.ReplaceUtterance does; the record
// carries old's key so every node replaces the same utterance.
func (j *Journal) ReplaceUtterance(callID CallID, old, u Utterance) error {
	return j.write(replaceEntry(callID, old, u))
}

// AppendHint publishes and then stores a hint shown in a stored call. The
// first event of each hint id is kept: a hint id already stored is neither
// published nor stored again.
func (j *Journal) AppendHint(callID CallID, hintID string, event []byte) error {
	return j.write(hintEntry(callID, hintID, event))
}

// AppendGap publishes and then stores a gap of a stored call.
func (j *Journal) AppendGap(callID CallID, g Gap) error { return j.write(gapEntry(callID, g)) }

// SetFeedback publishes and then stores an agent's feedback on a hint
// shown in a call. ErrNotFound if this node has no such call or hint.
func (j *Journal) SetFeedback(callID CallID, hintID string, fb Feedback) error {
	return j.write(feedbackEntry(callID, hintID, fb))
}

// GetCall returns a call's summary from the local store, or ErrNotFound.
func (j *Journal) GetCall(id CallID) (Call, error) { return j.st.GetCall(id) }

// List returns one page of the local store's calls matching q.
func (j *Journal) List(q Query) (Page, error) { return j.st.List(q) }

// Calls returns the local store's calls with the given status ("" for
// all), newest first.
func (j *Journal) Calls(status string) ([]Call, error) { return j.st.Calls(status) }

// LastEventSeq returns the highest event seq the local store has for a
// call (0 if none).
func (j *Journal) LastEventSeq(callID CallID) (uint64, error) { return j.st.LastEventSeq(callID) }

// callLock is the lock that orders this node's writes of call id.
func (j *Journal) callLock(id CallID) *sync.Mutex {
	return &j.locks[maphash.String(j.seed, string(id))%uint64(len(j.locks))]
}

// write checks e against the local store as Store would, publishes it,
// waits for the ack and applies it. Nothing is applied unless JetStream
// acknowledged it.
func (j *Journal) write(e entry, err error) error {
	if err != nil {
		return err
	}
	mu := j.callLock(e.callID)
	mu.Lock()
	defer mu.Unlock()
	var start time.Time
	var skip bool
	err = j.st.db.View(func(tx *buntdb.Tx) error {
		var err error
		start, skip, err = checkEntry(tx, e)
		return err
	})
	if err != nil || skip {
		return wrapDB(err)
	}
	expires := start.Add(j.st.retention)
	ctx, cancel := context.WithTimeout(context.Background(), j.timeout)
	ack, err := j.publish(ctx, e, expires, "")
	cancel()
	if err != nil {
		return err
	}
	err = j.st.db.Update(func(tx *buntdb.Tx) error {
		_, err := j.st.applyAt(tx, e, expires, ack.Sequence, j.keepDetails)
		return err
	})
	if err != nil {
		// In the stream but not here: the projection applies it when the
		// store works again; a retry publishes it again, harmlessly.
		return fmt.Errorf("store: %s record of call %s is in JetStream (seq %d), not yet in the local store: %w",
			e.kind, e.callID, ack.Sequence, wrapDB(err))
	}
	j.log.Debug("store journal: wrote", "call_id", e.callID, "kind", e.kind, "stream_seq", ack.Sequence)
	return nil
}

// publish sends e as one record message and waits for JetStream's ack.
// msgID, when set, lets JetStream drop a resend within its duplicate
// window. The record leaves the stream when its call expires (Nats-TTL),
// and every node's store expires it then too (Earshot-Expires), whatever
// its own retention: the stream's MaxAge is only a backstop.
func (j *Journal) publish(ctx context.Context, e entry, expires time.Time, msgID string) (*jetstream.PubAck, error) {
	// JetStream takes whole seconds, at least one; round up so the stream
	// never drops a record before the stores do.
	ttl := expires.Sub(j.st.now())
	secs := max(int64((ttl+time.Second-1)/time.Second), 1)
	h := nats.Header{
		hdrKind:                        {e.kind},
		hdrKey:                         {e.key},
		hdrExpiry:                      {strconv.FormatInt(expires.UnixNano(), 10)},
		hdrNode:                        {j.node},
		jetstream.MsgTTLHeader:         {strconv.FormatInt(secs, 10) + "s"},
		jetstream.ExpectedStreamHeader: {j.stream},
	}
	if e.oldKey != "" {
		h[hdrOldKey] = []string{e.oldKey}
	}
	if e.kind == kindCall {
		// A summary supersedes the call's earlier ones (a checkpoint every
		// 200 ms): the stream keeps only the newest per call.
		h[jetstream.MsgRollup] = []string{jetstream.MsgRollupSubject}
	}
	if msgID != "" {
		h[jetstream.MsgIDHeader] = []string{msgID}
	}
	msg := &nats.Msg{Subject: recordSubject(e.callID, e.kind), Header: h, Data: e.data}
	ack, err := j.js.PublishMsg(ctx, msg)
	if err != nil {
		return nil, fmt.Errorf("store: %s record of call %s: %w: %w", e.kind, e.callID, ErrJournalUnavailable, err)
	}
	j.sent.Add(1)
	j.sentBytes.Add(uint64(msg.Size()))
	return ack, nil
}

// Sent returns how many records this node has written to JetStream and
// their size on the wire (subject, headers and payload).
func (j *Journal) Sent() (records, bytes uint64) { return j.sent.Load(), j.sentBytes.Load() }

// Reconcile makes sure the stream is the one this node's projection
// followed. A stream made anew — a standalone node restarted as a cluster
// node (nats-server does not carry a standalone server's streams into a
// cluster), or a stream deleted by hand — holds none of the calls this
// file has, and numbers its records from 1 again. Then the projection's
// positions mean nothing: Reconcile forgets them and the import mark, so
// ImportLocal publishes this node's calls to the new stream, and it
// reports true. Call it at start, before ImportLocal and Run.
func (j *Journal) Reconcile(ctx context.Context) (reset bool, err error) {
	st, err := j.js.Stream(ctx, j.stream)
	if err != nil {
		return false, fmt.Errorf("store journal: stream %s: %w: %w", j.stream, ErrJournalUnavailable, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return false, fmt.Errorf("store journal: stream %s: %w: %w", j.stream, ErrJournalUnavailable, err)
	}
	created := info.Created.UTC().Format(time.RFC3339Nano)
	err = j.st.db.Update(func(tx *buntdb.Tx) error {
		known, err := tx.Get(metaStream)
		switch {
		case errors.Is(err, buntdb.ErrNotFound):
			// First start on a journal, or a file from before this check:
			// a stream behind the projection was still made anew.
			reset = info.State.LastSeq < j.applied.Load()
		case err != nil:
			return err
		default:
			reset = known != created
		}
		if reset {
			if err := forgetStreamPositions(tx); err != nil {
				return err
			}
		}
		_, _, err = tx.Set(metaStream, created, nil)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store journal: %w", wrapDB(err))
	}
	if reset {
		j.applied.Store(0)
		j.log.Warn("the calls stream is not the one this node followed (made anew): this node's calls are published to it again",
			"stream", j.stream, "stream_last_seq", info.State.LastSeq)
	}
	return reset, nil
}

// forgetStreamPositions deletes the projection's stream sequence, the
// import mark and every call's watermark.
func forgetStreamPositions(tx *buntdb.Tx) error {
	var keys []string
	if err := tx.AscendKeys(watermarkPfx+"*", func(k, _ string) bool { keys = append(keys, k); return true }); err != nil {
		return err
	}
	keys = append(keys, metaStreamSeq, metaImported)
	for _, k := range keys {
		if _, err := tx.Delete(k); err != nil && !errors.Is(err, buntdb.ErrNotFound) {
			return err
		}
	}
	return nil
}

// ImportLocal publishes, once, every call of a store written before this
// node joined JetStream (a buntdb-only data directory): each call's
// summary, then its utterances, events, hints, feedback and gaps. Calls
// past their retention are left out, and so are calls the stream already
// has (the projection or a write gave them a watermark). It marks the file
// done (meta:imported) at the end; a second call returns 0 at once.
//
// Run it at start, before the engine writes. Interrupted, it can be run
// again: each record carries a Nats-Msg-Id made of its key, so JetStream
// drops what it took already within its duplicate window, and a record
// published twice after that is applied twice to the same effect. It
// returns how many records JetStream took (duplicates not counted); it
// blocks for one round trip per record and stops at the first failure
// (ErrJournalUnavailable) or when ctx is done.
func (j *Journal) ImportLocal(ctx context.Context) (n int, err error) {
	var ids []CallID
	done := false
	err = j.st.db.View(func(tx *buntdb.Tx) error {
		if _, err := tx.Get(metaImported); err == nil {
			done = true
			return nil
		}
		return tx.Ascend(idxStart, func(k, _ string) bool {
			ids = append(ids, CallID(strings.TrimPrefix(k, "call:")))
			return true
		})
	})
	if err != nil || done {
		return 0, wrapDB(err)
	}
	calls := 0
	for _, id := range ids {
		m, err := j.importCall(ctx, id)
		n += m
		if err != nil {
			return n, err
		}
		if m > 0 {
			calls++
		}
	}
	err = j.st.db.Update(func(tx *buntdb.Tx) error {
		_, _, err := tx.Set(metaImported, j.st.now().UTC().Format(time.RFC3339), nil)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("store: journal import: %w", wrapDB(err))
	}
	j.log.Info("store journal: imported the local calls into JetStream", "calls", calls, "records", n)
	return n, nil
}

// importCall publishes the records of one call (see ImportLocal) and
// raises its watermark past them, so the projection does not apply them
// again.
func (j *Journal) importCall(ctx context.Context, id CallID) (n int, err error) {
	mu := j.callLock(id)
	mu.Lock()
	defer mu.Unlock()
	var entries []entry
	var expires time.Time
	err = j.st.db.View(func(tx *buntdb.Tx) error {
		if _, err := tx.Get(watermarkPfx + string(id)); err == nil {
			return nil // in the stream already
		}
		start, err := callStart(tx, id)
		if err != nil {
			return err
		}
		if expires = start.Add(j.st.retention); !expires.After(j.st.now()) {
			return nil
		}
		v, err := tx.Get(callKey(id))
		if err != nil {
			return err
		}
		entries = append(entries, entry{kind: kindCall, callID: id, key: callKey(id), data: []byte(v)})
		for _, kind := range []string{kindUtt, kindEvent, kindHint, kindFB, kindGap} {
			if err := scanPrefix(tx, keyPrefixes[kind]+string(id)+"/", func(k, v string) error {
				entries = append(entries, entry{kind: kind, callID: id, key: k, data: []byte(v)})
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return 0, nil // expired since the listing
	}
	if err != nil {
		return 0, fmt.Errorf("store: journal import of call %s: %w", id, wrapDB(err))
	}
	var last uint64
	for _, e := range entries {
		pctx, cancel := context.WithTimeout(ctx, j.timeout)
		ack, err := j.publish(pctx, e, expires, "import:"+e.key)
		cancel()
		if err != nil {
			return n, err
		}
		if !ack.Duplicate {
			n++
		}
		last = max(last, ack.Sequence)
		j.log.Debug("store journal: imported", "call_id", id, "kind", e.kind, "stream_seq", ack.Sequence)
	}
	if last == 0 {
		return n, nil
	}
	err = j.st.db.Update(func(tx *buntdb.Tx) error {
		return j.st.raiseWatermark(tx, id, last, j.st.until(expires))
	})
	if err != nil {
		return n, fmt.Errorf("store: journal import of call %s: %w", id, wrapDB(err))
	}
	return n, nil
}
