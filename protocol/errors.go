package protocol

import "errors"

// ErrProtocol means a peer broke the ingest protocol; the wrapped message
// is the close reason sent to it.
var ErrProtocol = errors.New("protocol violation")
