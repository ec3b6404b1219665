package protocol

import (
	"fmt"
	"net/http"
)

// Close codes the engine sends (RFC 6455's, and docs/protocol.md's own in
// the 4000s).
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001 // the engine is shutting down: resume after the restart
	CloseUnsupportedData = 1003 // a malformed audio frame
	ClosePolicyViolation = 1008 // a broken protocol
	CloseMessageTooBig   = 1009
	CloseInternalError   = 1011 // the call failed, or storage is unavailable: resume later
	CloseUnauthorized    = 4401
	CloseForbidden       = 4403
	CloseIdle            = 4408 // nothing received for the idle limit, or no audio after start
	CloseCallActive      = 4409
	CloseTooSlow         = 4429 // a live subscriber that fell behind; too many calls waiting for audio
	// CloseTryElsewhere answers a start on a node with no room for the
	// call. Its reason is empty or the base URL of a node with room
	// (http(s)://host:port), which the endpoint tries next.
	CloseTryElsewhere = 4503
)

// Final reports whether an endpoint should give up the call after the
// engine closed with code: reconnecting cannot help.
func Final(code int) bool {
	switch code {
	case CloseUnsupportedData, ClosePolicyViolation, CloseMessageTooBig, CloseUnauthorized, CloseForbidden, CloseCallActive:
		return true
	}
	return false
}

// RejectedError is the engine refusing a call for good: an HTTP status on
// the WebSocket upgrade (Status), or a final close code (Code) with its
// reason.
type RejectedError struct {
	Status int // HTTP status of a refused upgrade; 0 when the WebSocket was closed
	Code   int // close code; 0 for a refused upgrade
	Reason string
}

func (e *RejectedError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("engine refused the connection: HTTP %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("engine closed the call: %d %s", e.Code, e.Reason)
}

// BadToken reports whether the engine refused the token: missing, forged,
// expired, or not allowed to stream (HTTP 401/403, close 4401/4403).
func (e *RejectedError) BadToken() bool {
	switch {
	case e.Status == http.StatusUnauthorized, e.Status == http.StatusForbidden:
		return true
	case e.Code == CloseUnauthorized, e.Code == CloseForbidden:
		return true
	}
	return false
}
