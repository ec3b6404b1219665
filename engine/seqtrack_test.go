package engine

import (
	"errors"
	"slices"
	"testing"
)

// seqOp is one step of a seqTracker table case: receive seq (to < 0), or
// declare from..to lost.
type seqOp struct{ from, to int64 }

func recv(seq int64) seqOp           { return seqOp{seq, -1} }
func lostRange(from, to int64) seqOp { return seqOp{from, to} }

func TestSeqTracker(t *testing.T) {
	tests := []struct {
		name                string
		ops                 []seqOp
		ack, received, lost int64
		pending             int
		holes               []seqRange
		wantErr             bool
	}{
		{"frames in order move the ack", []seqOp{recv(0), recv(1), recv(2)}, 2, 3, 0, 0, nil, false},
		{"a duplicate is not counted", []seqOp{recv(0), recv(1), recv(1), recv(0)}, 1, 2, 0, 0, nil, false},
		{"a hole holds the ack and is one hole at the end", []seqOp{recv(0), recv(5), recv(6)}, 0, 1, 0, 2, []seqRange{{1, 4}}, false},
		{"a declared gap lets the ack pass", []seqOp{recv(0), lostRange(1, 4), recv(5)}, 5, 2, 4, 0, nil, false},
		{"a gap over frames already held counts only the missing ones", []seqOp{recv(0), recv(3), lostRange(1, 5)}, 5, 2, 4, 0, nil, false},
		{"the same gap twice counts once", []seqOp{recv(0), lostRange(1, 9), lostRange(1, 9), lostRange(3, 4)}, 9, 1, 9, 0, nil, false},
		{"overlapping gaps ahead of the ack merge", []seqOp{recv(0), lostRange(5, 8), lostRange(7, 12), lostRange(13, 14)}, 0, 1, 10, 0, []seqRange{{1, 4}}, false},
		{"a frame inside a declared gap is a duplicate", []seqOp{recv(0), lostRange(2, 3), recv(3), recv(1)}, 3, 2, 2, 0, nil, false},
		{"a jump of millions is one hole", []seqOp{recv(0), recv(3_000_000)}, 0, 1, 0, 1, []seqRange{{1, 2_999_999}}, false},
		{"a seq beyond the longest call is refused", []seqOp{recv(0), recv(1 << 62)}, 0, 1, 0, 0, nil, true},
		{"a gap beyond the longest call is refused", []seqOp{recv(0), lostRange(1, 1<<40)}, 0, 1, 0, 0, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newSeqTracker(-1, 0, 0, 4_320_000)
			var err error
			for _, op := range tt.ops {
				if op.to < 0 {
					_, err = tr.receive(op.from)
				} else {
					_, err = tr.declare(op.from, op.to)
				}
				if err != nil {
					break
				}
			}
			if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrProtocol)) {
				t.Fatalf("error %v, want error %v (ErrProtocol)", err, tt.wantErr)
			}
			if tr.ack != tt.ack || tr.received != tt.received || tr.lost != tt.lost || tr.pending() != tt.pending {
				t.Errorf("ack %d received %d lost %d pending %d; want %d %d %d %d",
					tr.ack, tr.received, tr.lost, tr.pending(), tt.ack, tt.received, tt.lost, tt.pending)
			}
			holes := tr.holes()
			if len(holes) != len(tt.holes) {
				t.Fatalf("holes %v, want %v", holes, tt.holes)
			}
			for i := range holes {
				if holes[i] != tt.holes[i] {
					t.Errorf("holes %v, want %v", holes, tt.holes)
				}
			}
		})
	}
}

// seqModel is the obvious bookkeeping the seqTracker must agree with: the
// state of every seq, for seqs small enough to list.
type seqModel struct {
	state  map[int64]byte // 'a' arrived, 'l' declared lost
	ack    int64
	maxSeq int64
}

func (m *seqModel) receive(seq int64) bool {
	if seq <= m.ack || m.state[seq] != 0 {
		return false
	}
	m.state[seq] = 'a'
	m.maxSeq = max(m.maxSeq, seq)
	m.advance()
	return true
}

func (m *seqModel) declare(from, to int64) int64 {
	var missing int64
	for s := max(from, m.ack+1); s <= to; s++ {
		if m.state[s] == 0 {
			m.state[s] = 'l'
			missing++
			m.maxSeq = max(m.maxSeq, to)
		}
	}
	m.advance()
	return missing
}

func (m *seqModel) advance() {
	for m.state[m.ack+1] != 0 {
		m.ack++
	}
}

func (m *seqModel) count(st byte) (n int64) {
	for _, v := range m.state {
		if v == st {
			n++
		}
	}
	return n
}

func (m *seqModel) holes() []seqRange {
	var out []seqRange
	for s := m.ack + 1; s <= m.maxSeq; s++ {
		if m.state[s] != 0 {
			continue
		}
		if n := len(out); n > 0 && out[n-1].to == s-1 {
			out[n-1].to = s
		} else {
			out = append(out, seqRange{s, s})
		}
	}
	return out
}

// FuzzSeqTracker drives the tracker and the model with the same frames and
// declared gaps (3 bytes an operation: kind, seq, length) and compares the
// ack, the counters, what each step reported and the holes.
func FuzzSeqTracker(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1, 0, 0, 5, 0, 1, 2, 3})
	f.Add([]byte{0, 0, 0, 1, 1, 9, 0, 7, 0, 1, 3, 20, 0, 4, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 3*2000 {
			return
		}
		tr := newSeqTracker(-1, 0, 0, 4_320_000)
		m := &seqModel{state: map[int64]byte{}, ack: -1, maxSeq: -1}
		for i := 0; i+2 < len(ops); i += 3 {
			seq := int64(ops[i+1]) + int64(ops[i]>>1)%4*256 // 0..1023
			if ops[i]&1 == 0 {
				got, err := tr.receive(seq)
				if want := m.receive(seq); err != nil || got != want {
					t.Fatalf("op %d: receive(%d) = %v, %v; want %v", i/3, seq, got, err, want)
				}
			} else {
				to := seq + int64(ops[i+2])
				got, err := tr.declare(seq, to)
				if want := m.declare(seq, to); err != nil || got != want {
					t.Fatalf("op %d: declare(%d, %d) = %d, %v; want %d", i/3, seq, to, got, err, want)
				}
			}
			if tr.ack != m.ack || tr.received+int64(tr.pending()) != m.count('a') || tr.lost != m.count('l') {
				t.Fatalf("op %d: ack %d received %d+%d lost %d; model ack %d arrived %d lost %d",
					i/3, tr.ack, tr.received, tr.pending(), tr.lost, m.ack, m.count('a'), m.count('l'))
			}
		}
		if got, want := tr.holes(), m.holes(); !slices.Equal(got, want) {
			t.Fatalf("holes %v, want %v", got, want)
		}
	})
}
