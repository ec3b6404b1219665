package auth

import "errors"

// Sentinel errors. Verification wraps ErrUnauthorized with a reason that
// never contains the token itself, so messages are safe to log.
var (
	// ErrUnauthorized means the token is missing, malformed, forged or
	// expired: HTTP 401, WebSocket close 4401.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden means the token is valid but its role or agent may not
	// use the resource: HTTP 403, WebSocket close 4403.
	ErrForbidden = errors.New("forbidden")
	// ErrBadRole means a role name is not one of the four roles.
	ErrBadRole = errors.New("unknown role (want endpoint, agent, supervisor or admin)")
	// ErrAgentRequired means an agent or endpoint token was requested without an agent id.
	ErrAgentRequired = errors.New("agent and endpoint tokens need an agent id")
	// ErrSecret means the signing secret could not be read or created.
	ErrSecret = errors.New("token secret unavailable")
)
