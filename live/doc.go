// Package live fans a call's events out to their subscribers (overlays,
// supervisor walls): one ring per live call for resume by seq, bounded
// per-subscriber queues, and a subscriber that stays full is dropped,
// never the producer blocked. The events themselves are wire format
// (protocol.Event).
package live
