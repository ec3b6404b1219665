// Package pocketsphinx is Earshot's speech recognizer: a cgo binding to the
// system CMU PocketSphinx library (Debian's 5prealpha, found with
// pkg-config) implementing stt.Recognizer, and a Pool that loads decoders
// before calls arrive.
//
// This is the only package with `import "C"` for speech recognition. C
// pointers live in unexported fields, every C return is checked, and Close
// is idempotent. PocketSphinx's own stderr logging is silenced and routed
// to the configured slog.Logger at Debug level.
package pocketsphinx
