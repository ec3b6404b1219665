package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/earshot/earshot/protocol"
)

// fiveCalls writes five calls with events and utterances to a new store
// and returns its path.
func fiveCalls(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "earshot.db")
	s, err := Open(path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		id := CallID(fmt.Sprintf("c-%d", i))
		c := call(id, "A17", time.Now().Add(-time.Hour))
		if err := s.CreateCall(c); err != nil {
			t.Fatal(err)
		}
		for seq := uint64(1); seq <= 3; seq++ {
			if err := s.AppendEvent(id, seq, []byte(fmt.Sprintf(`{"type":"x","seq":%d}`, seq))); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.AppendUtterance(id, Utterance{Speaker: protocol.ChannelCaller, Start: sec(1), End: sec(2), Text: "call " + string(id)}); err != nil {
			t.Fatal(err)
		}
		c.Status = StatusEnded
		if err := s.PutCall(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// damage rewrites the file at path with change applied to the record that
// holds the utterance of call c-3, in the middle of the file.
func damage(t *testing.T, path string, change func(rec []byte) []byte) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(data, []byte("utt:c-3/"))
	start := bytes.LastIndex(data[:max(at, 0)], []byte("*5\r\n$3\r\nset"))
	if at < 0 || start < 0 || start < len(data)/3 || start > 2*len(data)/3 {
		t.Fatalf("c-3's utterance record is not in the middle of the file (at %d of %d)", start, len(data))
	}
	end := start + bytes.Index(data[start:], []byte("\r\n*")) + 2
	data = slices.Concat(data[:start], change(bytes.Clone(data[start:end])), data[end:])
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return data
}

func TestADamagedRecordMidFileIsFoundAndRepaired(t *testing.T) {
	tests := []struct {
		name   string
		change func(rec []byte) []byte
		reason string
	}{
		{"a flipped byte in a header", func(rec []byte) []byte { rec[0] = '#'; return rec }, "instead of '*'"},
		{"a length grown past the end of the file", func(rec []byte) []byte {
			// The value's length, 71, becomes 99999, far beyond the end
			// of the file: buntdb takes this for a torn last write and
			// would silently truncate c-3 to c-5 away.
			return bytes.Replace(rec, []byte("$71\r\n"), []byte("$99999\r\n"), 1)
		}, "corrupt length"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := fiveCalls(t)
			original := damage(t, path, tc.change)

			_, err := Open(path, Config{})
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "c-3") || !strings.Contains(err.Error(), "earshot store check") {
				t.Fatalf("Open = %v, want ErrCorrupt naming call c-3 and the way out", err)
			}
			if b, _ := os.ReadFile(path); !bytes.Equal(b, original) {
				t.Fatal("the refused Open changed the file")
			}

			// A window smaller than a record reads the file in pieces.
			scanWindow = 16
			small, err := Check(path)
			scanWindow = 1 << 20
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Check(path)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(small) != fmt.Sprint(rep) {
				t.Errorf("Check with a 16-byte window found %+v, with 1 MiB %+v", small, rep)
			}
			if len(rep.Damaged) != 1 || !slices.Equal(rep.Damaged[0].CallIDs(), []string{"c-3"}) || !strings.Contains(rep.Damaged[0].Reason, tc.reason) {
				t.Fatalf("Check found %+v, want one damaged record of c-3 (%s)", rep.Damaged, tc.reason)
			}
			if want := []string{"c-1", "c-2", "c-3", "c-4", "c-5"}; !slices.Equal(rep.Calls, want) {
				t.Errorf("Check sees calls %v, want %v", rep.Calls, want)
			}

			before, _ := os.Stat(path)
			rep2, backup, err := Repair(path, time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			if rep2.OK() || backup != path+".corrupt-20261204T100000Z" {
				t.Errorf("Repair reported %+v, backup %q", rep2.Damaged, backup)
			}
			if b, _ := os.ReadFile(backup); !bytes.Equal(b, original) {
				t.Error("the backup is not the damaged file as it was")
			}
			after, _ := os.Stat(path)
			if !after.ModTime().Equal(before.ModTime()) || after.Mode().Perm() != 0o600 {
				t.Errorf("repaired file: mtime %v (was %v: buntdb counts expiry from it), mode %v",
					after.ModTime(), before.ModTime(), after.Mode().Perm())
			}
			if rep3, _ := Check(path); !rep3.OK() || rep3.TornTail != 0 {
				t.Errorf("the repaired file still has damage: %+v", rep3)
			}

			s, err := Open(path, Config{})
			if err != nil {
				t.Fatalf("Open after repair: %v", err)
			}
			defer s.Close()
			for _, id := range []CallID{"c-1", "c-2", "c-4", "c-5"} {
				d, err := s.Detail(id)
				if err != nil {
					t.Fatalf("%s after repair: %v", id, err)
				}
				if d.Call.Status != StatusEnded || len(d.Events) != 3 || len(d.Utterances) != 1 || d.Utterances[0].Text != "call "+string(id) {
					t.Errorf("%s after repair: status %s, %d events, utterances %+v", id, d.Call.Status, len(d.Events), d.Utterances)
				}
			}
			// c-3 lost only its damaged record: the utterance.
			if d, err := s.Detail("c-3"); err != nil || len(d.Events) != 3 || len(d.Utterances) != 0 {
				t.Errorf("c-3 after repair: %v, %d events, %d utterances; want its events and no utterance", err, len(d.Events), len(d.Utterances))
			}
		})
	}
}

func TestCheckTellsATornLastWriteFromDamage(t *testing.T) {
	path := fiveCalls(t)
	data, _ := os.ReadFile(path)
	// The process died in the middle of its last write.
	torn := append(bytes.Clone(data), "*5\r\n$3\r\nset\r\n$8\r\ncall:c-6\r\n$40\r\n{\"id\":"...)
	os.WriteFile(path, torn, 0o600)
	rep, err := Check(path)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.TornTail != int64(len(torn)-len(data)) {
		t.Fatalf("Check = %+v, want no damage and a torn tail of %d bytes", rep, len(torn)-len(data))
	}
	s, err := Open(path, Config{})
	if err != nil {
		t.Fatalf("a torn last write must still open (buntdb cuts it off): %v", err)
	}
	s.Close()
	if _, backup, err := Repair(path, time.Now()); err != nil || backup != "" {
		t.Errorf("Repair of a sound file = %q, %v; want it left alone", backup, err)
	}
}

func TestRepairWaitsForTheEngineToStop(t *testing.T) {
	path := fiveCalls(t)
	damage(t, path, func(rec []byte) []byte { rec[0] = '#'; return rec })
	os.WriteFile(path+".lock", nil, 0o600)
	// Hold the lock as a running engine does (Open would refuse the file).
	hold, err := os.OpenFile(path+".lock", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	if err := flock(hold); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Repair(path, time.Now()); !errors.Is(err, ErrLocked) {
		t.Errorf("Repair while locked = %v, want ErrLocked", err)
	}
}

func flock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) }
