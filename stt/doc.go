// Package stt defines Earshot's speech-recognition vocabulary: the synchronous
// Recognizer interface, its results (partial and final, words with times and
// confidences), and the contract every implementation must pass. It knows
// nothing of calls, sessions or WebSockets.
package stt
