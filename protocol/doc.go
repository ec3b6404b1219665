// Package protocol is every byte on the wire between endpoints, the engine
// and browsers (docs/protocol.md is its source of truth): the ingest
// frame header and control messages, close codes and the typed rejection
// a client gets, and the one rule for ids. The engine and every client
// (internal/ingestclient, earshot-capture, earshot replay) use it, so the
// protocol is written once. It does no I/O.
package protocol
