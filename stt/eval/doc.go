// Package eval measures speech recognition: word error rate by Levenshtein
// alignment over normalised words, real-time factor from CPU time, over a
// manifest of (audio, channel, reference text) entries. It runs any System —
// Earshot's own pipeline or the plain pocketsphinx_continuous baseline
// (Baseline) — and prints per-file and total figures side by side.
package eval
