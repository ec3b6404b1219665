package protocol

import "fmt"

// Channel is one side of a call: every audio frame, gap and transcript
// belongs to one. Its number is the frame header's channel byte and the
// index of per-channel arrays; its name is the speaker in every JSON form.
type Channel uint8

// The two channels of every call.
const (
	ChannelAgent  Channel = 0
	ChannelCaller Channel = 1
)

// BothChannels lists the channels in their wire order.
var BothChannels = [2]Channel{ChannelAgent, ChannelCaller}

// String is the channel's name: "agent" or "caller".
func (c Channel) String() string {
	switch c {
	case ChannelAgent:
		return "agent"
	case ChannelCaller:
		return "caller"
	}
	return fmt.Sprintf("channel(%d)", uint8(c))
}

// Valid reports whether c is one of the two channels.
func (c Channel) Valid() bool { return c <= ChannelCaller }

// Other is the opposite side.
func (c Channel) Other() Channel {
	if c == ChannelAgent {
		return ChannelCaller
	}
	return ChannelAgent
}

// MarshalText writes the channel's name, so JSON has "agent" and "caller".
func (c Channel) MarshalText() ([]byte, error) {
	if !c.Valid() {
		return nil, fmt.Errorf("%w: %v is not a channel", ErrProtocol, c)
	}
	return []byte(c.String()), nil
}

// UnmarshalText reads what MarshalText writes.
func (c *Channel) UnmarshalText(b []byte) error {
	switch string(b) {
	case "agent":
		*c = ChannelAgent
	case "caller":
		*c = ChannelCaller
	default:
		return fmt.Errorf("%w: speaker %q: want agent or caller", ErrProtocol, b)
	}
	return nil
}
