// Package engine is the Earshot server: it takes live calls over the ingest
// WebSocket, runs one session per call (audio → analysis pipeline → hub and
// store), pushes live events to overlays and supervisors, serves the REST
// API, /healthz and /metrics, and checks tokens. It holds no analysis
// logic: a session feeds frames to an Analyzer (the pipeline) and files
// what comes out. Wire formats are docs/protocol.md.
//
// Goroutines: Server.Run owns the listener, a janitor and every session;
// each ingest or live connection is served by its HTTP handler goroutine
// (the reader) plus one writer goroutine it starts and waits for. Shutdown
// (ctx cancelled) stops accepting, ends every live call (flushing the
// pipeline and saving it), waits for all goroutines, and closes the store last.
package engine
