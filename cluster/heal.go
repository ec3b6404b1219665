package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// A single embedded server does not heal a store that failed to write.
// When a write to a stream's files fails (a full disk), nats-server 2.15.3
// keeps the error in the file store (fileStore.werr, msgBlock.werr: "Return
// previous write errors immediately") and in the stream (stream.werr), and
// from then on answers no publish to that stream: processJetStreamMsg logs
// "JetStream failed to store a msg" and, on purpose, sends no reply ("We
// don't want to respond back to the user"). JetStream itself stays enabled,
// so freeing the disk changes nothing; only opening the streams again from
// their files does, which the server does when JetStream starts (its own
// restartJetStream runs on a config reload, not on its own).
//
// So the node watches the server's health and, once the store directory
// takes a write again, stops JetStream for its account and enables it
// again: the streams and buckets are read back from their files, without
// their write errors, and the node's connection, and every client handle
// on it, carry on. A request made during the restart (milliseconds) fails
// or goes unanswered, which the journal treats as not written; the
// ordered consumers (the projection's, the bucket watchers') lose their
// server side and recreate it from their last sequence once their
// heartbeats stop.
//
// Only a single server heals this way. In a cluster, nats-server shuts
// JetStream down by itself on "no space left" (handleOutOfSpace: "JetStream
// out of resources, will be DISABLED"); enabling it again through the
// exported API races with requests in flight (see restartJetStream) and
// leaves the server's INFO saying JetStream is off (updateJetStreamInfoStatus
// is unexported; only restartJetStream sets it back), which peers read when
// a route connects. A cluster node is better restarted, which its error
// log says.

const (
	// healInterval is how often the node checks its store, and its first
	// wait between attempts to heal it.
	healInterval = 2 * time.Second
	// healMaxInterval bounds the wait between attempts when each one fails
	// again at once (a disk with barely any room): JetStream is not
	// stopped and started more often than that.
	healMaxInterval = 30 * time.Second
	// healSteady is how long a healed store must keep writing before the
	// wait between attempts starts again from healInterval.
	healSteady = time.Minute
	// probeSize is what the store directory must take before JetStream is
	// started again: room for a few thousand records, so the streams do not
	// fail again on their first writes.
	probeSize = 1 << 20
	// restartTimeout bounds the requests that put back the streams and
	// buckets after JetStream started again.
	restartTimeout = 10 * time.Second
)

// storeFault returns why the embedded server's JetStream cannot write, ""
// when it can, and whether restartJetStream can heal it: a stream or
// consumer whose store failed to write can be; JetStream disabled on the
// whole server (by nats-server itself, on a permission error or, in a
// cluster, a full disk) cannot, since the account cannot be enabled
// without it. Other health findings (a peer not current, a cluster
// forming) are not store faults.
func (n *Node) storeFault() (fault string, healable bool) {
	if !n.ns.JetStreamEnabled() {
		return "JetStream is disabled on the server", false
	}
	h := n.ns.Healthz(&server.HealthzOptions{Details: true})
	for _, e := range h.Errors {
		// Stream, consumer and meta layer write errors all say "write
		// error"; the other findings of a cluster (no meta leader yet)
		// share their types with them.
		if strings.Contains(e.Error, "write error") {
			return e.Error, !n.clustered()
		}
	}
	return "", false
}

// StoreError says why the embedded server's JetStream cannot write to its
// files (a full disk), "" when it can, with an external server, or before
// the node's first check (every healInterval).
func (n *Node) StoreError() string {
	if p := n.fault.Load(); p != nil {
		return *p
	}
	return ""
}

// watchStore checks the store every healInterval until ctx is done and,
// on a single server, heals it once it has room (see above). It logs a
// failure once at Error and the recovery once at Info.
func (n *Node) watchStore(ctx context.Context) {
	defer close(n.watchDone)
	var (
		failedAt    time.Time // when the current fault was first seen
		restarts    int       // restarts since failedAt
		lastRestart time.Time
		wait        = healInterval // between restarts
	)
	t := time.NewTicker(healInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fault, healable := n.storeFault()
		if fault == "" {
			n.fault.Store(nil)
			if !failedAt.IsZero() {
				n.log.Info("JetStream writes again", "down", time.Since(failedAt).Round(time.Millisecond), "restarts", restarts)
				failedAt, restarts = time.Time{}, 0
			}
			continue
		}
		n.fault.Store(&fault)
		if failedAt.IsZero() {
			failedAt = time.Now()
			if !healable {
				n.log.Error("JetStream cannot write its store: this node acknowledges no record; free space and restart the engine", "err", fault, "store_dir", n.storeDir())
				continue
			}
			n.log.Error("JetStream cannot write its store: no record is acknowledged until it can; JetStream restarts by itself once the disk has room", "err", fault, "store_dir", n.storeDir(), "check_every", healInterval)
		}
		if !healable || time.Since(lastRestart) < wait {
			continue
		}
		if err := probe(n.storeDir()); err != nil {
			n.log.Debug("JetStream's store has no room yet", "err", err)
			continue
		}
		// A restart within healSteady of the last one means that one did
		// not hold (the disk filled again): wait longer before the next.
		if !lastRestart.IsZero() && time.Since(lastRestart) < healSteady {
			wait = min(2*wait, healMaxInterval)
		} else {
			wait = healInterval
		}
		lastRestart = time.Now()
		restarts++
		if err := n.restartJetStream(ctx); err != nil {
			n.log.Warn("restarting JetStream failed; trying again", "err", err, "retry_in", wait)
		}
	}
}

// storeDir is the directory nats-server was given (it keeps its files in
// its jetstream subdirectory).
func (n *Node) storeDir() string { return filepath.Join(n.cfg.DataDir, "nats") }

// probe writes probeSize bytes to a file in dir and removes it: nil means
// the file system took them (free space, quota and inodes all allow it).
func probe(dir string) (err error) {
	f, err := os.CreateTemp(dir, ".earshot-probe-*")
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if rerr := os.Remove(f.Name()); err == nil {
			err = rerr
		}
	}()
	_, err = f.Write(make([]byte, probeSize))
	return err
}

// restartJetStream stops JetStream for the server's account and enables
// it again, which opens its streams from their files as at start.
//
// It restarts the account, not the server's JetStream
// (Server.ShutdownJetStream then EnableJetStream, what nats-server's
// reload does): EnableJetStream replaces the server's API queues
// (setJetStreamExportSubs: "s.jsAPIRoutedReqs = newIPQueue…") while
// requests in flight read them (jetStream.apiDispatch) without a lock, a
// data race the race detector reports whenever a client sends a JetStream
// request during the restart, as the engine's do. Enabling an account is
// what the server does at run time when an account's limits change.
//
// The account is the global one: the embedded server configures no
// other, and it started with the default limits, which
// Account.EnableJetStream(nil, …) assigns again.
func (n *Node) restartJetStream(ctx context.Context) error {
	n.log.Info("restarting JetStream to reopen its streams from their files", "store_dir", n.storeDir())
	n.serverLg.quiet.Store(true)
	defer n.serverLg.quiet.Store(false)
	ctx, cancel := context.WithTimeout(ctx, restartTimeout)
	defer cancel()
	n.dropMemoryStreams(ctx)
	acc := n.ns.GlobalAccount()
	if err := acc.DisableJetStream(); err != nil {
		return fmt.Errorf("cluster: stopping JetStream: %w", err)
	}
	if err := acc.EnableJetStream(nil, nil); err != nil {
		return fmt.Errorf("cluster: enabling JetStream: %w", err)
	}
	return n.ensureStreams(ctx)
}

// dropMemoryStreams deletes the streams kept in memory before a restart.
// Their messages do not survive it anyway (they have no files), and a
// stream stopped without being deleted keeps its reservation of memory
// (MaxBytes; the server releases it only on delete): the live stream
// would hold 128 MiB more after every restart until none was left.
func (n *Node) dropMemoryStreams(ctx context.Context) {
	for _, name := range []string{LiveStream, "KV_" + NodesBucket} {
		if err := n.js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			n.log.Debug("a memory stream not deleted before the JetStream restart", "stream", name, "err", err)
		}
	}
}

// ensureStreams creates each stream and bucket that is missing, leaving
// the Node's handles as they are (they name the stream, so they work on
// the stream reopened under the same name).
func (n *Node) ensureStreams(ctx context.Context) error {
	cfgs := n.streamConfigs()
	var errs []error
	for _, sc := range []jetstream.StreamConfig{cfgs.calls, cfgs.live} {
		if _, err := n.js.Stream(ctx, sc.Name); errors.Is(err, jetstream.ErrStreamNotFound) {
			_, err = n.js.CreateStream(ctx, sc)
			errs = append(errs, err)
		}
	}
	for _, kc := range []jetstream.KeyValueConfig{cfgs.owners, cfgs.nodes} {
		if _, err := n.js.KeyValue(ctx, kc.Bucket); errors.Is(err, jetstream.ErrBucketNotFound) {
			_, err = n.js.CreateKeyValue(ctx, kc)
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cluster: putting back streams after a JetStream restart: %w", err)
	}
	return nil
}
