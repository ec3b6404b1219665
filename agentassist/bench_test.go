package agentassist

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/insights"
)

// benchUtterances are the sample calls' truth utterances plus a few long,
// phrase-free ones (the worst case for phonetic matching: nothing matches
// by stem, so every phrase is aligned against every phone).
func benchUtterances(b *testing.B) []insights.Utterance {
	var us []insights.Utterance
	for _, c := range loadSampleCalls(b) {
		for _, s := range c.Segments {
			us = append(us, insights.Utterance{Speaker: insights.Speaker(s.Speaker), Start: secs(s.Start), End: secs(s.End), Text: s.Text})
		}
	}
	long := strings.Repeat("well i was looking at the statement again this morning and honestly the numbers on the second page do not add up ", 2)
	for i := range 5 {
		us = append(us, insights.Utterance{Speaker: insights.Caller, Start: secs(float64(100 + 10*i)), End: secs(float64(108 + 10*i)), Text: long})
	}
	return us
}

func reportPercentiles(b *testing.B, d []time.Duration, unit string, scale time.Duration) {
	slices.Sort(d)
	p := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))]) / float64(scale) }
	b.ReportMetric(p(0.50), "p50_"+unit)
	b.ReportMetric(p(0.99), "p99_"+unit)
	b.ReportMetric(float64(d[len(d)-1])/float64(scale), "max_"+unit)
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
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(us) == 0 {
			s = pb.NewSession(SessionConfig{}) // a new call, so cooldowns do not hide the work
		}
		u := us[i%len(us)]
		t0 := time.Now()
		s.OnUtterance(u, insights.Sentiment{Score: -0.5}, false)
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportPercentiles(b, lat, "µs/utt", time.Microsecond)
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
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := k.Suggest(queries[i%len(queries)], 5); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportPercentiles(b, lat, "ms/query", time.Millisecond)
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
