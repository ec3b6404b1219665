package cluster

import "errors"

// Sentinel errors, wrapped with the address, version or peers they concern.
var (
	// ErrBadConfig means the Config cannot work: an address that is not
	// HOST:PORT, a node name with spaces, more replicas than nodes.
	ErrBadConfig = errors.New("bad cluster config")
	// ErrUnreachable means no NATS server answered at start: the external
	// URLs refused or timed out, or the embedded server did not come up.
	ErrUnreachable = errors.New("nats unreachable")
	// ErrServerTooOld means an external NATS server is older than 2.11,
	// the first version with per-message TTL, which the calls stream uses.
	ErrServerTooOld = errors.New("nats server too old")
	// ErrNotReady means JetStream did not become usable within
	// Config.ReadyTimeout: it is not enabled on the server, or the cluster
	// has no meta leader (fewer than a quorum of nodes reachable), or the
	// streams and buckets could not be placed.
	ErrNotReady = errors.New("jetstream not ready")
	// ErrClosed means the Node was closed.
	ErrClosed = errors.New("cluster node closed")
)
