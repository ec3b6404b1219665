package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tidwall/buntdb"
)

// An entry is one write to a call: the key and value the Store sets, and
// what it replaces. The Store applies it in one transaction; the Journal
// publishes the same record to JetStream and then applies it the same way,
// so both write byte for byte what the other would.
type entry struct {
	kind   string // one of the kind constants, also the subject's last token
	callID CallID
	key    string
	oldKey string // kindReplace: the utterance it replaces
	data   []byte // the value, the store's own JSON
	// start is the call's start for kindCall records (others take it from
	// the stored summary); create marks a CreateCall.
	start  time.Time
	create bool
}

// Record kinds: the last token of a record's subject and its Earshot-Kind
// header.
const (
	kindCall    = "call" // summary (CreateCall, PutCall)
	kindUtt     = "utt"
	kindReplace = "uttx" // an utterance in place of an older one
	kindEvent   = "evt"
	kindHint    = "hint"
	kindGap     = "gap"
	kindFB      = "fb"
)

// keyPrefixes maps each kind to the prefix of its keys, which ends in the
// call id: a record whose key does not start with its kind's prefix and
// call is refused (a stream message may not write another call's keys).
var keyPrefixes = map[string]string{
	kindCall: "call:", kindUtt: "utt:", kindReplace: "utt:", kindEvent: "evt:",
	kindHint: "hint:", kindGap: "gap:", kindFB: "fb:",
}

func callEntry(c Call, create bool) (entry, error) {
	if err := checkID("call", c.ID); err != nil {
		return entry{}, err
	}
	c.StartNS = c.StartedAt.UnixNano()
	b, err := json.Marshal(c)
	if err != nil {
		return entry{}, fmt.Errorf("store: call %s: %w", c.ID, err)
	}
	return entry{kind: kindCall, callID: c.ID, key: callKey(c.ID), data: b, start: c.StartedAt, create: create}, nil
}

func eventEntry(callID CallID, seq uint64, event []byte) (entry, error) {
	if err := checkID("call", callID); err != nil {
		return entry{}, err
	}
	if !json.Valid(event) {
		return entry{}, fmt.Errorf("store: event %d of call %s is not JSON", seq, callID)
	}
	return entry{kind: kindEvent, callID: callID, key: eventKey(callID, seq), data: event}, nil
}

func utteranceEntry(callID CallID, u Utterance) (entry, error) {
	if err := checkID("call", callID); err != nil {
		return entry{}, err
	}
	b, err := json.Marshal(u)
	if err != nil {
		return entry{}, fmt.Errorf("store: utterance: %w", err)
	}
	return entry{kind: kindUtt, callID: callID, key: uttKey(callID, u.Start, u.Speaker, u.Seq), data: b}, nil
}

func replaceEntry(callID CallID, old, u Utterance) (entry, error) {
	r, err := utteranceEntry(callID, u)
	r.kind, r.oldKey = kindReplace, uttKey(callID, old.Start, old.Speaker, old.Seq)
	return r, err
}

func hintEntry(callID CallID, hintID string, event []byte) (entry, error) {
	if err := checkID("call", callID); err != nil {
		return entry{}, err
	}
	if err := checkID("hint", hintID); err != nil {
		return entry{}, err
	}
	b, err := json.Marshal(Hint{ID: hintID, Event: event})
	if err != nil {
		return entry{}, fmt.Errorf("store: hint: %w", err)
	}
	return entry{kind: kindHint, callID: callID, key: hintKey(callID, hintID), data: b}, nil
}

func gapEntry(callID CallID, g Gap) (entry, error) {
	if err := checkID("call", callID); err != nil {
		return entry{}, err
	}
	b, err := json.Marshal(g)
	if err != nil {
		return entry{}, fmt.Errorf("store: gap: %w", err)
	}
	key := fmt.Sprintf("%s%020d/%020d", gapPrefix(callID), keyNanos(g.From), g.FromSeq+1)
	return entry{kind: kindGap, callID: callID, key: key, data: b}, nil
}

func feedbackEntry(callID CallID, hintID string, fb Feedback) (entry, error) {
	if err := checkID("call", callID); err != nil {
		return entry{}, err
	}
	if err := checkID("hint", hintID); err != nil {
		return entry{}, err
	}
	b, err := json.Marshal(fb)
	if err != nil {
		return entry{}, fmt.Errorf("store: feedback: %w", err)
	}
	return entry{kind: kindFB, callID: callID, key: fbKey(callID, hintID), data: b}, nil
}

// checkEntry applies the store's rules for r to what tx holds and returns the
// start of r's call, which every key of the call expires from: a new call
// may not exist yet, every other entry needs its call, feedback needs its
// hint. skip is true for a hint already stored (the first event of a hint
// id is kept). It only reads.
func checkEntry(tx *buntdb.Tx, r entry) (start time.Time, skip bool, err error) {
	if r.kind == kindCall {
		if r.create {
			if _, err := tx.Get(r.key); err == nil {
				return start, false, fmt.Errorf("call %s: %w", r.callID, ErrExists)
			} else if !errors.Is(err, buntdb.ErrNotFound) {
				return start, false, err
			}
		}
		return r.start, false, nil
	}
	if start, err = callStart(tx, r.callID); err != nil {
		return start, false, err
	}
	switch r.kind {
	case kindHint:
		_, err := tx.Get(r.key)
		return start, err == nil, nil
	case kindFB:
		hint := strings.TrimPrefix(r.key, fbKey(r.callID, ""))
		if _, err := tx.Get(hintKey(r.callID, hint)); errors.Is(err, buntdb.ErrNotFound) {
			return start, false, fmt.Errorf("hint %s of call %s: %w", hint, r.callID, ErrNotFound)
		} else if err != nil {
			return start, false, err
		}
	}
	return start, false, nil
}

// applyEntry writes r inside tx with opts' expiry. It is the whole of a write
// once checkEntry has passed, and harmless to repeat: a replace deletes an
// utterance that may be gone already, a hint keeps the first event.
func applyEntry(tx *buntdb.Tx, r entry, opts *buntdb.SetOptions) error {
	switch r.kind {
	case kindReplace:
		if _, err := tx.Delete(r.oldKey); err != nil && !errors.Is(err, buntdb.ErrNotFound) {
			return err
		}
	case kindHint:
		if _, err := tx.Get(r.key); err == nil {
			return nil
		}
	}
	_, _, err := tx.Set(r.key, string(r.data), opts)
	return err
}

// write checks and applies r in one transaction: the Store's own write.
func (s *Store) write(r entry, err error) error {
	if err != nil {
		return err
	}
	return wrapDB(s.db.Update(func(tx *buntdb.Tx) error {
		start, skip, err := checkEntry(tx, r)
		if err != nil || skip {
			return err
		}
		return applyEntry(tx, r, s.opts(start))
	}))
}
