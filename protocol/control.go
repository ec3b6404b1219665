package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Text message types (docs/protocol.md).
const (
	TypeStart   = "start"
	TypeStarted = "started"
	TypeAck     = "ack"
	TypeGap     = "gap"
	TypePause   = "pause"
	TypeResume  = "resume"
	TypeEnd     = "end"
	TypeEnded   = "ended"
)

// Channels is the only channel layout: index 0 the agent, 1 the caller.
var Channels = []string{ChannelAgent.String(), ChannelCaller.String()}

// Start returns the start message of a call.
func Start(callID, agentID string, sampleRate int, encoding string, resume bool) Control {
	return Control{Type: TypeStart, CallID: callID, AgentID: agentID, SampleRate: sampleRate, Encoding: encoding,
		Channels: Channels, Resume: resume}
}

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
	case TypeStart:
		return c, validateStart(c)
	case TypeGap:
		if c.From == nil || c.To == nil || *c.From < 0 || *c.To < *c.From || *c.To > MaxSeq {
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
	case TypePause, TypeResume:
		if c.AtUS == nil || *c.AtUS < 0 || *c.AtUS > int64(MaxCaptureTime/time.Microsecond) {
			return c, fmt.Errorf("%w: %s needs at_us ≥ 0", ErrProtocol, c.Type)
		}
	case TypeEnd:
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
	case !ValidID(c.CallID):
		return fmt.Errorf("%w: call_id must be "+IDRule, ErrProtocol)
	case c.AgentID == "":
		return fmt.Errorf("%w: agent_id missing", ErrProtocol)
	case !ValidID(c.AgentID):
		return fmt.Errorf("%w: agent_id must be "+IDRule, ErrProtocol)
	case c.SampleRate != 8000 && c.SampleRate != 16000:
		return fmt.Errorf("%w: sample_rate %d, want 8000 or 16000", ErrProtocol, c.SampleRate)
	case c.Encoding != EncodingPCM16 && c.Encoding != EncodingMulaw:
		return fmt.Errorf("%w: encoding must be pcm_s16le or mulaw", ErrProtocol)
	case len(c.Channels) != 2 || c.Channels[0] != "agent" || c.Channels[1] != "caller":
		return fmt.Errorf("%w: channels must be [\"agent\",\"caller\"]", ErrProtocol)
	}
	return nil
}
