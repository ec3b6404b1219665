package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The streams, their subjects and the buckets Start creates.
const (
	// CallsStream holds the records of every call on subjects
	// earshot.call.<id>.<kind>, on disk, for MaxAge.
	CallsStream   = "EARSHOT_CALLS"
	CallsSubjects = "earshot.call.>"
	// LiveStream holds live events (earshot.live.<id>.…) for an hour, in
	// memory: a late watcher replays the last minutes, and a call's lasting
	// record is in CallsStream, so a restart of every node may lose them.
	LiveStream   = "EARSHOT_LIVE"
	LiveSubjects = "earshot.live.>"
	// OwnersBucket maps a call id to the node that owns the call; owners
	// change it only by compare-and-set (KeyValue.Update with the revision
	// they read).
	OwnersBucket = "earshot_owners"
	// NodesBucket holds one heartbeat key per node; a key not written again
	// within NodeTTL disappears.
	NodesBucket = "earshot_nodes"
	// NodeTTL is the lifetime of a heartbeat in NodesBucket: a node should
	// write its key several times within it.
	NodeTTL = 15 * time.Second
)

const (
	// minMajor.minMinor is the oldest server with per-message TTL.
	minMajor, minMinor = 2, 11
	// duplicateWindow is how long a Nats-Msg-Id is remembered: a publisher
	// that resends within it after a lost ack stores nothing twice.
	duplicateWindow = 2 * time.Minute
	liveMaxAge      = time.Hour
	// liveMaxBytes bounds the live stream's memory on each replica.
	liveMaxBytes = 128 << 20
	// syncInterval matches the store's fsync policy (buntdb's EverySecond)
	// instead of nats-server's default of two minutes: an OS crash of a
	// single node loses at most about a second of acknowledged records.
	syncInterval   = time.Second
	connectTimeout = 2 * time.Second
	drainTimeout   = 5 * time.Second
	pollInterval   = 100 * time.Millisecond
	// requestTimeout bounds one JetStream API request while Start waits.
	requestTimeout = 2 * time.Second
)

// Node is one engine node's handle on NATS: the embedded server (unless
// Config.NATSURLs is set), a client connection to it, and the streams and
// buckets. Its methods are safe for concurrent use.
type Node struct {
	cfg      Config
	log      *slog.Logger
	ns       *server.Server // nil with an external NATS
	serverLg *serverLog
	nc       *nats.Conn
	ncClosed chan struct{} // closed by the connection's ClosedHandler
	js       jetstream.JetStream
	calls    jetstream.Stream
	live     jetstream.Stream
	owners   jetstream.KeyValue
	nodes    jetstream.KeyValue
	size     int
	replicas int

	fault     atomic.Pointer[string] // StoreError; nil when none
	stopWatch context.CancelFunc     // stops watchStore; nil if not started
	watchDone chan struct{}          // closed when watchStore returns

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Start starts the embedded NATS server with JetStream under
// Config.DataDir/nats (or connects to Config.NATSURLs), connects a client,
// waits for JetStream (in a cluster, for a meta leader) and creates or
// updates the streams and buckets. It blocks until ctx is done or for at
// most Config.ReadyTimeout (plus up to 2 s a URL to connect to an external
// NATS that does not answer).
//
// Errors: ErrBadConfig; ErrUnreachable naming the URLs when no server
// answers; ErrServerTooOld naming the version found; ErrNotReady when
// JetStream is disabled or, in a cluster, no quorum of nodes is reachable
// (naming the nodes that are). On error nothing is left running. The
// caller owns the Node and must Close it.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger.With("node", cfg.Node), ncClosed: make(chan struct{})}
	ctx, cancel := context.WithTimeout(ctx, cfg.ReadyTimeout)
	defer cancel()
	if err := n.start(ctx); err != nil {
		n.shutdown()
		return nil, err
	}
	n.warnAboutReplicas()
	if n.ns != nil {
		n.serverLg.formed.Store(true)
		wctx, stop := context.WithCancel(context.Background())
		n.stopWatch, n.watchDone = stop, make(chan struct{})
		go n.watchStore(wctx)
	}
	n.log.Info("cluster node started", "embedded", n.Embedded(), "cluster_size", n.size, "replicas", n.replicas, "server_version", n.nc.ConnectedServerVersion())
	return n, nil
}

func (n *Node) start(ctx context.Context) error {
	opts := []nats.Option{
		nats.Name("earshot " + n.cfg.Node),
		nats.Timeout(connectTimeout),
		nats.DrainTimeout(drainTimeout),
		nats.MaxReconnects(-1),
		nats.ClosedHandler(func(*nats.Conn) { close(n.ncClosed) }),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if !n.closed.Load() {
				n.log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { n.log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { n.log.Warn("nats async error", "err", err) }),
	}
	var err error
	if n.Embedded() {
		if n.ns, err = n.startServer(ctx); err != nil {
			return err
		}
		n.size = len(n.cfg.ClusterPeers) + 1
		n.nc, err = nats.Connect("", append(opts, nats.InProcessServer(n.ns))...)
		if err != nil {
			return fmt.Errorf("%w: in-process connection to the embedded server: %v", ErrUnreachable, err)
		}
	} else {
		n.nc, err = nats.Connect(strings.Join(n.cfg.NATSURLs, ","), opts...)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrUnreachable, redactedURLs(n.cfg.NATSURLs), err)
		}
		if err := checkVersion(n.nc.ConnectedServerVersion(), n.nc.ConnectedUrlRedacted()); err != nil {
			return err
		}
		n.size = externalSize(n.nc)
	}
	n.replicas = n.cfg.Replicas
	if n.replicas == 0 {
		n.replicas = AutoReplicas(n.size)
	}
	if n.js, err = jetstream.New(n.nc); err != nil {
		return fmt.Errorf("cluster: jetstream: %w", err)
	}
	if err := n.waitJetStream(ctx); err != nil {
		return err
	}
	return n.setup(ctx)
}

// clustered reports whether JetStream runs on more than one server, where
// a failure at start may be a peer still joining rather than a lasting one.
func (n *Node) clustered() bool {
	if n.ns != nil {
		return n.cfg.ClusterListen != ""
	}
	return n.nc.ConnectedClusterName() != ""
}

// waitJetStream polls JetStream until it answers: in a cluster, that takes
// a meta leader, hence a quorum of nodes.
func (n *Node) waitJetStream(ctx context.Context) error {
	var last error
	for {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		_, err := n.js.AccountInfo(rctx)
		cancel()
		switch {
		case err == nil:
			return nil
		case errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount),
			errors.Is(err, jetstream.ErrJetStreamNotEnabled) && !n.clustered():
			return fmt.Errorf("%w: JetStream is not enabled on %s (an external server needs -js)", ErrNotReady, n.where())
		}
		last = err
		if !n.pause(ctx) {
			return n.notReady("no JetStream meta leader", last)
		}
	}
}

// streams are the configurations of the streams and buckets.
type streams struct {
	calls, live   jetstream.StreamConfig
	owners, nodes jetstream.KeyValueConfig
}

func (n *Node) streamConfigs() streams {
	return streams{
		calls: jetstream.StreamConfig{
			Name:        CallsStream,
			Description: "Records of calls: earshot.call.<id>.<kind>.",
			Subjects:    []string{CallsSubjects},
			Storage:     jetstream.FileStorage,
			Replicas:    n.replicas,
			MaxAge:      n.cfg.MaxAge,
			Duplicates:  duplicateWindow,
			AllowMsgTTL: true, // every server Start accepts is 2.11 or newer
			// A call's summary is rewritten at every checkpoint; each one
			// rolls up its subject, so the stream keeps the newest only.
			AllowRollup: true,
		},
		live: jetstream.StreamConfig{
			Name:        LiveStream,
			Description: "Live events of calls: earshot.live.<id>.<kind>.",
			Subjects:    []string{LiveSubjects},
			Storage:     jetstream.MemoryStorage,
			Replicas:    n.replicas,
			MaxAge:      liveMaxAge,
			MaxBytes:    liveMaxBytes,
			Discard:     jetstream.DiscardOld,
			Duplicates:  duplicateWindow,
		},
		owners: jetstream.KeyValueConfig{
			Bucket:      OwnersBucket,
			Description: "The node that owns each call.",
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    n.replicas,
		},
		nodes: jetstream.KeyValueConfig{
			Bucket:      NodesBucket,
			Description: "Heartbeats of the live nodes.",
			History:     1,
			TTL:         NodeTTL,
			Storage:     jetstream.MemoryStorage, // heartbeats are worthless after a restart
			Replicas:    n.replicas,
		},
	}
}

// setup creates or updates the streams and buckets, in order.
func (n *Node) setup(ctx context.Context) error {
	c := n.streamConfigs()
	calls, live, owners, nodes := c.calls, c.live, c.owners, c.nodes
	for _, step := range []func() error{
		func() error { return place(ctx, n, CallsStream, &n.calls, n.js.CreateOrUpdateStream, calls) },
		func() error { return place(ctx, n, LiveStream, &n.live, n.js.CreateOrUpdateStream, live) },
		func() error { return place(ctx, n, OwnersBucket, &n.owners, n.js.CreateOrUpdateKeyValue, owners) },
		func() error { return place(ctx, n, NodesBucket, &n.nodes, n.js.CreateOrUpdateKeyValue, nodes) },
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// place creates or updates one stream or bucket with create and keeps it
// in dst. In a cluster it retries until ctx is done: right after a meta
// leader is elected, some nodes may not be known to it yet and an R3
// stream cannot be placed.
func place[C, T any](ctx context.Context, n *Node, name string, dst *T, create func(context.Context, C) (T, error), cfg C) error {
	for {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		v, err := create(rctx, cfg)
		cancel()
		if err == nil {
			*dst = v
			return nil
		}
		if !n.clustered() {
			return fmt.Errorf("%w: create %s (replicas %d): %v", ErrNotReady, name, n.replicas, err)
		}
		if !n.pause(ctx) {
			return n.notReady(fmt.Sprintf("cannot place %s with %d replicas", name, n.replicas), err)
		}
	}
}

// pause waits one poll interval; false means ctx is done.
func (n *Node) pause(ctx context.Context) bool {
	t := time.NewTimer(pollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// notReady builds the ErrNotReady error: in an embedded cluster it says
// how many of the other nodes this one reaches, and names them.
func (n *Node) notReady(what string, last error) error {
	if n.ns == nil || n.cfg.ClusterListen == "" {
		return fmt.Errorf("%w: %s on %s within %s: %v", ErrNotReady, what, n.where(), n.cfg.ReadyTimeout, last)
	}
	reached := n.reachablePeers()
	names := "none"
	if len(reached) > 0 {
		names = strings.Join(reached, ", ")
	}
	return fmt.Errorf("%w: %s within %s: %d of %d other nodes reachable (%s); a quorum needs %d of %d nodes; configured peers %s: %v",
		ErrNotReady, what, n.cfg.ReadyTimeout, len(reached), len(n.cfg.ClusterPeers), names,
		n.size/2+1, n.size, strings.Join(n.cfg.ClusterPeers, ", "), last)
}

// reachablePeers names the servers the embedded one has a route to.
func (n *Node) reachablePeers() []string {
	rz, err := n.ns.Routez(&server.RoutezOptions{})
	if err != nil {
		return nil
	}
	var names []string
	for _, r := range rz.Routes {
		if name := r.RemoteName; name != "" && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// where names the server for an error: the embedded one or the URLs.
func (n *Node) where() string {
	if n.ns != nil {
		return "the embedded server"
	}
	return redactedURLs(n.cfg.NATSURLs)
}

func (n *Node) warnAboutReplicas() {
	switch {
	case n.size == 2:
		n.log.Warn("a two-node cluster stops taking writes when either node is lost; run three nodes for a quorum that survives one loss", "replicas", n.replicas)
	case n.size >= 3 && n.replicas < 3:
		n.log.Warn("fewer than 3 replicas: a lost node takes records with it", "replicas", n.replicas, "cluster_size", n.size)
	}
}

// checkVersion refuses a server older than 2.11.
func checkVersion(version, where string) error {
	parts := strings.SplitN(version, ".", 3)
	num := func(i int) int {
		if i >= len(parts) {
			return -1
		}
		end := strings.IndexFunc(parts[i], func(r rune) bool { return r < '0' || r > '9' })
		if end < 0 {
			end = len(parts[i])
		}
		v, err := strconv.Atoi(parts[i][:end])
		if err != nil {
			return -1
		}
		return v
	}
	major, minor := num(0), num(1)
	if major < 0 || minor < 0 {
		return fmt.Errorf("%w: %s reports version %q, not one Earshot can read; it needs %d.%d or newer", ErrServerTooOld, where, version, minMajor, minMinor)
	}
	if major < minMajor || major == minMajor && minor < minMinor {
		return fmt.Errorf("%w: %s runs nats-server %s; Earshot needs %d.%d or newer for per-message TTL", ErrServerTooOld, where, version, minMajor, minMinor)
	}
	return nil
}

// externalSize estimates an external cluster's size from the servers the
// client knows (the configured URLs and those the server gossips). Set
// Config.Replicas to be exact.
func externalSize(nc *nats.Conn) int {
	if nc.ConnectedClusterName() == "" {
		return 1
	}
	hosts := map[string]bool{}
	for _, s := range nc.Servers() {
		if u, err := url.Parse(s); err == nil {
			hosts[u.Host] = true
		}
	}
	return max(1, len(hosts))
}

// redactedURLs joins URLs with any password replaced, for errors and logs.
func redactedURLs(urls []string) string {
	out := make([]string, len(urls))
	for i, s := range urls {
		if u, err := url.Parse(s); err == nil {
			out[i] = u.Redacted()
		} else {
			out[i] = "(unparsable URL)"
		}
	}
	return strings.Join(out, ", ")
}

// Conn returns the client connection. The Node owns it: do not close it.
func (n *Node) Conn() *nats.Conn { return n.nc }

// JetStream returns the JetStream context of Conn.
func (n *Node) JetStream() jetstream.JetStream { return n.js }

// Calls returns the calls stream (CallsStream).
func (n *Node) Calls() jetstream.Stream { return n.calls }

// Live returns the live events stream (LiveStream).
func (n *Node) Live() jetstream.Stream { return n.live }

// Owners returns the call owners bucket (OwnersBucket).
func (n *Node) Owners() jetstream.KeyValue { return n.owners }

// Nodes returns the heartbeats bucket (NodesBucket).
func (n *Node) Nodes() jetstream.KeyValue { return n.nodes }

// Name returns the node's name (Config.Node or the host name).
func (n *Node) Name() string { return n.cfg.Node }

// ClusterSize returns the number of nodes: len(Config.ClusterPeers)+1 for an
// embedded server, an estimate from the servers the client was told of for
// an external one.
func (n *Node) ClusterSize() int { return n.size }

// Replicas returns the replica count of the streams and buckets.
func (n *Node) Replicas() int { return n.replicas }

// Embedded reports whether the node runs its own NATS server.
func (n *Node) Embedded() bool { return len(n.cfg.NATSURLs) == 0 }

// Close drains the client connection (waiting at most a few seconds for
// pending publishes), then shuts the embedded server down and waits for it.
// It is idempotent: later calls return the first call's result.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.closed.Store(true)
		n.closeErr = n.shutdown()
		n.log.Info("cluster node closed")
	})
	return n.closeErr
}

// shutdown stops the client before the server: a server gone first would
// leave the drain waiting out its timeout.
func (n *Node) shutdown() error {
	n.closed.Store(true)
	// The watch first: a JetStream restart under the drain would leave
	// pending publishes unanswered until the drain times out.
	if n.stopWatch != nil {
		n.stopWatch()
		<-n.watchDone
	}
	var err error
	if n.nc != nil {
		if derr := n.nc.Drain(); derr != nil && !errors.Is(derr, nats.ErrConnectionClosed) {
			err = fmt.Errorf("cluster: drain: %w", derr)
			n.nc.Close()
		}
		t := time.NewTimer(drainTimeout + time.Second)
		select {
		case <-n.ncClosed:
		case <-t.C:
			n.nc.Close()
		}
		t.Stop()
	}
	if n.ns != nil {
		n.ns.Shutdown()
		n.ns.WaitForShutdown()
	}
	return err
}

// Connect opens another client connection to the same NATS (in process
// when embedded), for a user that should not share the node's connection
// — its own slow-consumer limits, or a test standing in for another node.
// The caller closes it.
func (n *Node) Connect(name string) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name("earshot " + n.cfg.Node + " " + name), nats.Timeout(connectTimeout), nats.MaxReconnects(-1)}
	if n.ns != nil {
		nc, err := nats.Connect("", append(opts, nats.InProcessServer(n.ns))...)
		if err != nil {
			return nil, fmt.Errorf("%w: in-process connection: %v", ErrUnreachable, err)
		}
		return nc, nil
	}
	nc, err := nats.Connect(strings.Join(n.cfg.NATSURLs, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, redactedURLs(n.cfg.NATSURLs), err)
	}
	return nc, nil
}
