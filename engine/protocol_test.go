package engine

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/protocol"
)

func frame(h protocol.FrameHeader, payload int) []byte {
	return append(protocol.AppendHeader(nil, h), make([]byte, payload)...)
}

func TestParseFrame(t *testing.T) {
	good := protocol.FrameHeader{Version: 1, Channel: 1, Seq: 77, At: 1540 * time.Millisecond}
	tests := []struct {
		name   string
		msg    []byte
		reason string
	}{
		{"a well-formed frame parses", frame(good, 640), ""},
		{"a short message is refused", []byte{1, 0, 0}, "binary frame too short"},
		{"an unknown version is named", frame(protocol.FrameHeader{Version: 7}, 640), "unknown header version 7"},
		{"a third channel is out of range", frame(protocol.FrameHeader{Version: 1, Channel: 5}, 640), "channel 5 out of range"},
		{"reserved flags must be zero", frame(protocol.FrameHeader{Version: 1, Flags: 2}, 640), "flags"},
		{"a wrong payload length names both sizes", frame(good, 100), "payload 100 bytes, want 640"},
		{"a negative capture time is refused", frame(protocol.FrameHeader{Version: 1, At: -time.Second}, 640), "capture time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, p, err := protocol.ParseFrame(tt.msg, 640)
			if tt.reason == "" {
				if err != nil || h != good || len(p) != 640 {
					t.Fatalf("got %+v, %d bytes, %v", h, len(p), err)
				}
				return
			}
			if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("got %v, want %q", err, tt.reason)
			}
		})
	}
}

func TestParseControl(t *testing.T) {
	tests := []struct {
		name, msg, reason string
	}{
		{"a full start parses", `{"type":"start","call_id":"c-1","agent_id":"A17","sample_rate":16000,"encoding":"pcm_s16le","channels":["agent","caller"],"resume":false}`, ""},
		{"a mulaw 8 kHz start parses", `{"type":"start","call_id":"c:1.x_y","agent_id":"A17","sample_rate":8000,"encoding":"mulaw","channels":["agent","caller"]}`, ""},
		{"a start without call id is refused", `{"type":"start","agent_id":"A17","sample_rate":16000,"encoding":"pcm_s16le","channels":["agent","caller"]}`, "call_id missing"},
		{"a call id with a slash is refused", `{"type":"start","call_id":"a/b","agent_id":"A17","sample_rate":16000,"encoding":"pcm_s16le","channels":["agent","caller"]}`, "call_id must be"},
		{"a 44.1 kHz start is refused", `{"type":"start","call_id":"c","agent_id":"A","sample_rate":44100,"encoding":"pcm_s16le","channels":["agent","caller"]}`, "sample_rate 44100"},
		{"swapped channels are refused", `{"type":"start","call_id":"c","agent_id":"A","sample_rate":16000,"encoding":"pcm_s16le","channels":["caller","agent"]}`, "channels"},
		{"an unknown type is named", `{"type":"foo"}`, `unknown message type "foo"`},
		{"a missing type is refused", `{}`, "type missing"},
		{"malformed JSON is refused", `{"type":`, "malformed JSON"},
		{"trailing garbage is malformed", `{"type":"end"} x`, "malformed JSON"},
		{"a string where a number belongs is malformed", `{"type":"gap","from_seq":"1","to_seq":2}`, "malformed JSON"},
		{"a gap parses", `{"type":"gap","from_seq":5,"to_seq":9,"reason":"buffer_overflow"}`, ""},
		{"a reversed gap is refused", `{"type":"gap","from_seq":9,"to_seq":5}`, "from_seq"},
		{"a pause needs its time", `{"type":"pause"}`, "at_us"},
		{"end parses", `{"type":"end"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := protocol.ParseControl([]byte(tt.msg))
			if tt.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("got %v, want %q", err, tt.reason)
			}
		})
	}
}

func FuzzParseFrame(f *testing.F) {
	f.Add(frame(protocol.FrameHeader{Version: 1, Channel: 1, Seq: 3, At: time.Second}, 640))
	f.Add(frame(protocol.FrameHeader{Version: 1}, 320))
	f.Add([]byte{1})
	f.Add([]byte{})
	f.Add(frame(protocol.FrameHeader{Version: 2, Channel: 9, Flags: 0xffff, Seq: 1 << 63, At: -1}, 3))
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, n := range []int{160, 320, 640} {
			h, p, err := protocol.ParseFrame(msg, n)
			if err != nil {
				if !errors.Is(err, ErrProtocol) {
					t.Fatalf("error does not wrap ErrProtocol: %v", err)
				}
				continue
			}
			if len(p) != n || h.Version != 1 || h.Channel > 1 || h.At < 0 {
				t.Fatalf("accepted a bad frame: %+v, %d bytes", h, len(p))
			}
			// Round trip.
			if got := protocol.AppendHeader(nil, h); string(got) != string(msg[:protocol.HeaderSize]) {
				t.Fatalf("header does not round-trip")
			}
		}
	})
}

func FuzzParseControl(f *testing.F) {
	for _, s := range []string{
		`{"type":"start","call_id":"c-1","agent_id":"A17","sample_rate":16000,"encoding":"pcm_s16le","channels":["agent","caller"],"resume":true}`,
		`{"type":"gap","from_seq":5,"to_seq":9,"reason":"buffer_overflow"}`,
		`{"type":"pause","at_us":100}`, `{"type":"end"}`, `{"type":"foo"}`, `{`, `null`, `[]`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, err := protocol.ParseControl(msg)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("error does not wrap ErrProtocol: %v", err)
			}
			if len(err.Error()) > 123 {
				t.Fatalf("reason longer than a close frame allows: %q", err)
			}
			return
		}
		switch c.Type {
		case "start":
			if !protocol.ValidID(c.CallID) || protocol.PayloadBytes(c.SampleRate, c.Encoding) <= 0 {
				t.Fatalf("accepted bad start %+v", c)
			}
		case "gap":
			if *c.From > *c.To {
				t.Fatalf("accepted reversed gap")
			}
		case "pause", "resume", "end":
		default:
			t.Fatalf("accepted type %q", c.Type)
		}
	})
}

// BenchmarkIngestFrame measures what the engine spends on one received
// frame before the pipeline: header parsing, validation and decoding to
// 16 kHz float samples.
func BenchmarkIngestFrame(b *testing.B) {
	msg := frame(protocol.FrameHeader{Version: 1, Channel: 1, Seq: 3, At: time.Second}, 640)
	d := newChannelDecoder(16000, protocol.EncodingPCM16)
	emit := func(decodedFrame) error { return nil }
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		h, p, err := protocol.ParseFrame(msg, 640)
		if err != nil {
			b.Fatal(err)
		}
		if err := d.push(p, h.At, emit); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/frame")
}
