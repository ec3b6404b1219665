// Package call is the analysis of one call: its two channels' audio →
// features and VAD → gated recognizers → redaction, sentiment, dynamics →
// playbook rules and knowledge-base hints. A Pipeline is synchronous and
// owned by one goroutine (a live session of the engine, or `earshot
// analyze`); it returns typed results — events whose Data are the protocol
// package's wire types, and at the end a Record — and never decodes its
// own output. It links no server, storage or metrics code: the engine
// stores and publishes what it returns.
package call
