package store

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/protocol"
)

// BenchmarkStoredCallMemory measures what one stored call costs a node's
// projection: buntdb keeps every key and value in memory, so each node of a
// cluster holds all the cluster's retained calls in RAM and on disk. The
// call is shaped like a five-minute sample call: 60 utterances with their
// words, 300 events (finals, partials' neighbours, sentiment, dynamics),
// 3 hints, the summary with dynamics and segments.
func BenchmarkStoredCallMemory(b *testing.B) {
	const calls = 500
	words := strings.Repeat(`{"w":"word","start":1.25,"end":1.5,"conf":0.9},`, 12)
	event := []byte(`{"type":"transcript.final","call_id":"c","seq":1,"t":12.5,"ts":"2026-12-07T09:00:00Z","speaker":"caller","text":"i would like to pay my bill now please thank you very much","words":[` + words[:len(words)-1] + `]}`)
	for range b.N {
		path := filepath.Join(b.TempDir(), "mem.db")
		st, err := Open(path, Config{Sync: SyncNever})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		for i := range calls {
			id := CallID(fmt.Sprintf("call-%06d", i))
			c := call(id, "A17", start.Add(time.Duration(i)*time.Second))
			c.Dynamics = []byte(`{"talk_s":{"agent":150,"caller":120},"talk_ratio":0.55,"turns":40}`)
			if err := st.CreateCall(c); err != nil {
				b.Fatal(err)
			}
			for u := range 60 {
				ws := make([]protocol.Word, 12)
				for w := range ws {
					ws[w] = protocol.Word{Text: "word", Start: float64(u*5+w) * 0.3, End: float64(u*5+w)*0.3 + 0.25, Confidence: 0.9}
				}
				if err := st.AppendUtterance(id, Utterance{Speaker: protocol.Channel(u % 2), Start: sec(float64(u * 5)), End: sec(float64(u*5) + 4),
					Seq: uint64(u + 1), Text: "i would like to pay my bill now please thank you very much", Words: ws, Confidence: 0.9}); err != nil {
					b.Fatal(err)
				}
			}
			for e := range 300 {
				if err := st.AppendEvent(id, uint64(e+1), event); err != nil {
					b.Fatal(err)
				}
			}
			for h := range 3 {
				if err := st.AppendHint(id, fmt.Sprintf("h%d", h), []byte(`{"type":"hint","id":"h","title":"Offer the secure payment line","text":"Move the caller to the IVR"}`)); err != nil {
					b.Fatal(err)
				}
			}
			if err := st.PutCall(c); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/calls/1024, "kB-heap/call")
		st.Close()
		if fi, err := os.Stat(path); err == nil {
			b.ReportMetric(float64(fi.Size())/calls/1024, "kB-file/call")
		}
	}
}
