package cluster

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config says where the node keeps its data and how it reaches the other
// nodes. Its zero value is a single embedded node under ./earshot-data that
// opens no port.
type Config struct {
	// DataDir holds JetStream's files under DataDir/nats (made 0700);
	// default ./earshot-data, the engine's own default. Unused with NATSURLs.
	DataDir string
	// Node names this node: the embedded server's name and the name the
	// engine writes into the owners and nodes buckets. Default: the host
	// name. It may not contain spaces.
	Node string
	// ClusterListen is the HOST:PORT the embedded server listens on for
	// routes from the other nodes. Empty means a single node.
	ClusterListen string
	// ClusterPeers are the HOST:PORT cluster addresses of the other nodes;
	// the cluster size is len(ClusterPeers)+1.
	ClusterPeers []string
	// ClusterName is the cluster's name, the same on every node; default
	// "earshot".
	ClusterName string
	// ClientListen is a HOST:PORT where the embedded server accepts outside
	// NATS clients. Empty means none: a single node then opens no port at
	// all, and a cluster node listens on a random loopback port only
	// (nats-server does not cluster without a client listener, its issue
	// #5174).
	ClientListen string
	// NATSURLs, when set, make the node embed no server and connect to these
	// NATS servers instead (2.11 or newer, JetStream enabled).
	NATSURLs []string
	// Replicas is how many copies JetStream keeps of each stream and bucket.
	// 0 picks 1 for one node, 2 for two and 3 for three or more (see
	// AutoReplicas).
	Replicas int
	// Logger receives the node's logs and the embedded server's; default
	// none.
	Logger *slog.Logger
	// ReadyTimeout bounds Start's wait for JetStream (in a cluster, for a
	// meta leader and for the streams to be placed); default 10 s alone,
	// DefaultClusterReadyTimeout in a cluster or on an external NATS.
	ReadyTimeout time.Duration
	// MaxAge is how long the calls stream keeps a record; default 90 days
	// and 12 hours: the store's 90-day retention plus a margin, so no record
	// leaves the stream while the store still keeps its call. A record
	// meant to go sooner carries its own TTL (Nats-TTL header).
	MaxAge time.Duration
}

// Defaults for the zero values of Config.
const (
	DefaultDataDir      = "./earshot-data"
	DefaultClusterName  = "earshot"
	DefaultReadyTimeout = 10 * time.Second
	// DefaultClusterReadyTimeout is the wait of a cluster node: its peers
	// may start a while apart (one machine boots slower), and JetStream's
	// first leader election alone takes seconds.
	DefaultClusterReadyTimeout = 2 * time.Minute
	DefaultMaxAge              = 90*24*time.Hour + 12*time.Hour
)

// maxReplicas is JetStream's limit on the replicas of a stream.
const maxReplicas = 5

// AutoReplicas is the replica count Replicas 0 picks for a cluster of
// nodes nodes. Three or more nodes get 3: a quorum of 2 survives the loss of
// any one. Two nodes get 2, not 1: neither survives the loss of a node (the
// JetStream meta group needs both, and an R2 write needs both), but with 2
// every acknowledged record is on both disks, where with 1 a lost node
// would take its streams' records with it. Start warns about two nodes.
func AutoReplicas(nodes int) int {
	switch {
	case nodes >= 3:
		return 3
	case nodes == 2:
		return 2
	default:
		return 1
	}
}

// withDefaults fills the zero values and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.Node == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "earshot"
		}
		c.Node = h
	}
	if strings.ContainsFunc(c.Node, func(r rune) bool { return r <= ' ' }) {
		return c, fmt.Errorf("%w: node name %q contains a space or control character", ErrBadConfig, c.Node)
	}
	if c.ClusterName == "" {
		c.ClusterName = DefaultClusterName
	}
	if c.ReadyTimeout <= 0 && (c.ClusterListen != "" || len(c.NATSURLs) > 0) {
		c.ReadyTimeout = DefaultClusterReadyTimeout
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Replicas < 0 || c.Replicas > maxReplicas {
		return c, fmt.Errorf("%w: replicas %d, want 0 (automatic) to %d", ErrBadConfig, c.Replicas, maxReplicas)
	}
	if len(c.NATSURLs) > 0 {
		if c.ClusterListen != "" || len(c.ClusterPeers) > 0 || c.ClientListen != "" {
			return c, fmt.Errorf("%w: NATSURLs connect to an outside NATS; ClusterListen, ClusterPeers and ClientListen are for the embedded one", ErrBadConfig)
		}
		return c, nil
	}
	if c.ClusterListen == "" && len(c.ClusterPeers) > 0 {
		return c, fmt.Errorf("%w: ClusterPeers without ClusterListen: the other nodes could not route back", ErrBadConfig)
	}
	for _, a := range append([]string{c.ClusterListen, c.ClientListen}, c.ClusterPeers...) {
		if a == "" {
			continue
		}
		if _, _, err := splitHostPort(a); err != nil {
			return c, err
		}
	}
	if n := len(c.ClusterPeers) + 1; c.Replicas > n {
		return c, fmt.Errorf("%w: replicas %d need as many nodes, the cluster has %d", ErrBadConfig, c.Replicas, n)
	}
	return c, nil
}

// splitHostPort splits a HOST:PORT address; the port may be -1 (a random
// one, nats-server's convention) but not 0, which nats-server reads as
// "off" for the cluster port and "default" for the client port.
func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%w: address %q: %v", ErrBadConfig, addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < -1 || port == 0 || port > 65535 {
		return "", 0, fmt.Errorf("%w: address %q: port must be 1-65535 or -1 (random)", ErrBadConfig, addr)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}
