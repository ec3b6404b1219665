package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/earshot/earshot/protocol"
)

// ownerClaimTries bounds the compare-and-set loop of a claim: each failed
// try means another node changed the key in between.
const ownerClaimTries = 5

// owners says which node runs each live call of the cluster: one key per
// call in the owners bucket, changed only by compare-and-set, and a watch
// of the whole bucket so a session can ask, at no cost, whether its call
// was taken over (an endpoint that lost this node resumed elsewhere).
type owners struct {
	kv   jetstream.KeyValue
	node string
	log  *slog.Logger

	mu    sync.Mutex
	byKey map[string]string // owner key → node, as the watch last saw it
	ready chan struct{}     // closed once the watch has read the bucket
}

func newOwners(kv jetstream.KeyValue, node string, log *slog.Logger) *owners {
	return &owners{kv: kv, node: node, log: log, byKey: map[string]string{}, ready: make(chan struct{})}
}

// bucketKey is an id as a key of the owners or nodes bucket: keys take
// [-/_=.A-Za-z0-9], ids also ':', which becomes '=' (no id holds '='), so
// for ids the mapping is one to one. Anything else (a host name used as a
// node name) is first made an id part by the one id rule.
func bucketKey(id string) string { return strings.ReplaceAll(protocol.IDPart(id), ":", "=") }

// run follows the bucket until ctx ends. Its goroutine is the server's.
func (o *owners) run(ctx context.Context) error {
	w, err := o.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watching call owners: %w", err)
	}
	defer w.Stop()
	readyOnce := sync.OnceFunc(func() { close(o.ready) })
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watch of call owners ended")
			}
			if e == nil { // the end of the bucket's current keys
				readyOnce()
				continue
			}
			o.mu.Lock()
			if e.Operation() == jetstream.KeyValuePut {
				o.byKey[e.Key()] = string(e.Value())
			} else {
				delete(o.byKey, e.Key())
			}
			o.mu.Unlock()
		}
	}
}

// claim makes this node the owner of callID: a new key, or a takeover of
// another node's by compare-and-set on the revision read (the call's
// endpoint came here, so the old owner lost it). It blocks for a few
// round trips to JetStream; an error means the call must not run here.
func (o *owners) claim(ctx context.Context, callID string) error {
	key := bucketKey(callID)
	for range ownerClaimTries {
		e, err := o.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			if _, err = o.kv.Create(ctx, key, []byte(o.node)); err == nil {
				o.noteOwner(key, o.node)
				return nil
			}
		case err != nil:
			return fmt.Errorf("reading the owner of call %s: %w", callID, err)
		case string(e.Value()) == o.node:
			// Confirmed by a compare-and-set of the same value, not taken
			// from the read: KeyValue.Get is a direct get, which this node's
			// own replica answers, and a node cut off from the quorum still
			// finds itself there after another node took the call over. It
			// would run the call again without being able to store it (the
			// partition test saw it). The write needs the quorum and fails
			// if the key moved since the read.
			if _, err = o.kv.Update(ctx, key, []byte(o.node), e.Revision()); err == nil {
				o.noteOwner(key, o.node)
				return nil
			}
		default:
			if _, err = o.kv.Update(ctx, key, []byte(o.node), e.Revision()); err == nil {
				o.log.Info("call taken over from another node", "call_id", callID, "from", string(e.Value()))
				o.noteOwner(key, o.node)
				return nil
			}
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("claiming call %s: %w", callID, err)
		}
		// Someone changed the key between our read and write: read again.
	}
	return fmt.Errorf("claiming call %s: the owner changed %d times in a row", callID, ownerClaimTries)
}

// errOwnedElsewhere is confirm's answer when another node owns the call.
type errOwnedElsewhere struct{ node string }

func (e errOwnedElsewhere) Error() string { return "call owned by node " + e.node }

// confirm makes sure, with the quorum, that this node may write callID:
// it owns the key (confirmed by a compare-and-set of the same value, as in
// claim), or nobody does (then it claims it). Unlike claim it never takes
// a call over: another node's key gives errOwnedElsewhere. A node writing
// after its writes failed (cut off, then healed) checks this first, as its
// watch of the bucket may not yet show what changed meanwhile.
func (o *owners) confirm(ctx context.Context, callID string) error {
	key := bucketKey(callID)
	e, err := o.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		_, err = o.kv.Create(ctx, key, []byte(o.node))
	case err == nil:
		// Whatever the read says is confirmed by writing the same value
		// back by compare-and-set: a Get is a direct get, which any
		// replica may answer, a stale one included (a node just healed
		// still says it owns what was taken from it), and only the quorum
		// can say the read is the latest.
		_, err = o.kv.Update(ctx, key, e.Value(), e.Revision())
	}
	if err != nil {
		// A key changed between the read and the write is another node's
		// claim: the next confirm reads it.
		return fmt.Errorf("confirming the owner of call %s: %w", callID, err)
	}
	if owner := string(e.Value()); e != nil && owner != o.node {
		o.noteOwner(key, owner)
		return errOwnedElsewhere{owner}
	}
	o.noteOwner(key, o.node)
	return nil
}

// noteOwner records a claim at once, before the watch reports it, so a
// session never sees its own call as owned elsewhere.
func (o *owners) noteOwner(key, node string) {
	o.mu.Lock()
	o.byKey[key] = node
	o.mu.Unlock()
}

// ownedElsewhere reports the node that took callID over, if the watch has
// seen one other than this node.
func (o *owners) ownedElsewhere(callID string) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, ok := o.byKey[bucketKey(callID)]
	return n, ok && n != o.node
}

// release deletes the owner key of a call that ended here, unless another
// node owns it by now. Failure is logged: a stale key only makes the next
// claim a takeover.
func (o *owners) release(ctx context.Context, callID string) {
	key := bucketKey(callID)
	e, err := o.kv.Get(ctx, key)
	if err != nil || string(e.Value()) != o.node {
		return
	}
	if err := o.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil {
		o.log.Warn("owner of an ended call not released", "call_id", callID, "err", err)
	}
}
