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
package store
