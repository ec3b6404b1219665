package live

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/earshot/earshot/protocol"
)

// Hub errors.
var (
	// ErrCallNotLive means an event was published for a call that is not open in the hub.
	ErrCallNotLive = errors.New("call not live in hub")
	// ErrHubClosed means the hub was closed.
	ErrHubClosed = errors.New("hub closed")
	// ErrTooSlow is a dropped subscription's reason: its queue stayed full.
	ErrTooSlow = errors.New("too slow")
)

// HubConfig configures a Hub. The zero value means the protocol's limits.
type HubConfig struct {
	QueueSize int // per-subscriber queue, default 256 events
	RingSize  int // events kept per live call for resume, default 2000
	Logger    *slog.Logger
	Now       func() time.Time // stamps events without TS; default time.Now
	// OnSubscribers, if set, is called with the subscriber count whenever it
	// changes (a metrics gauge). It is called with the hub's lock held and
	// must not call back into the hub.
	OnSubscribers func(n int)
	// OnPublish, if set, is given every event published on this node, in
	// seq order per call (a Relay's Forward, so other nodes' subscribers
	// see it). It is called with the hub's lock held, must not block and
	// must not call back into the hub.
	OnPublish func(d Delivery)
	// RemoteIdle is how long a call another node publishes may go without
	// an event before the hub forgets it (its node died without ending
	// it); default 15 min.
	RemoteIdle time.Duration
}

// Delivery is one published event as a subscriber receives it: the event
// with its seq, and its wire JSON, marshaled once for every subscriber.
type Delivery struct {
	Event protocol.Event
	JSON  []byte
}

// Filter selects the calls a subscriber sees: one call, one agent's calls,
// or all calls. Exactly one field should be set.
type Filter struct {
	CallID  string
	AgentID string
	All     bool
}

func (f Filter) match(callID, agentID string) bool {
	switch {
	case f.All:
		return true
	case f.CallID != "":
		return f.CallID == callID
	case f.AgentID != "":
		return f.AgentID == agentID
	}
	return false
}

// Hub fans a live call's events out to subscribers (overlays, supervisor
// walls). It assigns each call's seq, keeps the last RingSize events per
// live call so a reconnecting subscriber can resume, and gives every
// subscriber a bounded queue. Publish never blocks: a subscriber whose queue
// is full is dropped (its Done channel closes and Err returns ErrTooSlow)
// and may resubscribe with resume. A Hub is safe for concurrent use and
// owns no goroutines.
type Hub struct {
	cfg    HubConfig
	mu     sync.Mutex
	calls  map[string]*hubCall
	subs   map[*Subscription]struct{}
	closed bool
}

type hubCall struct {
	agentID string
	seq     uint64
	ring    []Delivery // circular, len ≤ RingSize
	head    int        // index of the oldest entry when full
	remote  bool       // published by another node and relayed here
	last    time.Time  // when a remote call's last event arrived
}

func (c *hubCall) push(d Delivery, size int) {
	if len(c.ring) < size {
		c.ring = append(c.ring, d)
		return
	}
	c.ring[c.head] = d
	c.head = (c.head + 1) % size
}

// after returns the buffered deliveries with seq > last, oldest first.
func (c *hubCall) after(last uint64) []Delivery {
	var out []Delivery
	n := len(c.ring)
	for i := 0; i < n; i++ {
		d := c.ring[(c.head+i)%n]
		if d.Event.Seq > last {
			out = append(out, d)
		}
	}
	return out
}

// NewHub returns an empty hub.
func NewHub(cfg HubConfig) *Hub {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 256
	}
	if cfg.RingSize <= 0 {
		cfg.RingSize = 2000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RemoteIdle <= 0 {
		cfg.RemoteIdle = 15 * time.Minute
	}
	return &Hub{cfg: cfg, calls: map[string]*hubCall{}, subs: map[*Subscription]struct{}{}}
}

// OpenCall makes callID live: events may be published for it and
// subscribers by agent or all see it. Its seq continues after lastSeq (0 for
// a new call; the stored last seq for a call resumed after a restart).
// Opening a live call again keeps its seq and ring; so does opening one
// that another node published until now (a call that failed over here),
// and its seq continues after the larger of the two.
func (h *Hub) OpenCall(callID, agentID string, lastSeq uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.calls[callID]; ok {
		if c.remote {
			c.remote, c.seq = false, max(c.seq, lastSeq)
		}
		return
	}
	h.calls[callID] = &hubCall{agentID: agentID, seq: lastSeq}
}

// CloseCall forgets a call's ring once it has ended. Subscribers stay
// subscribed (a call subscriber sees nothing more).
func (h *Hub) CloseCall(callID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.calls, callID)
}

// Live returns the agent of a live call and whether it is live.
func (h *Hub) Live(callID string) (agentID string, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.calls[callID]
	if !ok {
		return "", false
	}
	return c.agentID, true
}

// Publish assigns ev the call's next seq (and TS if zero), marshals it once,
// keeps it in the call's ring and offers it to every matching subscriber
// without waiting. It returns the delivery (the event as published and its
// JSON) for storage. Errors: ErrCallNotLive, ErrHubClosed, or a marshaling
// error (a programmer's bad Data; no seq is used then).
func (h *Hub) Publish(ev protocol.Event) (Delivery, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return Delivery{}, ErrHubClosed
	}
	c, ok := h.calls[ev.CallID]
	if !ok {
		return Delivery{}, fmt.Errorf("%w: %s", ErrCallNotLive, ev.CallID)
	}
	ev.Seq = c.seq + 1
	if ev.AgentID == "" {
		ev.AgentID = c.agentID
	}
	if ev.TS.IsZero() {
		ev.TS = h.cfg.Now()
	}
	b, err := ev.MarshalJSON() // already compact JSON: no second pass
	if err != nil {
		return Delivery{}, err
	}
	c.seq = ev.Seq
	d := Delivery{Event: ev, JSON: b}
	h.fanOutLocked(c, d)
	if h.cfg.OnPublish != nil {
		h.cfg.OnPublish(d)
	}
	return d, nil
}

// fanOutLocked keeps d in the call's ring and offers it to every matching
// subscriber without waiting.
func (h *Hub) fanOutLocked(c *hubCall, d Delivery) {
	c.push(d, h.cfg.RingSize)
	for s := range h.subs {
		if !s.filter.match(d.Event.CallID, c.agentID) {
			continue
		}
		select {
		case s.ch <- d:
		default:
			// Full: the subscriber missed this event, so its stream is no
			// longer complete. Drop it; it may resume from its last seq.
			h.dropLocked(s, ErrTooSlow)
			h.cfg.Logger.Info("hub: dropped slow subscriber", "call_id", d.Event.CallID, "queue", cap(s.ch))
		}
	}
}

// Deliver takes an event another node published (its seq assigned there)
// and serves it to this node's subscribers as if published here: it is kept
// for resume and offered to every matching subscriber. A call this node has
// not seen becomes live with its first relayed event; call.ended forgets it.
// An event at or below the call's last seq is a duplicate and is dropped,
// and so is one for a call this node itself publishes (it owns the seqs).
// It never blocks. Errors: ErrHubClosed.
func (h *Hub) Deliver(d Delivery) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrHubClosed
	}
	now := h.cfg.Now()
	ev := d.Event
	c, ok := h.calls[ev.CallID]
	if !ok {
		h.forgetIdleRemoteLocked(now)
		c = &hubCall{agentID: ev.AgentID, remote: true}
		h.calls[ev.CallID] = c
	}
	if !c.remote || ev.Seq <= c.seq {
		return nil
	}
	c.seq, c.last = ev.Seq, now
	if c.agentID == "" {
		c.agentID = ev.AgentID
	}
	h.fanOutLocked(c, d)
	if ev.Type == protocol.EventCallEnded {
		delete(h.calls, ev.CallID)
	}
	return nil
}

// forgetIdleRemoteLocked drops relayed calls that have been silent for
// RemoteIdle: their node stopped without ending them, and their rings
// would otherwise stay forever.
func (h *Hub) forgetIdleRemoteLocked(now time.Time) {
	for id, c := range h.calls {
		if c.remote && now.Sub(c.last) > h.cfg.RemoteIdle {
			delete(h.calls, id)
		}
	}
}

// Subscription is one subscriber's stream. Read deliveries from C until Done
// is closed; then Err says why (ErrTooSlow, ErrHubClosed, or nil after
// Close). C is never closed, so a reader selects on both.
type Subscription struct {
	C      <-chan Delivery
	ch     chan Delivery
	done   chan struct{}
	filter Filter
	hub    *Hub
	err    error // guarded by hub.mu
}

// Done is closed when the subscription ends.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err returns why the subscription ended, or nil while it runs or after Close.
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// Close ends the subscription. It is idempotent.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.dropLocked(s, nil)
}

func (h *Hub) dropLocked(s *Subscription, err error) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	s.err = err
	close(s.done)
	if h.cfg.OnSubscribers != nil {
		h.cfg.OnSubscribers(len(h.subs))
	}
}

// Subscribe starts a subscription for f. resume maps call ids to the last
// seq the subscriber saw: the buffered events after it of each such live
// call that f matches are queued first, so nothing between is lost as long
// as the ring still holds it. It never blocks.
func (h *Hub) Subscribe(f Filter, resume map[string]uint64) (*Subscription, error) {
	if !f.All && f.CallID == "" && f.AgentID == "" {
		return nil, errors.New("hub: empty subscription filter")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrHubClosed
	}
	var backlog []Delivery
	for id, last := range resume {
		if c, ok := h.calls[id]; ok && f.match(id, c.agentID) {
			backlog = append(backlog, c.after(last)...)
		}
	}
	ch := make(chan Delivery, h.cfg.QueueSize+len(backlog))
	for _, d := range backlog {
		ch <- d
	}
	s := &Subscription{C: ch, ch: ch, done: make(chan struct{}), filter: f, hub: h}
	h.subs[s] = struct{}{}
	if h.cfg.OnSubscribers != nil {
		h.cfg.OnSubscribers(len(h.subs))
	}
	return s, nil
}

// Subscribers returns the number of subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Close ends every subscription with ErrHubClosed and refuses further use.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	for s := range h.subs {
		h.dropLocked(s, ErrHubClosed)
	}
	h.closed = true
}
