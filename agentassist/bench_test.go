package agentassist

import (
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/earshot/earshot/insights"
)

// benchUtterances are the sample calls' truth utterances plus a few long,
// phrase-free ones (the worst case for phonetic matching: nothing matches
// by stem, so every phrase is aligned against every phone).
func benchUtterances(b *testing.B) []insights.Utterance {
	var us []insights.Utterance
	for _, c := range loadSampleCalls(b) {
		for _, s := range c.Segments {
			us = append(us, insights.Utterance{Speaker: speakerOf(s.Speaker), Start: secs(s.Start), End: secs(s.End), Text: s.Text})
		}
	}
	long := strings.Repeat("well i was looking at the statement again this morning and honestly the numbers on the second page do not add up ", 2)
	for i := range 5 {
		us = append(us, insights.Utterance{Speaker: insights.Caller, Start: secs(float64(100 + 10*i)), End: secs(float64(108 + 10*i)), Text: long})
	}
	return us
}

// threadCPU returns the calling thread's CPU time. The benchmarks lock
// the goroutine to its thread and report percentiles of both wall time and
// CPU time per operation: on a machine shared with other busy processes the
// wall-time tail is mostly time spent descheduled, while the CPU-time tail
// is what the code itself costs.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

func reportPercentiles(b *testing.B, d []time.Duration, unit string, scale time.Duration) {
	slices.Sort(d)
	p := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))]) / float64(scale) }
	b.ReportMetric(p(0.50), "p50_"+unit)
	b.ReportMetric(p(0.99), "p99_"+unit)
}

// latency measures op per call in wall and thread-CPU time.
type latency struct{ wall, cpu []time.Duration }

func (l *latency) measure(op func()) {
	c0, t0 := threadCPU(), time.Now()
	op()
	l.wall = append(l.wall, time.Since(t0))
	l.cpu = append(l.cpu, threadCPU()-c0)
}

func (l *latency) report(b *testing.B, unit string, scale time.Duration) {
	reportPercentiles(b, l.wall, "wall_"+unit, scale)
	reportPercentiles(b, l.cpu, "cpu_"+unit, scale)
}

// BenchmarkOnUtterance measures one final utterance through the default
// playbook with phonetic matching on (the budget is 1 ms at p99).
func BenchmarkOnUtterance(b *testing.B) {
	pb, err := LoadPlaybook("../samples/playbook.yaml")
	if err != nil {
		b.Fatal(err)
	}
	if !pb.Phonetic() {
		b.Log("no CMUdict: measuring stem matching only")
	}
	us := benchUtterances(b)
	s := pb.NewSession(SessionConfig{})
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var lat latency
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(us) == 0 {
			s = pb.NewSession(SessionConfig{}) // a new call, so cooldowns do not hide the work
		}
		u := us[i%len(us)]
		lat.measure(func() { s.OnUtterance(u, insights.Sentiment{Score: -0.5}, false) })
	}
	b.StopTimer()
	lat.report(b, "µs/utt", time.Microsecond)
}

// BenchmarkKBSuggest measures one knowledge-base query made of the last
// three caller turns, as the Suggester builds it (budget: 5 ms at p99).
func BenchmarkKBSuggest(b *testing.B) {
	k, err := OpenKBDir("../samples/kb")
	if err != nil {
		b.Fatal(err)
	}
	var caller []string
	for _, u := range benchUtterances(b) {
		if u.Speaker == insights.Caller {
			caller = append(caller, u.Text)
		}
	}
	var queries []string
	for i := range caller {
		lo := max(0, i-2)
		queries = append(queries, strings.Join(caller[lo:i+1], ". "))
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var lat latency
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lat.measure(func() {
			if _, err := k.Suggest(queries[i%len(queries)], 5); err != nil {
				b.Fatal(err)
			}
		})
	}
	b.StopTimer()
	lat.report(b, "ms/query", time.Millisecond)
}

// BenchmarkOpenKB measures building the in-memory index at start.
func BenchmarkOpenKB(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := OpenKBDir("../samples/kb"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseDefaultPlaybook measures compiling the default playbook
// (phrase pronunciations included; the dictionary is loaded before timing).
func BenchmarkParseDefaultPlaybook(b *testing.B) {
	if _, err := DefaultDict(); err != nil {
		b.Skip(err)
	}
	data := mustRead(b, "../samples/playbook.yaml")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ParsePlaybook("playbook.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadDict measures reading CMUdict once (done lazily, once per
// process).
func BenchmarkLoadDict(b *testing.B) {
	systemDict(b)
	for i := 0; i < b.N; i++ {
		if _, err := LoadDict(DefaultDictPath); err != nil {
			b.Fatal(err)
		}
	}
}
