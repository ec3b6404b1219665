package capture

import (
	"sync/atomic"
	"time"

	"github.com/earshot/earshot/audio"
)

// sampleRing is a single-producer single-consumer ring of samples between
// the audio thread (write) and the pump goroutine (read). Each side owns
// one index and only reads the other's, so neither ever waits: the audio
// thread must not block on a lock the Go side holds.
type sampleRing struct {
	buf  []float32
	mask uint64
	w    atomic.Uint64 // total samples written; stored by the producer only
	r    atomic.Uint64 // total samples read; stored by the consumer only
}

// newSampleRing returns a ring holding at least n samples (rounded up to a
// power of two so positions wrap with a mask).
func newSampleRing(n int) *sampleRing {
	size := 1
	for size < n {
		size <<= 1
	}
	return &sampleRing{buf: make([]float32, size), mask: uint64(size - 1)}
}

// write appends all of p, or nothing if p does not fit: a partial chunk
// would hide where the lost audio was. It reports whether p was written.
func (q *sampleRing) write(p []float32) bool {
	w := q.w.Load()
	if uint64(len(q.buf))-(w-q.r.Load()) < uint64(len(p)) {
		return false
	}
	i := int(w & q.mask)
	n := copy(q.buf[i:], p)
	copy(q.buf, p[n:])
	q.w.Store(w + uint64(len(p)))
	return true
}

// read moves up to len(p) samples into p and returns how many.
func (q *sampleRing) read(p []float32) int {
	r := q.r.Load()
	avail := q.w.Load() - r
	n := min(uint64(len(p)), avail)
	if n == 0 {
		return 0
	}
	i := int(r & q.mask)
	k := copy(p[:n], q.buf[i:])
	copy(p[k:n], q.buf)
	q.r.Store(r + n)
	return int(n)
}

// written returns how many samples the producer has written in total; the
// watchdog compares it over time to see whether the device still delivers.
func (q *sampleRing) written() uint64 { return q.w.Load() }

// frameQueue is a bounded FIFO of 20 ms frames at PipelineRate with their
// capture times. When it is full the oldest frame is overwritten and
// counted: a consumer that falls behind loses old audio, never stalls the
// capture. The Capture's mutex guards it.
type frameQueue struct {
	data  []float32 // n frames of audio.FrameSize samples
	at    []time.Duration
	head  int // index of the oldest frame
	count int
	drops uint64
}

func newFrameQueue(n int) *frameQueue {
	return &frameQueue{data: make([]float32, n*audio.FrameSize), at: make([]time.Duration, n)}
}

func (q *frameQueue) put(at time.Duration, frame []float32) {
	n := len(q.at)
	if q.count == n {
		q.head = (q.head + 1) % n
		q.count--
		q.drops++
	}
	i := (q.head + q.count) % n
	copy(q.data[i*audio.FrameSize:(i+1)*audio.FrameSize], frame)
	q.at[i] = at
	q.count++
}

func (q *frameQueue) get(frame []float32) (time.Duration, bool) {
	if q.count == 0 {
		return 0, false
	}
	i := q.head
	copy(frame, q.data[i*audio.FrameSize:(i+1)*audio.FrameSize])
	q.head = (q.head + 1) % len(q.at)
	q.count--
	return q.at[i], true
}
