package audio

import "errors"

// Sentinel errors. Decoders wrap them with the detail of what was wrong, so
// callers test with errors.Is and print the whole message.
var (
	// ErrNotAudio means the bytes are not in any format the package decodes.
	ErrNotAudio = errors.New("not a supported audio file")
	// ErrUnsupported means the container is known but its encoding is not.
	ErrUnsupported = errors.New("unsupported audio encoding")
	// ErrTruncated means the stream ended inside a header or a sample.
	ErrTruncated = errors.New("audio data truncated")
	// ErrNotStereo means a two-channel call recording was expected.
	ErrNotStereo = errors.New("call recording must be stereo (left = agent, right = caller)")
	// ErrEmpty means the file holds no samples at all.
	ErrEmpty = errors.New("audio file holds no samples")
	// ErrFrameSize means a frame handed to a per-frame stage (feature
	// extraction) does not hold exactly FrameSize samples.
	ErrFrameSize = errors.New("frame is not FrameSize samples long")
)
