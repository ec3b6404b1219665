//go:build race

package samples

// raceEnabled shortens the audio check under the race detector, which makes
// go-mp3 about eight times slower; see TestDecodedAudioMatchesTheTruth.
const raceEnabled = true
