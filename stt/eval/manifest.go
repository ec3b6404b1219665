package eval

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Channel says which part of an audio file an entry's reference covers.
type Channel string

// Channels a manifest may name.
const (
	Agent  Channel = "agent"  // left channel of a stereo call recording
	Caller Channel = "caller" // right channel
	Mono   Channel = "mono"   // the whole file, mixed down if it has several channels
)

// Entry is one (audio, channel, reference) pair.
type Entry struct {
	Audio     string  `json:"audio"` // path, resolved against the manifest's directory
	Channel   Channel `json:"channel"`
	Reference string  `json:"reference"`
	Line      int     `json:"-"`
}

// Manifest is a list of entries read from a TSV file.
type Manifest struct {
	Path    string
	Entries []Entry
}

// ParseManifest reads lines of `audio<TAB>channel<TAB>reference text`.
// Blank lines and lines starting with # are skipped. Relative audio paths
// are resolved against dir. A line with the wrong number of fields, an
// unknown channel, an empty path or an empty reference is an error
// wrapping ErrManifest that names the line.
func ParseManifest(r io.Reader, dir string) (*Manifest, error) {
	m := &Manifest{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(s) == "" || strings.HasPrefix(strings.TrimSpace(s), "#") {
			continue
		}
		f := strings.Split(s, "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("%w: line %d: want 3 tab-separated fields (audio, channel, reference), got %d", ErrManifest, line, len(f))
		}
		audio := strings.TrimSpace(f[0])
		ch := Channel(strings.ToLower(strings.TrimSpace(f[1])))
		ref := strings.TrimSpace(f[2])
		if audio == "" {
			return nil, fmt.Errorf("%w: line %d: empty audio path", ErrManifest, line)
		}
		switch ch {
		case Agent, Caller, Mono:
		default:
			return nil, fmt.Errorf("%w: line %d: channel %q, want agent, caller or mono", ErrManifest, line, f[1])
		}
		if len(Normalize(ref)) == 0 {
			return nil, fmt.Errorf("%w: line %d: empty reference", ErrManifest, line)
		}
		if !filepath.IsAbs(audio) {
			audio = filepath.Join(dir, audio)
		}
		m.Entries = append(m.Entries, Entry{Audio: audio, Channel: ch, Reference: ref, Line: line})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %v", ErrManifest, line+1, err)
	}
	if len(m.Entries) == 0 {
		return nil, fmt.Errorf("%w: no entries", ErrManifest)
	}
	return m, nil
}

// LoadManifest reads the manifest at path. Relative audio paths are
// resolved against the manifest's directory or, when no file is there, the
// nearest of its two parent directories where one is (so samples/calls/manifest.tsv may
// name calls/x.mp3, relative to samples/). Errors name the file.
func LoadManifest(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := ParseManifest(f, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.Path = path
	dir := filepath.Dir(path)
	for i, e := range m.Entries {
		rel, err := filepath.Rel(dir, e.Audio)
		if err != nil || filepath.IsAbs(rel) || strings.HasPrefix(rel, "..") {
			continue
		}
		if _, err := os.Stat(e.Audio); err == nil {
			continue
		}
		// Two levels are enough for the layouts in use and keep an
		// unrelated file far up the tree from being picked by accident.
		for up, n := filepath.Dir(dir), 0; n < 2; up, n = filepath.Dir(up), n+1 {
			if p := filepath.Join(up, rel); fileExists(p) {
				m.Entries[i].Audio = p
				break
			}
		}
	}
	return m, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
