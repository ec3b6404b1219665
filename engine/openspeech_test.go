package engine

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/store"
)

// TestOpenSpeechLivesInItsOwnFilesUntilTheResume: the audio of an
// utterance a shutdown cut is never in the store, is written owner-only,
// is read once by the resume (and deleted), and is deleted for calls not
// resumed in time.
func TestOpenSpeechLivesInItsOwnFilesUntilTheResume(t *testing.T) {
	dir := t.TempDir()
	srv, err := New(Config{DataDir: dir, NewAnalyzer: func(call.Config) (Analyzer, error) { return &testAnalyzer{}, nil },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ResumeWindow: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	speech := bytes.Repeat([]byte{1, 2}, 320)
	chans := []store.ChannelState{{Speaking: true, OpenSpeech: speech, OpenSpeechFrom: 3200 * time.Millisecond}, {NoiseFloorDBFS: -60}}

	c := store.Call{ID: "c.1", AgentID: "A1", StartedAt: time.Now(), Status: store.StatusLive, Ack: -1, Channels: chans}
	if err := srv.Store().CreateCall(c); err != nil {
		t.Fatal(err)
	}
	got, err := srv.Store().GetCall("c.1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Channels) != 2 || got.Channels[0].OpenSpeech != nil || got.Channels[0].OpenSpeechFrom != 3200*time.Millisecond {
		t.Errorf("stored channels %+v: want where the open speech began, never the audio", got.Channels)
	}

	for _, id := range []string{"c.1", "c-2"} {
		if err := srv.saveOpenSpeech(id, chans); err != nil {
			t.Fatal(err)
		}
	}
	path := srv.openSpeechPath("c.1", 0)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("open speech file %s: %v %v, want mode 0600", path, fi, err)
	}
	if _, err := os.Stat(srv.openSpeechPath("c.1", 1)); !os.IsNotExist(err) {
		t.Errorf("a channel without open speech has a file: %v", err)
	}

	var resume [2]store.ChannelState
	copy(resume[:], got.Channels)
	srv.loadOpenSpeech("c.1", &resume)
	if !bytes.Equal(resume[0].OpenSpeech, speech) || resume[1].OpenSpeech != nil {
		t.Errorf("loaded %d and %d bytes, want %d and 0", len(resume[0].OpenSpeech), len(resume[1].OpenSpeech), len(speech))
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("open speech still on disk after the resume read it: %v", err)
	}

	// c-2 was not resumed; c.1 is being resumed (its file is back for the test).
	if err := srv.saveOpenSpeech("c.1", chans); err != nil {
		t.Fatal(err)
	}
	if err := srv.removeStaleOpenSpeech(func(id string) bool { return id == "c.1" }); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, openSpeechDir, "*"))
	if len(left) != 1 || filepath.Base(left[0]) != "c.1.0.pcm" {
		t.Errorf("left after the sweep: %v, want only the active call's", left)
	}
}
