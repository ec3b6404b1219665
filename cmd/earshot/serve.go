package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/earshot/earshot/cluster"
	"github.com/earshot/earshot/engine"
	"github.com/earshot/earshot/store"
	"github.com/earshot/earshot/web"
)

func init() {
	register(command{
		name:    "serve",
		summary: "run the engine: live ingest, live events, REST, /metrics",
		run:     runServe,
	})
}

// maxRetentionDays bounds --retention: a record's expiry (its call's start
// plus the retention) must stay a time JetStream's per-message TTL and
// Go's durations can hold.
const maxRetentionDays = 3650

// parseRetention accepts Go durations and whole days ("90d").
func parseRetention(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("retention %q: want a positive number of days like 90d", s)
		}
		if n > maxRetentionDays {
			return 0, fmt.Errorf("retention %q: at most %dd (ten years)", s, maxRetentionDays)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("retention %q: want a duration like 90d or 720h", s)
	}
	if d > maxRetentionDays*24*time.Hour {
		return 0, fmt.Errorf("retention %q: at most %dd (ten years)", s, maxRetentionDays)
	}
	return d, nil
}

func runServe(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "serve", "",
		"Runs the Earshot engine until SIGINT/SIGTERM; the first signal drains (ends and saves live calls), a second exits.")
	addr := fs.String("addr", envDefault("EARSHOT_ADDR", "127.0.0.1:8470"), "listen address (env EARSHOT_ADDR)")
	data := fs.String("data", envDefault("EARSHOT_DATA", "./earshot-data"), "data directory: call store and token secret (env EARSHOT_DATA)")
	retention := fs.String("retention", "90d", "how long calls are kept (e.g. 90d, 720h)")
	syncPolicy := fs.String("sync", "everysecond", "store fsync policy: everysecond, always or never (see docs/storage.md)")
	tlsCert := fs.String("tls-cert", "", "TLS certificate (PEM); with --tls-key serves HTTPS/WSS")
	tlsKey := fs.String("tls-key", "", "TLS private key (PEM)")
	maxCalls := fs.Int("max-calls", 8, "concurrent calls the recognizer pool is sized for (two decoders, ~40 MB each, per call; 2 cores carried 10 in bench live); a call beyond it waits up to 10 s for decoders, then goes on without a transcript and raises a no_transcript alert; in a cluster, new calls beyond it are sent to a node with room (close 4503, see --advertise)")
	noSTT := fs.Bool("no-stt", false, "run without speech recognition (dynamics and sentiment of silence only)")
	shutdownTimeout := fs.Duration("shutdown-timeout", 10*time.Second, "how long a graceful stop may take; calls still running then are ended from their last checkpoint (reason shutdown) and resume after a restart")
	maxCallLength := fs.Duration("max-call-length", 12*time.Hour, "the longest call: a frame more than this ahead (capture time or seq) is a protocol violation (1008)")
	noAudioTimeout := fs.Duration("no-audio-timeout", 30*time.Second, "a call that sends no audio (and no pause) this long after its start ends with reason no_audio")
	idleTimeout := fs.Duration("idle-timeout", 60*time.Second, "an ingest connection that sends no frame and no control message this long is closed (4408), unless its call is paused")
	maxWaiting := fs.Int("max-waiting-calls", 16, "calls one endpoint token may have started without streaming yet (they hold no recognizers); more starts get 4429")
	storageTimeout := fs.Duration("storage-timeout", 10*time.Second, "how long a call's records may fail to be written (a full disk) before its endpoint is closed with 1011 to resend later; acks stop at the first failure")
	maxGapRecords := fs.Int("max-gap-records", 1000, "gap records kept per call; past it gaps extend the last record")
	cf := addClusterFlags(fs)
	af := addAssistFlags(fs)
	sf := addSTTFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ret, err := parseRetention(*retention)
	if err != nil {
		fmt.Fprintln(env.stderr, "earshot serve:", err)
		return errUsage
	}
	sp, err := store.ParseSyncPolicy(*syncPolicy)
	if err != nil {
		fmt.Fprintln(env.stderr, "earshot serve:", err)
		return errUsage
	}
	if *maxCalls < 1 {
		fmt.Fprintln(env.stderr, "earshot serve: --max-calls must be at least 1")
		return errUsage
	}
	for name, d := range map[string]time.Duration{"shutdown-timeout": *shutdownTimeout, "max-call-length": *maxCallLength,
		"no-audio-timeout": *noAudioTimeout, "idle-timeout": *idleTimeout, "storage-timeout": *storageTimeout} {
		if d <= 0 {
			fmt.Fprintf(env.stderr, "earshot serve: --%s must be a positive duration like 30s\n", name)
			return errUsage
		}
	}
	if *maxWaiting < 1 || *maxGapRecords < 1 {
		fmt.Fprintln(env.stderr, "earshot serve: --max-waiting-calls and --max-gap-records must be at least 1")
		return errUsage
	}
	cc, err := cf.config()
	if err != nil {
		fmt.Fprintln(env.stderr, "earshot serve:", err)
		return errUsage
	}
	env.log.Info("loading recognizers, playbook and knowledge base", "decoders", 2**maxCalls)
	deps, closeDeps, err := loadDeps(env, af, sf, !*noSTT, 2**maxCalls)
	if err != nil {
		return err
	}
	defer closeDeps()
	cfg := engine.Config{
		DataDir: *data, Retention: ret, Sync: sp, TLSCert: *tlsCert, TLSKey: *tlsKey,
		NewAnalyzer: engine.PipelineAnalyzers(ctx, deps),
		Logger:      env.log,
		Web:         web.Handler(),
		Cluster:     cc,
		SecretFile:  *cf.secretFile,
		Advertise:   *cf.advertise,
		MaxCalls:    *maxCalls,

		ShutdownTimeout: *shutdownTimeout, MaxCallLength: *maxCallLength, NoAudioTimeout: *noAudioTimeout,
		IdleTimeout: *idleTimeout, MaxWaitingCalls: *maxWaiting, StorageTimeout: *storageTimeout, MaxGapRecords: *maxGapRecords,
	}
	if deps.KB != nil {
		cfg.Articles = deps.KB
	}
	return serveEngine(ctx, cfg, *addr, nil)
}

// serveEngine runs an engine on addr until ctx ends. ready, if set, gets the
// listening address once the engine accepts connections.
func serveEngine(ctx context.Context, cfg engine.Config, addr string, ready func(*engine.Server, net.Addr)) error {
	srv, err := engine.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		srv.Close()
		return fmt.Errorf("listen: %w", err)
	}
	if ready != nil {
		ready(srv, ln.Addr())
	}
	err = srv.Run(ctx, ln)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// clusterFlags are serve's NATS flags: none means one node with an
// embedded NATS that opens no port.
type clusterFlags struct {
	node, listen, peers, natsURLs, clientListen *string
	secretFile, advertise                       *string
	replicas                                    *int
}

func addClusterFlags(fs *flag.FlagSet) clusterFlags {
	return clusterFlags{
		node:         fs.String("node", envDefault("EARSHOT_NODE", ""), "this node's name in a cluster (default: the host name; env EARSHOT_NODE)"),
		listen:       fs.String("cluster-listen", "", "HOST:PORT where the embedded NATS takes routes from the other nodes; with --cluster-peers makes this engine one node of a cluster (see docs/cluster.md)"),
		peers:        fs.String("cluster-peers", "", "comma-separated HOST:PORT cluster addresses of the other nodes; 3 or more nodes keep 3 copies of every record, 2 nodes start with a warning"),
		natsURLs:     fs.String("nats", envDefault("EARSHOT_NATS", ""), "comma-separated URLs of an existing NATS cluster (2.11 or newer, JetStream on) to use instead of the embedded one (env EARSHOT_NATS)"),
		clientListen: fs.String("nats-listen", "", "HOST:PORT where the embedded NATS also takes outside NATS clients (default: none)"),
		secretFile:   fs.String("secret-file", envDefault("EARSHOT_SECRET_FILE", ""), "token secret shared by every node of a cluster (mode 0600; default: DATA/token.secret, made at first start; env EARSHOT_SECRET_FILE)"),
		advertise:    fs.String("advertise", envDefault("EARSHOT_ADVERTISE", ""), "engine URL endpoints reach this node at (http(s)://host:port): a node running --max-calls calls sends new ones to the node with most room by its URL (close 4503); empty behind one load balancer address (env EARSHOT_ADVERTISE)"),
		replicas:     fs.Int("replicas", 0, "copies JetStream keeps of each record (default: 1 for one node, 2 for two, 3 for three or more)"),
	}
}

// config turns the flags into the engine's cluster configuration.
func (f clusterFlags) config() (*cluster.Config, error) {
	cc := &cluster.Config{Node: *f.node, ClusterListen: *f.listen, ClientListen: *f.clientListen, Replicas: *f.replicas,
		ClusterPeers: splitList(*f.peers), NATSURLs: splitList(*f.natsURLs)}
	switch {
	case len(cc.NATSURLs) > 0 && (cc.ClusterListen != "" || len(cc.ClusterPeers) > 0 || cc.ClientListen != ""):
		return nil, errors.New("--nats connects to an existing NATS: it goes with none of --cluster-listen, --cluster-peers, --nats-listen")
	case len(cc.ClusterPeers) > 0 && cc.ClusterListen == "":
		return nil, errors.New("--cluster-peers needs --cluster-listen (this node's own cluster address)")
	case *f.advertise != "" && !validEngineURL(*f.advertise):
		return nil, fmt.Errorf("--advertise %q: want an engine URL like https://node1.example.com:8470", *f.advertise)
	case *f.replicas < 0:
		return nil, errors.New("--replicas must be 0 (automatic) or more")
	}
	return cc, nil
}

// splitList splits a comma-separated flag, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// validEngineURL reports whether s is an http(s) URL with a host and
// nothing after it but an optional "/".
func validEngineURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && (u.Path == "" || u.Path == "/") && u.RawQuery == ""
}
