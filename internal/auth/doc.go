// Package auth issues and verifies Earshot access tokens: HS256 JWTs signed
// with a secret kept in the engine's data directory, carrying a role
// (endpoint, agent, supervisor, admin) and, for agents and endpoints, the
// agent id. It decides 401 (who are you?) versus 403 (you may not) exactly as
// docs/protocol.md's table says; it never logs or echoes a token.
package auth
