package stt

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// waiting reports how many calls wait for a slot.
func (s *Scheduler) waiting() (urgent, normal int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.urgent), len(s.normal)
}

func TestSchedulerBoundsConcurrentDecoders(t *testing.T) {
	for _, slots := range []int{1, 2, 4} {
		t.Run(fmt.Sprint(slots), func(t *testing.T) {
			s := NewScheduler(slots)
			var running, most atomic.Int32
			var wg sync.WaitGroup
			for i := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s.Do(i%3 == 0, func() {
						n := running.Add(1)
						for {
							m := most.Load()
							if n <= m || most.CompareAndSwap(m, n) {
								break
							}
						}
						for range 1000 { // hold the slot a moment
							_ = running.Load()
						}
						running.Add(-1)
					})
				}()
			}
			wg.Wait()
			if got := most.Load(); got > int32(slots) {
				t.Errorf("%d ran at once with %d slots", got, slots)
			}
			if s.free != slots {
				t.Errorf("%d slots free after every call returned, want %d", s.free, slots)
			}
		})
	}
}

func TestSchedulerServesUtteranceEndsFirst(t *testing.T) {
	s := NewScheduler(1)
	hold := make(chan struct{})
	held := make(chan struct{})
	go s.Do(false, func() { close(held); <-hold })
	<-held

	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	enqueue := func(name string, urgent bool, wantUrgent, wantNormal int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Do(urgent, func() {
				mu.Lock()
				order = append(order, name)
				mu.Unlock()
			})
		}()
		for { // wait until it queues, so the arrival order is known
			u, n := s.waiting()
			if u == wantUrgent && n == wantNormal {
				return
			}
		}
	}
	enqueue("audio-1", false, 0, 1)
	enqueue("audio-2", false, 0, 2)
	enqueue("end-1", true, 1, 2)
	enqueue("end-2", true, 2, 2)
	close(hold)
	wg.Wait()
	if got, want := fmt.Sprint(order), "[end-1 end-2 audio-1 audio-2]"; got != want {
		t.Errorf("served %v, want %v", got, want)
	}
}
