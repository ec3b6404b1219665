package audio

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
)

// sniffLen is how many leading bytes Decode looks at.
const sniffLen = 12

// Decode sniffs the first bytes of r and decodes it as WAV (RIFF/WAVE or RF64)
// or MP3 (an ID3v2 tag or an MPEG frame sync). Formats it recognises but does
// not decode (FLAC, Ogg, AIFF, …) give an error wrapping ErrUnsupported that
// names them; anything else wraps ErrNotAudio, and no bytes at all wraps
// ErrEmpty. The returned Source reads r as it is read; see DecodeWAV and
// DecodeMP3 for its errors.
func Decode(r io.Reader) (Source, error) {
	br := bufio.NewReaderSize(r, 4096)
	b, err := br.Peek(sniffLen)
	if len(b) < sniffLen && err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading: %w", err)
	}
	switch {
	case len(b) == 0:
		return nil, fmt.Errorf("%w: the stream is empty", ErrEmpty)
	case len(b) >= 4 && (string(b[:4]) == "RIFF" || string(b[:4]) == "RF64"):
		return DecodeWAV(br)
	case bytes.HasPrefix(b, []byte("ID3")):
		return DecodeMP3(br)
	case len(b) >= 2 && b[0] == 0xFF && b[1]&0xE0 == 0xE0:
		return DecodeMP3(br)
	}
	if name := knownContainer(b); name != "" {
		return nil, fmt.Errorf("%w: %s files are not decoded (use WAV or MP3)", ErrUnsupported, name)
	}
	return nil, fmt.Errorf("%w: neither WAV nor MP3 (starts with % x)", ErrNotAudio, b[:min(len(b), 4)])
}

// knownContainer names common audio formats by their magic bytes, so a user
// who passes one learns what to convert rather than "not audio".
func knownContainer(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("fLaC")):
		return "FLAC"
	case bytes.HasPrefix(b, []byte("OggS")):
		return "Ogg"
	case bytes.HasPrefix(b, []byte("FORM")) && len(b) >= 12 && (string(b[8:12]) == "AIFF" || string(b[8:12]) == "AIFC"):
		return "AIFF"
	case len(b) >= 8 && string(b[4:8]) == "ftyp":
		return "MP4/M4A"
	case bytes.HasPrefix(b, []byte("#!AMR")):
		return "AMR"
	case bytes.HasPrefix(b, []byte{0x1A, 0x45, 0xDF, 0xA3}):
		return "WebM/Matroska"
	case bytes.HasPrefix(b, []byte(".snd")):
		return "Sun/NeXT au"
	}
	return ""
}

// Open opens the audio file at path and decodes it with Decode. The caller
// must Close the returned io.Closer (the file) when done with the Source; it
// is nil when err is not nil. Every error, including those Read returns
// later, starts with the path.
func Open(path string) (Source, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		// *PathError already names the file.
		return nil, nil, err
	}
	src, err := Decode(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return &namedSource{Source: src, path: path}, f, nil
}

// namedSource prefixes a Source's errors with the file they come from, so a
// decode failure deep inside a pipeline still tells the user which file.
type namedSource struct {
	Source
	path string
}

func (s *namedSource) Read(p []float32) (int, error) {
	n, err := s.Source.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %w", s.path, err)
	}
	return n, err
}
