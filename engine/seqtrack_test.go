package engine

import (
	"errors"
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
