package protocol

import "errors"

// ErrProtocol means a peer broke the ingest protocol; the wrapped message
// is the close reason sent to it.
var ErrProtocol = errors.New("protocol violation")

// ErrBadEvent means bytes relayed as a live event are not one: too long,
// not JSON, or a common field missing or out of range.
var ErrBadEvent = errors.New("bad live event")
