package engine

import (
	"errors"

	"github.com/earshot/earshot/protocol"
)

// Sentinel errors.
var (
	// ErrProtocol means an endpoint broke the ingest protocol; the wrapped
	// message is the close reason sent to it. It is protocol.ErrProtocol,
	// so errors from the parsers and from the session match alike.
	ErrProtocol = protocol.ErrProtocol
	// ErrCallActive means a call is already streaming on another connection.
	ErrCallActive = errors.New("call already active on another connection")
	// ErrCallEnded means a resume named a call that has ended.
	ErrCallEnded = errors.New("call already ended")
	// ErrSessionFailed means a call's analysis failed; the call was ended
	// with an error event and the server keeps running.
	ErrSessionFailed = errors.New("call failed")
	// ErrShuttingDown means the server is draining and takes no new calls.
	ErrShuttingDown = errors.New("server shutting down")
	// ErrStorage means a call's records could not be written: the call is
	// not acknowledged past its last checkpoint and stays resumable.
	ErrStorage = errors.New("storage unavailable")
	// ErrConfig means the engine configuration is unusable.
	ErrConfig = errors.New("bad engine configuration")
)
