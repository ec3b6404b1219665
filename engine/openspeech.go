package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/earshot/earshot/store"
)

// Open speech is the audio of an utterance a graceful shutdown cut in two
// (store.ChannelState.OpenSpeech). It is caller and agent audio, which the
// engine otherwise never keeps, so it is not written to the store (whose
// append-only file would hold it until a compaction, and a call not
// resumed until its retention ends): it goes to one file per channel in
// the data directory's open-speech folder, read and deleted when the call
// resumes, and deleted by the janitor once the resume window after the
// restart has passed. A call in a payment context keeps none (Pipeline
// Finish).
const openSpeechDir = "open-speech"

func (s *Server) openSpeechPath(callID string, ch int) string {
	return filepath.Join(s.cfg.DataDir, openSpeechDir, callID+"."+strconv.Itoa(ch)+".pcm")
}

// saveOpenSpeech writes the open speech of a call stopped by a shutdown.
func (s *Server) saveOpenSpeech(callID string, chans []store.ChannelState) error {
	for ch, c := range chans {
		if len(c.OpenSpeech) == 0 {
			continue
		}
		if err := os.MkdirAll(filepath.Join(s.cfg.DataDir, openSpeechDir), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(s.openSpeechPath(callID, ch), c.OpenSpeech, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// loadOpenSpeech reads a resumed call's open speech into r, for the
// channels whose stored state says they had some, and deletes the files.
func (s *Server) loadOpenSpeech(callID string, r *[2]store.ChannelState) {
	for ch := range r {
		path := s.openSpeechPath(callID, ch)
		if r[ch].Speaking {
			b, err := os.ReadFile(path)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				s.log.Warn("open speech not read: the utterance stays in two parts", "call_id", callID, "err", err)
			}
			r[ch].OpenSpeech = b
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Error("deleting open speech", "call_id", callID, "err", err)
		}
	}
}

// removeStaleOpenSpeech deletes the open speech of calls that were not
// resumed within the window after this process started, except those
// being resumed now.
func (s *Server) removeStaleOpenSpeech(active func(callID string) bool) error {
	dir := filepath.Join(s.cfg.DataDir, openSpeechDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		// <call id>.<channel>.pcm; call ids may hold dots themselves.
		base := strings.TrimSuffix(e.Name(), ".pcm")
		if i := strings.LastIndex(base, "."); i > 0 && active(base[:i]) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("deleting open speech: %w", errors.Join(errs...))
	}
	return nil
}

// openSpeechDeadline is when the janitor deletes what no call resumed.
func (s *Server) openSpeechDeadline() time.Time { return s.started.Add(s.cfg.ResumeWindow) }
