// Package bench measures the whole engine on the embedded sample calls:
// how many live calls it carries at real speed (Live, `earshot bench
// live`) and how well its hints and categories match the calls' ground
// truth (Hints, `earshot eval hints`).
package bench
