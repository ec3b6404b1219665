package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tidwall/buntdb"
)

// Defaults of the JournalConfig fields that bound a Detail read from
// JetStream.
//
// The store caps nothing per call; the engine bounds a call's length
// (MaxCallLength, 12 h by default) and its gap records (MaxGapRecords,
// 1000). The caps hold a whole 12-hour call at the rate of the busiest
// calls measured (docs/scaling.md: 3.6 records and 2.2 kB a second, so
// about 156,000 records and 95 MB) and refuse anything bigger, which no
// engine writes: it is a hostile or broken writer's.
const (
	DefaultDetailTimeout    = 10 * time.Second
	DefaultDetailMaxRecords = 200_000
	DefaultDetailMaxBytes   = 128 << 20
	// DefaultDetailReads bounds how many Details read at once, so the
	// caps bound memory: a few whole 12-hour calls, not one per request.
	DefaultDetailReads = 4
)

const (
	// detailBatch is how many records one pull asks for; detailBatchBytes
	// bounds the bytes it may bring (a record is up to NATS's max_payload,
	// 1 MB by default), so a call's records are never all in flight.
	detailBatch      = 500
	detailBatchBytes = 4 << 20
	// detailConsumerIdle is when the server removes a read's consumer if
	// the explicit delete after the read did not reach it.
	detailConsumerIdle = 30 * time.Second
	// detailDeleteTimeout bounds that delete, which the reader waits for.
	detailDeleteTimeout = time.Second
)

// detailRetryPause is the wait before a detail read JetStream refused is
// tried again.
const detailRetryPause = 250 * time.Millisecond

// Detail returns everything stored about a call, as Store.Detail does:
// the same Detail for the same records. It answers ErrNotFound, without
// asking JetStream, for a call the local store does not have.
//
// Unless the Journal keeps details (JournalConfig.KeepDetails), the local
// store has only the call's summary and Detail reads the call's records
// from JetStream (see readDetail): it blocks for up to the detail timeout
// (DefaultDetailTimeout), fails with ErrJournalUnavailable when JetStream
// does not answer in time, and with ErrTooLarge for a call over the caps
// (DetailMaxRecords, DetailMaxBytes): never a partial call. Details that
// a projection from before kept in the local store are not read.
func (j *Journal) Detail(id CallID) (Detail, error) {
	if j.keepDetails {
		return j.st.Detail(id)
	}
	if _, err := j.st.GetCall(id); err != nil {
		return Detail{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), j.detailTimeout)
	defer cancel()
	select {
	case j.reads <- struct{}{}:
		defer func() { <-j.reads }()
	case <-ctx.Done():
		return Detail{}, fmt.Errorf("store: details of call %s: waiting for one of %d reads: %w: %w",
			id, cap(j.reads), ErrJournalUnavailable, ctx.Err())
	}
	start := time.Now()
	d, n, err := j.readDetail(ctx, id)
	// Right after a leader election JetStream may refuse a request at once
	// ("no responders"): asked again until the deadline, a reader sees a
	// slower answer rather than an error.
	for errors.Is(err, ErrJournalUnavailable) && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(detailRetryPause):
			d, n, err = j.readDetail(ctx, id)
		}
	}
	if err != nil {
		return Detail{}, err
	}
	j.log.Debug("store journal: read a call's details", "call_id", id, "records", n, "took", time.Since(start))
	return d, nil
}

// readDetail reads every record of call id from the stream with an
// ephemeral consumer filtered on the call's subjects, applies them in
// stream order to a scratch in-memory database with applyEntry (as a
// Store applies them: a replace deletes the utterance it replaces, a
// hint keeps its first event, feedback its last) and builds the Detail
// from it with readDetail, as Store.Detail does. It reads the records the
// stream held when the consumer was made (NumPending then): a live call's
// later ones are the next read's. n is how many it read.
func (j *Journal) readDetail(ctx context.Context, id CallID) (d Detail, n int, err error) {
	cons, err := j.js.CreateConsumer(ctx, j.stream, jetstream.ConsumerConfig{
		FilterSubject:     CallSubjects(id),
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: detailConsumerIdle,
	})
	if err != nil {
		return d, 0, fmt.Errorf("store: details of call %s: %w: %w", id, ErrJournalUnavailable, err)
	}
	info := cons.CachedInfo()
	defer j.deleteConsumer(info.Name)
	pending := info.NumPending
	switch {
	case pending == 0:
		// Its records have left the stream (expired) since the summary
		// was read here.
		return d, 0, fmt.Errorf("call %s: %w", id, ErrNotFound)
	case pending > uint64(j.maxRecords):
		return d, 0, fmt.Errorf("store: details of call %s: %d records, more than the %d a read takes: %w", id, pending, j.maxRecords, ErrTooLarge)
	}
	scratch, err := buntdb.Open(":memory:")
	if err != nil {
		return d, 0, fmt.Errorf("store: details of call %s: %w", id, err)
	}
	defer scratch.Close()
	if err := j.pullRecords(ctx, cons, id, int(pending), scratch); err != nil {
		return d, int(pending), err
	}
	err = scratch.View(func(tx *buntdb.Tx) error {
		d, err = readDetail(tx, id)
		return err
	})
	return d, int(pending), err
}

// pullRecords fetches want records from cons in batches and applies each
// batch to scratch. Each record must be the consumer's next (a gap means
// one was lost in flight: the read fails rather than show a call with a
// hole); the payloads together may not pass the byte cap.
func (j *Journal) pullRecords(ctx context.Context, cons jetstream.Consumer, id CallID, want int, scratch *buntdb.DB) error {
	fail := func(what string, err error) error {
		return fmt.Errorf("store: details of call %s: %s: %w", id, what, err)
	}
	var got, bytes int
	for got < want {
		budget := j.maxBytes - bytes
		batch, err := cons.Fetch(min(want-got, detailBatch), jetstream.FetchMaxBytes(min(budget, detailBatchBytes)+1),
			jetstream.FetchContext(ctx))
		if err != nil {
			return fail("reading", fmt.Errorf("%w: %w", ErrJournalUnavailable, err))
		}
		before := got
		err = scratch.Update(func(tx *buntdb.Tx) error {
			for msg := range batch.Messages() {
				meta, err := msg.Metadata()
				if err != nil {
					return err
				}
				if got++; meta.Sequence.Consumer != uint64(got) {
					return fmt.Errorf("consumer sequence %d where %d was due (a record lost in flight): %w",
						meta.Sequence.Consumer, got, ErrJournalUnavailable)
				}
				if bytes += recordSize(msg); bytes > j.maxBytes {
					return fmt.Errorf("more than %d bytes: %w", j.maxBytes, ErrTooLarge)
				}
				j.applyRecord(tx, id, msg, meta.Sequence.Stream)
			}
			return nil
		})
		if err != nil {
			return fail("reading", err)
		}
		if err := batch.Error(); err != nil {
			return fail("reading", fmt.Errorf("%w: %w", ErrJournalUnavailable, err))
		}
		if got == before {
			// Nothing came: out of time, or the next record does not fit
			// the bytes left (the server leaves it for a larger pull).
			if ctx.Err() != nil {
				return fail(fmt.Sprintf("read %d of %d records", got, want), fmt.Errorf("%w: %w", ErrJournalUnavailable, ctx.Err()))
			}
			return fail(fmt.Sprintf("the record after %d bytes", bytes), fmt.Errorf("more than %d bytes: %w", j.maxBytes, ErrTooLarge))
		}
	}
	return nil
}

// recordSize is about what a record weighs in memory and on the wire:
// subject, headers and payload.
func recordSize(msg jetstream.Msg) int {
	n := len(msg.Subject()) + len(msg.Data())
	for k, vs := range msg.Headers() {
		for _, v := range vs {
			n += len(k) + len(v) + 4 // ": " and CRLF
		}
	}
	return n
}

// applyRecord applies one message of call id to a scratch database. A
// message that is not a record of the call is left out, as the projection
// leaves it out (which logged it).
func (j *Journal) applyRecord(tx *buntdb.Tx, id CallID, msg jetstream.Msg, seq uint64) {
	e, _, err := decodeRecord(msg.Subject(), msg.Headers(), msg.Data())
	if err == nil && e.callID != id {
		err = fmt.Errorf("%w: a record of call %s", errBadRecord, e.callID)
	}
	if err == nil {
		err = applyEntry(tx, e, nil)
	}
	if err != nil {
		j.log.Debug("store journal: left a message out of a call's details", "call_id", id, "stream_seq", seq, "err", err)
	}
}

// deleteConsumer removes a Detail read's consumer at once, so reads do not
// pile consumers up on the stream's leader; if the delete fails the server
// removes it when it has been idle for detailConsumerIdle.
func (j *Journal) deleteConsumer(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), detailDeleteTimeout)
	defer cancel()
	if err := j.js.DeleteConsumer(ctx, j.stream, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		j.log.Debug("store journal: a detail read's consumer is left to expire", "consumer", name, "err", err)
	}
}

// dropPrefixes are the keys a projection of summaries does not keep
// (keepEntry), oldest kind first.
var dropPrefixes = []string{"utt:", "evt:", "gap:", "fb:"}

// dropBatch is how many keys one transaction of DropLocalDetails deletes:
// the store's writers wait for each.
const dropBatch = 10_000

// DropLocalDetails deletes the records a projection of summaries does not
// keep (utterances, events, gaps, feedback) from the local store, where a
// projection from before this release, or one that kept details
// (KeepDetails, a node that ran alone), left them: Detail reads them from
// JetStream. An event's call keeps its highest seq (LastEventSeq). It
// then compacts the file if it deleted anything, and returns how many
// records it deleted. With KeepDetails it deletes nothing.
//
// Call it at start after ImportLocal, which publishes from these records:
// until the file is marked imported it refuses (the records may be the
// only copy).
func (j *Journal) DropLocalDetails() (int, error) {
	if j.keepDetails {
		return 0, nil
	}
	err := j.st.db.View(func(tx *buntdb.Tx) error {
		_, err := tx.Get(metaImported)
		return err
	})
	if errors.Is(err, buntdb.ErrNotFound) {
		return 0, errors.New("store journal: the local calls are not in JetStream yet (ImportLocal first): their details are not dropped")
	}
	if err != nil {
		return 0, fmt.Errorf("store journal: %w", wrapDB(err))
	}
	n := 0
	for _, prefix := range dropPrefixes {
		for {
			m, err := j.dropSome(prefix)
			n += m
			if err != nil {
				return n, fmt.Errorf("store journal: dropping local details: %w", wrapDB(err))
			}
			if m < dropBatch {
				break
			}
		}
	}
	if n == 0 {
		return 0, nil
	}
	j.log.Info("store journal: dropped the call details this node's store kept: they are read from JetStream", "records", n)
	if err := j.st.Shrink(); err != nil {
		return n, fmt.Errorf("store journal: compacting after dropping local details: %w", err)
	}
	return n, nil
}

// dropSome deletes up to dropBatch keys with prefix in one transaction,
// keeping each call's highest event seq with the event's expiry.
func (j *Journal) dropSome(prefix string) (n int, err error) {
	err = j.st.db.Update(func(tx *buntdb.Tx) error {
		var keys []string
		if err := scanPrefix(tx, prefix, func(k, _ string) error {
			if keys = append(keys, k); len(keys) == dropBatch {
				return errStopScan
			}
			return nil
		}); err != nil && !errors.Is(err, errStopScan) {
			return err
		}
		for _, k := range keys {
			if prefix == "evt:" {
				if err := keepLastEvent(tx, k); err != nil {
					return err
				}
			}
			if _, err := tx.Delete(k); err != nil && !errors.Is(err, buntdb.ErrNotFound) {
				return err
			}
		}
		n = len(keys)
		return nil
	})
	return n, err
}

// errStopScan ends a scanPrefix early.
var errStopScan = errors.New("stop")

// keepLastEvent raises the call's evtseq to the seq of event key k, with
// k's expiry (the call's).
func keepLastEvent(tx *buntdb.Tx, k string) error {
	id, num, ok := strings.Cut(strings.TrimPrefix(k, "evt:"), "/")
	seq, err := strconv.ParseUint(num, 10, 64)
	if !ok || err != nil {
		return nil // not an event key the store writes: nothing to keep
	}
	last, err := readSeq(tx, lastEventKey(CallID(id)))
	if err != nil || seq <= last {
		return err
	}
	var opts *buntdb.SetOptions
	if ttl, err := tx.TTL(k); err == nil && ttl > 0 {
		opts = &buntdb.SetOptions{Expires: true, TTL: ttl}
	}
	_, _, err = tx.Set(lastEventKey(CallID(id)), strconv.FormatUint(seq, 10), opts)
	return err
}
