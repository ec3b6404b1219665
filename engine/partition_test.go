package engine

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/cluster"
	"github.com/earshot/earshot/internal/ingestclient"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/store"
)

// partitionedCluster is three engines whose every route connection runs
// through a tcpProxy of its own, one per direction of each pair of nodes,
// so the test can cut one node off from the others and heal it.
//
// nats-server gossips the nodes it knows to its routes, and a node told of
// another dials it at "the IP of the connection it heard it on" plus the
// other's real cluster port: on one loopback address that would be the
// real listener, a route around the proxies. So the nodes listen for
// routes on 127.0.0.2 and the proxies dial from 127.0.0.1: every gossiped
// address is 127.0.0.1:port, where a blocker (a proxy cut for good) holds
// the port and drops what comes in.
type partitionedCluster struct {
	*testCluster
	links [3][3]*tcpProxy // links[i][j]: node i's route connections to node j
}

func newPartitionedCluster(t *testing.T, perNode func(i int, c *Config), opts ...envOpt) *partitionedCluster {
	t.Helper()
	var routes [3]string
	for i := range routes {
		routes[i] = routeAddr(t)
	}
	pc := &partitionedCluster{}
	for i := range 3 {
		for j := range 3 {
			if i != j {
				pc.links[i][j] = newTCPProxy(t, "127.0.0.1:0", routes[j])
			}
		}
	}
	pc.testCluster = newTestCluster(t, 3, func(i int, addr string, c *Config) {
		c.Cluster.ClusterListen = routes[i]
		c.Cluster.ClusterPeers = nil
		for j := range 3 {
			if j != i {
				c.Cluster.ClusterPeers = append(c.Cluster.ClusterPeers, pc.links[i][j].addr())
			}
		}
		if perNode != nil {
			perNode(i, c)
		}
	}, opts...)
	// Every route goes through a proxy: each link carries connections.
	for i := range 3 {
		for j := range 3 {
			if i != j && pc.links[i][j].carried() == 0 && pc.links[j][i].carried() == 0 {
				t.Fatalf("no route connection between node %d and node %d went through the proxies", i+1, j+1)
			}
		}
	}
	return pc
}

// routeAddr picks a free port on 127.0.0.2 for a node's routes and holds
// the same port on 127.0.0.1 with a blocker for the rest of the test (see
// partitionedCluster).
func routeAddr(t *testing.T) string {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			t.Fatalf("loopback alias 127.0.0.2: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		blocker, err := tryTCPProxy(t, fmt.Sprintf("127.0.0.1:%d", port), "127.0.0.1:1")
		if err != nil {
			continue // the port is taken on 127.0.0.1: pick another
		}
		blocker.Cut()
		return fmt.Sprintf("127.0.0.2:%d", port)
	}
	t.Fatal("no port free on both 127.0.0.1 and 127.0.0.2")
	return ""
}

// isolate cuts node i off from the other two, in both directions.
func (pc *partitionedCluster) isolate(i int) {
	for j := range 3 {
		if j != i {
			pc.links[i][j].Cut()
			pc.links[j][i].Cut()
		}
	}
}

func (pc *partitionedCluster) heal() {
	for i := range 3 {
		for j := range 3 {
			if i != j {
				pc.links[i][j].Heal()
			}
		}
	}
}

// pipelineCounter counts, per call, the pipelines open on each node (made
// by Config.NewAnalyzer and not yet closed), and notes who owned the call
// in the owners bucket when each was made.
type pipelineCounter struct {
	mu     sync.Mutex
	srvs   [3]*Server
	open   map[string]*[3]int
	ran    map[string]*[3]bool // nodes that ever had the call's pipeline open
	starts []pipelineStart
	// overlaps are the samples that saw two nodes with an open pipeline
	// of one call.
	overlaps []string
}

type pipelineStart struct {
	node   int
	callID string
	owner  string // the owners bucket's value for the call, read on that node
}

func newPipelineCounter() *pipelineCounter {
	return &pipelineCounter{open: map[string]*[3]int{}, ran: map[string]*[3]bool{}}
}

// newAnalyzer is node i's Config.NewAnalyzer: a testAnalyzer, counted.
// Before counting it, it reads the call's owner on node i: a pipeline may
// only start on the node that claimed the call. The read is retried for a
// while, as the node's replica of the bucket may trail the claim's
// acknowledgement by a moment.
func (pc *pipelineCounter) newAnalyzer(i int) NewAnalyzerFunc {
	return func(cfg call.Config) (Analyzer, error) {
		pc.mu.Lock()
		srv := pc.srvs[i]
		pc.mu.Unlock()
		owner := "(no server yet)"
		if srv != nil {
			deadline := time.Now().Add(3 * time.Second)
			for {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				e, err := srv.node.Owners().Get(ctx, bucketKey(cfg.CallID))
				cancel()
				if err == nil {
					owner = string(e.Value())
				} else {
					owner = "(" + err.Error() + ")"
				}
				if owner == srv.nodeName() || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond) // the replica catching up
			}
		}
		pc.mu.Lock()
		defer pc.mu.Unlock()
		pc.starts = append(pc.starts, pipelineStart{node: i, callID: cfg.CallID, owner: owner})
		if pc.open[cfg.CallID] == nil {
			pc.open[cfg.CallID], pc.ran[cfg.CallID] = new([3]int), new([3]bool)
		}
		pc.open[cfg.CallID][i]++
		pc.ran[cfg.CallID][i] = true
		return &countedAnalyzer{Analyzer: &testAnalyzer{}, closed: func() {
			pc.mu.Lock()
			pc.open[cfg.CallID][i]--
			pc.mu.Unlock()
		}}, nil
	}
}

// check notes an overlap if two nodes have a pipeline of one call open.
func (pc *pipelineCounter) check(now time.Time) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	for id, n := range pc.open {
		running := 0
		for _, c := range n {
			if c > 0 {
				running++
			}
		}
		if running > 1 && len(pc.overlaps) < 10 {
			pc.overlaps = append(pc.overlaps, fmt.Sprintf("%s: call %s has pipelines open on nodes 1-3: %v", now.Format("15:04:05.000"), id, *n))
		}
	}
}

// sample checks every interval until the returned stop is called; stop
// waits for the sampler and reports whether it ran at all.
func (pc *pipelineCounter) sample(interval time.Duration) (stop func() int) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		n := 0
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				done <- n
				return
			case now := <-t.C:
				pc.check(now)
				n++
			}
		}
	}()
	var once sync.Once
	samples := 0
	return func() int {
		once.Do(func() { cancel(); samples = <-done })
		return samples
	}
}

func (pc *pipelineCounter) ranOn(callID string) [3]bool {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if r := pc.ran[callID]; r != nil {
		return *r
	}
	return [3]bool{}
}

func (pc *pipelineCounter) openOn(callID string, i int) int {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if n := pc.open[callID]; n != nil {
		return n[i]
	}
	return 0
}

// countedAnalyzer tells its counter when it is closed (once).
type countedAnalyzer struct {
	Analyzer
	once   sync.Once
	closed func()
}

func (a *countedAnalyzer) Close() error {
	a.once.Do(a.closed)
	return a.Analyzer.Close()
}

// partitionFeed streams a call through the real ingest client, one 20 ms
// slot (both channels) every pace, until stop: as long as the test needs,
// whatever happens to the nodes meanwhile.
type partitionFeed struct {
	c      *ingestclient.Client
	slots  atomic.Int64
	stop   chan struct{}
	sent   chan error
	cancel context.CancelFunc
	wg     sync.WaitGroup
	ctx    context.Context
}

func startPartitionFeed(t *testing.T, urls []string, token, callID string, pace time.Duration) *partitionFeed {
	t.Helper()
	c, err := ingestclient.New(ingestclient.Config{URLs: urls, Token: token, CallID: callID, AgentID: "A1",
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		// Room for the whole outage: nothing may be dropped at the endpoint.
		RingFrames: 20000,
		// Far above the engine's storage timeout: the node cut off must
		// be the one that sends the endpoint away (1011), not the
		// client's own watchdog.
		AckTimeout: 2 * time.Minute,
		Logger:     testConfig("").Logger})
	if err != nil {
		t.Fatal(err)
	}
	f := &partitionFeed{c: c, stop: make(chan struct{}), sent: make(chan error, 1)}
	f.ctx, f.cancel = context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(func() { f.cancel(); f.wg.Wait() })
	payload := make([]byte, c.PayloadBytes())
	for i := 0; i+1 < len(payload); i += 2 {
		binary.LittleEndian.PutUint16(payload[i:], uint16(3277))
	}
	f.wg.Add(2)
	go func() {
		defer f.wg.Done()
		if err := c.Run(f.ctx); err != nil && f.ctx.Err() == nil {
			t.Errorf("ingest client of %s: %v", callID, err)
		}
	}()
	go func() {
		defer f.wg.Done()
		tick := time.NewTicker(pace)
		defer tick.Stop()
		for {
			select {
			case <-f.stop:
				f.sent <- nil
				return
			case <-f.ctx.Done():
				f.sent <- f.ctx.Err()
				return
			case <-tick.C:
			}
			at := time.Duration(f.slots.Load()) * audio.FrameDuration
			for _, ch := range protocol.BothChannels {
				if _, err := c.Send(ch, at, payload); err != nil {
					f.sent <- err
					return
				}
			}
			f.slots.Add(1)
		}
	}()
	return f
}

// end stops the audio and ends the call.
func (f *partitionFeed) end() (ingestclient.Ended, error) {
	close(f.stop)
	if err := <-f.sent; err != nil {
		return ingestclient.Ended{}, err
	}
	return f.c.End(f.ctx)
}

// tryStart starts or resumes a call on a node as a raw endpoint, and
// reports why not instead of failing: while the cluster elects new leaders
// a node may refuse a resume it cannot claim yet.
func (e *testEnv) tryStart(callID string, resume bool) (*rawCall, int64, error) {
	ws, _, err := e.dialIngest(e.tokens["endpoint"])
	if err != nil {
		return nil, 0, err
	}
	if err := ws.WriteJSON(startJSON(callID, "A1", resume)); err != nil {
		ws.Close()
		return nil, 0, err
	}
	var m protocol.Control
	ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	if err := ws.ReadJSON(&m); err != nil || m.Type != "started" || m.Ack == nil {
		ws.Close()
		return nil, 0, fmt.Errorf("start answered %+v, %v", m, err)
	}
	return &rawCall{t: e.t, ws: ws}, *m.Ack, nil
}

// counterValue sums a counter of srv's registry whose labels include
// label=value (any, with label "").
func counterValue(t *testing.T, srv *Server, name, label, value string) float64 {
	t.Helper()
	mfs, err := srv.m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			ok := label == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					ok = true
				}
			}
			if ok {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// callRecord is one record of a call in the calls stream, in stream order.
type callRecord struct {
	seq  uint64
	kind string
	node string
	// status is a summary's status.
	status string
}

// callRecords reads every record the calls stream holds for callID.
func callRecords(t *testing.T, js jetstream.JetStream, callID string) []callRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Just after a heal JetStream may answer "no responders" for a few
	// seconds (leaders being elected): asked again until the deadline.
	var cons jetstream.Consumer
	var info *jetstream.ConsumerInfo
	for {
		s, err := js.Stream(ctx, cluster.CallsStream)
		if err == nil {
			cons, err = s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{store.CallSubjects(store.CallID(callID))}})
		}
		if err == nil {
			info, err = cons.Info(ctx)
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Millisecond) // retrying while JetStream settles
	}
	var out []callRecord
	for pending := info.NumPending; pending > 0; {
		batch, err := cons.Fetch(int(min(pending, 500)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				t.Fatal(err)
			}
			r := callRecord{seq: md.Sequence.Stream, kind: m.Headers().Get("Earshot-Kind"), node: m.Headers().Get("Earshot-Node")}
			if strings.HasSuffix(m.Subject(), ".call") {
				var c struct {
					Status string `json:"status"`
				}
				json.Unmarshal(m.Data(), &c)
				r.status = c.Status
			}
			out = append(out, r)
		}
		if err := batch.Error(); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("reading the records of %s: %d pending, none delivered", callID, pending)
		}
		pending -= uint64(n)
	}
	return out
}

// writersInOrder checks that a call's records were written by one node
// after another, never back: once a node has taken the call over, the node
// that lost it writes nothing more. It returns the writers in order.
func writersInOrder(t *testing.T, callID string, recs []callRecord) []string {
	t.Helper()
	var writers []string
	for _, r := range recs {
		if n := len(writers); n > 0 && writers[n-1] == r.node {
			continue
		}
		for _, w := range writers {
			if w == r.node {
				t.Errorf("call %s: node %s wrote a %s record (stream seq %d) after %v had taken the call over",
					callID, r.node, r.kind, r.seq, writers[len(writers)-1])
			}
		}
		writers = append(writers, r.node)
	}
	return writers
}

// TestAPartitionedNodeLosesItsCallsToTheMajorityWithoutTwoPipelinesAtOnce
// cuts node 3 off from the other two (its route connections, both ways)
// while it runs two calls:
//   - A, streamed by the ingest client with all three URLs: node 3 loses
//     its quorum, stops acknowledging and closes the endpoint (1011), which
//     resumes on another node that claims the call and goes on;
//   - B, started on node 3 by an endpoint that then resumes it on node 1
//     (the endpoint lost node 3 as far as it knows) while its connection to
//     node 3 stays open: once healed, node 3 sees it lost the call and
//     closes that connection with 4409.
//
// Throughout, no call has pipelines open on two nodes at once, every
// pipeline starts on the node that owns the call, and node 3 writes no
// record of either call after another node took it over; in the end every
// node serves each call once, ended, with every frame.
func TestAPartitionedNodeLosesItsCallsToTheMajorityWithoutTwoPipelinesAtOnce(t *testing.T) {
	const callA, callB = "c:part.a", "c:part.b"
	pc := newPipelineCounter()
	cl := newPartitionedCluster(t, func(i int, c *Config) {
		c.NewAnalyzer = pc.newAnalyzer(i)
	}, func(c *Config) {
		c.StorageTimeout = 4 * time.Second // 10 s by default; the test's run time
		c.NoAudioTimeout = 5 * time.Minute // B gets no audio on node 3
		c.ResumeWindow = 4 * time.Second
	})
	nodes := cl.nodes
	n1, n3 := nodes[0], nodes[2]
	pc.mu.Lock()
	for i, n := range nodes {
		pc.srvs[i] = n.srv
	}
	pc.mu.Unlock()
	stopSampling := pc.sample(20 * time.Millisecond)
	defer stopSampling()

	feed := startPartitionFeed(t, []string{n3.base(), n1.base(), nodes[1].base()}, n3.tokens["endpoint"], callA, 10*time.Millisecond)
	waitFor(t, "call A to be acknowledged on node 3", 30*time.Second, func() bool {
		st := feed.c.Stats()
		return st.URL == n3.base() && st.Acked > 200
	})
	b3, _ := n3.rawStart(t, callB, false)
	defer b3.ws.Close()
	waitFor(t, "node 1 to have call B", 10*time.Second, func() bool {
		_, err := n1.srv.Store().GetCall(callB)
		return err == nil
	})

	cut := time.Now()
	cl.isolate(2)
	ackAtCut := feed.c.Stats().Acked
	t.Logf("node 3 cut off; call A acked up to %d", ackAtCut)

	// A: node 3 cannot write, drops the call and closes its endpoint with
	// 1011; the endpoint resumes on node 1 or 2, which goes on acking.
	waitFor(t, "call A to move off node 3 and be acknowledged there", 45*time.Second, func() bool {
		st := feed.c.Stats()
		return st.URL != n3.base() && st.Acked > ackAtCut+100
	})
	moved := time.Since(cut)
	st := feed.c.Stats()
	t.Logf("call A moved to %s %.1fs after the cut (%d connects, acked %d)", st.URL, moved.Seconds(), st.Connects, st.Acked)
	if counterValue(t, n3.srv, "earshot_calls_storage_dropped_total", "", "") != 1 ||
		counterValue(t, n3.srv, "earshot_ingest_closed_total", "code", "1011") < 1 {
		t.Errorf("node 3 did not drop call A for its storage with 1011")
	}
	if st.Failovers < 1 || st.Dropped != 0 {
		t.Errorf("client: %d failovers, %d frames dropped; want at least 1 and 0", st.Failovers, st.Dropped)
	}

	// Node 3's own replica of the owners bucket still names it as call A's
	// owner, but without a quorum it can claim nothing: a resume of A there
	// (an endpoint going round its list) is refused.
	if r, _, err := n3.tryStart(callA, true); err == nil {
		r.ws.Close()
		t.Errorf("node 3, cut off, took call A back")
	}

	// B: the endpoint resumes on node 1 while its connection to node 3,
	// which cannot learn of it, stays open.
	var b1 *rawCall
	waitFor(t, "node 1 to take call B over", 30*time.Second, func() bool {
		r, ack, err := n1.tryStart(callB, true)
		if err != nil {
			t.Logf("resume of B on node 1: %v", err)
			return false
		}
		if ack != -1 {
			t.Errorf("B resumed at ack %d, want -1 (node 3 never had audio of it)", ack)
		}
		b1 = r
		return true
	})
	for seq := uint64(0); seq < 200; seq++ {
		b1.send(seqFrame(seq, 100))
	}
	readAcks(t, b1, 199)

	// Heal. Node 3 learns that node 1 owns B and stops it, without
	// writing, closing its endpoint's connection with 4409.
	heal := time.Now()
	cl.heal()
	ackAtHeal := feed.c.Stats().Acked
	code, reason := closeWithin(b3.ws, 60*time.Second)
	if code != protocol.CloseCallActive || !strings.Contains(reason, "n1") {
		t.Errorf("node 3 closed call B's old connection with %d %q, want 4409 naming n1", code, reason)
	}
	t.Logf("node 3 let call B go %.1fs after the heal", time.Since(heal).Seconds())
	waitFor(t, "call A to go on after the heal", 30*time.Second, func() bool { return feed.c.Stats().Acked > ackAtHeal+200 })

	ended, err := feed.end()
	if err != nil {
		t.Fatalf("ending call A: %v", err)
	}
	slots := feed.slots.Load()
	if ended.Frames != 2*slots || ended.Gaps != 0 {
		t.Errorf("call A ended %+v, want %d frames and no gaps", ended, 2*slots)
	}
	if m := b1.end(); m.Frames == nil || *m.Frames != 200 {
		t.Errorf("call B ended %+v, want 200 frames", m)
	}

	// Every node serves each call once: ended, every frame, events 1, 2, 3…
	for i, n := range nodes {
		for id, frames := range map[string]int64{callA: 2 * slots, callB: 200} {
			var d callDetail
			waitFor(t, fmt.Sprintf("node %d to have call %s ended", i+1, id), 20*time.Second, func() bool {
				return n.getJSON("/v1/calls/"+id, n.tokens["admin"], &d) == 200 && d.Status == "ended"
			})
			if d.Frames != frames || d.FramesLost != 0 || d.EndReason != "end" {
				t.Errorf("node %d, call %s: %d frames, %d lost, ended %q; want %d, 0, end", i+1, id, d.Frames, d.FramesLost, d.EndReason, frames)
			}
			eventsOnce(t, fmt.Sprintf("node %d, call %s", i+1, id), d.Events)
			seen := map[float64]bool{}
			for _, u := range d.Utterances {
				if s, _ := u["seq"].(float64); seen[s] {
					t.Errorf("node %d, call %s: utterance of event %v stored twice", i+1, id, s)
				} else {
					seen[s] = true
				}
			}
		}
		var page struct {
			Calls []json.RawMessage `json:"calls"`
		}
		if code := n.getJSON("/v1/calls", n.tokens["admin"], &page); code != 200 || len(page.Calls) != 2 {
			t.Errorf("node %d lists %d calls (%d), want 2", i+1, len(page.Calls), code)
		}
	}

	if n := stopSampling(); n < 100 {
		t.Errorf("only %d samples of the pipelines were taken", n)
	}
	pc.mu.Lock()
	for _, o := range pc.overlaps {
		t.Errorf("two pipelines at once: %s", o)
	}
	for _, s := range pc.starts {
		if want := nodes[s.node].srv.nodeName(); s.owner != want {
			t.Errorf("a pipeline of call %s started on %s while the owners bucket said %s", s.callID, want, s.owner)
		}
	}
	pc.mu.Unlock()
	if ran := pc.ranOn(callA); !ran[2] || !(ran[0] || ran[1]) {
		t.Errorf("call A's pipelines ran on nodes 1-3: %v; want node 3, then another", ran)
	}
	if ran := pc.ranOn(callB); ran[2] || !ran[0] {
		t.Errorf("call B's pipelines ran on nodes 1-3: %v; want node 1 only", ran)
	}
	for _, id := range []string{callA, callB} {
		for i := range nodes {
			if n := pc.openOn(id, i); n != 0 {
				t.Errorf("call %s still has %d pipelines open on node %d", id, n, i+1)
			}
		}
	}
	// Node 3 wrote nothing of either call once another node had it.
	js := n1.srv.node.JetStream()
	if w := writersInOrder(t, callA, callRecords(t, js, callA)); len(w) < 2 || w[0] != "n3" {
		t.Errorf("call A was written by %v, want n3 then another node", w)
	}
	if w := writersInOrder(t, callB, callRecords(t, js, callB)); len(w) != 2 || w[0] != "n3" || w[1] != "n1" {
		t.Errorf("call B was written by %v, want n3 then n1", w)
	}
}

// eventsOnce checks a stored call's events: call.started first, call.ended
// last, seqs rising. Seqs may skip: a node that drops a call for its storage
// has published live events it could not store, and the node that resumes
// the call numbers on after them, so that live watchers never see a seq
// twice. A seq stored twice would be two nodes writing the call.
func eventsOnce(t *testing.T, what string, evs []json.RawMessage) {
	t.Helper()
	var last uint64
	var types []string
	for _, raw := range evs {
		var e struct {
			Type string `json:"type"`
			Seq  uint64 `json:"seq"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("%s: event %s: %v", what, raw, err)
		}
		if e.Seq <= last {
			t.Errorf("%s: event seq %d (%s) after %d", what, e.Seq, e.Type, last)
		}
		last = e.Seq
		types = append(types, e.Type)
	}
	if len(types) < 2 || types[0] != protocol.EventCallStarted || types[len(types)-1] != protocol.EventCallEnded {
		t.Errorf("%s: events %v, want call.started … call.ended", what, types)
	}
}
