package endpoint

import "errors"

// Sentinel errors of the daemon and its control API.
var (
	// ErrCallActive means a call was started while another is streaming.
	ErrCallActive = errors.New("a call is already active")
	// ErrNoCall means a call was ended or paused with none streaming.
	ErrNoCall = errors.New("no call is active")
	// ErrBadCallID means a call id is not what the ingest protocol allows.
	ErrBadCallID = errors.New("call id must be 1-64 characters from A-Z a-z 0-9 . _ : -")
	// ErrPaused means a paused call was paused again.
	ErrPaused = errors.New("the call is already paused")
	// ErrNotPaused means a call that is not paused was resumed.
	ErrNotPaused = errors.New("the call is not paused")
	// ErrTokenRejected ends the daemon: retrying a bad token only floods
	// the engine's logs.
	ErrTokenRejected = errors.New("the engine rejected the endpoint token")
	// ErrControlAddr means the control address is not a loopback one: the
	// control API has no authentication, so other machines must not reach it.
	ErrControlAddr = errors.New("the control API must listen on a loopback address")
)
