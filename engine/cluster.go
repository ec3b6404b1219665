package engine

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/earshot/earshot/cluster"
	"github.com/earshot/earshot/live"
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
	writeJSON(w, http.StatusOK, st)
}
