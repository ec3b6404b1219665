package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/earshot/earshot/cluster"
	"github.com/earshot/earshot/internal/auth"
	"github.com/earshot/earshot/internal/replay"
)

// ClusterConfig configures Cluster. Zero values mean the defaults noted.
type ClusterConfig struct {
	// Binary is the earshot executable each node runs (`earshot serve`);
	// required.
	Binary string
	// Dir is where the nodes' data directories go (default: a temporary
	// directory, removed at the end).
	Dir   string
	Nodes int     // default 3
	Calls int     // concurrent calls (default 4)
	Speed float64 // replay speed (default 1)
	// NoSTT runs the nodes without speech recognition.
	NoSTT bool
	// Kill SIGKILLs the node that runs the first call a third of the way
	// into it and measures the failover.
	Kill bool
	// Env is added to each node's environment (EARSHOT_STT_LM, …), and
	// WorkDir is each node's working directory (where lm/build is found).
	Env     []string
	WorkDir string
	Logger  *slog.Logger // default: discarded
}

// ClusterResult is what Cluster measured. Latencies are at a subscriber
// on a node that runs none of the calls: every event crossed the cluster.
type ClusterResult struct {
	Nodes           int     `json:"nodes"`
	Calls           int     `json:"calls"`
	Realtime        bool    `json:"realtime"`
	FinalLatencyP50 float64 `json:"remote_final_latency_p50_s"`
	FinalLatencyP95 float64 `json:"remote_final_latency_p95_s"`
	HintLatencyP95  float64 `json:"remote_hint_latency_p95_s"`
	Finals          int     `json:"finals"`
	FramesLost      int64   `json:"frames_lost"`
	Errors          int     `json:"errors"`
	// JetStream's calls stream after the run, per call.
	StoredRecordsPerCall float64 `json:"stored_records_per_call"`
	StoredKBPerCall      float64 `json:"stored_kb_per_call"`
	// The failover (with Kill): from SIGKILL to the moved call's first
	// event from its new node at the subscriber (the endpoint reconnected
	// and the node took the call over), to the calls stream having a
	// leader again on a survivor (JetStream's election), and to its next
	// transcript (the pipeline resumed from the checkpoint).
	FailoverFirstEventS float64 `json:"failover_first_event_s,omitempty"`
	FailoverLeaderS     float64 `json:"failover_stream_leader_s,omitempty"`
	FailoverTranscriptS float64 `json:"failover_next_transcript_s,omitempty"`
	WallS               float64 `json:"wall_s"`
}

func (c *ClusterConfig) defaults() error {
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if c.Calls == 0 {
		c.Calls = 4
	}
	if c.Speed == 0 {
		c.Speed = 1
	}
	if c.Binary == "" || c.Nodes < 2 || c.Calls < 1 || c.Speed < 0 {
		return fmt.Errorf("%w: bench cluster needs the earshot binary, 2 or more nodes and a call (%d nodes, %d calls)", ErrConfig, c.Nodes, c.Calls)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// benchNode is one `earshot serve` process of the benchmark.
type benchNode struct {
	name, addr, route, dir string
	cmd                    *exec.Cmd
}

func (n *benchNode) url() string { return "http://" + n.addr }

// Cluster starts cfg.Nodes `earshot serve` processes on loopback as one
// cluster, streams cfg.Calls sample calls into every node but the second,
// round robin, and measures at a wall on the second node: latency of what
// crossed the cluster, what JetStream keeps, and with Kill the failover.
// It blocks for the length of the longest call and stops every process.
func Cluster(ctx context.Context, cfg ClusterConfig) (ClusterResult, error) {
	if err := cfg.defaults(); err != nil {
		return ClusterResult{}, err
	}
	res := ClusterResult{Nodes: cfg.Nodes, Calls: cfg.Calls}
	if cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "earshot-bench-cluster-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(dir)
		cfg.Dir = dir
	}
	authority, secretFile, err := benchSecret(cfg.Dir)
	if err != nil {
		return res, err
	}
	nodes, err := startBenchNodes(ctx, cfg, secretFile)
	defer func() {
		for _, n := range nodes {
			n.kill()
		}
	}()
	if err != nil {
		return res, err
	}
	calls, err := replay.SampleCalls()
	if err != nil {
		return res, err
	}
	// One admin token streams every call, as in bench live (an endpoint
	// token is one agent's).
	admin, err := authority.Issue(auth.RoleAdmin, "", time.Hour)
	if err != nil {
		return res, err
	}
	watch := nodes[1]
	sub, err := subscribe(ctx, watch.addr, admin, cfg.Calls)
	if err != nil {
		return res, err
	}
	defer sub.close()
	jobs, clocks := benchJobs(calls, cfg.Calls)
	start := time.Now()
	results := streamToNodes(ctx, cfg, nodes, admin, jobs, func(moved *replay.Job) {
		if cfg.Kill {
			killAndMeasure(ctx, &res, cfg, nodes, admin, moved, sub)
		}
	})
	res.WallS = roundTo(time.Since(start).Seconds(), 1)
	res.Realtime = true
	for _, r := range results {
		if r.Err != nil {
			res.Errors++
			res.Realtime = false
			cfg.Logger.Warn("bench cluster: call failed", "call_id", r.Job.CallID, "err", r.Err)
		}
		res.FramesLost += int64(r.Stats.Dropped)
	}
	select {
	case <-sub.allEnded:
	case <-time.After(10 * time.Second):
		res.Realtime = false
	}
	var lr LiveResult
	measureLatency(&lr, sub.close(), clocks)
	res.FinalLatencyP50, res.FinalLatencyP95, res.HintLatencyP95, res.Finals = lr.FinalLatencyP50, lr.FinalLatencyP95, lr.HintLatencyP95, lr.Finals
	if res.FinalLatencyP95 > 3 {
		res.Realtime = false
	}
	readStreams(&res, watch, admin)
	return res, nil
}

// benchSecret writes the nodes' shared token secret.
func benchSecret(dir string) (*auth.Authority, string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, "token.secret")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(raw)+"\n"), 0o600); err != nil {
		return nil, "", err
	}
	return auth.NewAuthority(raw, nil), path, nil
}

func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startBenchNodes starts every node and waits until each answers /healthz.
func startBenchNodes(ctx context.Context, cfg ClusterConfig, secretFile string) ([]*benchNode, error) {
	nodes := make([]*benchNode, cfg.Nodes)
	for i := range nodes {
		addr, err := freeLoopback()
		if err != nil {
			return nil, err
		}
		route, err := freeLoopback()
		if err != nil {
			return nil, err
		}
		nodes[i] = &benchNode{name: fmt.Sprintf("b%d", i+1), addr: addr, route: route, dir: filepath.Join(cfg.Dir, fmt.Sprintf("b%d", i+1))}
	}
	perNode := (cfg.Calls + cfg.Nodes - 2) / (cfg.Nodes - 1)
	for _, n := range nodes {
		var peers []string
		for _, o := range nodes {
			if o != n {
				peers = append(peers, o.route)
			}
		}
		args := []string{"serve", "--addr", n.addr, "--data", n.dir, "--node", n.name, "--cluster-listen", n.route,
			"--cluster-peers", strings.Join(peers, ","), "--secret-file", secretFile, "--advertise", n.url(),
			"--max-calls", fmt.Sprint(perNode + 1)}
		if cfg.NoSTT {
			args = append(args, "--no-stt")
		}
		n.cmd = exec.CommandContext(ctx, cfg.Binary, args...)
		n.cmd.Dir, n.cmd.Env = cfg.WorkDir, append(os.Environ(), cfg.Env...)
		if err := n.cmd.Start(); err != nil {
			return nodes, fmt.Errorf("starting node %s: %w", n.name, err)
		}
	}
	for _, n := range nodes {
		if err := waitHealthy(ctx, n, 2*time.Minute); err != nil {
			return nodes, err
		}
	}
	return nodes, nil
}

func (n *benchNode) kill() {
	if n.cmd != nil && n.cmd.Process != nil {
		_ = n.cmd.Process.Signal(syscall.SIGKILL)
		_ = n.cmd.Wait()
		n.cmd = nil
	}
}

func waitHealthy(ctx context.Context, n *benchNode, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		var h struct{ Status string }
		if getJSON(n.url()+"/healthz", "", &h) == http.StatusOK && h.Status == "ok" {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("node %s not healthy within %v", n.name, limit)
}

func getJSON(url, token string, v any) int {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if json.NewDecoder(resp.Body).Decode(v) != nil {
		return 0
	}
	return resp.StatusCode
}

// streamToNodes streams every job, each to every node but the watched
// second one in turn (its list: its own node first, then the others), and
// calls during(first job) a third of the way into the first call.
func streamToNodes(ctx context.Context, cfg ClusterConfig, nodes []*benchNode, token string, jobs []*replay.Job, during func(*replay.Job)) []replay.Result {
	var ingest []*benchNode
	for i, n := range nodes {
		if i != 1 {
			ingest = append(ingest, n)
		}
	}
	results := make([]replay.Result, len(jobs))
	done := make(chan int, len(jobs))
	for i, j := range jobs {
		first := ingest[i%len(ingest)]
		urls := []string{first.url()}
		for _, n := range nodes {
			if n != first {
				urls = append(urls, n.url())
			}
		}
		go func() {
			results[i] = replay.One(ctx, strings.Join(urls, ","), token, cfg.Speed, j)
			done <- i
		}()
	}
	third := time.Duration(callSeconds(jobs[0]) / cfg.Speed / 3 * float64(time.Second))
	select {
	case <-time.After(third):
		during(jobs[0])
	case <-ctx.Done():
	}
	for range jobs {
		<-done
	}
	return results
}

// killAndMeasure SIGKILLs the node the moved job streams to (the first
// ingest node) and measures the failover's parts at the subscriber and on
// a survivor.
func killAndMeasure(ctx context.Context, res *ClusterResult, cfg ClusterConfig, nodes []*benchNode, admin string, moved *replay.Job, sub *subscriber) {
	victim := nodes[0]
	killed := time.Now()
	victim.kill()
	cfg.Logger.Info("bench cluster: node killed", "node", victim.name)
	deadline := killed.Add(time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if res.FailoverLeaderS == 0 && streamLeader(nodes[1], admin) != "" {
			res.FailoverLeaderS = roundTo(time.Since(killed).Seconds(), 2)
		}
		if res.FailoverTranscriptS == 0 {
			if at, ok := sub.firstAfter(moved.CallID, "transcript.final", killed); ok {
				res.FailoverTranscriptS = roundTo(at.Sub(killed).Seconds(), 2)
			}
		}
		if res.FailoverFirstEventS == 0 {
			if at, ok := sub.firstAfter(moved.CallID, "", killed); ok {
				res.FailoverFirstEventS = roundTo(at.Sub(killed).Seconds(), 2)
			}
		}
		if res.FailoverLeaderS > 0 && res.FailoverFirstEventS > 0 && (res.FailoverTranscriptS > 0 || cfg.NoSTT) {
			return
		}
		time.Sleep(50 * time.Millisecond) // sampling the failover's progress
	}
}

// streamLeader is the calls stream's leader as a node reports it, "" if none.
func streamLeader(n *benchNode, admin string) string {
	var st cluster.Status
	if getJSON(n.url()+"/v1/cluster", admin, &st) != http.StatusOK {
		return ""
	}
	for _, s := range st.Streams {
		if s.Name == cluster.CallsStream {
			return s.Leader
		}
	}
	return ""
}

// readStreams records what JetStream's calls stream keeps per call.
func readStreams(res *ClusterResult, n *benchNode, admin string) {
	var st cluster.Status
	if getJSON(n.url()+"/v1/cluster", admin, &st) != http.StatusOK {
		return
	}
	for _, s := range st.Streams {
		if s.Name == cluster.CallsStream {
			res.StoredRecordsPerCall = roundTo(float64(s.Messages)/float64(res.Calls), 1)
			res.StoredKBPerCall = roundTo(float64(s.Bytes)/float64(res.Calls)/1024, 1)
		}
	}
}
