package protocol

import (
	"encoding/binary"
	"fmt"
	"time"
)

// HeaderSize is the length of an audio frame's binary header.
const HeaderSize = 20

// HeaderVersion is the only audio header version.
const HeaderVersion = 1

// FrameHeader is the fixed header of one binary audio message.
type FrameHeader struct {
	Version uint8
	Channel Channel
	Flags   uint16
	Seq     uint64
	// At is the capture time of the frame's first sample, in call time.
	At time.Duration
}

// Bounds of any header: the engine applies tighter ones per call (the
// longest call).
const (
	MaxSeq         = 1 << 62
	MaxCaptureTime = 30 * 24 * time.Hour
)

// PutHeader writes h's wire form into dst[:HeaderSize].
func PutHeader(dst []byte, h FrameHeader) {
	dst[0], dst[1] = h.Version, uint8(h.Channel)
	binary.LittleEndian.PutUint16(dst[2:], h.Flags)
	binary.LittleEndian.PutUint64(dst[4:], h.Seq)
	binary.LittleEndian.PutUint64(dst[12:], uint64(h.At/time.Microsecond))
}

// AppendHeader appends h's wire form to b.
func AppendHeader(b []byte, h FrameHeader) []byte {
	b = append(b, h.Version, uint8(h.Channel))
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
	h.Channel = Channel(msg[1])
	h.Flags = binary.LittleEndian.Uint16(msg[2:4])
	h.Seq = binary.LittleEndian.Uint64(msg[4:12])
	us := int64(binary.LittleEndian.Uint64(msg[12:20]))
	if h.Version != HeaderVersion {
		return h, nil, fmt.Errorf("%w: unknown header version %d", ErrProtocol, h.Version)
	}
	if !h.Channel.Valid() {
		return h, nil, fmt.Errorf("%w: channel %d out of range", ErrProtocol, h.Channel)
	}
	if h.Flags != 0 {
		return h, nil, fmt.Errorf("%w: flags %#x must be 0", ErrProtocol, h.Flags)
	}
	// Negative or absurd capture times are corrupt and would overflow
	// Duration arithmetic downstream.
	if us < 0 || us > int64(MaxCaptureTime/time.Microsecond) {
		return h, nil, fmt.Errorf("%w: capture time %d µs out of range", ErrProtocol, us)
	}
	if h.Seq > MaxSeq {
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

// PayloadBytes returns the audio bytes of one 20 ms frame in the format.
func PayloadBytes(sampleRate int, encoding string) int {
	n := sampleRate / 50
	if encoding == EncodingPCM16 {
		return 2 * n
	}
	return n
}
