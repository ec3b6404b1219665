// Package insights holds Earshot's deterministic analysis of a call:
// conversation dynamics, sentiment, redaction of card data and the call
// summary. It starts no goroutines, does no I/O and never reads the wall
// clock: every time is an argument, so every rule can be tested with exact
// timings. Storage lives in the sub-package store.
package insights
