package store

import "errors"

// Sentinel errors, wrapped with the call or hint id they concern.
var (
	// ErrNotFound means no such call (or hint) is stored, or it expired.
	ErrNotFound = errors.New("not found")
	// ErrExists means CreateCall was given the id of a stored call.
	ErrExists = errors.New("call already exists")
	// ErrBadID means an id is empty, too long or has characters outside
	// [A-Za-z0-9._:-] (the keys use '/' as a separator, so ids may not).
	ErrBadID = errors.New("bad id")
	// ErrBadCursor means a List cursor was not one this store returned.
	ErrBadCursor = errors.New("bad cursor")
	// ErrLocked means another process has the database open.
	ErrLocked = errors.New("database is in use by another process")
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("store closed")
	// ErrCorrupt means the database file holds a damaged record before its
	// end. Open refuses such a file (buntdb would stop at the record, or
	// truncate the file there); Check says where and whose, Repair keeps
	// every other record (docs/storage.md).
	ErrCorrupt = errors.New("database file is damaged")
	// ErrJournalUnavailable means a Journal's write did not reach JetStream:
	// the publish failed or its ack did not come within the publish
	// timeout. Nothing was applied to the local store, so nothing may be
	// acknowledged on the strength of it; the write may be retried (a
	// record JetStream did take without the ack arriving is then in the
	// stream twice, which is harmless: records are idempotent).
	ErrJournalUnavailable = errors.New("journal (JetStream) unavailable")
	// ErrTooLarge means a call has more records, or more bytes of them,
	// than a Journal's Detail reads from JetStream at once
	// (JournalConfig.DetailMaxRecords, DetailMaxBytes). Nothing of the
	// call is returned: a partial transcript would pass for a whole one.
	ErrTooLarge = errors.New("call too large to read whole")
)

// errBadRecord means a message of the calls stream is not a record the
// projection can apply (an unknown kind, a key outside its call, a missing
// header, a payload that is not JSON). The projection logs and skips it.
var errBadRecord = errors.New("not a call record")
