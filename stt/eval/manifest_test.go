package eval

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseManifest(t *testing.T) {
	good := "# comment\ncalls/a.mp3\tagent\thello how can i help\n\n/abs/b.wav\tMONO\tgo forward ten meters\r\ncalls/a.mp3\tcaller\ti want to cancel\n"
	m, err := ParseManifest(strings.NewReader(good), "/data")
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Audio: "/data/calls/a.mp3", Channel: Agent, Reference: "hello how can i help", Line: 2},
		{Audio: "/abs/b.wav", Channel: Mono, Reference: "go forward ten meters", Line: 4},
		{Audio: "/data/calls/a.mp3", Channel: Caller, Reference: "i want to cancel", Line: 5},
	}
	if len(m.Entries) != len(want) {
		t.Fatalf("got %d entries, want %d", len(m.Entries), len(want))
	}
	for i := range want {
		if m.Entries[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, m.Entries[i], want[i])
		}
	}

	bad := []struct{ name, in, mention string }{
		{"two fields are rejected", "a.wav\thello\n", "line 1"},
		{"four fields are rejected", "a.wav\tagent\thi\textra\n", "3 tab-separated"},
		{"an unknown channel is rejected", "a.wav\tleft\thello\n", `"left"`},
		{"an empty reference is rejected", "a.wav\tagent\t  \n", "empty reference"},
		{"a reference of punctuation only is rejected", "a.wav\tagent\t?!\n", "empty reference"},
		{"an empty path is rejected", "\tagent\thello\n", "empty audio"},
		{"a manifest without entries is rejected", "# nothing\n\n", "no entries"},
		{"the error names the right line", "a.wav\tagent\tok\nb.wav\tnobody\tok\n", "line 2"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseManifest(strings.NewReader(c.in), ".")
			if !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), c.mention) {
				t.Errorf("err = %v, want ErrManifest mentioning %q", err, c.mention)
			}
		})
	}
}

func TestLoadManifestResolvesPathsAgainstItsDirectory(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.tsv")
	if err := os.WriteFile(p, []byte("x.wav\tmono\thello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x.wav"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := LoadManifest(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Entries[0].Audio; got != filepath.Join(dir, "x.wav") {
		t.Errorf("audio = %q, want it next to the manifest", got)
	}
	if _, err := LoadManifest(filepath.Join(dir, "missing.tsv")); err == nil || !strings.Contains(err.Error(), "missing.tsv") {
		t.Errorf("missing manifest: err = %v, want one naming the file", err)
	}
}

// FuzzParseManifest checks that any input either parses into entries that
// satisfy the documented invariants or fails with ErrManifest, never panics.
func FuzzParseManifest(f *testing.F) {
	f.Add("calls/a.mp3\tagent\thello there\n")
	f.Add("a\tmono\tb\n# c\n\n")
	f.Add("\t\t\n")
	f.Add("x\tcaller\t\xff\xfe\n")
	f.Fuzz(func(t *testing.T, in string) {
		m, err := ParseManifest(strings.NewReader(in), "/base")
		if err != nil {
			if !errors.Is(err, ErrManifest) {
				t.Fatalf("error %v does not wrap ErrManifest", err)
			}
			return
		}
		if len(m.Entries) == 0 {
			t.Fatal("no error but no entries")
		}
		for _, e := range m.Entries {
			if e.Channel != Agent && e.Channel != Caller && e.Channel != Mono {
				t.Fatalf("entry with channel %q", e.Channel)
			}
			if !filepath.IsAbs(e.Audio) {
				t.Fatalf("audio path %q not resolved", e.Audio)
			}
			if len(Normalize(e.Reference)) == 0 {
				t.Fatalf("entry with empty reference %q", e.Reference)
			}
		}
	})
}

func TestLoadManifestFindsPathsRelativeToAnAncestor(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "calls"), 0o755); err != nil {
		t.Fatal(err)
	}
	audioPath := filepath.Join(root, "calls", "a.mp3")
	if err := os.WriteFile(audioPath, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "calls", "manifest.tsv")
	if err := os.WriteFile(p, []byte("calls/a.mp3\tagent\thello\ncalls/gone.mp3\tagent\thello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := LoadManifest(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Entries[0].Audio; got != audioPath {
		t.Errorf("audio = %q, want %q", got, audioPath)
	}
	if got, want := m.Entries[1].Audio, filepath.Join(root, "calls", "calls", "gone.mp3"); got != want {
		t.Errorf("a missing file keeps the manifest-relative path: got %q, want %q", got, want)
	}
}
