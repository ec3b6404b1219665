package engine

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// Close codes of docs/protocol.md, beyond the RFC 6455 ones.
const (
	CloseUnauthorized = 4401
	CloseForbidden    = 4403
	CloseIdle         = 4408 // nothing received for IdleTimeout, or no audio after start
	CloseCallActive   = 4409
	CloseTooSlow      = 4429
)

// HeaderSize is the length of an audio frame's binary header.
const HeaderSize = 20

// HeaderVersion is the only audio header version.
const HeaderVersion = 1

// FrameHeader is the fixed header of one binary audio message.
type FrameHeader struct {
	Version uint8
	Channel uint8
	Flags   uint16
	Seq     uint64
	// At is the capture time of the frame's first sample, in call time.
	At time.Duration
}

// AppendHeader appends h's wire form to b.
func AppendHeader(b []byte, h FrameHeader) []byte {
	b = append(b, h.Version, h.Channel)
	b = binary.LittleEndian.AppendUint16(b, h.Flags)
	b = binary.LittleEndian.AppendUint64(b, h.Seq)
	return binary.LittleEndian.AppendUint64(b, uint64(h.At/time.Microsecond))
}

// ParseFrame splits one binary message into its header and audio payload
// and validates it against the call's format (payloadBytes per frame).
// Errors wrap ErrProtocol and their text is the close reason.
func ParseFrame(msg []byte, payloadBytes int) (FrameHeader, []byte, error) {
	var h FrameHeader
	if len(msg) < HeaderSize {
		return h, nil, fmt.Errorf("%w: binary frame too short", ErrProtocol)
	}
	h.Version = msg[0]
	h.Channel = msg[1]
	h.Flags = binary.LittleEndian.Uint16(msg[2:4])
	h.Seq = binary.LittleEndian.Uint64(msg[4:12])
	us := int64(binary.LittleEndian.Uint64(msg[12:20]))
	if h.Version != HeaderVersion {
		return h, nil, fmt.Errorf("%w: unknown header version %d", ErrProtocol, h.Version)
	}
	if h.Channel > 1 {
		return h, nil, fmt.Errorf("%w: channel %d out of range", ErrProtocol, h.Channel)
	}
	if h.Flags != 0 {
		return h, nil, fmt.Errorf("%w: flags %#x must be 0", ErrProtocol, h.Flags)
	}
	// Negative or absurd capture times (beyond 30 days of call) are corrupt
	// and would overflow Duration arithmetic downstream.
	if us < 0 || us > int64(30*24*time.Hour/time.Microsecond) {
		return h, nil, fmt.Errorf("%w: capture time %d µs out of range", ErrProtocol, us)
	}
	if h.Seq > 1<<62 {
		return h, nil, fmt.Errorf("%w: seq %d out of range", ErrProtocol, h.Seq)
	}
	h.At = time.Duration(us) * time.Microsecond
	payload := msg[HeaderSize:]
	if len(payload) != payloadBytes {
		return h, nil, fmt.Errorf("%w: payload %d bytes, want %d", ErrProtocol, len(payload), payloadBytes)
	}
	return h, payload, nil
}

// Encodings of ingest audio.
const (
	EncodingPCM16 = "pcm_s16le"
	EncodingMulaw = "mulaw"
)

// Control is any text message on the ingest socket, in either direction.
type Control struct {
	Type       string   `json:"type"`
	CallID     string   `json:"call_id,omitempty"`
	AgentID    string   `json:"agent_id,omitempty"`
	SampleRate int      `json:"sample_rate,omitempty"`
	Encoding   string   `json:"encoding,omitempty"`
	Channels   []string `json:"channels,omitempty"`
	Resume     bool     `json:"resume,omitempty"`
	// ack: the cumulative ack (started, ack).
	Ack  *int64 `json:"ack,omitempty"`
	Seq  *int64 `json:"seq,omitempty"`
	From *int64 `json:"from_seq,omitempty"`
	To   *int64 `json:"to_seq,omitempty"`
	// Reason of a gap.
	Reason string `json:"reason,omitempty"`
	AtUS   *int64 `json:"at_us,omitempty"`
	// ended
	Frames *int64 `json:"frames,omitempty"`
	Gaps   *int64 `json:"gaps,omitempty"`
}

func i64(v int64) *int64 { return &v }

// ParseControl decodes and validates one text message from an endpoint.
// Errors wrap ErrProtocol; their text is the close reason.
func ParseControl(msg []byte) (Control, error) {
	var c Control
	d := json.NewDecoder(bytes.NewReader(msg))
	if err := d.Decode(&c); err != nil {
		return c, fmt.Errorf("%w: malformed JSON", ErrProtocol)
	}
	if d.More() {
		return c, fmt.Errorf("%w: malformed JSON", ErrProtocol)
	}
	switch c.Type {
	case "start":
		return c, validateStart(c)
	case "gap":
		if c.From == nil || c.To == nil || *c.From < 0 || *c.To < *c.From || *c.To > 1<<62 {
			return c, fmt.Errorf("%w: gap needs 0 ≤ from_seq ≤ to_seq", ErrProtocol)
		}
		if *c.To-*c.From > 1<<24 {
			return c, fmt.Errorf("%w: gap of %d frames is too long", ErrProtocol, *c.To-*c.From+1)
		}
		if c.Reason == "" {
			c.Reason = "lost"
		}
		if len(c.Reason) > 64 {
			return c, fmt.Errorf("%w: gap reason too long", ErrProtocol)
		}
	case "pause", "resume":
		if c.AtUS == nil || *c.AtUS < 0 || *c.AtUS > int64(30*24*time.Hour/time.Microsecond) {
			return c, fmt.Errorf("%w: %s needs at_us ≥ 0", ErrProtocol, c.Type)
		}
	case "end":
	case "":
		return c, fmt.Errorf("%w: message type missing", ErrProtocol)
	default:
		t := c.Type
		if len(t) > 32 {
			t = t[:32]
		}
		return c, fmt.Errorf("%w: unknown message type %q", ErrProtocol, t)
	}
	return c, nil
}

func validateStart(c Control) error {
	switch {
	case c.CallID == "":
		return fmt.Errorf("%w: call_id missing", ErrProtocol)
	case !validID(c.CallID):
		return fmt.Errorf("%w: call_id must be 1-64 characters of [A-Za-z0-9._:-]", ErrProtocol)
	case c.AgentID == "":
		return fmt.Errorf("%w: agent_id missing", ErrProtocol)
	case !validID(c.AgentID):
		return fmt.Errorf("%w: agent_id must be 1-64 characters of [A-Za-z0-9._:-]", ErrProtocol)
	case c.SampleRate != 8000 && c.SampleRate != 16000:
		return fmt.Errorf("%w: sample_rate %d, want 8000 or 16000", ErrProtocol, c.SampleRate)
	case c.Encoding != EncodingPCM16 && c.Encoding != EncodingMulaw:
		return fmt.Errorf("%w: encoding must be pcm_s16le or mulaw", ErrProtocol)
	case len(c.Channels) != 2 || c.Channels[0] != "agent" || c.Channels[1] != "caller":
		return fmt.Errorf("%w: channels must be [\"agent\",\"caller\"]", ErrProtocol)
	}
	return nil
}

// PayloadBytes returns the audio bytes of one 20 ms frame in the format.
func PayloadBytes(sampleRate int, encoding string) int {
	n := sampleRate / 50
	if encoding == EncodingPCM16 {
		return 2 * n
	}
	return n
}

func validID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}
