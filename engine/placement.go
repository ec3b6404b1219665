package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// heartbeatInterval is how often a node writes its load to the nodes
// bucket; the bucket forgets a key after cluster.NodeTTL (15 s), so a dead
// node drops out of placement within that.
const heartbeatInterval = 5 * time.Second

// NodeLoad is one node's heartbeat in the nodes bucket: where endpoints
// reach it and how much room it has.
type NodeLoad struct {
	Node      string    `json:"node"`
	Advertise string    `json:"advertise,omitempty"` // engine base URL endpoints can use; "" behind one balancer address
	Calls     int       `json:"calls"`               // live calls running here
	MaxCalls  int       `json:"max_calls"`           // 0: no limit configured
	At        time.Time `json:"at"`
}

// Free is how many more calls the node takes before it sends new ones on.
func (l NodeLoad) Free() int {
	if l.MaxCalls == 0 {
		return 1 << 20
	}
	return max(0, l.MaxCalls-l.Calls)
}

// errNoRoom refuses a new call on a full node of a cluster; its URL (maybe
// "") is a node with room, the close reason of 4503.
type errNoRoom struct{ url string }

func (e errNoRoom) Error() string { return "no room on this node" }

// load is this node's heartbeat now.
func (s *Server) load() NodeLoad {
	s.mu.Lock()
	n := len(s.sessions)
	s.mu.Unlock()
	return NodeLoad{Node: s.nodeName(), Advertise: s.cfg.Advertise, Calls: n, MaxCalls: s.cfg.MaxCalls, At: time.Now().UTC()}
}

// heartbeat writes this node's load to the nodes bucket until ctx ends.
func (s *Server) heartbeat(ctx context.Context, kv jetstream.KeyValue) {
	t := time.NewTicker(heartbeatInterval)
	defer t.Stop()
	failing := false
	for {
		b, _ := json.Marshal(s.load()) // a struct of plain fields: cannot fail
		wctx, cancel := context.WithTimeout(ctx, ownerTimeout)
		_, err := kv.Put(wctx, bucketKey(s.nodeName()), b)
		cancel()
		if err != nil && !failing && ctx.Err() == nil {
			s.log.Warn("heartbeat not written: other nodes will not send calls here", "err", err)
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// nodeLoads reads every live node's heartbeat, this node's first, then by
// most room.
func (s *Server) nodeLoads(ctx context.Context) ([]NodeLoad, error) {
	kv := s.node.Nodes()
	keys, err := kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	var out []NodeLoad
	for _, k := range keys {
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue // expired between the listing and the read
		}
		var l NodeLoad
		if json.Unmarshal(e.Value(), &l) == nil {
			out = append(out, l)
		}
	}
	me := s.nodeName()
	sort.SliceStable(out, func(i, j int) bool {
		if (out[i].Node == me) != (out[j].Node == me) {
			return out[i].Node == me
		}
		return out[i].Free() > out[j].Free()
	})
	return out, nil
}

// roomCheck refuses a new call when this node of a cluster runs MaxCalls
// calls already: the endpoint is sent to the node with the most room (its
// advertised URL), or told to try its next URL. It reads the nodes bucket,
// so it runs without the server's lock; a call that starts meanwhile may
// take the node one past MaxCalls.
func (s *Server) roomCheck() error {
	if s.node == nil || s.cfg.MaxCalls == 0 || s.node.ClusterSize() < 2 {
		return nil
	}
	s.mu.Lock()
	full := len(s.sessions) >= s.cfg.MaxCalls
	s.mu.Unlock()
	if !full {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), ownerTimeout)
	defer cancel()
	loads, err := s.nodeLoads(ctx)
	if err != nil {
		return errNoRoom{}
	}
	for _, l := range loads {
		if l.Node != s.nodeName() && l.Free() > 0 && l.Advertise != "" {
			return errNoRoom{url: l.Advertise}
		}
	}
	return errNoRoom{}
}
