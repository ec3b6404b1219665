// Package store keeps Earshot's calls in a buntdb file: one summary record
// per call, and its utterances (already redacted), events, hints, hint
// feedback and gaps, each appended as it happens so a killed server keeps
// what it had written. Every key of a call expires together at the call's
// start plus the retention period (buntdb TTL). Secondary indexes (calls by
// start time, by agent) are rebuilt on every Open because buntdb does not
// persist them. See docs/storage.md for what a crash can lose.
//
// A Store is safe for concurrent use. Methods never nest buntdb
// transactions: each opens exactly one.
//
// # In a cluster: the Journal
//
// A Journal puts JetStream in front of a Store, with the same methods. The
// calls stream (EARSHOT_CALLS) is the truth; each node's buntdb file is
// its local projection of it. A write publishes one record, the store's
// own JSON as payload, to earshot.call.<id>.<kind> (kind call, utt, uttx,
// evt, hint, gap or fb; the key, the call's expiry and the node go in
// headers), waits for JetStream's ack and only then applies it to the
// local store; without the ack it fails with ErrJournalUnavailable and
// applies nothing. Every record carries a Nats-TTL that ends where the
// call's keys do (its start plus the retention). Journal.Run consumes the
// stream with an ordered consumer from where this file left off (the
// sequence is kept in the file, meta:stream_seq, in the transaction of the
// record it applies) and applies the records of every node. A per-call
// watermark (pseq:<id>, the highest sequence applied for the call) lets a
// write apply its record at the ack and Run skip it later: a call's
// records come from one node, serialized, so their sequences rise.
// ImportLocal publishes a pre-cluster file's calls once.
//
// The projection keeps what the queries need: call summaries and their
// indexes (List, Calls, GetCall), hints (the writes' checks), each call's
// highest event seq (LastEventSeq, evtseq:<id>) and the watermarks.
// Journal.Detail reads a call's other records (utterances, events, gaps,
// feedback) from JetStream when asked, with an ephemeral consumer filtered
// on earshot.call.<id>.>, and applies them to a scratch in-memory buntdb
// with the Store's own code, so it builds the Detail a Store would. A node
// that runs alone keeps every record instead (JournalConfig.KeepDetails).
//
// What a crash can lose: a record is acknowledged to the caller only once
// JetStream holds it (on a quorum of replicas in a cluster), so nothing
// acknowledged is lost with a node; a node's file may lose its last
// second to an OS crash, and Run applies those records again from the
// stream. A write whose ack never arrived returns an error though
// JetStream may hold it; the retry publishes it again, which is harmless.
package store
