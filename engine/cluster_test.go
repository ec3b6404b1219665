package engine

import (
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/cluster"
	"github.com/earshot/earshot/protocol"
)

// freeAddr returns a loopback address no one listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startCluster runs n engines in this process as the nodes of one NATS
// cluster (routes on loopback) with one shared token secret. Their New
// runs at once: each waits for a quorum of the others.
func startCluster(t *testing.T, n int, opts ...envOpt) []*testEnv {
	return startClusterWith(t, n, nil, opts...)
}

// testCluster is n engines of one NATS cluster in this process, each
// restartable on its own data directory, route and HTTP address.
type testCluster struct {
	t     *testing.T
	cfgs  []Config
	dirs  []string
	addrs []string
	nodes []*testEnv
}

// listen binds node i's HTTP address before its New: while the nodes
// form their cluster, their many outgoing connections take ephemeral
// ports, and a port picked earlier but not held could be one of them.
func (tc *testCluster) listen(i int) net.Listener {
	tc.t.Helper()
	ln, err := listenTest(tc.addrs[i])
	if err != nil {
		tc.t.Fatalf("node %d: %v", i+1, err)
	}
	return ln
}

// startClusterWith is startCluster with each node's configuration passed
// to perNode (its index, its HTTP address-to-be) before New.
func startClusterWith(t *testing.T, n int, perNode func(i int, addr string, c *Config), opts ...envOpt) []*testEnv {
	return newTestCluster(t, n, perNode, opts...).nodes
}

func newTestCluster(t *testing.T, n int, perNode func(i int, addr string, c *Config), opts ...envOpt) *testCluster {
	t.Helper()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(hex.EncodeToString([]byte(strings.Repeat("k", 32)))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tc := &testCluster{t: t, cfgs: make([]Config, n), dirs: make([]string, n), addrs: make([]string, n), nodes: make([]*testEnv, n)}
	routes := make([]string, n)
	for i := range routes {
		routes[i], tc.addrs[i], tc.dirs[i] = freeAddr(t), freeAddr(t), t.TempDir()
	}
	for i := range n {
		peers := append(append([]string{}, routes[:i]...), routes[i+1:]...)
		tc.cfgs[i] = testConfig(tc.dirs[i], append(opts, func(c *Config) {
			c.SecretFile = secret
			c.Cluster = &cluster.Config{Node: fmt.Sprintf("n%d", i+1), ClusterListen: routes[i], ClusterPeers: peers,
				ReadyTimeout: 30 * time.Second, Logger: c.Logger}
			if perNode != nil {
				perNode(i, tc.addrs[i], c)
			}
		})...)
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	tc.start(all...)
	return tc
}

// start runs nodes idx at once (each New waits for a quorum of the others).
func (tc *testCluster) start(idx ...int) {
	tc.t.Helper()
	lns := make([]net.Listener, len(idx))
	for k, i := range idx {
		lns[k] = tc.listen(i)
	}
	srvs := make([]*Server, len(idx))
	errs := make([]error, len(idx))
	var wg sync.WaitGroup
	for k, i := range idx {
		wg.Add(1)
		go func() { defer wg.Done(); srvs[k], errs[k] = New(tc.cfgs[i]) }()
	}
	wg.Wait()
	for k, i := range idx {
		if errs[k] != nil {
			tc.t.Fatalf("node %d: %v", i+1, errs[k])
		}
	}
	for k, i := range idx {
		tc.nodes[i] = serveTestEngineOn(tc.t, srvs[k], tc.dirs[i], lns[k])
	}
}

func TestAWallOnOneNodeSeesCallsIngestedOnTheOthers(t *testing.T) {
	nodes := startCluster(t, 3)
	wall := dialLive(t, nodes[1], "all=1", nodes[1].tokens["supervisor"], nil, nil)
	defer wall.Close()
	// Tokens are good on every node: they share the secret.
	overlay := dialLive(t, nodes[1], "agent=A1", nodes[0].tokens["agent"], nil, nil)
	defer overlay.Close()
	c1 := startLiveCall(t, nodes[0].base(), nodes[0].tokens["endpoint"], "c-on-1", 200, 2*time.Millisecond)
	c3 := startLiveCall(t, nodes[2].base(), nodes[2].tokens["endpoint"], "c-on-3", 200, 2*time.Millisecond)
	ends := []<-chan error{c1.endInBackground(), c3.endInBackground()}

	// Each call's events arrive in order, from call.started to call.ended.
	last := map[string]uint64{}
	ended := map[string]bool{}
	wall.SetReadDeadline(time.Now().Add(60 * time.Second))
	for len(ended) < 2 {
		var ev wireEvent
		if err := wall.ReadJSON(&ev); err != nil {
			t.Fatalf("wall on node 2: %v (seen %v)", err, last)
		}
		if ev.Seq != last[ev.CallID]+1 {
			t.Fatalf("%s: seq %d after %d", ev.CallID, ev.Seq, last[ev.CallID])
		}
		if ev.Seq == 1 && ev.Type != "call.started" {
			t.Errorf("%s begins with %s", ev.CallID, ev.Type)
		}
		last[ev.CallID] = ev.Seq
		if ev.Type == "call.ended" {
			ended[ev.CallID] = true
		}
	}
	for _, ch := range ends {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	if !ended["c-on-1"] || !ended["c-on-3"] {
		t.Errorf("the wall saw the end of %v, want both calls", ended)
	}
	// The agent's overlay on node 2 follows the agent's calls (both are A1's).
	overlay.SetReadDeadline(time.Now().Add(10 * time.Second))
	var first wireEvent
	if err := overlay.ReadJSON(&first); err != nil || first.Type != "call.started" {
		t.Fatalf("overlay: %+v %v", first, err)
	}
	// Every node serves both calls, whole, from its projection of the
	// cluster's records.
	for i, n := range nodes {
		for _, id := range []string{"c-on-1", "c-on-3"} {
			var d callDetail
			waitFor(t, fmt.Sprintf("node %d to have call %s ended", i+1, id), 10*time.Second, func() bool {
				return n.getJSON("/v1/calls/"+id, n.tokens["admin"], &d) == 200 && d.Status == "ended"
			})
			if d.Frames != 400 || d.FramesLost != 0 || len(d.Utterances) != 8 || len(d.Hints) != 2 {
				t.Errorf("node %d, call %s: %d frames, %d lost, %d utterances, %d hints; want 400, 0, 8, 2",
					i+1, id, d.Frames, d.FramesLost, len(d.Utterances), len(d.Hints))
			}
			eventTypes(t, d.Events)
		}
	}
	req, _ := http.NewRequest("GET", nodes[1].base()+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+nodes[1].tokens["supervisor"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"earshot_cluster_projection_caught_up 1", "earshot_cluster_events_dropped_total 0", "earshot_cluster_records_sent_total"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics of node 2 lacks %q", want)
		}
	}
	var health map[string]any
	if code := nodes[1].getJSON("/healthz", "", &health); code != 200 || health["status"] != "ok" || health["node"] != "n2" {
		t.Errorf("/healthz %d %v", code, health)
	}
	var st cluster.Status
	if code := nodes[1].getJSON("/v1/cluster", nodes[1].tokens["supervisor"], &st); code != 200 || len(st.Peers) != 3 || st.Replicas != 3 {
		t.Errorf("/v1/cluster %d %+v", code, st)
	}
	if code := nodes[1].getJSON("/v1/cluster", nodes[1].tokens["agent"], nil); code != 403 {
		t.Errorf("/v1/cluster for an agent: %d, want 403", code)
	}
}

// readAcks reads an ingest connection's messages until an ack of at least
// seq arrives.
func readAcks(t *testing.T, r *rawCall, seq int64) {
	t.Helper()
	r.ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		var m protocol.Control
		if err := r.ws.ReadJSON(&m); err != nil {
			t.Fatalf("waiting for ack %d: %v", seq, err)
		}
		if m.Type == "ack" && m.Seq != nil && *m.Seq >= seq {
			return
		}
	}
}

func TestACallResumedOnAnotherNodeStopsOnTheFirstAndLosesNothing(t *testing.T) {
	nodes := startCluster(t, 3)
	r1, _ := nodes[0].rawStart(t, "c:move.1", false)
	for seq := uint64(0); seq < 200; seq++ {
		r1.send(seqFrame(seq, 100))
	}
	readAcks(t, r1, 199)
	// A start that is not a valid resume of the call (a new call reusing
	// its id, another agent's) is refused on node 2 and takes nothing over.
	for _, tc := range []struct {
		token, agent string
		resume       bool
		code         int
	}{
		{"endpoint", "A1", false, protocol.ClosePolicyViolation},
		{"endpoint2", "A2", true, protocol.CloseForbidden},
	} {
		ws, _, err := nodes[1].dialIngest(nodes[1].tokens[tc.token])
		if err != nil {
			t.Fatal(err)
		}
		ws.WriteJSON(startJSON("c:move.1", tc.agent, tc.resume))
		if code, reason := closeOf(ws); code != tc.code {
			t.Errorf("start by %s (resume %v) on node 2: closed %d %q, want %d", tc.agent, tc.resume, code, reason, tc.code)
		}
	}
	for seq := uint64(200); seq < 250; seq++ {
		r1.send(seqFrame(seq, 100))
	}
	readAcks(t, r1, 249) // node 1 still runs the call
	// The endpoint lost node 1 (as far as it knows) and resumes on node 2,
	// which reads the replicated checkpoint and takes the call over.
	r2, ack := nodes[1].rawStart(t, "c:move.1", true)
	if ack != 249 {
		t.Errorf("node 2 resumed at ack %d, want 249 (the checkpoint node 1 acked)", ack)
	}
	// Node 1 sees the new owner and stops its pipeline without writing.
	if code, reason := closeOf(r1.ws); code != protocol.CloseCallActive || !strings.Contains(reason, "n2") {
		t.Errorf("node 1 closed its endpoint with %d %q, want 4409 naming n2", code, reason)
	}
	for seq := uint64(ack + 1); seq < 400; seq++ {
		r2.send(seqFrame(seq, 100))
	}
	if m := r2.end(); m.Frames == nil || *m.Frames != 400 {
		t.Errorf("ended %+v, want 400 frames", m)
	}
	for i, n := range nodes {
		var d callDetail
		waitFor(t, fmt.Sprintf("node %d to have the call ended", i+1), 10*time.Second, func() bool {
			return n.getJSON("/v1/calls/c:move.1", n.tokens["admin"], &d) == 200 && d.Status == "ended"
		})
		if d.Frames != 400 || d.FramesLost != 0 || len(d.Utterances) != 8 {
			t.Errorf("node %d: %d frames, %d lost, %d utterances; want 400, 0, 8", i+1, d.Frames, d.FramesLost, len(d.Utterances))
		}
		eventTypes(t, d.Events)
	}
}

// TestAGracefulStopReleasesACallBetweenUtterances: a cluster node told to
// stop lets the utterance in progress end before it releases its call, so
// the node the endpoint moves to needs none of its audio: every utterance
// of the call (testAnalyzer: one per 25 agent frames) is whole, on its
// 500 ms boundary. Released at once, the stopped node would have decoded
// the part it had (its open speech is on its own disk only) and the next
// node's utterances would all be off their boundaries.
func TestAGracefulStopReleasesACallBetweenUtterances(t *testing.T) {
	nodes := startCluster(t, 3)
	l := startLiveCallOn(t, []string{nodes[0].base(), nodes[1].base(), nodes[2].base()}, nodes[0].tokens["endpoint"], "c-drain", 600, 5*time.Millisecond)
	waitFor(t, "the call to be acknowledged on node 1", 30*time.Second, func() bool { return l.c.Stats().Acked > 310 })
	nodes[0].stop()
	ended := l.finish(t)
	if ended.Frames != 1200 || ended.Gaps != 0 {
		t.Errorf("ended %+v, client %+v", ended, l.c.Stats())
	}
	if st := l.c.Stats(); st.URL == nodes[0].base() {
		t.Errorf("the call ended on the node that stopped: %+v", st)
	}
	var d callDetail
	waitFor(t, "node 2 to have the call ended", 10*time.Second, func() bool {
		return nodes[1].getJSON("/v1/calls/c-drain", nodes[1].tokens["admin"], &d) == 200 && d.Status == "ended"
	})
	// More than 24 is a second move, not the stop: under load the two
	// nodes left may take more than the endpoint's 10 s without an ack to
	// elect the leaders node 1 had (seen in CI), and the node it leaves
	// has already stored utterances of audio it never acknowledged, which
	// the next node hears again (docs/cluster.md, repeated records near a
	// takeover). Whole utterances is what the drain is for.
	if d.Frames != 1200 || d.FramesLost != 0 || len(d.Utterances) < 24 {
		t.Errorf("stored %d frames, %d lost, %d utterances; want 1200, 0, 24", d.Frames, d.FramesLost, len(d.Utterances))
	}
	if len(d.Utterances) > 24 {
		t.Logf("%d utterances: the endpoint moved again after the stop (%+v)", len(d.Utterances), l.c.Stats())
	}
	for _, u := range d.Utterances {
		if end := u["end"].(float64); math.Abs(end*2-math.Round(end*2)) > 0.001 {
			t.Errorf("utterance %v ends off its 500 ms boundary: split by the stop", u)
		}
	}
}

func TestAFullNodeSendsANewCallToANodeWithRoom(t *testing.T) {
	nodes := startClusterWith(t, 3, func(i int, addr string, c *Config) {
		c.Advertise = "http://" + addr
		c.MaxCalls = 1
	})
	r1, _ := nodes[0].rawStart(t, "c-first", false)
	defer r1.ws.Close()
	// Node 1 is full: a second call is sent on, to a node whose heartbeat
	// says it has room, by the URL it advertises.
	var code int
	var reason string
	waitFor(t, "the other nodes' heartbeats", 10*time.Second, func() bool {
		ws, _, err := nodes[0].dialIngest(nodes[0].tokens["endpoint"])
		if err != nil {
			t.Fatal(err)
		}
		ws.WriteJSON(startJSON("c-second", "A1", false))
		code, reason = closeOf(ws)
		return reason != ""
	})
	if code != 4503 || (reason != nodes[1].base() && reason != nodes[2].base()) {
		t.Fatalf("closed %d %q, want 4503 with node 2's or 3's URL", code, reason)
	}
	// A resume is never sent on: the call's checkpoint and owner are here.
	r1.ws.Close()
	r1b, _ := nodes[0].rawStart(t, "c-first", true)
	r1b.ws.Close()
	var st struct {
		Nodes []NodeLoad `json:"nodes"`
	}
	if code := nodes[0].getJSON("/v1/cluster", nodes[0].tokens["admin"], &st); code != 200 || len(st.Nodes) != 3 || st.Nodes[0].Node != "n1" {
		t.Errorf("/v1/cluster nodes %d %+v", code, st.Nodes)
	}
}

func TestWithoutAQuorumNoAudioIsAcknowledgedAndTheCallCompletesLater(t *testing.T) {
	tc := newTestCluster(t, 3, nil, func(c *Config) { c.StorageTimeout = 2 * time.Second })
	n1 := tc.nodes[0]
	l := startLiveCall(t, n1.base(), n1.tokens["endpoint"], "c-quorum", 1500, 4*time.Millisecond)
	waitFor(t, "frames to be acknowledged", 20*time.Second, func() bool { return l.c.Stats().Acked > 200 })
	// Two of three nodes stop: node 1's JetStream has no quorum.
	tc.nodes[1].stop()
	tc.nodes[2].stop()
	// Whatever the endpoint is told was saved is in node 1's projection,
	// which only takes records JetStream acknowledged.
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		acked := l.c.Stats().Acked
		c, err := n1.srv.Store().GetCall("c-quorum")
		if err != nil {
			t.Fatal(err)
		}
		if acked > c.Ack {
			t.Fatalf("the endpoint was told %d frames were saved, the cluster has %d", acked, c.Ack)
		}
		time.Sleep(100 * time.Millisecond) // sampling while the outage lasts
	}
	if acked := l.c.Stats().Acked; acked >= 2999 {
		t.Fatalf("the whole call was acknowledged (%d) without a quorum", acked)
	}
	// The quorum comes back: the endpoint's resends complete the call.
	tc.start(1, 2)
	ended, err := l.end()
	if err != nil {
		t.Fatal(err)
	}
	if ended.Frames != 3000 || ended.Gaps != 0 {
		t.Errorf("ended %+v, want 3000 frames and no gaps", ended)
	}
	d := n1.call("c-quorum")
	if d.Frames != 3000 || d.FramesLost != 0 || d.Status != "ended" {
		t.Errorf("stored: %s, %d frames, %d lost", d.Status, d.Frames, d.FramesLost)
	}
}

func TestANodeThatRanAloneKeepsItsCallsWhenItJoinsACluster(t *testing.T) {
	dir := t.TempDir()
	alone := startEngine(t, dir, "", func(c *Config) { c.Cluster = &cluster.Config{Node: "n1"} })
	streamCall(t, alone, "c-before", 100, 0)
	alone.stop()
	// The same data directory, now node 1 of three: nats-server does not
	// carry a standalone server's streams into a cluster, so the node
	// publishes its calls to the cluster's stream again.
	nodes := startClusterWith(t, 3, func(i int, _ string, c *Config) {
		if i == 0 {
			c.DataDir = dir
		}
	})
	for i, n := range nodes {
		var d callDetail
		waitFor(t, fmt.Sprintf("node %d to have the call", i+1), 10*time.Second, func() bool {
			return n.getJSON("/v1/calls/c-before", n.tokens["admin"], &d) == 200
		})
		if d.Status != "ended" || d.Frames != 200 || len(d.Utterances) != 4 {
			t.Errorf("node %d: %s, %d frames, %d utterances; want ended, 200, 4", i+1, d.Status, d.Frames, len(d.Utterances))
		}
	}
}
