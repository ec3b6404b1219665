// Package ingestclient is the endpoint side of Earshot's ingest protocol
// (docs/protocol.md), shared by `earshot replay` and the capture daemon.
// A Client numbers frames, keeps every unacknowledged frame in a bounded
// resend ring, streams them over one WebSocket at a time, reconnects with
// exponential back-off and jitter, resumes the call and resends everything
// after the engine's ack, and reports a gap when the ring overflows during
// a long outage. Send never blocks the audio producer.
//
// Given several engines (the nodes of a cluster), a lost or refused
// connection is retried on the next one at once, and a node with no room
// (close 4503) may name the node to try instead; the back-off is waited
// only once every engine has failed.
package ingestclient
