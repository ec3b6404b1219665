package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tidwall/buntdb"
)

// The projection and the writes agree through a watermark per call: the
// highest stream sequence applied to the local store for that call
// (pseq:<call id>, expiring with the call). A record is applied only if
// its sequence is above its call's watermark, and applying it raises the
// watermark to its sequence in the same buntdb transaction.
//
// A write applies its record as soon as JetStream acknowledges it, before
// Run's consumer has delivered it, and raises the watermark to the ack's
// sequence; when the consumer delivers the record later, it is at or below
// the watermark and is skipped. Without the watermark the consumer would
// apply a call's older summary over the newer one a write had just stored
// (for as long as it lagged), and a replaced utterance would come back.
//
// Skipping by watermark loses nothing because a call's records come from
// one node at a time, in order: the node that owns the call writes it, and
// its writes of one call are serialized (Journal.callLock: publish, ack,
// apply, then the next), so their sequences rise and nothing of that call
// can enter the stream below a watermark after it was set. A node that
// takes a call over from another must let its projection catch up
// (WaitCaughtUp) before it writes: a write acknowledged above records of
// the old owner that Run has not applied yet would make Run skip them.
//
// Run also stores the stream sequence of each message it handles
// (meta:stream_seq) in the transaction that applies it, and resumes after
// it. A crash therefore neither skips a record nor applies one twice; and
// buntdb's file is an append-only log, so an OS crash that loses its last
// second loses the applied records, their watermarks and the stored
// sequence together, and Run applies those records again from the stream.

// readSeq reads a stream sequence kept under key: 0 if there is none.
func readSeq(tx *buntdb.Tx, key string) (uint64, error) {
	v, err := tx.Get(key)
	if errors.Is(err, buntdb.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	seq, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a stream sequence", key, v)
	}
	return seq, nil
}

// raiseWatermark sets call id's watermark to seq if that is higher.
func (s *Store) raiseWatermark(tx *buntdb.Tx, id CallID, seq uint64, opts *buntdb.SetOptions) error {
	w, err := readSeq(tx, watermarkPfx+string(id))
	if err != nil || seq <= w {
		return err
	}
	_, _, err = tx.Set(watermarkPfx+string(id), strconv.FormatUint(seq, 10), opts)
	return err
}

// applyAt applies e, the record at stream sequence seq, unless its call's
// watermark is at or above seq; applied says whether it did. With details
// false it keeps only what a projection of summaries keeps (keepEntry).
func (s *Store) applyAt(tx *buntdb.Tx, e entry, expires time.Time, seq uint64, details bool) (applied bool, err error) {
	w, err := readSeq(tx, watermarkPfx+string(e.callID))
	if err != nil || seq <= w {
		return false, err
	}
	opts := s.until(expires)
	if details {
		err = applyEntry(tx, e, opts)
	} else {
		err = keepEntry(tx, e, opts)
	}
	if err != nil {
		return false, err
	}
	_, _, err = tx.Set(watermarkPfx+string(e.callID), strconv.FormatUint(seq, 10), opts)
	return err == nil, err
}

// keepEntry applies e to a projection of summaries: what List, Calls,
// GetCall, LastEventSeq and the checks of later writes read, and nothing
// that only Detail reads (Journal.Detail reads that from JetStream).
//
//   - call: the summary and its indexes (List, Calls, GetCall; every
//     write's expiry comes from its start).
//   - hint: kept whole. A write of a hint keeps the first event of its id
//     and feedback needs its hint (checkEntry), on whichever node takes
//     the feedback; a call has a handful, from the engine's own rules.
//   - evt: only the highest seq (evtseq:<id>), which a resume continues
//     after (LastEventSeq); the events themselves are most of a call.
//   - utt, uttx, gap, fb: nothing; only Detail shows them.
func keepEntry(tx *buntdb.Tx, e entry, opts *buntdb.SetOptions) error {
	switch e.kind {
	case kindCall, kindHint:
		return applyEntry(tx, e, opts)
	case kindEvent:
		seq, _ := eventSeq(e) // decodeRecord refused a key without one
		last, err := readSeq(tx, lastEventKey(e.callID))
		if err != nil || seq <= last {
			return err
		}
		_, _, err = tx.Set(lastEventKey(e.callID), strconv.FormatUint(seq, 10), opts)
		return err
	}
	return nil
}

// eventSeq is the seq in the key of an event record.
func eventSeq(e entry) (uint64, error) {
	return strconv.ParseUint(strings.TrimPrefix(e.key, eventPrefix(e.callID)), 10, 64)
}

// decodeRecord reads a record message back into the entry its writer
// published and its call's expiry. The key must belong to the kind and to
// the call the subject names: a message cannot write outside its call.
func decodeRecord(subject string, h nats.Header, data []byte) (entry, time.Time, error) {
	kind, key := h.Get(hdrKind), h.Get(hdrKey)
	prefix, ok := keyPrefixes[kind]
	if !ok {
		return entry{}, time.Time{}, fmt.Errorf("%w: kind %q", errBadRecord, kind)
	}
	rest, ok := strings.CutPrefix(key, prefix)
	id, tail, nested := strings.Cut(rest, "/")
	if !ok || !ValidID(id) || nested != (kind != kindCall) || nested && tail == "" {
		return entry{}, time.Time{}, fmt.Errorf("%w: key %q for kind %s", errBadRecord, key, kind)
	}
	e := entry{kind: kind, callID: CallID(id), key: key, data: data}
	if subject != recordSubject(e.callID, kind) {
		return entry{}, time.Time{}, fmt.Errorf("%w: key %q on subject %s", errBadRecord, key, subject)
	}
	if _, err := eventSeq(e); kind == kindEvent && err != nil {
		return entry{}, time.Time{}, fmt.Errorf("%w: event key %q", errBadRecord, key)
	}
	if kind == kindReplace {
		e.oldKey = h.Get(hdrOldKey)
		if !strings.HasPrefix(e.oldKey, uttPrefix(e.callID)) {
			return entry{}, time.Time{}, fmt.Errorf("%w: replaced key %q for call %s", errBadRecord, e.oldKey, id)
		}
	}
	ns, err := strconv.ParseInt(h.Get(hdrExpiry), 10, 64)
	if err != nil {
		return entry{}, time.Time{}, fmt.Errorf("%w: expiry %q", errBadRecord, h.Get(hdrExpiry))
	}
	if !json.Valid(data) {
		return entry{}, time.Time{}, fmt.Errorf("%w: the %s payload is not JSON", errBadRecord, kind)
	}
	return e, time.Unix(0, ns), nil
}

// Run keeps the local store a projection of the calls stream: it reads the
// stream with an ordered consumer from the message after the last one this
// store applied (meta:stream_seq) and applies every record, those other
// nodes wrote and this node's own, unless a write applied it first (the
// watermark above). It blocks until ctx is done and then returns nil; it
// returns ErrClosed if the store is closed under it. The caller owns the
// goroutine it runs in (an errgroup with the server's) and must stop it
// (cancel ctx, wait) before Close. Run it once at a time.
//
// When JetStream cannot be reached, Run retries (1 s, doubling to 10 s)
// and keeps the store as it is; when the store fails to write (a full
// disk), it retries the same message, so nothing is skipped. A message
// that is not a record it can apply is logged and skipped.
//
// At start, a node calls ImportLocal (a data directory from before the
// cluster), starts Run, and calls WaitCaughtUp before it serves: Calls and
// List then hold what the stream held.
func (j *Journal) Run(ctx context.Context) error {
	if !j.running.CompareAndSwap(false, true) {
		panic("store: Journal.Run called while it runs")
	}
	defer j.running.Store(false)
	const first, most = time.Second, 10 * time.Second
	wait := first
	for {
		before := j.applied.Load()
		err := j.consume(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrClosed) {
			return err
		}
		if j.applied.Load() != before {
			wait = first
		}
		j.log.Warn("store journal: reading the calls stream failed; retrying", "stream", j.stream, "err", err, "retry_in", wait)
		if pause(ctx, wait) != nil {
			return nil
		}
		wait = min(2*wait, most)
	}
}

// pause waits d, or less if ctx is done first (then it returns ctx.Err()):
// a retry's back-off.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// consume reads the stream with one ordered consumer (which itself
// recreates its server-side consumer after a disconnect) until ctx is done
// or the consumer fails.
func (j *Journal) consume(ctx context.Context) error {
	cons, err := j.js.OrderedConsumer(ctx, j.stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subjectPrefix + ">"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    j.applied.Load() + 1,
	})
	if err != nil {
		return fmt.Errorf("creating a consumer: %w", err)
	}
	if ci := cons.CachedInfo(); ci != nil {
		j.pending.Store(ci.NumPending)
	}
	// Short pulls with heartbeats every second: when the stream's leader
	// dies, the consumer notices within about two seconds and recreates
	// itself on the new leader (the defaults, 30 s pulls, took 20 s), and a
	// node taking over a call waits on this projection.
	it, err := cons.Messages(jetstream.PullExpiry(5*time.Second), jetstream.PullHeartbeat(time.Second))
	if err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	defer it.Stop()
	// Stop also ends the consumer's own reconnect loop, which ctx alone
	// does not reach.
	defer context.AfterFunc(ctx, it.Stop)()
	j.setConsumer(cons)
	defer j.setConsumer(nil)
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return err
		}
		if err := j.project(ctx, msg); err != nil {
			return err
		}
	}
}

func (j *Journal) setConsumer(c jetstream.Consumer) {
	j.mu.Lock()
	j.cons = c
	j.mu.Unlock()
	j.live.Store(c != nil)
}

// project applies one message of the stream and stores its sequence, in
// one transaction; a store that fails to write is retried until ctx is
// done, so no record is skipped.
func (j *Journal) project(ctx context.Context, msg jetstream.Msg) error {
	meta, err := msg.Metadata()
	if err != nil {
		return err
	}
	seq := meta.Sequence.Stream
	e, expires, bad := decodeRecord(msg.Subject(), msg.Headers(), msg.Data())
	var applied bool
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := j.st.db.Update(func(tx *buntdb.Tx) error {
			applied = false
			if bad == nil {
				var err error
				if applied, err = j.st.applyAt(tx, e, expires, seq, j.keepDetails); err != nil {
					return err
				}
			}
			_, _, err := tx.Set(metaStreamSeq, strconv.FormatUint(seq, 10), nil)
			return err
		})
		if err == nil {
			break
		}
		if errors.Is(err, buntdb.ErrDatabaseClosed) {
			return ErrClosed
		}
		j.log.Error("store journal: cannot apply a record; retrying", "stream_seq", seq, "err", err, "retry_in", wait)
		if err := pause(ctx, wait); err != nil {
			return err
		}
	}
	switch {
	case bad != nil:
		j.log.Warn("store journal: skipped a message that is not a record", "subject", msg.Subject(), "stream_seq", seq, "err", bad)
	case applied:
		j.log.Debug("store journal: applied", "call_id", e.callID, "kind", e.kind, "stream_seq", seq, "node", msg.Headers().Get(hdrNode))
	default:
		j.log.Debug("store journal: applied already", "call_id", e.callID, "kind", e.kind, "stream_seq", seq)
	}
	j.applied.Store(seq)
	j.pending.Store(meta.NumPending)
	j.mu.Lock()
	if j.watched {
		close(j.progress)
		j.progress, j.watched = make(chan struct{}), false
	}
	j.mu.Unlock()
	return nil
}

// Lag is how many records of the stream the projection had still to apply
// when it applied its last one (or when Run started): 0 when it has
// applied all it knew of. Records written since are counted once the
// consumer delivers the next one.
func (j *Journal) Lag() uint64 { return j.pending.Load() }

// CaughtUp reports whether Run is reading the stream and has applied every
// record it knew of (Lag 0): for health checks. It is false while Run is
// not running, while it retries to reach JetStream and while the NATS
// connection is down.
func (j *Journal) CaughtUp() bool {
	return j.live.Load() && j.pending.Load() == 0 && j.js.Conn().IsConnected()
}

// AppliedSeq is the stream sequence of the last message the projection
// applied (0 if none).
func (j *Journal) AppliedSeq() uint64 { return j.applied.Load() }

// WaitCaughtUp blocks until the projection has applied everything the
// stream held when it was called (the stream's last sequence then, from
// Stream.Info), or ctx is done. Run must be running for it to return: a
// node started with an empty store calls it after starting Run and before
// it serves. It also fails if the stream is missing or does not allow
// per-message TTLs, which every write needs.
func (j *Journal) WaitCaughtUp(ctx context.Context) error {
	stream, err := j.streamInfo(ctx)
	if err != nil {
		return fmt.Errorf("store journal: stream %s: %w", j.stream, err)
	}
	info := stream.CachedInfo()
	if !info.Config.AllowMsgTTL || !info.Config.AllowRollup {
		return fmt.Errorf("store journal: stream %s must allow per-message TTLs (AllowMsgTTL), which every record carries, and roll-ups (AllowRollup), which every summary does", j.stream)
	}
	target := info.State.LastSeq
	if info.State.Msgs == 0 {
		return nil // nothing to apply: what it held has expired or been purged
	}
	// The stream's last records may expire before Run reaches them (their
	// TTL); then they never arrive. Once a second, the consumer says
	// whether anything is left to deliver.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		j.mu.Lock()
		progress := j.progress
		j.watched = true
		j.mu.Unlock()
		if j.applied.Load() >= target {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("store journal: catching up to stream sequence %d (at %d): %w", target, j.applied.Load(), ctx.Err())
		case <-progress:
		case <-tick.C:
			j.mu.Lock()
			cons := j.cons
			j.mu.Unlock()
			if cons == nil {
				continue
			}
			if ci, err := cons.Info(ctx); err == nil && ci.NumPending == 0 {
				target = min(target, ci.Delivered.Stream)
			}
		}
	}
}

// streamInfoTry bounds one request for the stream's info: a request sent
// while the cluster elects a new leader gets no answer at all, so it is
// sent again rather than waited on until the caller's deadline.
const streamInfoTry = 2 * time.Second

// streamInfo looks the stream up, asking again every streamInfoTry until
// ctx is done.
func (j *Journal) streamInfo(ctx context.Context) (jetstream.Stream, error) {
	for {
		tctx, cancel := context.WithTimeout(ctx, streamInfoTry)
		stream, err := j.js.Stream(tctx, j.stream)
		cancel()
		if err == nil || ctx.Err() != nil || errors.Is(err, jetstream.ErrStreamNotFound) {
			return stream, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}
