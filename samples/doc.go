// Package samples holds Earshot's sample calls and their ground truth, embedded
// in the binary so that `earshot demo`, tests and evaluations run without any
// file next to them.
//
// Every call is a stereo 16 kHz MP3 (left = agent, right = caller) generated
// by generate.sh from a script in scripts/; nothing here is recorded by hand,
// and running `make samples` reproduces every file byte for byte. Each call has
// a Truth: who spoke when, the exact words, and the conversation events and
// agent-assist hints the call is meant to show. Times in a Truth are seconds
// from the start of the decoded audio; the generator compensates for the MP3
// encoder and decoder delay so that they line up with what any decoder that
// ignores gapless metadata (go-mp3, sox) delivers, to within a few
// milliseconds.
package samples
