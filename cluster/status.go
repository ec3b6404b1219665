package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/earshot/earshot/protocol"
)

// Status is a node's view of the cluster, for /healthz and GET /v1/cluster.
type Status struct {
	Node     string `json:"node"`
	Embedded bool   `json:"embedded"`
	// Cluster is the cluster's name, "" for a single server.
	Cluster string `json:"cluster,omitempty"`
	// MetaLeader is the node leading JetStream's meta group (empty with an
	// external server, whose meta group a client cannot see, and while no
	// quorum is reachable).
	MetaLeader string `json:"meta_leader,omitempty"`
	// Peers are the nodes this node's server knows (itself first) as it
	// sees them; with an external server, the calls stream's replicas.
	Peers    []Peer         `json:"peers"`
	Replicas int            `json:"replicas"`
	Streams  []StreamStatus `json:"streams"`
	// StoreError says why the embedded server cannot write its files (a
	// full disk): a stream answers its info requests but takes no record.
	StoreError string `json:"store_error,omitempty"`
}

// Peer is one node as a group's leader (or this node) sees it.
type Peer struct {
	Name string `json:"name"`
	// Current means the peer is caught up with the group's leader.
	Current bool `json:"current"`
	Offline bool `json:"offline,omitempty"`
	// ActiveS is how long ago the peer was last heard from, in seconds.
	ActiveS float64 `json:"active_s"`
	// Lag is how many operations the peer is behind.
	Lag uint64 `json:"lag,omitempty"`
}

// StreamStatus is the state of one stream or bucket.
type StreamStatus struct {
	Name string `json:"name"`
	// Leader is the node that orders writes; "" means no quorum: writes
	// are not acknowledged.
	Leader   string `json:"leader,omitempty"`
	Replicas int    `json:"replicas"`
	// Peers are the replicas other than the leader.
	Peers []Peer `json:"peers,omitempty"`
	// Healthy means a leader and every replica current.
	Healthy  bool   `json:"healthy"`
	Messages uint64 `json:"messages"`
	Bytes    uint64 `json:"bytes"`
	// Error says why the stream could not be read.
	Error string `json:"error,omitempty"`
}

// statusStreams are the streams Status reports: the two streams and the
// streams behind the buckets.
var statusStreams = []string{CallsStream, LiveStream, "KV_" + OwnersBucket, "KV_" + NodesBucket}

// Status asks the server for the streams' state (one request per stream,
// each answered by the stream's leader) and, when embedded, reads the meta
// group. It blocks until the answers or ctx's end. It returns what it
// could read even with an error: a stream that did not answer (no leader,
// say) has Healthy false and Error set, and the error wraps ErrNotReady.
// After Close it returns ErrClosed.
func (n *Node) Status(ctx context.Context) (Status, error) {
	if n.closed.Load() {
		return Status{}, ErrClosed
	}
	st := Status{Node: n.cfg.Node, Embedded: n.Embedded(), Cluster: n.nc.ConnectedClusterName(), Replicas: n.replicas}
	if n.ns != nil {
		st.MetaLeader, st.Peers = n.metaPeers()
	}
	var errs []error
	for _, name := range statusStreams {
		ss := StreamStatus{Name: name}
		s, err := n.js.Stream(ctx, name)
		if err != nil {
			ss.Error = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			st.Streams = append(st.Streams, ss)
			continue
		}
		info := s.CachedInfo()
		ss.Replicas = info.Config.Replicas
		ss.Messages, ss.Bytes = info.State.Msgs, info.State.Bytes
		if ci := info.Cluster; ci != nil {
			ss.Leader = ci.Leader
			ss.Healthy = ci.Leader != ""
			for _, p := range ci.Replicas {
				ss.Peers = append(ss.Peers, peerOf(p))
				ss.Healthy = ss.Healthy && p.Current && !p.Offline
			}
		}
		if name == CallsStream && n.ns == nil {
			st.Peers = append([]Peer{{Name: ss.Leader, Current: ss.Leader != ""}}, ss.Peers...)
		}
		st.Streams = append(st.Streams, ss)
	}
	if st.StoreError = n.StoreError(); st.StoreError != "" {
		errs = append(errs, fmt.Errorf("the store takes no writes: %s", st.StoreError))
	}
	if len(errs) > 0 {
		return st, fmt.Errorf("%w: %w", ErrNotReady, errors.Join(errs...))
	}
	return st, nil
}

// metaPeers reads the embedded server's meta group: its leader and the
// nodes it knows, this one first. A single node has no meta group.
func (n *Node) metaPeers() (string, []Peer) {
	self := Peer{Name: n.cfg.Node, Current: true}
	jsz, err := n.ns.Jsz(&server.JSzOptions{})
	if err != nil || jsz.Meta == nil {
		return "", []Peer{self}
	}
	peers := []Peer{self}
	for _, p := range jsz.Meta.Replicas {
		peers = append(peers, Peer{Name: p.Name, Current: p.Current, Offline: p.Offline, ActiveS: protocol.Seconds(p.Active), Lag: p.Lag})
	}
	return jsz.Meta.Leader, peers
}

func peerOf(p *jetstream.PeerInfo) Peer {
	return Peer{Name: p.Name, Current: p.Current, Offline: p.Offline, ActiveS: protocol.Seconds(p.Active), Lag: p.Lag}
}
