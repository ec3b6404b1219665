package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/engine"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/store"
)

func TestStoreCheckNamesADamagedCallAndRepairKeepsTheOthers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, engine.DBFile)
	s, err := store.Open(path, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		id := fmt.Sprintf("c-%d", i)
		if err := s.CreateCall(store.Call{ID: store.CallID(id), AgentID: "A17", StartedAt: time.Now(), Status: store.StatusLive, Ack: -1}); err != nil {
			t.Fatal(err)
		}
		if err := s.AppendUtterance(store.CallID(id), store.Utterance{Speaker: protocol.ChannelCaller, Start: time.Second, End: 2 * time.Second, Text: "words of " + id}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	// Damage the header of c-3's utterance, in the middle of the file.
	data, _ := os.ReadFile(path)
	at := bytes.LastIndex(data[:bytes.Index(data, []byte("utt:c-3/"))], []byte("*5\r\n"))
	data[at] = '%'
	os.WriteFile(path, data, 0o600)

	check := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"store", "check", "--data", dir}, args...), &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	t.Run("check names the damaged record's call and exits 1", func(t *testing.T) {
		code, out := check()
		if code != 1 || !strings.Contains(out, fmt.Sprintf("damaged: bytes %d-", at)) || !strings.Contains(out, "records of call c-3") || !strings.Contains(out, "--repair") {
			t.Errorf("exit %d, output:\n%s", code, out)
		}
	})
	t.Run("repair keeps a backup and every other call", func(t *testing.T) {
		code, out := check("--repair")
		if code != 0 || !strings.Contains(out, "repaired:") || !strings.Contains(out, ".corrupt-") {
			t.Fatalf("exit %d, output:\n%s", code, out)
		}
		if code, out := check(); code != 0 || !strings.Contains(out, "ok: no damaged records") || !strings.Contains(out, "5 calls") {
			t.Errorf("check after the repair: exit %d\n%s", code, out)
		}
		s, err := store.Open(path, store.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, id := range []store.CallID{"c-1", "c-2", "c-4", "c-5"} {
			if d, err := s.Detail(id); err != nil || len(d.Utterances) != 1 {
				t.Errorf("%s: %v, %d utterances", id, err, len(d.Utterances))
			}
		}
	})
	t.Run("a data directory without a database is an error, not damage", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"store", "check", "--data", t.TempDir()}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "no such file") {
			t.Errorf("exit %d: %s", code, stderr.String())
		}
	})
}
