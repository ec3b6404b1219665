package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/earshot/earshot/cluster"
	"github.com/earshot/earshot/engine"
)

func init() {
	register(command{
		name:    "cluster",
		summary: "cluster status: the nodes and streams of a running engine's cluster",
		run:     runCluster,
	})
}

// clusterStatusTimeout bounds the whole request: the engine answers within
// about 2 s even without a quorum, so longer means it is not answering.
const clusterStatusTimeout = 15 * time.Second

func runCluster(ctx context.Context, env *environment, args []string) error {
	if len(args) == 0 || args[0] != "status" {
		fmt.Fprintln(env.stderr, "Usage: earshot cluster status --url URL --token T [--format text|json]")
		return errUsage
	}
	fs := newFlagSet(env, "cluster status", "",
		"Prints the cluster as the engine at --url sees it (GET /v1/cluster): its nodes, the JetStream meta leader, "+
			"each engine's calls and advertised URL, and each stream's leader, health, messages and bytes. Exits 1 unless every stream has a leader and every replica is current.")
	base := fs.String("url", envDefault("EARSHOT_URL", "http://127.0.0.1:8470"), "engine base URL, any node of the cluster (env EARSHOT_URL)")
	token := fs.String("token", envDefault("EARSHOT_TOKEN", ""), "supervisor or admin token (env EARSHOT_TOKEN)")
	format := fs.String("format", "text", "text (tables) or json (GET /v1/cluster's answer as received)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *token == "" || fs.NArg() > 0 || (*format != "text" && *format != "json") {
		fmt.Fprintln(env.stderr, "earshot cluster status: need --token, no arguments, --format text or json")
		return errUsage
	}
	ctx, cancel := context.WithTimeout(ctx, clusterStatusTimeout)
	defer cancel()
	code, body, err := getClusterStatus(ctx, *base, *token)
	if err != nil {
		return err
	}
	// 503 carries what the node could read next to the error (no loads):
	// show it.
	var st clusterAnswer
	var degraded string
	switch code {
	case http.StatusOK:
		err = json.Unmarshal(body, &st)
	case http.StatusServiceUnavailable:
		var r struct {
			Error   string         `json:"error"`
			Cluster cluster.Status `json:"cluster"`
		}
		err = json.Unmarshal(body, &r)
		st.Status, degraded = r.Cluster, r.Error
	default:
		return statusError(code, body)
	}
	if err != nil {
		return fmt.Errorf("GET /v1/cluster answered something that is not its JSON: %w", err)
	}
	if *format == "json" {
		if _, err := env.stdout.Write(body); err != nil {
			return err
		}
		if !strings.HasSuffix(string(body), "\n") {
			fmt.Fprintln(env.stdout)
		}
	} else if err := writeClusterStatus(env.stdout, st, time.Now()); err != nil {
		return err
	}
	switch {
	case degraded != "":
		// The error joins one line per stream the table already shows.
		return fmt.Errorf("the cluster is degraded: %s", strings.ReplaceAll(degraded, "\n", "; "))
	case !allHealthy(st.Status):
		return errors.New("the cluster is degraded: a stream has no leader or a replica that is not current")
	}
	return nil
}

// clusterAnswer is GET /v1/cluster's answer: the node's view and the
// engines' heartbeats (Nodes nil when none could be read).
type clusterAnswer struct {
	cluster.Status
	Nodes []engine.NodeLoad `json:"nodes"`
}

// getClusterStatus GETs /v1/cluster with the token and returns the status
// code and the body; an error only when no answer came.
func getClusterStatus(ctx context.Context, base, token string) (int, []byte, error) {
	u := strings.TrimSuffix(base, "/") + "/v1/cluster"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("--url %q: %w", base, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("cannot reach the engine at %s: %w", base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("reading the answer of %s: %w", u, err)
	}
	return resp.StatusCode, body, nil
}

// statusError says what an answer other than 200 or 503 means.
func statusError(code int, body []byte) error {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &e) // the engine's errors are JSON; anything else has no error field
	switch code {
	case http.StatusUnauthorized:
		return errors.New("the engine refused the token (HTTP 401: expired, malformed, or signed with another secret than this engine's); " +
			"GET /v1/cluster needs a supervisor or admin token: earshot token create --role supervisor --secret-file FILE")
	case http.StatusForbidden:
		return errors.New("this token's role may not read the cluster's status (HTTP 403): it needs a supervisor or admin token " +
			"(earshot token create --role supervisor)")
	case http.StatusNotFound:
		if e.Error != "" {
			return fmt.Errorf("%s (HTTP 404)", e.Error)
		}
		return errors.New("GET /v1/cluster not found (HTTP 404): this engine runs without a cluster (a release from before clusters), or --url is not an Earshot engine")
	}
	msg := strings.TrimSpace(string(body))
	if e.Error != "" {
		msg = e.Error
	}
	return fmt.Errorf("GET /v1/cluster: HTTP %d: %s", code, msg)
}

func allHealthy(st cluster.Status) bool {
	for _, s := range st.Streams {
		if !s.Healthy {
			return false
		}
	}
	return len(st.Streams) > 0
}

// writeClusterStatus prints a status as four blocks: the node asked, the
// JetStream peers it knows, the engines' heartbeats, the streams. now ages
// the heartbeats.
func writeClusterStatus(w io.Writer, a clusterAnswer, now time.Time) error {
	st := a.Status
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	nats := "embedded NATS"
	if !st.Embedded {
		nats = "external NATS"
	}
	if st.Cluster != "" {
		nats += ", cluster " + st.Cluster
	}
	leader := st.MetaLeader
	switch {
	case leader != "":
	case !st.Embedded:
		leader = "(not visible through an external NATS)"
	case len(st.Peers) <= 1:
		leader = "(single node)"
	default:
		leader = "NONE: no quorum, writes are not acknowledged"
	}
	fmt.Fprintf(tw, "Node:\t%s (%s)\n", st.Node, nats)
	fmt.Fprintf(tw, "Meta leader:\t%s\n", leader)
	fmt.Fprintf(tw, "Replicas:\t%d\n", st.Replicas)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "NODE\tSTATE\tLAST SEEN") // JetStream's view; with an external NATS, its servers
	unknown := false
	for _, p := range st.Peers {
		state, seen := peerState(p), fmt.Sprintf("%.1fs ago", p.ActiveS)
		switch {
		case st.Embedded && p.Name == st.Node:
			seen = "this node"
		case notSeenByFollower(st, p):
			state, seen, unknown = "not known here", "-", true
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", orDash(p.Name), state, seen)
	}
	if unknown {
		fmt.Fprintf(tw, "(a node that is not the meta leader hears from the leader only: ask %s for every node's state)\n", st.MetaLeader)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "ENGINE\tCALLS\tMAX CALLS\tADVERTISED URL\tHEARTBEAT")
	for _, l := range a.Nodes {
		maxCalls := "no limit"
		if l.MaxCalls > 0 {
			maxCalls = fmt.Sprint(l.MaxCalls)
		}
		age := max(now.Sub(l.At), 0) // a clock a little ahead is not the future
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.1fs ago\n", l.Node, l.Calls, maxCalls, orDash(l.Advertise), age.Seconds())
	}
	if len(a.Nodes) == 0 {
		fmt.Fprintln(tw, "(no heartbeat read: engines write one every 5 s, and it lasts 15 s)")
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "STREAM\tLEADER\tREPLICAS\tHEALTH\tMESSAGES\tBYTES")
	for _, s := range st.Streams {
		replicas := "-" // a stream that did not answer
		if s.Replicas > 0 {
			replicas = fmt.Sprint(s.Replicas)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", s.Name, orDash(s.Leader), replicas, streamHealth(s), s.Messages, byteSize(s.Bytes))
	}
	return tw.Flush()
}

// notSeenByFollower reports a peer whose state this node cannot know: in
// JetStream's meta group a follower hears from the leader only, so it
// reports the other followers as not current, last seen never. Whether a
// node is offline it does know.
func notSeenByFollower(st cluster.Status, p cluster.Peer) bool {
	return st.Embedded && st.MetaLeader != "" && st.MetaLeader != st.Node && p.Name != st.MetaLeader &&
		!p.Current && !p.Offline && p.ActiveS == 0
}

// silentAfter is when a peer that is not current counts as unreachable
// rather than behind: Raft leaders hear from their peers every second,
// and nats-server itself gives up on a quorum after 10 s of silence.
const silentAfter = 10 // seconds

func peerState(p cluster.Peer) string {
	switch {
	case p.Offline:
		return "offline"
	case p.Current:
		return "current"
	case p.ActiveS >= silentAfter:
		return "unreachable"
	case p.ActiveS == 0:
		// A group's new leader that has not heard from the peer since it
		// took over: its lag is the leader's guess, not the peer's.
		return "not heard from"
	case p.Lag > 0:
		return fmt.Sprintf("behind (%d ops)", p.Lag)
	}
	return "behind"
}

// streamHealth is "healthy", or why not: no answer, no leader, or the
// replicas that are not current.
func streamHealth(s cluster.StreamStatus) string {
	switch {
	case s.Error != "":
		return "ERROR: " + s.Error
	case s.Healthy:
		return "healthy"
	case s.Leader == "":
		return "NO LEADER: writes not acknowledged"
	}
	var lagging []string
	for _, p := range s.Peers {
		if !p.Current || p.Offline {
			lagging = append(lagging, p.Name+" "+peerState(p))
		}
	}
	return "degraded: " + strings.Join(lagging, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// byteSize prints n in B, KiB, MiB or GiB with one decimal.
func byteSize(n uint64) string {
	const k = 1024
	switch {
	case n < k:
		return fmt.Sprintf("%d B", n)
	case n < k*k:
		return fmt.Sprintf("%.1f KiB", float64(n)/k)
	case n < k*k*k:
		return fmt.Sprintf("%.1f MiB", float64(n)/(k*k))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(k*k*k))
}
