package store

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/protocol"
)

// fiveMinuteCall writes a call shaped like a five-minute sample call: 60
// utterances with their words, 300 events (finals, partials' neighbours,
// sentiment, dynamics), 3 hints, the summary with dynamics.
func fiveMinuteCall(tb testing.TB, s callStore, id CallID, start time.Time) {
	words := strings.Repeat(`{"w":"word","start":1.25,"end":1.5,"conf":0.9},`, 12)
	event := []byte(`{"type":"transcript.final","call_id":"c","seq":1,"t":12.5,"ts":"2026-12-07T09:00:00Z","speaker":"caller","text":"i would like to pay my bill now please thank you very much","words":[` + words[:len(words)-1] + `]}`)
	c := call(id, "A17", start)
	c.Dynamics = []byte(`{"talk_s":{"agent":150,"caller":120},"talk_ratio":0.55,"turns":40}`)
	if err := s.CreateCall(c); err != nil {
		tb.Fatal(err)
	}
	for u := range 60 {
		ws := make([]protocol.Word, 12)
		for w := range ws {
			ws[w] = protocol.Word{Text: "word", Start: float64(u*5+w) * 0.3, End: float64(u*5+w)*0.3 + 0.25, Confidence: 0.9}
		}
		if err := s.AppendUtterance(id, Utterance{Speaker: protocol.Channel(u % 2), Start: sec(float64(u * 5)), End: sec(float64(u*5) + 4),
			Seq: uint64(u + 1), Text: "i would like to pay my bill now please thank you very much", Words: ws, Confidence: 0.9}); err != nil {
			tb.Fatal(err)
		}
	}
	for e := range 300 {
		if err := s.AppendEvent(id, uint64(e+1), event); err != nil {
			tb.Fatal(err)
		}
	}
	for h := range 3 {
		if err := s.AppendHint(id, fmt.Sprintf("h%d", h), []byte(`{"type":"hint","id":"h","title":"Offer the secure payment line","text":"Move the caller to the IVR"}`)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := s.PutCall(c); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkStoredCallMemory measures what one stored call costs a node's
// store, side by side: a plain store (a node without a cluster before
// JetStream), a projection that keeps every record (every node of a
// cluster before this release, and a node running alone), and a
// projection of summaries (every other node now, its details read from
// JetStream). buntdb keeps every key and value in memory, so a projection
// holds the cluster's retained calls in RAM and on disk.
//
// Heap is what opening the file adds once written (live heap: buntdb's
// in-memory copy and its indexes; the JetStream server the writes went
// through is shut down first); file is the file as written (every rewrite of a summary, a
// watermark, is appended), shrunk after compaction.
//
//	go test -run '^$' -bench StoredCallMemory -benchtime 1x ./store/
func BenchmarkStoredCallMemory(b *testing.B) {
	const calls = 300
	write := func(b *testing.B, s callStore) {
		start := time.Now()
		for i := range calls {
			fiveMinuteCall(b, s, CallID(fmt.Sprintf("call-%06d", i)), start.Add(time.Duration(i)*time.Second))
		}
	}
	for _, bc := range []struct {
		name string
		fill func(b *testing.B, path string)
	}{
		{"store", func(b *testing.B, path string) {
			st, err := Open(path, Config{Sync: SyncNever})
			if err != nil {
				b.Fatal(err)
			}
			write(b, st)
			st.Close()
		}},
		{"projection keeping details", projectionFill(write, true)},
		{"projection of summaries", projectionFill(write, false)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				path := filepath.Join(b.TempDir(), "mem.db")
				bc.fill(b, path)
				written := fileSize(b, path)
				heap, st := openedHeap(b, path)
				if err := st.Shrink(); err != nil {
					b.Fatal(err)
				}
				st.Close()
				b.ReportMetric(float64(heap)/calls/1024, "kB-heap/call")
				b.ReportMetric(float64(written)/calls/1024, "kB-file/call")
				b.ReportMetric(float64(fileSize(b, path))/calls/1024, "kB-shrunk/call")
			}
		})
	}
}

// projectionFill makes a fill of BenchmarkStoredCallMemory that writes
// through a Journal on its own JetStream server and leaves its projection.
func projectionFill(write func(*testing.B, callStore), keepDetails bool) func(*testing.B, string) {
	return func(b *testing.B, path string) {
		js := startJetStream(b)
		n := startNode(b, js.js, path, nodeConfig{store: Config{Sync: SyncNever}, journal: JournalConfig{KeepDetails: keepDetails}})
		write(b, n)
		n.waitCaughtUp(b)
		n.stop()
		n.Close()
		js.ns.Shutdown() // nothing of it in the heap measured
		js.ns.WaitForShutdown()
	}
}

// openedHeap opens the store at path and returns the heap that added.
func openedHeap(b *testing.B, path string) (uint64, *Store) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC() // the second one frees what the first one's finalizers let go
	runtime.ReadMemStats(&before)
	st, err := Open(path, Config{Sync: SyncNever})
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return after.HeapAlloc - min(before.HeapAlloc, after.HeapAlloc), st
}

func fileSize(b *testing.B, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

// BenchmarkDetailLatency measures Detail of a five-minute call, side by
// side: from the local store (every node before this release) and read
// from JetStream by a node that keeps summaries only (an in-process
// server with file storage, the stream holding 100 other such calls; a
// server over the network adds its round trips, three of them). Each
// iteration reads it samples times, for the percentiles.
//
//	go test -run '^$' -bench 'StoredCallMemory|DetailLatency' -benchtime 1x ./store/
func BenchmarkDetailLatency(b *testing.B) {
	const others, samples = 100, 200
	start := time.Now()
	fill := func(b *testing.B, s callStore) {
		for i := range others {
			fiveMinuteCall(b, s, CallID(fmt.Sprintf("other-%04d", i)), start.Add(time.Duration(i)*time.Second))
		}
		fiveMinuteCall(b, s, "call-5min", start.Add(time.Hour))
	}
	measure := func(b *testing.B, s callStore) {
		var took []time.Duration
		for b.Loop() {
			for range samples {
				t0 := time.Now()
				d, err := s.Detail("call-5min")
				took = append(took, time.Since(t0))
				if err != nil || len(d.Utterances) != 60 || len(d.Events) != 300 || len(d.Hints) != 3 {
					b.Fatalf("detail: %d utterances, %d events, %d hints, %v", len(d.Utterances), len(d.Events), len(d.Hints), err)
				}
			}
		}
		slices.Sort(took)
		b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms-p50")
		b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "ms-p95")
	}
	b.Run("local store", func(b *testing.B) {
		st, err := Open(filepath.Join(b.TempDir(), "db"), Config{Sync: SyncNever})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		fill(b, st)
		measure(b, st)
	})
	b.Run("from JetStream", func(b *testing.B) {
		s := startJetStream(b)
		writer := startNode(b, s.js, filepath.Join(b.TempDir(), "a.db"), nodeConfig{store: Config{Sync: SyncNever}})
		fill(b, writer)
		reader := startNode(b, s.js, filepath.Join(b.TempDir(), "b.db"), nodeConfig{store: Config{Sync: SyncNever}})
		reader.waitCaughtUp(b)
		measure(b, reader)
	})
}
