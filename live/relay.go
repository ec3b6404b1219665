package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/nats-io/nats.go"

	"github.com/earshot/earshot/protocol"
)

// Subjects of live events on NATS: earshot.live.<agent>.<call>, each id
// made a subject token by protocol.SubjectToken ("_" for a call without an
// agent). A wall subscribes to all of them, an overlay could to one agent's.
const (
	subjectPrefix = "earshot.live."
	allSubjects   = subjectPrefix + ">"
	// nodeHeader names the node that published an event, so it does not
	// deliver its own events to itself a second time.
	nodeHeader = "Earshot-Node"
	// pendingMsgs and pendingBytes bound what a node buffers of other
	// nodes' events before NATS drops them for it (a slow consumer): the
	// events of a few hundred busy calls for some seconds.
	pendingMsgs  = 64 << 10
	pendingBytes = 64 << 20
)

// Subject returns the subject a call's live events go out on.
func Subject(agentID, callID string) string {
	agent := "_"
	if agentID != "" {
		agent = protocol.SubjectToken(agentID)
	}
	return subjectPrefix + agent + "." + protocol.SubjectToken(callID)
}

// RelayConfig configures a Relay.
type RelayConfig struct {
	Node   string // this node's name, required: its own events are not delivered back
	Logger *slog.Logger
}

// Relay carries live events between the hubs of a cluster's nodes over
// NATS: Forward publishes this node's events, Run delivers every other
// node's into the local hub, so a wall or overlay on any node follows every
// call of the cluster. Core NATS carries them (the cluster package's live
// stream keeps a copy for an hour); a call's lasting record goes through the
// store, not here.
type Relay struct {
	nc      *nats.Conn
	hub     *Hub
	cfg     RelayConfig
	dropped atomic.Uint64 // events another node sent that could not be used
	lost    atomic.Uint64 // events this node could not forward
	// sent and sentBytes count the events forwarded (subject, headers and
	// payload), for the traffic figures of a benchmark.
	sent, sentBytes atomic.Uint64
	ready           chan struct{} // closed once Run's subscription is in place
}

// NewRelay returns a relay between hub and the NATS connection nc. Wire
// its Forward into the hub's HubConfig.OnPublish, and run Run.
func NewRelay(nc *nats.Conn, hub *Hub, cfg RelayConfig) (*Relay, error) {
	if cfg.Node == "" {
		return nil, errors.New("live: relay needs the node's name")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Relay{nc: nc, hub: hub, cfg: cfg, ready: make(chan struct{})}, nil
}

// Ready is closed once Run's subscription is in place on the server: from
// then on, no other node's event is missed.
func (r *Relay) Ready() <-chan struct{} { return r.ready }

// Forward publishes one event this node's hub published. It never blocks
// for long: NATS buffers the message, and an event that cannot be sent
// (connection closed) is counted and logged, not retried — live events are
// a view; the call's record is stored separately.
func (r *Relay) Forward(d Delivery) {
	msg := &nats.Msg{Subject: Subject(d.Event.AgentID, d.Event.CallID), Data: d.JSON,
		Header: nats.Header{nodeHeader: []string{r.cfg.Node}}}
	if err := r.nc.PublishMsg(msg); err != nil {
		if r.lost.Add(1) == 1 {
			r.cfg.Logger.Warn("live: event not forwarded to other nodes", "call_id", d.Event.CallID, "err", err)
		}
		return
	}
	r.sent.Add(1)
	r.sentBytes.Add(uint64(msg.Size()))
}

// Sent returns how many events this node forwarded and their size on the
// wire.
func (r *Relay) Sent() (events, bytes uint64) { return r.sent.Load(), r.sentBytes.Load() }

// Run delivers other nodes' events into the hub until ctx is done, then
// unsubscribes. NATS's connection goroutine calls the handler; Run owns the
// subscription. It returns nil when ctx ends, or the subscription's error.
func (r *Relay) Run(ctx context.Context) error {
	sub, err := r.nc.Subscribe(allSubjects, r.deliver)
	if err != nil {
		return fmt.Errorf("live: subscribing to %s: %w", allSubjects, err)
	}
	if err := sub.SetPendingLimits(pendingMsgs, pendingBytes); err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("live: %w", err)
	}
	// The subscription is in place once the server has seen it; before
	// that, events of other nodes would be missed.
	if err := r.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("live: subscribing to %s: %w", allSubjects, err)
	}
	close(r.ready)
	<-ctx.Done()
	if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("live: %w", err)
	}
	return nil
}

// deliver takes one message from another node. The bytes come from the
// network: they are checked (protocol.ParseEvent bounds and validates
// them) before a subscriber sees them, and a bad one is dropped, logged
// once per burst, never fatal.
func (r *Relay) deliver(m *nats.Msg) {
	if m.Header.Get(nodeHeader) == r.cfg.Node {
		return
	}
	ev, err := protocol.ParseEvent(m.Data)
	if err == nil && m.Subject != Subject(ev.AgentID, ev.CallID) {
		err = fmt.Errorf("event of call %s on subject %s", ev.CallID, m.Subject)
	}
	if err == nil {
		err = r.hub.Deliver(Delivery{Event: ev, JSON: m.Data})
	}
	if err != nil && !errors.Is(err, ErrHubClosed) {
		if n := r.dropped.Add(1); n&(n-1) == 0 { // 1, 2, 4, 8…: bounded logging
			r.cfg.Logger.Warn("live: relayed event dropped", "from", m.Header.Get(nodeHeader), "dropped", n, "err", err)
		}
	}
}

// Dropped returns how many relayed events were refused (bad or unusable),
// and Lost how many of this node's events could not be forwarded.
func (r *Relay) Dropped() uint64 { return r.dropped.Load() }

// Lost returns how many of this node's events could not be forwarded.
func (r *Relay) Lost() uint64 { return r.lost.Load() }
