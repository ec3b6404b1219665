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
