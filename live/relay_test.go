package live

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/earshot/earshot/cluster"
	"github.com/earshot/earshot/protocol"
)

// node is one engine node's live side: a hub whose events a relay forwards
// over a real embedded NATS server shared by the test's nodes.
type node struct {
	hub   *Hub
	relay *Relay
}

func startNATS(t *testing.T) *cluster.Node {
	t.Helper()
	n, err := cluster.Start(context.Background(), cluster.Config{DataDir: t.TempDir(), Node: "nats"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func newNode(t *testing.T, nc *nats.Conn, name string) *node {
	t.Helper()
	n := &node{}
	n.hub = NewHub(HubConfig{OnPublish: func(d Delivery) { n.relay.Forward(d) }})
	var err error
	n.relay, err = NewRelay(nc, n.hub, RelayConfig{Node: name})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := n.relay.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait(); n.hub.Close() })
	select {
	case <-n.relay.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("relay not subscribed within 5 s")
	}
	return n
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
}

func TestAWallOnOneNodeFollowsCallsPublishedOnOthers(t *testing.T) {
	ns := startNATS(t)
	// Three nodes, each on its own connection as separate processes are.
	conns := make([]*nats.Conn, 3)
	for i := range conns {
		nc, err := ns.Connect("test")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		conns[i] = nc
	}
	a, b, c := newNode(t, conns[0], "a"), newNode(t, conns[1], "b"), newNode(t, conns[2], "c")
	wall, err := b.hub.Subscribe(Filter{All: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	overlay, err := b.hub.Subscribe(Filter{AgentID: "A.17"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.hub.OpenCall("call.1", "A.17", 0)
	c.hub.OpenCall("call-3", "A9", 0)
	publish := func(h *Hub, call, typ string) {
		if _, err := h.Publish(protocol.Event{Type: typ, CallID: call, Data: map[string]string{"text": "hello"}}); err != nil {
			t.Fatal(err)
		}
	}
	publish(a.hub, "call.1", protocol.EventCallStarted)
	publish(c.hub, "call-3", protocol.EventCallStarted)
	publish(a.hub, "call.1", protocol.EventTranscriptFinal)

	seen := map[string][]uint64{}
	for range 3 {
		d := recv(t, wall)
		seen[d.Event.CallID] = append(seen[d.Event.CallID], d.Event.Seq)
	}
	if len(seen["call.1"]) != 2 || seen["call.1"][1] != 2 || len(seen["call-3"]) != 1 {
		t.Errorf("the wall on b saw %v, want call.1 seqs 1,2 and call-3 seq 1", seen)
	}
	// The agent's overlay sees only the agent's call, with the bytes node a made.
	for want := uint64(1); want <= 2; want++ {
		d := recv(t, overlay)
		if d.Event.CallID != "call.1" || d.Event.Seq != want {
			t.Fatalf("overlay got %s seq %d, want call.1 seq %d", d.Event.CallID, d.Event.Seq, want)
		}
	}
	// A wall that reconnects to node c resumes after its last seq there.
	publish(a.hub, "call.1", protocol.EventHint)
	waitUntil(t, func() bool { _, ok := c.hub.Live("call.1"); return ok })
	waitUntil(t, func() bool { return len(backlog(c.hub, "call.1", 1)) == 2 })
	resumed, err := c.hub.Subscribe(Filter{All: true}, map[string]uint64{"call.1": 1})
	if err != nil {
		t.Fatal(err)
	}
	for want := uint64(2); want <= 3; want++ {
		if d := recv(t, resumed); d.Event.Seq != want {
			t.Fatalf("resumed on c: seq %d, want %d", d.Event.Seq, want)
		}
	}
	// call.ended makes the other nodes forget the call.
	publish(a.hub, "call.1", protocol.EventCallEnded)
	waitUntil(t, func() bool { _, ok := b.hub.Live("call.1"); return !ok })
	if a.relay.Lost() != 0 || b.relay.Dropped() != 0 {
		t.Errorf("lost %d, dropped %d", a.relay.Lost(), b.relay.Dropped())
	}
}

func backlog(h *Hub, call string, after uint64) []Delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.calls[call]; ok {
		return c.after(after)
	}
	return nil
}

func TestRelayedBytesThatAreNotAnEventAreDropped(t *testing.T) {
	ns := startNATS(t)
	nc, err := ns.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	b := newNode(t, nc, "b")
	wall, err := b.hub.Subscribe(Filter{All: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	good := `{"type":"hint","call_id":"c1","agent_id":"A1","seq":1,"t":1,"ts":"2026-12-07T09:00:00Z"}`
	for _, tc := range []struct{ name, subject, data string }{
		{"not JSON", Subject("A1", "c1"), "{"},
		{"a bad call id", Subject("A1", "c1"), `{"type":"hint","call_id":"../x","seq":1,"t":1,"ts":"2026-12-07T09:00:00Z"}`},
		{"an event on another call's subject", Subject("A1", "c2"), good},
		{"an event from this very node", Subject("A1", "c1"), good},
	} {
		msg := &nats.Msg{Subject: tc.subject, Data: []byte(tc.data), Header: nats.Header{nodeHeader: []string{"x"}}}
		if tc.name == "an event from this very node" {
			msg.Header.Set(nodeHeader, "b")
		}
		if err := nc.PublishMsg(msg); err != nil {
			t.Fatal(err)
		}
	}
	// One good event last: once it arrives, the four before it were handled.
	if err := nc.PublishMsg(&nats.Msg{Subject: Subject("A1", "c1"), Data: []byte(good), Header: nats.Header{nodeHeader: []string{"x"}}}); err != nil {
		t.Fatal(err)
	}
	if d := recv(t, wall); d.Event.CallID != "c1" || string(d.JSON) != good {
		t.Errorf("wall got %s %s", d.Event.CallID, d.JSON)
	}
	if got := b.relay.Dropped(); got != 3 {
		t.Errorf("dropped %d, want 3 (not JSON, bad id, wrong subject)", got)
	}
}
