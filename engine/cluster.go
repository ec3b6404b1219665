package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/cluster"
	"github.com/earshot/earshot/live"
	"github.com/earshot/earshot/store"
)

// clusterStatusTimeout bounds the JetStream requests behind /healthz and
// GET /v1/cluster, so a node without quorum still answers promptly.
const clusterStatusTimeout = 2 * time.Second

// joinCluster starts this engine's NATS node and hooks the relay of live
// events into the hub about to be made from hc; newRelay makes the relay
// once the hub exists.
func (s *Server) joinCluster(hc *live.HubConfig) error {
	cc := *s.cfg.Cluster
	if cc.DataDir == "" {
		cc.DataDir = s.cfg.DataDir
	}
	if cc.Logger == nil {
		cc.Logger = s.log
	}
	node, err := cluster.Start(context.Background(), cc)
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	// The relay has its own connection: a burst of other nodes' events
	// that overruns its pending limits must not stall the node's own
	// JetStream writes on a shared connection.
	nc, err := node.Connect("live")
	if err != nil {
		node.Close()
		return err
	}
	s.node, s.relayConn = node, nc
	// The hub calls this only for events published after New returned,
	// when the relay exists.
	hc.OnPublish = func(d live.Delivery) { s.relay.Forward(d) }
	return nil
}

// newRelay makes the relay between the new hub and the other nodes.
func (s *Server) newRelay() error {
	relay, err := live.NewRelay(s.relayConn, s.hub, live.RelayConfig{Node: s.node.Name(), Logger: s.log})
	if err != nil {
		return err
	}
	s.relay = relay
	return nil
}

// runRelay delivers other nodes' live events until ctx ends. Started by
// Run; a relay that fails leaves this node's subscribers with its own
// calls only, which is logged, not fatal.
func (s *Server) runRelay(ctx context.Context) {
	if err := s.relay.Run(ctx); err != nil {
		s.log.Error("live events of other nodes stopped", "err", err)
	}
}

// leaveCluster closes the relay's connection and the NATS node, after the
// store (whose records go through it) is closed.
func (s *Server) leaveCluster() error {
	if s.node == nil {
		return nil
	}
	s.relayConn.Close()
	return s.node.Close()
}

// health is /healthz: ok, or degraded with the cluster's state when a
// stream has no leader (writes are not acknowledged: calls will not be
// acked and fail over). It answers 200 either way; status says which.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if s.node == nil {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), clusterStatusTimeout)
	defer cancel()
	st, err := s.node.Status(ctx)
	out := map[string]any{"status": "ok", "node": st.Node, "cluster": st}
	if err != nil {
		out["status"], out["error"] = "degraded", err.Error()
	}
	writeJSON(w, http.StatusOK, out)
}

// getCluster is GET /v1/cluster (supervisors and admins): the nodes and
// the streams' health, as /healthz reports them.
func (s *Server) getCluster(w http.ResponseWriter, r *http.Request) {
	if s.node == nil {
		writeError(w, http.StatusNotFound, "this engine runs without a cluster")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), clusterStatusTimeout)
	defer cancel()
	st, err := s.node.Status(ctx)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": err.Error(), "cluster": st})
		return
	}
	loads, err := s.nodeLoads(ctx)
	if err != nil {
		s.log.Warn("node loads not read", "err", err)
	}
	writeJSON(w, http.StatusOK, struct {
		cluster.Status
		Nodes []NodeLoad `json:"nodes"` // heartbeats: this node first, then by room
	}{st, loads})
}

// callStore is what the server and its sessions read and write calls
// through: the buntdb store alone, or in a cluster the journal, which
// writes to JetStream before the local projection.
type callStore interface {
	recordStore
	CreateCall(c store.Call) error
	GetCall(id store.CallID) (store.Call, error)
	LastEventSeq(id store.CallID) (uint64, error)
	List(q store.Query) (store.Page, error)
	Calls(status string) ([]store.Call, error)
	SetFeedback(id store.CallID, hintID string, fb store.Feedback) error
	Close() error
}

// catchUpTimeout bounds how long a node starting with an empty or stale
// projection waits to have applied the calls stream before it serves.
const catchUpTimeout = 10 * time.Minute

// openJournal puts JetStream in front of the store: it imports a data
// directory from before the cluster, starts the projection (its goroutine
// stopped by stopProjection) and waits until it has caught up, so the
// calls this node lists and resumes are the cluster's.
func (s *Server) openJournal() error {
	// A node alone on its embedded server keeps its calls' details in its
	// store (the only other copy once it joins a cluster, which does not
	// take the standalone server's stream); a node of a cluster keeps
	// summaries and reads details from JetStream (store.JournalConfig).
	alone := !s.inCluster()
	j, err := store.NewJournal(s.db, s.node.JetStream(), store.JournalConfig{Node: s.node.Name(), KeepDetails: alone})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), catchUpTimeout)
	defer cancel()
	if _, err := j.Reconcile(ctx); err != nil {
		return fmt.Errorf("checking the calls stream: %w", err)
	}
	n, err := j.ImportLocal(ctx)
	if err != nil {
		return fmt.Errorf("importing this data directory's calls into JetStream: %w", err)
	}
	if n > 0 {
		s.log.Info("calls of this data directory imported into JetStream", "records", n)
	}
	// Now in JetStream, the details a projection from before kept are
	// dropped; left there they would only cost memory (Detail does not
	// read them), so a failure is not fatal.
	if _, err := j.DropLocalDetails(); err != nil {
		s.log.Warn("the call details this node's store kept before are not all dropped", "err", err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	s.owners = newOwners(s.node.Owners(), s.node.Name(), s.log)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		s.heartbeat(runCtx, s.node.Nodes())
	}()
	go func() {
		defer wg.Done()
		if err := j.Run(runCtx); err != nil {
			s.log.Error("projection of the cluster's calls stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := s.owners.run(runCtx); err != nil {
			s.log.Error("call owners not followed: a call taken over elsewhere is not stopped here", "err", err)
		}
	}()
	s.stopProj = func() { stop(); wg.Wait() }
	s.journal, s.store = j, j
	select {
	case <-s.owners.ready:
	case <-ctx.Done():
		return fmt.Errorf("reading the call owners: %w", ctx.Err())
	}
	start := time.Now()
	if err := j.WaitCaughtUp(ctx); err != nil {
		return fmt.Errorf("catching up with the cluster's calls: %w", err)
	}
	s.log.Info("projection caught up with the cluster", "applied_seq", j.AppliedSeq(), "took", time.Since(start).Round(time.Millisecond))
	s.registerClusterMetrics()
	return nil
}

// registerClusterMetrics adds the cluster's series to /metrics, read from
// the journal and the relay when scraped.
func (s *Server) registerClusterMetrics() {
	j, r := s.journal, s.relay
	counter := func(name, help string, f func() uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(f()) })
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	s.m.reg.MustRegister(
		counter("earshot_cluster_records_sent_total", "Records this node wrote to JetStream (each acknowledged by it).", func() uint64 { n, _ := j.Sent(); return n }),
		counter("earshot_cluster_record_bytes_sent_total", "Bytes of those records on the wire.", func() uint64 { _, b := j.Sent(); return b }),
		counter("earshot_cluster_events_relayed_total", "Live events this node forwarded to the other nodes.", func() uint64 { n, _ := r.Sent(); return n }),
		counter("earshot_cluster_events_lost_total", "Live events this node could not forward (NATS connection down).", r.Lost),
		counter("earshot_cluster_events_dropped_total", "Live events from other nodes refused as malformed or unusable.", r.Dropped),
		gauge("earshot_cluster_projection_lag", "Records of the calls stream this node's projection has still to apply.", func() float64 { return float64(j.Lag()) }),
		gauge("earshot_cluster_projection_caught_up", "1 when this node's projection has applied the calls stream, else 0.", func() float64 {
			if j.CaughtUp() {
				return 1
			}
			return 0
		}),
	)
}

// stopProjection stops the journal's projection and the owners' watch
// and waits for them; the store may be closed after.
func (s *Server) stopProjection() {
	if s.stopProj != nil {
		s.stopProj()
		s.stopProj = nil
	}
}

// nodeName is this node's name in the cluster, "" without one.
func (s *Server) nodeName() string {
	if s.node == nil {
		return ""
	}
	return s.node.Name()
}

// ownerTimeout bounds a claim or release of a call's ownership.
const ownerTimeout = 5 * time.Second

// claimCall makes this node the owner of a call about to run here (no-op
// without a cluster), before anything of it is written. An error (wrapping
// ErrStorage) means it must not run here.
func (s *Server) claimCall(callID string) error {
	if s.owners == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), ownerTimeout)
	defer cancel()
	if err := s.owners.claim(ctx, callID); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	return nil
}

// confirmOwner says whether this node may still write callID (always,
// without a cluster): node is the one that owns it instead, if known; an
// error means the owners bucket could not be asked (no quorum).
func (s *Server) confirmOwner(callID string) (node string, err error) {
	if s.owners == nil {
		return "", nil
	}
	// Short: a session asks while its writes fail, from its own goroutine.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err = s.owners.confirm(ctx, callID)
	if e, ok := errors.AsType[errOwnedElsewhere](err); ok {
		return e.node, nil
	}
	return "", err
}

// inCluster says whether another node may resume this node's calls: it
// is one of a cluster's, or runs on an external NATS (where other nodes
// may be). An embedded server alone is a single engine.
func (s *Server) inCluster() bool {
	return s.node != nil && !(s.node.Embedded() && s.cfg.Cluster.ClusterListen == "")
}

func (s *Server) ownedElsewhere(callID string) (string, bool) {
	if s.owners == nil {
		return "", false
	}
	return s.owners.ownedElsewhere(callID)
}

func (s *Server) releaseCall(callID string) {
	if s.owners == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), ownerTimeout)
	defer cancel()
	s.owners.release(ctx, callID)
}

// ClusterStatus is the node's view of the cluster (GET /v1/cluster), or
// an error naming why not; without a cluster, cluster.ErrClosed.
func (s *Server) ClusterStatus(ctx context.Context) (cluster.Status, error) {
	if s.node == nil {
		return cluster.Status{}, cluster.ErrClosed
	}
	return s.node.Status(ctx)
}

// NATSTraffic is what this node has sent to NATS: records written to
// JetStream and live events forwarded, with their bytes on the wire.
type NATSTraffic struct {
	Records, RecordBytes, Events, EventBytes uint64
}

// Traffic returns what this node has sent to NATS so far (zero without a
// cluster).
func (s *Server) Traffic() NATSTraffic {
	var t NATSTraffic
	if s.journal != nil {
		t.Records, t.RecordBytes = s.journal.Sent()
	}
	if s.relay != nil {
		t.Events, t.EventBytes = s.relay.Sent()
	}
	return t
}
