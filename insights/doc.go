// Package insights holds Earshot's deterministic analysis of a call:
// conversation dynamics, sentiment, redaction of card data and the call
// summary. It starts no goroutines, does no I/O and never reads the wall
// clock: every time is an argument, so every rule can be tested with exact
// timings. Storage lives in the sub-package store.
//
// The parts, each usable alone:
//   - AnalyzeDynamics (a whole call) and DynamicsTracker (live) measure talk
//     time, dead air, overtalk, interruptions, monologues, turns, response
//     gaps and speaking rate from the two channels' speech segments; the
//     tracker's final events equal the offline result.
//   - SentimentScorer reads each final utterance with a lexicon model made
//     for recognizer output, deepened by vocal arousal against the
//     speaker's own baseline; Trend and Summary give the call's course.
//   - Redactor removes spoken card numbers, expiry dates and security codes
//     across utterances, before anything is stored or sent.
package insights
