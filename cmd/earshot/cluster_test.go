package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/cluster"
	"github.com/earshot/earshot/engine"
	"github.com/earshot/earshot/internal/auth"
	"github.com/earshot/earshot/internal/localengine"
)

// startEngine runs a real engine on a loopback port until the test ends;
// cc nil means one without NATS.
func startEngine(t *testing.T, cc *cluster.Config) *localengine.Engine {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := engine.Config{DataDir: t.TempDir(), NewAnalyzer: engine.PipelineAnalyzers(ctx, call.Deps{}),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Cluster: cc}
	e, err := localengine.Start(ctx, cfg, "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := e.Wait(); err != nil {
			t.Errorf("engine stopped with %v", err)
		}
	})
	return e
}

func issue(t *testing.T, a *auth.Authority, role auth.Role) string {
	t.Helper()
	agent := ""
	if role == auth.RoleAgent {
		agent = "A17"
	}
	tok, err := a.Issue(role, agent, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// fakeEngine answers GET /v1/cluster with code and v as JSON, as an engine
// in a state a test cannot easily bring a real one to.
func fakeEngine(t *testing.T, code int, v any) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/cluster" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// waitHeartbeat polls GET /v1/cluster until the engine lists its own
// heartbeat, which it writes as it starts.
func waitHeartbeat(t *testing.T, url, token string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		code, body, err := getClusterStatus(context.Background(), url, token)
		var a clusterAnswer
		if err == nil && code == http.StatusOK && json.Unmarshal(body, &a) == nil && len(a.Nodes) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no heartbeat in GET /v1/cluster within 10 s: %d %s %v", code, body, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// closedURL is the URL of a loopback port nothing listens on any more.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

func TestClusterStatus(t *testing.T) {
	start := time.Now()
	node := startEngine(t, &cluster.Config{Node: "status-node-1"})
	plain := startEngine(t, nil)
	t.Logf("two engines started in %s", time.Since(start).Round(time.Millisecond))
	a := node.Server.Authority()
	supervisor, admin, agent := issue(t, a, auth.RoleSupervisor), issue(t, a, auth.RoleAdmin), issue(t, a, auth.RoleAgent)
	waitHeartbeat(t, node.URL(), admin)
	otherSecret := issue(t, auth.NewAuthority(bytes.Repeat([]byte{7}, 32), nil), auth.RoleAdmin)

	// What a node without quorum answers (engine/cluster.go getCluster):
	// 503, the error, and what it could read.
	noQuorum := fakeEngine(t, http.StatusServiceUnavailable, map[string]any{
		"error": "jetstream not ready: EARSHOT_CALLS: context deadline exceeded\nEARSHOT_LIVE: context deadline exceeded",
		"cluster": cluster.Status{Node: "n1", Embedded: true, Cluster: "earshot", Replicas: 3,
			Peers:   []cluster.Peer{{Name: "n1", Current: true}, {Name: "n2", Offline: true, ActiveS: 41.5}, {Name: "n3", Offline: true, ActiveS: 40.2}},
			Streams: []cluster.StreamStatus{{Name: cluster.CallsStream, Error: "context deadline exceeded"}, {Name: cluster.LiveStream, Error: "context deadline exceeded"}}}})
	// What a follower of the meta group answers with one node down: it
	// knows the leader's state and its own, not the other follower's.
	nodeDown := fakeEngine(t, http.StatusOK, clusterAnswer{
		Status: cluster.Status{Node: "n1", Embedded: true, Cluster: "earshot", MetaLeader: "n2", Replicas: 3,
			Peers: []cluster.Peer{{Name: "n1", Current: true}, {Name: "n2", Current: true, ActiveS: 0.4}, {Name: "n3"}},
			Streams: []cluster.StreamStatus{
				{Name: cluster.CallsStream, Leader: "n2", Replicas: 3, Messages: 2048, Bytes: 3 << 20,
					Peers: []cluster.Peer{{Name: "n1", Current: true, ActiveS: 0.2}, {Name: "n3", ActiveS: 42, Lag: 12}}},
				// Its leader moved to n2 after n3 died: n2 never heard from n3.
				{Name: cluster.LiveStream, Leader: "n2", Replicas: 3,
					Peers: []cluster.Peer{{Name: "n1", Current: true, ActiveS: 0.2}, {Name: "n3", Lag: 19}}},
			}},
		Nodes: []engine.NodeLoad{
			{Node: "n1", Calls: 3, MaxCalls: 8, Advertise: "https://n1.example.com:8470", At: time.Now()},
			{Node: "n2", Calls: 5, MaxCalls: 8, Advertise: "https://n2.example.com:8470", At: time.Now()},
		}})
	down := closedURL(t)

	for _, tc := range []struct {
		name      string
		args      []string
		code      int
		stdout    []string // each must appear
		stderr    []string
		checkJSON bool
	}{
		{
			name: "a supervisor sees the node, its replicas and every stream, healthy",
			args: []string{"--url", node.URL(), "--token", supervisor},
			stdout: []string{"status-node-1 (embedded NATS)", "Replicas:", "(single node)", "this node", "no limit",
				"EARSHOT_CALLS", "EARSHOT_LIVE", "KV_earshot_owners", "KV_earshot_nodes", "healthy"},
		},
		{
			name:      "an admin gets the engine's JSON as received",
			args:      []string{"--url", node.URL() + "/", "--token", admin, "--format", "json"},
			stdout:    []string{`"node":"status-node-1"`},
			checkJSON: true,
		},
		{
			name:   "an agent token is told which roles may read the status",
			args:   []string{"--url", node.URL(), "--token", agent},
			code:   1,
			stderr: []string{"this token's role may not read", "HTTP 403", "supervisor or admin"},
		},
		{
			name:   "a token signed with another secret is refused, naming the roles needed",
			args:   []string{"--url", node.URL(), "--token", otherSecret},
			code:   1,
			stderr: []string{"HTTP 401", "another secret", "supervisor or admin"},
		},
		{
			name:   "an engine without a cluster says so",
			args:   []string{"--url", plain.URL(), "--token", issue(t, plain.Server.Authority(), auth.RoleAdmin)},
			code:   1,
			stderr: []string{"this engine runs without a cluster", "HTTP 404"},
		},
		{
			name:   "an unreachable engine is named",
			args:   []string{"--url", down, "--token", supervisor},
			code:   1,
			stderr: []string{"cannot reach the engine at " + down},
		},
		{
			name:   "a node without quorum prints what it read and fails",
			args:   []string{"--url", noQuorum, "--token", supervisor},
			code:   1,
			stdout: []string{"NONE: no quorum", "n2", "offline", "41.5s ago", "ERROR: context deadline exceeded"},
			stderr: []string{"the cluster is degraded: jetstream not ready: EARSHOT_CALLS: context deadline exceeded; EARSHOT_LIVE"},
		},
		{
			name: "a node down shows as unreachable, and a follower does not guess other followers' state",
			args: []string{"--url", nodeDown, "--token", supervisor},
			code: 1,
			stdout: []string{"Meta leader:  n2", "n3    not known here", "ask n2", "degraded: n3 unreachable", "2048", "3.0 MiB", "degraded: n3 not heard from",
				"https://n1.example.com:8470", "https://n2.example.com:8470"},
			stderr: []string{"a stream has no leader or a replica that is not current"},
		},
		{
			name:   "a missing token is a usage error",
			args:   []string{"--url", node.URL()},
			code:   2,
			stderr: []string{"need --token"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"cluster", "status"}, tc.args...)
			var stdout, stderr bytes.Buffer
			if code := run(args, &stdout, &stderr); code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout.String(), stderr.String())
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
			if tc.checkJSON {
				var st cluster.Status
				if err := json.Unmarshal(stdout.Bytes(), &st); err != nil {
					t.Fatalf("--format json printed no status: %v\n%s", err, stdout.String())
				}
				if len(st.Streams) != 4 || st.Replicas != 1 {
					t.Errorf("status has %d streams and %d replicas, want 4 and 1: %+v", len(st.Streams), st.Replicas, st)
				}
			}
		})
	}
}
