package engine

import (
	"fmt"
	"slices"
	"sort"
)

// seqRange is an inclusive range of sequence numbers.
type seqRange struct{ from, to int64 }

func (r seqRange) len() int64 { return r.to - r.from + 1 }

// Bounds of one call's ingest bookkeeping. An endpoint resends in order, so
// an honest one keeps both tiny; more means a broken or hostile client.
const (
	// maxPending bounds the frames held above the ack (received out of
	// order).
	maxPending = 1 << 16
	// maxLostAhead bounds the declared-lost ranges above the ack.
	maxLostAhead = 4096
)

// seqTracker is the sequence bookkeeping of one call's ingest: which seqs
// arrived, which the endpoint declared lost, and the cumulative ack. It is
// pure (no I/O, no clock) and its work is bounded by the frames received
// and the ranges declared, never by the distance between two seqs: a jump
// of any length is one range.
type seqTracker struct {
	ack int64 // every seq ≤ ack arrived or is lost
	// received counts the seqs that arrived at or below the ack, or inside
	// a range declared lost after they arrived.
	received int64
	lost     int64 // seqs declared lost (counted when declared)
	// lostThrough is the end of the last declared-lost range the ack
	// moved over: below it, what an earlier ack counted is not known.
	lostThrough int64
	maxSeq      int64 // the highest seq seen or declared
	// maxAhead is how far above the ack a seq may be: the seqs of the
	// longest possible call. Beyond it the endpoint is broken or hostile.
	maxAhead int64

	above     []int64    // seqs > ack that arrived, sorted
	lostAbove []seqRange // declared-lost ranges > ack: sorted, disjoint, not adjacent
}

func newSeqTracker(ack, received, lost, maxAhead int64) *seqTracker {
	return &seqTracker{ack: ack, received: received, lost: lost, maxSeq: ack, maxAhead: maxAhead, lostThrough: ack}
}

// receivedThrough is what received would be with the ack at a, for an ack
// held back below the one reached: false unless every seq in (a, ack]
// arrived (none declared lost), which makes the count exact.
func (t *seqTracker) receivedThrough(a int64) (int64, bool) {
	if a > t.ack || a < t.lostThrough {
		return 0, false
	}
	return t.received - (t.ack - a), true
}

// pending is how many frames above the ack arrived.
func (t *seqTracker) pending() int { return len(t.above) }

// receive notes that seq arrived. It reports false for a duplicate (at or
// below the ack, already held, or declared lost), and an ErrProtocol error
// for a seq too far ahead or too many held out of order.
func (t *seqTracker) receive(seq int64) (bool, error) {
	if seq <= t.ack || t.isLost(seq) {
		return false, nil
	}
	i, held := slices.BinarySearch(t.above, seq)
	if held {
		return false, nil
	}
	if seq-t.ack > t.maxAhead {
		return false, fmt.Errorf("%w: seq %d is %d frames ahead of the ack %d, beyond any call", ErrProtocol, seq, seq-t.ack, t.ack)
	}
	if len(t.above) >= maxPending {
		return false, fmt.Errorf("%w: more than %d frames out of order", ErrProtocol, maxPending)
	}
	t.above = slices.Insert(t.above, i, seq) // in-order arrival appends
	t.maxSeq = max(t.maxSeq, seq)
	t.advance()
	return true, nil
}

// declare records that the endpoint will never send from..to. It returns
// how many of those seqs had neither arrived nor been declared before (0:
// nothing new), and an ErrProtocol error for a range too far ahead or too
// many ranges held above the ack.
func (t *seqTracker) declare(from, to int64) (int64, error) {
	from = max(from, t.ack+1)
	if from > to {
		return 0, nil
	}
	if to-t.ack > t.maxAhead {
		return 0, fmt.Errorf("%w: gap up to seq %d is %d frames ahead of the ack %d, beyond any call", ErrProtocol, to, to-t.ack, t.ack)
	}
	r := seqRange{from, to}
	missing := r.len() - t.heldIn(r) - t.lostIn(r)
	if missing == 0 {
		return 0, nil
	}
	// What arrived inside r stays counted as received, not held: held
	// and lost seqs never overlap.
	lo, _ := slices.BinarySearch(t.above, r.from)
	hi, _ := slices.BinarySearch(t.above, r.to+1)
	t.received += int64(hi - lo)
	t.above = slices.Delete(t.above, lo, hi)
	t.insertLost(r)
	if len(t.lostAbove) > maxLostAhead {
		return 0, fmt.Errorf("%w: more than %d gaps ahead of the ack", ErrProtocol, maxLostAhead)
	}
	t.lost += missing
	t.maxSeq = max(t.maxSeq, to)
	t.advance()
	return missing, nil
}

// holes returns the ranges between the ack and the highest seq seen that
// neither arrived nor were declared lost: what never arrived when the call
// ends. Their number is bounded by the frames held above the ack.
func (t *seqTracker) holes() []seqRange {
	var out []seqRange
	next := t.ack + 1
	hi, li := 0, 0
	for next <= t.maxSeq {
		switch {
		case hi < len(t.above) && t.above[hi] == next:
			next++
			hi++
		case li < len(t.lostAbove) && t.lostAbove[li].from <= next:
			next = max(next, t.lostAbove[li].to+1)
			li++
		default:
			end := t.maxSeq
			if hi < len(t.above) {
				end = min(end, t.above[hi]-1)
			}
			if li < len(t.lostAbove) {
				end = min(end, t.lostAbove[li].from-1)
			}
			out = append(out, seqRange{next, end})
			next = end + 1
		}
	}
	return out
}

// advance moves the ack over arrived and declared-lost seqs, a whole lost
// range at a time.
func (t *seqTracker) advance() {
	for {
		switch {
		case len(t.above) > 0 && t.above[0] == t.ack+1:
			t.above = t.above[1:]
			t.ack++
			t.received++
		case len(t.lostAbove) > 0 && t.lostAbove[0].from <= t.ack+1:
			t.ack = max(t.ack, t.lostAbove[0].to)
			t.lostThrough = t.ack
			t.lostAbove = t.lostAbove[1:]
		default:
			if len(t.above) == 0 {
				t.above = nil // let a long call's slice go
			}
			return
		}
	}
}

// isLost reports whether seq is in a declared-lost range above the ack.
func (t *seqTracker) isLost(seq int64) bool {
	i := sort.Search(len(t.lostAbove), func(i int) bool { return t.lostAbove[i].to >= seq })
	return i < len(t.lostAbove) && t.lostAbove[i].from <= seq
}

// heldIn counts the arrived seqs above the ack inside r.
func (t *seqTracker) heldIn(r seqRange) int64 {
	lo, _ := slices.BinarySearch(t.above, r.from)
	hi, _ := slices.BinarySearch(t.above, r.to+1)
	return int64(hi - lo)
}

// lostIn counts the declared-lost seqs inside r.
func (t *seqTracker) lostIn(r seqRange) int64 {
	var n int64
	i := sort.Search(len(t.lostAbove), func(i int) bool { return t.lostAbove[i].to >= r.from })
	for ; i < len(t.lostAbove) && t.lostAbove[i].from <= r.to; i++ {
		l := t.lostAbove[i]
		n += min(l.to, r.to) - max(l.from, r.from) + 1
	}
	return n
}

// insertLost adds r to lostAbove, merging the ranges it overlaps or
// touches.
func (t *seqTracker) insertLost(r seqRange) {
	i := sort.Search(len(t.lostAbove), func(i int) bool { return t.lostAbove[i].to >= r.from-1 })
	j := i
	for j < len(t.lostAbove) && t.lostAbove[j].from <= r.to+1 {
		r.from = min(r.from, t.lostAbove[j].from)
		r.to = max(r.to, t.lostAbove[j].to)
		j++
	}
	t.lostAbove = slices.Replace(t.lostAbove, i, j, r)
}
