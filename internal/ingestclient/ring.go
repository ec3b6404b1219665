package ingestclient

// frameRing is the FIFO of unacknowledged frames: a circular buffer that
// doubles when full. Send appends at the back and acks and overflow remove
// from the front in constant time, however long the backlog of an outage.
type frameRing struct {
	buf  []frame
	head int // index of the oldest frame
	n    int
}

func (r *frameRing) len() int { return r.n }

// at returns the i-th oldest frame (0 is the oldest).
func (r *frameRing) at(i int) *frame { return &r.buf[(r.head+i)%len(r.buf)] }

func (r *frameRing) push(f frame) {
	if r.n == len(r.buf) {
		nb := make([]frame, max(16, 2*len(r.buf)))
		k := copy(nb, r.buf[r.head:])
		copy(nb[k:], r.buf[:r.head])
		r.buf, r.head = nb, 0
	}
	r.buf[(r.head+r.n)%len(r.buf)] = f
	r.n++
}

// pop removes and returns the oldest frame; the ring must not be empty.
func (r *frameRing) pop() frame {
	f := r.buf[r.head]
	r.buf[r.head] = frame{}
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return f
}
