// Package endpoint is the call lifecycle of the endpoint daemon
// (earshot-capture) on an agent's PC: it records the agent's microphone
// and the caller's audio continuously, streams both to the engine while a
// call is active (started and ended through a local control API, or
// automatically on speech), buffers through outages, pauses for card
// numbers, and reports its status. Run is the daemon; Control is a client
// of its control API.
package endpoint
