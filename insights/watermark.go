package insights

import "time"

// HeardUpTo is the call time up to which every utterance of a call has been
// recognized and reached the rules: now, or the start of the earliest
// speech still being recognized (openSince, one per channel in speech).
// Absence windows close at this watermark rather than at now, so a
// recording disclosure begun at 28 s and recognized at 33 s still counts
// as said within 30 s.
func HeardUpTo(now time.Duration, openSince ...time.Duration) time.Duration {
	for _, s := range openSince {
		now = min(now, s)
	}
	return now
}
