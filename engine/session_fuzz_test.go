package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/store"
)

// Session fuzz inputs are a sequence of operations, each a kind byte
// followed by its arguments as unsigned varints (encoding/binary), so a
// corpus entry stays meaningful whatever the session's code looks like:
//
//	0 frame   channel, seq, capture time µs, sample value
//	1 gap     from_seq, to_seq
//	2 pause   at µs
//	3 resume  at µs
//	4 drop    (the endpoint disconnects: the pipeline is released, a checkpoint)
//	5 attach  (the endpoint comes back: a new pipeline from the call's state)
//	6 tick    (a checkpoint)
//	7 end
//
// Kinds wrap modulo 8; a missing argument is 0. Frames and control
// messages go through the wire encoding and ParseFrame / ParseControl, as
// on a connection; what they refuse is skipped.
const (
	opFrame = iota
	opGap
	opPause
	opResume
	opDrop
	opAttach
	opTick
	opEnd
	opKinds
)

type fuzzOps struct {
	b []byte
}

func (o *fuzzOps) next() (int, bool) {
	if len(o.b) == 0 {
		return 0, false
	}
	k := int(o.b[0]) % opKinds
	o.b = o.b[1:]
	return k, true
}

func (o *fuzzOps) arg() uint64 {
	v, n := binary.Uvarint(o.b)
	if n <= 0 {
		o.b = nil
		return 0
	}
	o.b = o.b[n:]
	return v
}

// encodeOps builds a fuzz input: each op is its kind and its arguments.
func encodeOps(ops ...[]uint64) []byte {
	var b []byte
	for _, op := range ops {
		b = append(b, byte(op[0]))
		for _, a := range op[1:] {
			b = binary.AppendUvarint(b, a)
		}
	}
	return b
}

// sessionHarness is a Server whose sessions the fuzz target drives by
// hand, on the fuzzing goroutine, with the real pipeline (no recognizer:
// features, VAD, dynamics) and a fresh store per input.
type sessionHarness struct {
	srv       *Server
	dir       string
	pipelines []*call.Pipeline
}

func newSessionHarness(tb testing.TB) *sessionHarness {
	h := &sessionHarness{dir: tb.TempDir()}
	live := PipelineAnalyzers(context.Background(), call.Deps{})
	srv, err := New(Config{
		DataDir: h.dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxGapRecords: 20,
		NewAnalyzer: func(cfg call.Config) (Analyzer, error) {
			a, err := live(cfg)
			if err == nil {
				h.pipelines = append(h.pipelines, a.(*call.Pipeline))
			}
			return a, err
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	h.srv = srv
	return h
}

// fuzzRun is what one input did, counted.
type fuzzRun struct {
	ops, frames, pipelines int
	silence                int64
	failed                 bool
	seq                    *seqTracker
	gaps, events, utts     int
}

func (h *sessionHarness) run(tb testing.TB, n int, input []byte) fuzzRun {
	st, err := store.Open(filepath.Join(h.dir, fmt.Sprintf("fuzz-%d.db", n)), store.Config{Sync: store.SyncNever})
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	h.srv.store = st
	h.pipelines = nil
	c := store.Call{ID: "fuzz", AgentID: "A1", StartedAt: time.Now().UTC().Truncate(time.Second), Status: store.StatusLive,
		Ack: -1, SampleRate: 16000, Encoding: protocol.EncodingPCM16, Categories: []string{}}
	if err := st.CreateCall(c); err != nil {
		tb.Fatal(err)
	}
	h.srv.hub.OpenCall(string(c.ID), string(c.AgentID), 0)
	s := newSession(h.srv, c, "fuzz")
	s.lostTimer, s.noAudioTimer = time.NewTimer(time.Hour), time.NewTimer(time.Hour)
	s.lostTimer.Stop()
	s.noAudioTimer.Stop()
	var r fuzzRun
	ops := fuzzOps{b: input}
	ended, attached := false, true
	payload := make([]byte, protocol.PayloadBytes(16000, protocol.EncodingPCM16))
	for !ended {
		kind, ok := ops.next()
		if !ok {
			break
		}
		r.ops++
		switch kind {
		case opFrame:
			ch, seq, us, v := ops.arg(), ops.arg(), ops.arg(), ops.arg()
			for i := 0; i < len(payload); i += 2 {
				binary.LittleEndian.PutUint16(payload[i:], uint16(v)*uint16(i+1))
			}
			msg := protocol.AppendHeader(nil, protocol.FrameHeader{Version: protocol.HeaderVersion, Channel: protocol.Channel(ch), Seq: seq, At: time.Duration(us) * time.Microsecond})
			hdr, p, err := protocol.ParseFrame(append(msg, payload...), len(payload))
			if err != nil || !attached {
				continue
			}
			r.frames++
			if err := s.takeFrame(hdr, p); err != nil {
				s.fail(err)
				r.failed, ended = true, true
			}
		case opGap, opPause, opResume:
			var js string
			switch kind {
			case opGap:
				js = fmt.Sprintf(`{"type":"gap","from_seq":%d,"to_seq":%d}`, int64(ops.arg()), int64(ops.arg()))
			case opPause:
				js = fmt.Sprintf(`{"type":"pause","at_us":%d}`, int64(ops.arg()))
			default:
				js = fmt.Sprintf(`{"type":"resume","at_us":%d}`, int64(ops.arg()))
			}
			ctl, err := protocol.ParseControl([]byte(js))
			if err != nil || !attached {
				continue
			}
			if s.control(ctl) {
				r.failed, ended = true, true
			}
		case opDrop:
			attached = false
			s.suspend()
			s.checkpoint()
		case opAttach:
			attached = true
		case opTick:
			s.checkpoint()
		case opEnd:
			ended = true
		}
	}
	if !r.failed {
		if err := s.finish(protocol.EndEnd); err != nil {
			tb.Fatalf("finishing the call: %v", err)
		}
	}
	r.seq, r.pipelines = s.seq, len(h.pipelines)
	for _, p := range h.pipelines {
		r.silence += p.SilenceFrames()
	}
	d, err := st.Detail(c.ID)
	if err != nil {
		tb.Fatal(err)
	}
	r.gaps, r.events, r.utts = len(d.Gaps), len(d.Events), len(d.Utterances)
	return r
}

// FuzzSession drives one call's session with arbitrary sequences of
// frames (any seq, any capture time), gaps, pauses, resumes, drops and
// reconnects, and checks the bounds by counting work: every seq up to the
// highest is accounted for exactly once, gap records stay within
// MaxGapRecords, the silence the pipeline generates is bounded per
// operation (a jump costs the same whatever its length), and so are the
// records written.
func FuzzSession(f *testing.F) {
	frame := func(ch, seq, us uint64) []uint64 { return []uint64{opFrame, ch, seq, us, 7} }
	f.Add(encodeOps(frame(0, 0, 0), frame(1, 1, 0), frame(0, 2, 20000), frame(1, 3, 20000), []uint64{opEnd}))
	f.Add(encodeOps(frame(0, 0, 0), frame(0, 1<<62, 0), []uint64{opEnd}))
	f.Add(encodeOps(frame(0, 0, 0), frame(1, 1_000_001, 0), []uint64{opEnd}))
	f.Add(encodeOps(frame(0, 0, 0), frame(0, 2, 2*3600e6), frame(1, 3, 2*3600e6)))
	f.Add(encodeOps(frame(0, 0, 0), []uint64{opGap, 1, 1 << 23}, frame(0, 1<<23+1, 0)))
	f.Add(encodeOps(frame(0, 0, 0), []uint64{opPause, 20000}, []uint64{opResume, 9e9}, frame(0, 1, 9e9)))
	f.Add(encodeOps(frame(0, 0, 0), frame(1, 1, 0), []uint64{opDrop}, []uint64{opAttach}, frame(0, 2, 20000), frame(1, 3, 20000)))
	f.Add(encodeOps(frame(0, 0, 0), frame(0, 5, 100), []uint64{opGap, 2, 3}, []uint64{opGap, 1, 4}, []uint64{opTick}, frame(0, 9, 40000)))
	f.Add(encodeOps(frame(0, 0, 13*3600e6)))
	f.Add(encodeOps([]uint64{opDrop}, []uint64{opDrop}, []uint64{opAttach}, []uint64{opEnd}))
	h := newSessionHarness(f)
	n := 0
	f.Fuzz(func(t *testing.T, input []byte) {
		if len(input) > 4096 {
			return // the bounds below are per operation; long inputs only slow the fuzzer
		}
		n++
		r := h.run(t, n, input)
		if !r.failed {
			if r.seq.ack != r.seq.maxSeq || r.seq.received+r.seq.lost != r.seq.maxSeq+1 {
				t.Errorf("seqs not accounted for once: ack %d, max %d, received %d, lost %d",
					r.seq.ack, r.seq.maxSeq, r.seq.received, r.seq.lost)
			}
		}
		if r.gaps > h.srv.cfg.MaxGapRecords {
			t.Errorf("%d gap records, cap %d", r.gaps, h.srv.cfg.MaxGapRecords)
		}
		// A frame or a pipeline start feeds at most call.SkipAfter plus a frame
		// of silence per channel; everything longer is skipped.
		perOp := 2 * int64(call.SkipAfter/audio20ms+1)
		if limit := perOp * int64(r.ops+r.pipelines+1); r.silence > limit {
			t.Errorf("%d silence frames generated for %d operations (limit %d)", r.silence, r.ops, limit)
		}
		if limit := 40 * (r.ops + r.pipelines + 1); r.events+r.utts+r.gaps > limit {
			t.Errorf("%d records written for %d operations (limit %d)", r.events+r.utts+r.gaps, r.ops, limit)
		}
		if len(r.seq.above) > maxPending || len(r.seq.lostAbove) > maxLostAhead+1 {
			t.Errorf("bookkeeping holds %d frames and %d ranges", len(r.seq.above), len(r.seq.lostAbove))
		}
	})
}

// audio20ms is one frame, for the fuzz bound's arithmetic.
const audio20ms = 20 * time.Millisecond
