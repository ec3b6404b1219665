package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/earshot/earshot/internal/testdisk"
)

func TestAutoReplicas(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes int
		want  int
	}{
		{"a single node keeps one copy", 1, 1},
		{"two nodes keep a copy on each disk", 2, 2},
		{"three nodes keep three copies, a quorum of two", 3, 3},
		{"five nodes still keep three copies", 5, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := AutoReplicas(tc.nodes); got != tc.want {
				t.Errorf("AutoReplicas(%d) = %d, want %d", tc.nodes, got, tc.want)
			}
		})
	}
}

func TestStartRefusesABadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"a node name with a space", Config{Node: "node a"}, `"node a"`},
		{"peers without a cluster port", Config{ClusterPeers: []string{"10.0.0.2:6222"}}, "ClusterListen"},
		{"a cluster address without a port", Config{ClusterListen: "10.0.0.1"}, `"10.0.0.1"`},
		{"port 0, which nats-server reads as off", Config{ClusterListen: "127.0.0.1:0"}, "port must be"},
		{"a peer address that is not HOST:PORT", Config{ClusterListen: "127.0.0.1:6222", ClusterPeers: []string{"b"}}, `"b"`},
		{"three replicas on two nodes", Config{ClusterListen: "127.0.0.1:6222", ClusterPeers: []string{"127.0.0.1:6223"}, Replicas: 3}, "the cluster has 2"},
		{"more replicas than JetStream allows", Config{Replicas: 6}, "replicas 6"},
		{"an external NATS with a cluster port", Config{NATSURLs: []string{"nats://127.0.0.1:4222"}, ClusterListen: "127.0.0.1:6222"}, "NATSURLs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.DataDir = t.TempDir()
			n, err := Start(context.Background(), tc.cfg)
			if err == nil {
				n.Close()
				t.Fatal("Start accepted the config")
			}
			if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrBadConfig mentioning %s", err, tc.want)
			}
		})
	}
}

func TestCheckVersion(t *testing.T) {
	for _, tc := range []struct {
		version string
		ok      bool
	}{
		{"2.9.10", false},
		{"2.10.22", false},
		{"1.4.1", false},
		{"", false},
		{"2.11.0", true},
		{"2.11.0-RC.1", true},
		{"2.15.3", true},
		{"3.0.0", true},
	} {
		t.Run("version "+tc.version, func(t *testing.T) {
			err := checkVersion(tc.version, "nats://x:4222")
			if (err == nil) != tc.ok {
				t.Fatalf("checkVersion(%q) = %v, want ok=%v", tc.version, err, tc.ok)
			}
			if err != nil && (!errors.Is(err, ErrServerTooOld) || !strings.Contains(err.Error(), "2.11")) {
				t.Errorf("err = %v, want ErrServerTooOld naming 2.11", err)
			}
		})
	}
}

// recorder is a slog.Handler that keeps every record with the attributes
// of its logger, safe for the server's goroutines.
type recorder struct {
	level slog.Level
	attrs []slog.Attr
	mu    *sync.Mutex
	recs  *[]string // "LEVEL message attrs"
}

func newRecorder(level slog.Level) *recorder {
	return &recorder{level: level, mu: new(sync.Mutex), recs: new([]string)}
}

func (r *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }
func (r *recorder) WithGroup(string) slog.Handler                { return r }
func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := *r
	c.attrs = append(append([]slog.Attr{}, r.attrs...), as...)
	return &c
}

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	line := rec.Level.String() + " " + rec.Message
	for _, a := range r.attrs {
		line += " " + a.String()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.recs = append(*r.recs, line)
	return nil
}

// lines returns the records that contain every one of parts.
func (r *recorder) lines(parts ...string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, l := range *r.recs {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(l, p) }) {
			out = append(out, l)
		}
	}
	return out
}

func TestTheServerLogReachesSlogAtItsLevel(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	noHost := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "n2.invalid", IsNotFound: true}}
	routeErr := func(attempt int, err error) string { return fmt.Sprintf(routeConnectErr, attempt, err) }
	for _, tc := range []struct {
		name  string
		log   func(l *serverLog)
		level slog.Level
		want  string // "" for nothing logged
	}{
		{"a notice after start is Info", func(l *serverLog) { l.started.Store(true); l.Noticef("ready %d", 1) }, slog.LevelInfo, "INFO ready 1"},
		{"the start-up banner is Debug", func(l *serverLog) { l.Noticef("  Version:  %s", "2.15.3") }, slog.LevelInfo, ""},
		{"a warning is Warn", func(l *serverLog) { l.Warnf("slow") }, slog.LevelInfo, "WARN slow"},
		{"an error is Error", func(l *serverLog) { l.Errorf("lost") }, slog.LevelInfo, "ERROR lost"},
		{"a fatal error is Error and does not exit", func(l *serverLog) { l.Fatalf("no port") }, slog.LevelInfo, "ERROR no port"},
		{"debug is dropped unless debug is on", func(l *serverLog) { l.Debugf("detail") }, slog.LevelInfo, ""},
		{"debug is Debug when debug is on", func(l *serverLog) { l.Debugf("detail") }, slog.LevelDebug, "DEBUG detail"},
		{"a trace is Debug when debug is on", func(l *serverLog) { l.Tracef("frame") }, slog.LevelDebug, "DEBUG frame"},
		{"a route refused while the cluster forms is Debug", func(l *serverLog) { l.Errorf(routeConnectErr, 1, refused) }, slog.LevelInfo, ""},
		{"a route refused once the cluster formed is Warn", func(l *serverLog) { l.formed.Store(true); l.Errorf(routeConnectErr, 1, refused) }, slog.LevelInfo, "WARN " + routeErr(1, refused)},
		{"a lost peer's refusals are Warn once a minute, not every second", func(l *serverLog) {
			l.formed.Store(true)
			for a := 2; a <= 120; a++ {
				l.Errorf(routeConnectErr, a, refused)
			}
		}, slog.LevelInfo, "WARN " + routeErr(60, refused) + "\nWARN " + routeErr(120, refused)},
		{"a route to a host that does not resolve is an Error while the cluster forms", func(l *serverLog) { l.Errorf(routeConnectErr, 1, noHost) }, slog.LevelInfo, "ERROR " + routeErr(1, noHost)},
		{"notices while JetStream restarts are Debug", func(l *serverLog) { l.started.Store(true); l.quiet.Store(true); l.Noticef("Restored %d messages", 21) }, slog.LevelInfo, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecorder(tc.level)
			tc.log(newServerLog(slog.New(r)))
			got := strings.Join(r.lines(), "\n")
			if got != tc.want {
				t.Errorf("logged %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSingleNodeKeepsRecordsOnDiskAndOpensNoPort(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	logs := newRecorder(slog.LevelInfo)
	cfg := Config{DataDir: dir, Node: "solo", ReadyTimeout: 5 * time.Second, Logger: slog.New(logs)}
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })

	if !n.Embedded() || n.ClusterSize() != 1 || n.Replicas() != 1 || n.Name() != "solo" {
		t.Errorf("embedded %v, size %d, replicas %d, name %q; want true, 1, 1, solo", n.Embedded(), n.ClusterSize(), n.Replicas(), n.Name())
	}
	if a := n.ns.Addr(); a != nil {
		t.Errorf("the embedded server listens for clients on %v", a)
	}
	if a := n.ns.ClusterAddr(); a != nil {
		t.Errorf("the embedded server listens for routes on %v", a)
	}
	if a := n.ns.MonitorAddr(); a != nil {
		t.Errorf("the embedded server serves monitoring on %v", a)
	}
	if fi, err := os.Stat(filepath.Join(dir, "nats")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("DataDir/nats: %v, err %v; want a 0700 directory", fi.Mode(), err)
	}
	if len(logs.lines("INFO Server is ready", "component=nats-server", "node=solo")) != 1 {
		t.Errorf("the server's notice of readiness did not reach the slog logger at Info: %q", logs.lines())
	}

	st, err := n.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Streams) != 4 {
		t.Fatalf("status has %d streams, want the calls and live streams and two buckets: %+v", len(st.Streams), st.Streams)
	}
	for _, s := range st.Streams {
		if !s.Healthy || s.Replicas != 1 || s.Leader != "solo" {
			t.Errorf("stream %s: %+v, want healthy, 1 replica, led by solo", s.Name, s)
		}
	}
	info, err := n.Calls().Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := info.Config; !c.AllowMsgTTL || c.MaxAge != DefaultMaxAge || c.Storage != jetstream.FileStorage || c.Duplicates != 2*time.Minute {
		t.Errorf("calls stream config: ttl %v, max age %v, storage %v, duplicates %v", c.AllowMsgTTL, c.MaxAge, c.Storage, c.Duplicates)
	}

	ack, err := n.JetStream().Publish(ctx, "earshot.call.x.summary", []byte(`{"words":42}`), jetstream.WithMsgID("x-summary-1"))
	if err != nil {
		t.Fatal(err)
	}
	if ack.Stream != CallsStream {
		t.Errorf("acked by %s, want %s", ack.Stream, CallsStream)
	}
	again, err := n.JetStream().Publish(ctx, "earshot.call.x.summary", []byte(`{"words":42}`), jetstream.WithMsgID("x-summary-1"))
	if err != nil || !again.Duplicate || again.Sequence != ack.Sequence {
		t.Errorf("a resend with the same Nats-Msg-Id: %+v, %v; want the first sequence, marked duplicate", again, err)
	}

	rev, err := n.Owners().Create(ctx, "x", []byte("solo"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Owners().Update(ctx, "x", []byte("thief"), rev+1); err == nil {
		t.Error("an owner update with a stale revision was accepted")
	}
	if _, err := n.Owners().Update(ctx, "x", []byte("other"), rev); err != nil {
		t.Errorf("an owner update with the current revision: %v", err)
	}

	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
	if _, err := n.Status(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Status after Close: %v, want ErrClosed", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "nats" {
		t.Errorf("DataDir holds %v, want only nats", entries)
	}

	cfg.Logger = nil
	n2, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	msg, err := n2.Calls().GetMsg(ctx, ack.Sequence)
	if err != nil {
		t.Fatalf("the record is gone after a restart: %v", err)
	}
	if msg.Subject != "earshot.call.x.summary" || string(msg.Data) != `{"words":42}` {
		t.Errorf("after a restart: %s %q", msg.Subject, msg.Data)
	}
	if e, err := n2.Owners().Get(ctx, "x"); err != nil || string(e.Value()) != "other" {
		t.Errorf("owner after a restart: %v, %v", e, err)
	}
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// startCluster starts size embedded nodes on loopback, concurrently: each
// Start waits for a quorum.
func startCluster(t *testing.T, size int) []*Node {
	t.Helper()
	ports := freePorts(t, size)
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	nodes := make([]*Node, size)
	errs := make([]error, size)
	var wg sync.WaitGroup
	for i := range size {
		var peers []string
		for j := range size {
			if j != i {
				peers = append(peers, addr(j))
			}
		}
		cfg := Config{DataDir: t.TempDir(), Node: fmt.Sprintf("n%d", i+1), ClusterListen: addr(i), ClusterPeers: peers, ReadyTimeout: 20 * time.Second}
		wg.Go(func() { nodes[i], errs[i] = Start(context.Background(), cfg) })
	}
	wg.Wait()
	for i, n := range nodes {
		if n != nil {
			t.Cleanup(func() { n.Close() })
		}
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i+1, errs[i])
		}
	}
	return nodes
}

// eventually polls f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func publish(n *Node, timeout time.Duration, subject string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err := n.JetStream().Publish(ctx, subject, []byte("record"))
	return err
}

func TestThreeNodesKeepWritingThroughOneLossAndStopAtTwo(t *testing.T) {
	nodes := startCluster(t, 3)
	for _, n := range nodes {
		if n.ClusterSize() != 3 || n.Replicas() != 3 {
			t.Fatalf("%s: size %d, replicas %d; want 3, 3", n.Name(), n.ClusterSize(), n.Replicas())
		}
	}
	ctx := context.Background()
	var leader string
	eventually(t, 10*time.Second, func() error {
		st, err := nodes[0].Status(ctx)
		if err != nil {
			return err
		}
		calls := st.Streams[0]
		if calls.Name != CallsStream || calls.Replicas != 3 || len(calls.Peers) != 2 || !calls.Healthy {
			return fmt.Errorf("calls stream %+v, want 3 replicas, all current", calls)
		}
		if st.MetaLeader == "" || len(st.Peers) != 3 {
			return fmt.Errorf("meta leader %q, peers %+v; want a leader and 3 peers", st.MetaLeader, st.Peers)
		}
		leader = calls.Leader
		return nil
	})
	if err := publish(nodes[0], 5*time.Second, "earshot.call.a.summary"); err != nil {
		t.Fatalf("publish with all nodes up: %v", err)
	}

	// Lose the calls stream's leader: the other two elect a new one.
	var survivors []*Node
	for _, n := range nodes {
		if n.Name() == leader {
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}
		} else {
			survivors = append(survivors, n)
		}
	}
	if len(survivors) != 2 {
		t.Fatalf("leader %q is none of the nodes", leader)
	}
	start := time.Now()
	eventually(t, 15*time.Second, func() error { return publish(survivors[0], 2*time.Second, "earshot.call.b.summary") })
	t.Logf("with the leader %s down, a publish on %s was acknowledged after %s", leader, survivors[0].Name(), time.Since(start).Round(time.Millisecond))

	// Lose a second node: one of three is no quorum.
	if err := survivors[1].Close(); err != nil {
		t.Fatal(err)
	}
	last := survivors[0]
	start = time.Now()
	err := publish(last, 2*time.Second, "earshot.call.c.summary")
	if err == nil {
		t.Fatal("a publish was acknowledged by one node of three")
	}
	t.Logf("with two of three nodes down, the publish failed after %s: %v", time.Since(start).Round(time.Millisecond), err)

	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	// The stream's leader may still answer for a moment (it steps down
	// once it notices it lost its quorum), or not answer at all: either way
	// the stream is reported unhealthy.
	st, err := last.Status(sctx)
	if st.Streams[0].Healthy {
		t.Errorf("status without quorum: %+v (err %v); want the calls stream unhealthy", st.Streams[0], err)
	}
}

func TestAClusterNodeWithoutQuorumSaysWhichPeersItReached(t *testing.T) {
	// Two nodes of five: each reaches the other, three of five make a quorum.
	ports := freePorts(t, 5)
	addrs := make([]string, len(ports))
	for i, p := range ports {
		addrs[i] = "127.0.0.1:" + strconv.Itoa(p)
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	start := time.Now()
	for i, name := range []string{"a", "b"} {
		cfg := Config{
			DataDir:       t.TempDir(),
			Node:          name,
			ClusterListen: addrs[i],
			ClusterPeers:  append(append([]string{}, addrs[:i]...), addrs[i+1:]...),
			ReadyTimeout:  3 * time.Second,
		}
		wg.Go(func() {
			n, err := Start(context.Background(), cfg)
			if err == nil {
				n.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, want := range []string{"1 of 4 other nodes reachable (b)", "1 of 4 other nodes reachable (a)"} {
		if !errors.Is(errs[i], ErrNotReady) || !strings.Contains(errs[i].Error(), want) {
			t.Errorf("node %d: err = %v, want ErrNotReady saying %s", i, errs[i], want)
		}
	}
	t.Log(errs[0])
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("Start gave up after %s, ReadyTimeout is 3s", d)
	}
}

func TestStartRefusesAnExternalServerOlderThan2_11(t *testing.T) {
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin = "/usr/sbin/nats-server"
		if _, err := os.Stat(bin); err != nil {
			t.Skip("no nats-server binary (Debian's nats-server package, installed by scripts/setup.sh)")
		}
	}
	port := strconv.Itoa(freePorts(t, 1)[0])
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", port, "-js", "-sd", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	eventually(t, 5*time.Second, func() error {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
		}
		return err
	})

	url := "nats://127.0.0.1:" + port
	n, err := Start(context.Background(), Config{NATSURLs: []string{url}, ReadyTimeout: 5 * time.Second})
	if err == nil {
		n.Close()
		t.Fatal("Start accepted nats-server 2.9.10")
	}
	if !errors.Is(err, ErrServerTooOld) || !strings.Contains(err.Error(), "2.9.10") || !strings.Contains(err.Error(), "2.11") {
		t.Errorf("err = %v, want ErrServerTooOld naming 2.9.10 and 2.11", err)
	}
	t.Log(err)
}

func TestStartSaysWhichURLIsUnreachable(t *testing.T) {
	url := "nats://127.0.0.1:" + strconv.Itoa(freePorts(t, 1)[0])
	start := time.Now()
	n, err := Start(context.Background(), Config{NATSURLs: []string{url}, ReadyTimeout: 5 * time.Second})
	if err == nil {
		n.Close()
		t.Fatal("Start connected to a closed port")
	}
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), url) {
		t.Errorf("err = %v, want ErrUnreachable naming %s", err, url)
	}
	t.Log(err)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Start gave up after %s", d)
	}
}

// TestASingleNodeWritesAgainOnceItsFullDiskHasRoom: a write that failed on a
// full disk leaves nats-server's stream refusing every write until
// JetStream starts again; the node restarts it by itself once the disk has
// room, the records from before are still there, and an ordered consumer
// (what the projection reads with) goes on delivering.
func TestASingleNodeWritesAgainOnceItsFullDiskHasRoom(t *testing.T) {
	disk := testdisk.Mount(t, 16<<20)
	logs := newRecorder(slog.LevelInfo)
	n, err := Start(context.Background(), Config{DataDir: filepath.Join(disk, "data"), Node: "solo", ReadyTimeout: 5 * time.Second, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cons, err := n.JetStream().OrderedConsumer(ctx, CallsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// The projection's settings: short pulls, a heartbeat a second.
	it, err := cons.Messages(jetstream.PullExpiry(5*time.Second), jetstream.PullHeartbeat(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer it.Stop()
	delivered := make(chan string, 1024)
	go func() {
		for {
			m, err := it.Next()
			if err != nil {
				return
			}
			delivered <- m.Subject()
			_ = m.Ack()
		}
	}()

	// The engine follows call owners with a watcher of their bucket.
	w, err := n.Owners().WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	// A record per write, a few hundred bytes each, as the journal's are.
	record := func(i int) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := n.JetStream().Publish(ctx, fmt.Sprintf("earshot.call.c1.r%d", i), make([]byte, 512))
		return err
	}
	const before = 20
	for i := range before {
		if err := record(i); err != nil {
			t.Fatal(err)
		}
	}
	filler := testdisk.Fill(t, disk)
	i := before
	for ; ; i++ {
		if err := record(i); err != nil {
			break
		}
		if i > before+100_000 {
			t.Fatal("JetStream acknowledged 100,000 records on a full disk")
		}
	}
	// Once a write failed, nothing is acknowledged while the disk is full,
	// even after the node's checks have seen the fault.
	eventually(t, 10*time.Second, func() error {
		if n.StoreError() == "" {
			return errors.New("the node does not report a store error")
		}
		return nil
	})
	if _, err := n.Status(ctx); !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "write error") {
		t.Errorf("Status on a full disk: err %v, want ErrNotReady naming the write error", err)
	}
	for range 3 {
		if err := record(i); err == nil {
			t.Fatal("JetStream acknowledged a record while the disk was full")
		}
		time.Sleep(healInterval / 2)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	eventually(t, 20*time.Second, func() error { return record(i) })
	t.Logf("first record acknowledged %.1f s after the disk had room", time.Since(freed).Seconds())

	info, err := n.Calls().Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Every record acknowledged before the disk filled is still there.
	if got := info.State.Msgs; got < before+1 {
		t.Errorf("the stream holds %d records after the restart, want at least %d", got, before+1)
	}
	want := fmt.Sprintf("earshot.call.c1.r%d", i)
	timeout := time.After(15 * time.Second)
	for got := ""; got != want; {
		select {
		case got = <-delivered:
		case <-timeout:
			t.Fatalf("the ordered consumer did not deliver %s, written after the restart", want)
		}
	}
	eventually(t, 10*time.Second, func() error {
		if e := n.StoreError(); e != "" {
			return fmt.Errorf("store error still reported: %s", e)
		}
		return nil
	})
	if l := logs.lines("ERROR JetStream cannot write its store"); len(l) != 1 {
		t.Errorf("the loss was logged %d times at Error, want once: %q", len(l), l)
	}
	if l := logs.lines("INFO JetStream writes again", "node=solo"); len(l) != 1 {
		t.Errorf("the recovery was logged %d times at Info, want once: %q", len(l), l)
	}
	if l := logs.lines("INFO", "restore for stream"); len(l) != 0 {
		t.Errorf("the restart's banner and restore notices reached Info: %q", l)
	}
	// The memory streams do not come back from files: the node made them
	// again.
	if _, err := n.Live().Info(ctx); err != nil {
		t.Errorf("the live stream after the restart: %v", err)
	}
	if _, err := n.Nodes().Put(ctx, "solo", []byte("{}")); err != nil {
		t.Errorf("a heartbeat after the restart: %v", err)
	}
	if _, err := n.Owners().Put(ctx, "c1", []byte("solo")); err != nil {
		t.Fatalf("claiming a call after the restart: %v", err)
	}
	watched := time.Now()
	select {
	case e := <-w.Updates():
		if e == nil || e.Key() != "c1" {
			t.Errorf("the owners' watcher delivered %v, want c1", e)
		}
		t.Logf("the owners' watcher delivered a claim %.1f s after it was made", time.Since(watched).Seconds())
	case <-time.After(20 * time.Second):
		t.Error("the owners' watcher delivered nothing written after the restart")
	}
	if _, err := n.Status(ctx); err != nil {
		t.Errorf("Status after the recovery: %v", err)
	}
}
