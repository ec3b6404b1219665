// Package cluster gives an engine node its NATS JetStream: the streams that
// hold calls' records and live events, and the key-value buckets through
// which nodes share the ownership of calls and their load. The engine
// writes every record through store.Journal to the calls stream, relays live
// events with live.Relay, and claims calls in the owners bucket.
//
// # Three ways to run
//
// Embedded, one node (the default): Start runs nats-server as a library in
// the process, with JetStream's files under Config.DataDir/nats (mode
// 0700), and connects to it in process. The server opens no TCP port and
// writes nothing outside that directory.
//
// Embedded, a cluster: with Config.ClusterListen and Config.ClusterPeers,
// each node's server listens for routes and connects to the others; the
// servers form one JetStream cluster (Raft) named Config.ClusterName. Start
// waits for a meta leader, which needs a quorum of nodes. Three nodes keep
// three replicas: an acknowledged write is on two of them, and the cluster
// keeps taking writes when one node is lost, not when two are. Two nodes
// keep two replicas and stop taking writes when either is lost (Start
// warns). nats-server does not cluster without a client port (its issue
// #5174), so a cluster node listens for clients on a random loopback port
// unless Config.ClientListen names one. Routes have no TLS or
// authentication yet: the cluster port belongs on a private network.
//
// External: with Config.NATSURLs the node embeds nothing and connects to
// those servers, which must be 2.11 or newer (per-message TTL) and run
// JetStream.
//
// # Streams and buckets
//
//	EARSHOT_CALLS   earshot.call.<id>.<kind>   records of calls: file, Config.MaxAge,
//	                                           per-message TTL allowed, 2-minute
//	                                           duplicate window (Nats-Msg-Id)
//	EARSHOT_LIVE    earshot.live.<id>.<kind>   live events: memory, one hour, 128 MiB
//	earshot_owners  key <call id>              the owner node; changed only by
//	                                           compare-and-set (Update with a revision)
//	earshot_nodes   key <node name>            heartbeats, gone NodeTTL after the last
//
// All of them keep Node.Replicas copies. The live stream is in memory:
// its events serve watchers who join late, the lasting record is in the
// calls stream, and memory spares the disk a write per event.
//
// One stream holds every call, with the call id in the subject, rather than
// a stream per call: a stream is a Raft group with its own leader, files
// and memory on every replica, and a cluster runs thousands of them, not
// the millions of calls a retention period holds. Subjects cost almost
// nothing: a consumer reads one call by filtering on
// earshot.call.<id>.>, retention applies to all calls alike, and a call
// that must go sooner carries a per-message TTL or is purged by subject.
//
// The file store syncs to disk every second (the store's own policy)
// instead of nats-server's default of two minutes.
package cluster
