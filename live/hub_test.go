package live

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/protocol"
)

func recv(t *testing.T, s *Subscription) Delivery {
	t.Helper()
	select {
	case d := <-s.C:
		return d
	case <-s.Done():
		t.Fatalf("subscription ended: %v", s.Err())
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery")
	}
	return Delivery{}
}

func noMore(t *testing.T, s *Subscription) {
	t.Helper()
	select {
	case d := <-s.C:
		t.Fatalf("unexpected delivery %s", d.JSON)
	default:
	}
}

func TestPublishAssignsSeqPerCallAndFansOutByFilter(t *testing.T) {
	h := NewHub(HubConfig{})
	h.OpenCall("c1", "A1", 0)
	h.OpenCall("c2", "A2", 41) // resumed after a restart
	byCall, _ := h.Subscribe(Filter{CallID: "c1"}, nil)
	byAgent, _ := h.Subscribe(Filter{AgentID: "A2"}, nil)
	all, _ := h.Subscribe(Filter{All: true}, nil)
	for i := 0; i < 2; i++ {
		for _, id := range []string{"c1", "c2"} {
			if _, err := h.Publish(protocol.Event{Type: protocol.EventAlert, CallID: id, Data: map[string]any{"id": "x"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name string
		sub  *Subscription
		want []string
	}{
		{"a call subscriber sees only that call, seq from 1", byCall, []string{"c1/1", "c1/2"}},
		{"an agent subscriber sees that agent's calls, seq continuing after resume", byAgent, []string{"c2/42", "c2/43"}},
		{"an all subscriber sees everything in publish order", all, []string{"c1/1", "c2/42", "c1/2", "c2/43"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, w := range tt.want {
				d := recv(t, tt.sub)
				if got := fmt.Sprintf("%s/%d", d.Event.CallID, d.Event.Seq); got != w {
					t.Errorf("got %s, want %s", got, w)
				}
				var m map[string]any
				if err := json.Unmarshal(d.JSON, &m); err != nil || m["id"] != "x" || m["agent_id"] == "" {
					t.Errorf("wire form %s", d.JSON)
				}
			}
			noMore(t, tt.sub)
		})
	}
}

func TestPublishForAnUnknownCallFails(t *testing.T) {
	h := NewHub(HubConfig{})
	if _, err := h.Publish(protocol.Event{Type: protocol.EventAlert, CallID: "nope"}); !errors.Is(err, ErrCallNotLive) {
		t.Fatalf("got %v", err)
	}
}

func TestResumeReplaysTheRingAfterTheLastSeq(t *testing.T) {
	h := NewHub(HubConfig{RingSize: 10})
	h.OpenCall("c", "A", 0)
	for i := 0; i < 25; i++ {
		if _, err := h.Publish(protocol.Event{Type: protocol.EventAlert, CallID: "c"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name      string
		last      uint64
		wantFirst uint64
		n         int
	}{
		{"a recent seq gets exactly what followed it", 20, 21, 5},
		{"an old seq gets what the ring still holds", 3, 16, 10},
		{"the newest seq gets nothing", 25, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := h.Subscribe(Filter{CallID: "c"}, map[string]uint64{"c": tt.last, "other": 1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for i := 0; i < tt.n; i++ {
				if d := recv(t, s); d.Event.Seq != tt.wantFirst+uint64(i) {
					t.Fatalf("delivery %d has seq %d", i, d.Event.Seq)
				}
			}
			noMore(t, s)
		})
	}
}

func TestResumeIsFilteredToo(t *testing.T) {
	h := NewHub(HubConfig{})
	h.OpenCall("mine", "A1", 0)
	h.OpenCall("theirs", "A2", 0)
	h.Publish(protocol.Event{Type: protocol.EventAlert, CallID: "theirs"})
	s, _ := h.Subscribe(Filter{AgentID: "A1"}, map[string]uint64{"theirs": 0})
	noMore(t, s)
}

func TestASlowSubscriberIsDroppedAndOthersGetEverything(t *testing.T) {
	var gauge []int
	h := NewHub(HubConfig{QueueSize: 4, OnSubscribers: func(n int) { gauge = append(gauge, n) }})
	h.OpenCall("c", "A", 0)
	slow, _ := h.Subscribe(Filter{CallID: "c"}, nil)
	fast, _ := h.Subscribe(Filter{All: true}, nil)
	got := make(chan int)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n := 0
		for n < 100 {
			select {
			case <-fast.C:
				n++
			case <-fast.Done():
				got <- -1
				return
			}
		}
		got <- n
	}()
	start := time.Now()
	for i := 0; i < 100; i++ {
		if _, err := h.Publish(protocol.Event{Type: protocol.EventAlert, CallID: "c"}); err != nil {
			t.Fatal(err)
		}
		// Pace the producer a little so the fast reader keeps up with a
		// 4-event queue; the slow one never reads.
		for len(fast.C) > 2 && time.Since(start) < 10*time.Second {
			time.Sleep(time.Millisecond)
		}
	}
	if n := <-got; n != 100 {
		t.Errorf("fast subscriber got %d of 100", n)
	}
	wg.Wait()
	select {
	case <-slow.Done():
	default:
		t.Fatal("slow subscriber was not dropped")
	}
	if !errors.Is(slow.Err(), ErrTooSlow) {
		t.Errorf("slow subscriber's reason %v", slow.Err())
	}
	if h.Subscribers() != 1 || gauge[len(gauge)-1] != 1 {
		t.Errorf("subscriber count %d, gauge %v", h.Subscribers(), gauge)
	}
}

func TestPublishNeverWaits(t *testing.T) {
	h := NewHub(HubConfig{QueueSize: 1})
	h.OpenCall("c", "A", 0)
	for i := 0; i < 50; i++ {
		if _, err := h.Subscribe(Filter{All: true}, nil); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 1000; i++ {
			h.Publish(protocol.Event{Type: protocol.EventAlert, CallID: "c"})
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("publisher blocked on subscribers that never read")
	}
	if h.Subscribers() != 0 {
		t.Errorf("%d non-reading subscribers were kept", h.Subscribers())
	}
}

func TestCloseEndsSubscriptions(t *testing.T) {
	h := NewHub(HubConfig{})
	s, _ := h.Subscribe(Filter{All: true}, nil)
	h.Close()
	<-s.Done()
	if !errors.Is(s.Err(), ErrHubClosed) {
		t.Errorf("reason %v", s.Err())
	}
	if _, err := h.Subscribe(Filter{All: true}, nil); !errors.Is(err, ErrHubClosed) {
		t.Errorf("subscribe after close: %v", err)
	}
	s.Close() // idempotent after the drop
}

// BenchmarkPublish100Subscribers is one event fanned out to a supervisor
// wall of 100 subscribers, marshaling included; the benchmark empties the
// queues itself so nobody is dropped.
func BenchmarkPublish100Subscribers(b *testing.B) {
	h := NewHub(HubConfig{})
	h.OpenCall("c", "A", 0)
	var subs []*Subscription
	for i := 0; i < 100; i++ {
		s, _ := h.Subscribe(Filter{All: true}, nil)
		subs = append(subs, s)
	}
	ev := protocol.Event{Type: protocol.EventTranscriptFinal, CallID: "c", Data: map[string]any{"text": "hello there how can I help", "speaker": "agent"}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := h.Publish(ev); err != nil {
			b.Fatal(err)
		}
		if i%200 == 199 {
			for _, s := range subs {
				for len(s.C) > 0 {
					<-s.C
				}
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/event")
	if h.Subscribers() != 100 {
		b.Fatalf("%d subscribers left", h.Subscribers())
	}
}

func TestDeliverServesAnotherNodesCallWithItsSeqs(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	h := NewHub(HubConfig{Now: func() time.Time { return now }, RemoteIdle: time.Minute})
	wall, _ := h.Subscribe(Filter{All: true}, nil)
	relayed := func(call string, seq uint64, typ string) Delivery {
		return Delivery{Event: protocol.Event{Type: typ, CallID: call, AgentID: "A1", Seq: seq}, JSON: []byte(fmt.Sprintf(`{"seq":%d}`, seq))}
	}
	for _, tc := range []struct {
		name    string
		d       Delivery
		wantSeq uint64 // 0: not delivered
	}{
		{"the first event of an unknown call makes it live", relayed("r1", 1, protocol.EventCallStarted), 1},
		{"a later event is delivered", relayed("r1", 3, protocol.EventHint), 3},
		{"a duplicate is dropped", relayed("r1", 3, protocol.EventHint), 0},
		{"an older event is dropped", relayed("r1", 2, protocol.EventHint), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := h.Deliver(tc.d); err != nil {
				t.Fatal(err)
			}
			if tc.wantSeq == 0 {
				noMore(t, wall)
				return
			}
			if d := recv(t, wall); d.Event.Seq != tc.wantSeq {
				t.Errorf("seq %d, want %d", d.Event.Seq, tc.wantSeq)
			}
		})
	}
	t.Run("a call this node publishes is not taken over by relayed events", func(t *testing.T) {
		h.OpenCall("mine", "A1", 0)
		_ = h.Deliver(relayed("mine", 7, protocol.EventHint))
		noMore(t, wall)
	})
	t.Run("a call that fails over here continues after the last relayed seq", func(t *testing.T) {
		h.OpenCall("r1", "A1", 2) // the stored last seq lags what subscribers saw
		d, err := h.Publish(protocol.Event{Type: protocol.EventHint, CallID: "r1"})
		if err != nil || d.Event.Seq != 4 {
			t.Fatalf("seq %d (%v), want 4", d.Event.Seq, err)
		}
		recv(t, wall)
	})
	t.Run("a relayed call silent past RemoteIdle is forgotten", func(t *testing.T) {
		_ = h.Deliver(relayed("r2", 1, protocol.EventCallStarted))
		recv(t, wall)
		now = now.Add(2 * time.Minute)
		_ = h.Deliver(relayed("r3", 1, protocol.EventCallStarted))
		recv(t, wall)
		if _, ok := h.Live("r2"); ok {
			t.Error("r2 still live after its node went silent")
		}
		if _, ok := h.Live("r1"); !ok {
			t.Error("r1, now published here, was forgotten")
		}
	})
	t.Run("call.ended forgets a relayed call", func(t *testing.T) {
		_ = h.Deliver(relayed("r3", 2, protocol.EventCallEnded))
		recv(t, wall)
		if _, ok := h.Live("r3"); ok {
			t.Error("r3 still live after call.ended")
		}
	})
}
