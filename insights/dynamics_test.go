package insights

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/stt"
)

// sec converts seconds to a Duration exactly enough for millisecond tests.
func sec(s float64) time.Duration { return time.Duration(s*1000+0.5) * time.Millisecond }

func seg(sp Speaker, start, end float64) SpeechSegment {
	return SpeechSegment{Speaker: sp, Start: sec(start), End: sec(end)}
}

func TestAnalyzeDynamics(t *testing.T) {
	A, C := Agent, Caller
	tests := []struct {
		name     string
		segs     []SpeechSegment
		paused   []Span
		duration float64
		check    func(t *testing.T, d Dynamics)
	}{
		{
			name: "a silence of exactly the threshold is dead air",
			segs: []SpeechSegment{seg(A, 0, 2), seg(C, 7, 9)}, duration: 9,
			check: func(t *testing.T, d Dynamics) {
				wantSpans(t, d.DeadAir, []Span{{sec(2), sec(7)}})
			},
		},
		{
			name: "a silence 10 ms under the threshold is not dead air",
			segs: []SpeechSegment{seg(A, 0, 2), seg(C, 6.99, 9)}, duration: 9,
			check: func(t *testing.T, d Dynamics) { wantSpans(t, d.DeadAir, nil) },
		},
		{
			name: "dead air counts from the call start and until the call end",
			segs: []SpeechSegment{seg(A, 6, 8)}, duration: 14,
			check: func(t *testing.T, d Dynamics) {
				wantSpans(t, d.DeadAir, []Span{{0, sec(6)}, {sec(8), sec(14)}})
			},
		},
		{
			name: "one side talking is not dead air even when the other is silent",
			segs: []SpeechSegment{seg(A, 0, 20), seg(C, 21, 22)}, duration: 22,
			check: func(t *testing.T, d Dynamics) { wantSpans(t, d.DeadAir, nil) },
		},
		{
			name: "the agent starting inside the caller's speech is overtalk and an interruption by the agent",
			segs: []SpeechSegment{seg(C, 0, 5), seg(A, 4, 6)}, duration: 6,
			check: func(t *testing.T, d Dynamics) {
				wantOvertalk(t, d.Overtalk, []OvertalkSpan{{sec(4), sec(5), A}})
				wantInts(t, "interruptions", d.Interruptions, 1, 0)
				if d.Turns != 1 {
					t.Errorf("turns = %d, want 1", d.Turns)
				}
				wantDurations(t, "response gaps", d.ResponseGaps, []time.Duration{0})
			},
		},
		{
			name: "the caller starting inside the agent's speech is an interruption by the caller",
			segs: []SpeechSegment{seg(A, 0, 5), seg(C, 3, 8)}, duration: 8,
			check: func(t *testing.T, d Dynamics) {
				wantOvertalk(t, d.Overtalk, []OvertalkSpan{{sec(3), sec(5), C}})
				wantInts(t, "interruptions", d.Interruptions, 0, 1)
				wantDurations(t, "response gaps", d.ResponseGaps, nil)
			},
		},
		{
			name: "an overlap of exactly the minimum counts",
			segs: []SpeechSegment{seg(C, 0, 5), seg(A, 4.5, 6)}, duration: 6,
			check: func(t *testing.T, d Dynamics) {
				wantOvertalk(t, d.Overtalk, []OvertalkSpan{{sec(4.5), sec(5), A}})
			},
		},
		{
			name: "an overlap under the minimum is neither overtalk nor an interruption",
			segs: []SpeechSegment{seg(C, 0, 5), seg(A, 4.6, 6)}, duration: 6,
			check: func(t *testing.T, d Dynamics) {
				wantOvertalk(t, d.Overtalk, nil)
				wantInts(t, "interruptions", d.Interruptions, 0, 0)
			},
		},
		{
			name: "a simultaneous start is overtalk by nobody",
			segs: []SpeechSegment{seg(A, 1, 3), seg(C, 1, 2)}, duration: 3,
			check: func(t *testing.T, d Dynamics) {
				wantOvertalk(t, d.Overtalk, []OvertalkSpan{{sec(1), sec(2), NoSpeaker}})
				wantInts(t, "interruptions", d.Interruptions, 0, 0)
				if d.Turns != 0 {
					t.Errorf("turns = %d, want 0", d.Turns)
				}
			},
		},
		{
			name: "a breath in the caller's speech does not make a second interruption",
			segs: []SpeechSegment{seg(C, 0, 3), seg(C, 3.3, 6), seg(A, 2, 4)}, duration: 6,
			check: func(t *testing.T, d Dynamics) {
				wantOvertalk(t, d.Overtalk, []OvertalkSpan{{sec(2), sec(4), A}})
				wantInts(t, "interruptions", d.Interruptions, 1, 0)
				wantSeconds(t, "caller talk", d.Talk.Caller, 6) // the 0.3 s breath is talk
			},
		},
		{
			name: "a backchannel inside the caller's speech changes no turn and keeps the monologue",
			segs: []SpeechSegment{seg(C, 0, 10), seg(A, 3, 3.4)}, duration: 10,
			check: func(t *testing.T, d Dynamics) {
				wantOvertalk(t, d.Overtalk, nil)
				if d.Turns != 0 {
					t.Errorf("turns = %d, want 0", d.Turns)
				}
				wantSeconds(t, "caller longest monologue", d.LongestMonologue.Caller, 10)
				wantSeconds(t, "agent longest monologue", d.LongestMonologue.Agent, 0.4)
			},
		},
		{
			name: "pauses under the monologue gap join a monologue past the threshold",
			segs: []SpeechSegment{seg(A, 0, 30), seg(A, 31, 62), seg(C, 63, 64)}, duration: 64,
			check: func(t *testing.T, d Dynamics) {
				wantSeconds(t, "agent longest monologue", d.LongestMonologue.Agent, 62)
				if want := []MonologueSpan{{A, 0, sec(62)}}; !slices.Equal(d.Monologues, want) {
					t.Errorf("monologues = %v, want %v", d.Monologues, want)
				}
			},
		},
		{
			name: "a pause of exactly the monologue gap ends the run",
			segs: []SpeechSegment{seg(A, 0, 30), seg(A, 33, 50)}, duration: 50,
			check: func(t *testing.T, d Dynamics) {
				wantSeconds(t, "agent longest monologue", d.LongestMonologue.Agent, 30)
				if len(d.Monologues) != 0 {
					t.Errorf("monologues = %v, want none", d.Monologues)
				}
			},
		},
		{
			name: "the other side taking the floor ends a monologue run",
			segs: []SpeechSegment{seg(A, 0, 20), seg(C, 20.5, 21), seg(A, 21.5, 40)}, duration: 40,
			check: func(t *testing.T, d Dynamics) {
				wantSeconds(t, "agent longest monologue", d.LongestMonologue.Agent, 20)
				if d.Turns != 2 {
					t.Errorf("turns = %d, want 2", d.Turns)
				}
			},
		},
		{
			name: "turns and agent response gaps follow each change of floor",
			segs: []SpeechSegment{seg(A, 0, 2), seg(C, 2.5, 5), seg(A, 5.8, 8), seg(C, 8.2, 10), seg(A, 12, 13)}, duration: 13,
			check: func(t *testing.T, d Dynamics) {
				if d.Turns != 4 {
					t.Errorf("turns = %d, want 4", d.Turns)
				}
				wantDurations(t, "response gaps", d.ResponseGaps, []time.Duration{sec(0.8), sec(2)})
				wantSeconds(t, "mean response gap", d.MeanResponseGap, 1.4)
				wantSeconds(t, "max response gap", d.MaxResponseGap, 2)
			},
		},
		{
			name: "talk ratio is the agent's share of all talk",
			segs: []SpeechSegment{seg(A, 0, 3), seg(C, 3.5, 4.5)}, duration: 5,
			check: func(t *testing.T, d Dynamics) {
				if d.TalkRatio != 0.75 {
					t.Errorf("talk ratio = %v, want 0.75", d.TalkRatio)
				}
				wantSeconds(t, "agent talk", d.Talk.Agent, 3)
				wantSeconds(t, "caller talk", d.Talk.Caller, 1)
			},
		},
		{
			name: "a silent call is all dead air with a zero talk ratio",
			segs: nil, duration: 6,
			check: func(t *testing.T, d Dynamics) {
				wantSpans(t, d.DeadAir, []Span{{0, sec(6)}})
				if d.TalkRatio != 0 {
					t.Errorf("talk ratio = %v, want 0", d.TalkRatio)
				}
			},
		},
		{
			name: "a hold with no pause reported is dead air",
			segs: []SpeechSegment{seg(A, 0, 2), seg(C, 24, 26)}, duration: 26,
			check: func(t *testing.T, d Dynamics) { wantSpans(t, d.DeadAir, []Span{{sec(2), sec(24)}}) },
		},
		{
			name: "the same stretch reported as paused is not dead air, nor the short silences around it",
			segs: []SpeechSegment{seg(A, 0, 2), seg(C, 24, 26)}, paused: []Span{{sec(3), sec(23)}}, duration: 26,
			check: func(t *testing.T, d Dynamics) {
				wantSpans(t, d.DeadAir, nil)
				wantSeconds(t, "agent talk", d.Talk.Agent, 2)
				wantSeconds(t, "caller talk", d.Talk.Caller, 2)
			},
		},
		{
			name: "a long silence before a pause is still dead air, up to the pause",
			segs: []SpeechSegment{seg(A, 0, 2), seg(C, 29, 30)}, paused: []Span{{sec(8), sec(28)}}, duration: 30,
			check: func(t *testing.T, d Dynamics) { wantSpans(t, d.DeadAir, []Span{{sec(2), sec(8)}}) },
		},
		{
			name: "a pause running past the end neither lengthens the call nor leaves dead air at its end",
			segs: []SpeechSegment{seg(A, 0, 2)}, paused: []Span{{sec(3), sec(40)}}, duration: 20,
			check: func(t *testing.T, d Dynamics) {
				wantSeconds(t, "duration", d.Duration, 20)
				wantSpans(t, d.DeadAir, nil)
			},
		},
		{
			name: "segments past the given duration extend the call",
			segs: []SpeechSegment{seg(A, 0, 1), seg(C, 7, 8)}, duration: 3,
			check: func(t *testing.T, d Dynamics) {
				wantSeconds(t, "duration", d.Duration, 8)
				wantSpans(t, d.DeadAir, []Span{{sec(1), sec(7)}})
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := AnalyzeDynamicsPaused(tc.segs, tc.paused, sec(tc.duration), DynamicsConfig{})
			tc.check(t, d)
			// The live tracker, fed the same segments and pauses with the
			// largest allowed lag, must agree.
			compareTracker(t, tc.segs, tc.paused, sec(tc.duration), DynamicsConfig{}, rand.New(rand.NewPCG(1, 2)))
		})
	}
}

func wantSpans(t *testing.T, got, want []Span) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("dead air = %v, want %v", got, want)
	}
}

func wantOvertalk(t *testing.T, got, want []OvertalkSpan) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("overtalk = %v, want %v", got, want)
	}
}

func wantInts(t *testing.T, what string, got BySpeaker[int], agent, caller int) {
	t.Helper()
	if got.Agent != agent || got.Caller != caller {
		t.Errorf("%s = agent %d caller %d, want %d %d", what, got.Agent, got.Caller, agent, caller)
	}
}

func wantDurations(t *testing.T, what string, got, want []time.Duration) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func wantSeconds(t *testing.T, what string, got time.Duration, want float64) {
	t.Helper()
	if got != sec(want) {
		t.Errorf("%s = %v, want %vs", what, got, want)
	}
}

func TestDynamicsJSONHasTheAgreedFieldNames(t *testing.T) {
	d := AnalyzeDynamics([]SpeechSegment{seg(Caller, 0, 5), seg(Agent, 4, 6.0004), seg(Caller, 12, 13)}, sec(13), DynamicsConfig{})
	d.AddWPM([]Utterance{{Speaker: Agent, Start: sec(4), End: sec(6), Text: "one two three four five"}})
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"dead_air", "interruptions", "longest_monologue_s", "mean_response_gap_s", "overtalk", "response_gaps_s", "talk_ratio", "talk_s", "turns", "wpm"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys = %v, want %v", keys, want)
	}
	s := string(b)
	for _, frag := range []string{
		`"talk_s":{"agent":2,"caller":6}`,
		`"dead_air":[{"start":6,"end":12}]`,
		`"overtalk":[{"start":4,"end":5,"by":"agent"}]`,
		`"interruptions":{"agent":1,"caller":0}`,
		`"response_gaps_s":[0]`,
		`"wpm":{"agent":150,"caller":0}`,
	} {
		if !strings.Contains(s, frag) {
			t.Errorf("JSON %s lacks %s", s, frag)
		}
	}
	var back Dynamics
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(back)
	if string(b2) != s {
		t.Errorf("round trip changed the JSON:\n%s\n%s", s, b2)
	}
	empty, _ := json.Marshal(Dynamics{})
	if strings.Contains(string(empty), "null") {
		t.Errorf("empty dynamics has null lists: %s", empty)
	}
}

func TestAddWPMUsesWordTimings(t *testing.T) {
	words := func(n int, start, each float64) []stt.Word {
		var w []stt.Word
		for i := range n {
			w = append(w, stt.Word{Text: "word", Start: sec(start + float64(i)*each), End: sec(start + float64(i+1)*each)})
		}
		return w
	}
	var d Dynamics
	d.AddWPM([]Utterance{
		// 10 words in 3 s of words inside a padded 5 s utterance: 200 wpm.
		{Speaker: Caller, Start: sec(0), End: sec(5), Words: append([]stt.Word{{Text: "<sil>", Start: 0, End: sec(1)}}, words(10, 1, 0.3)...)},
		{Speaker: Agent, Start: sec(6), End: sec(9), Text: "i can help you with that today"},
	})
	if got := round(d.WPM.Caller, 10); got != 200 {
		t.Errorf("caller wpm = %v, want 200", got)
	}
	if got := round(d.WPM.Agent, 10); got != 140 {
		t.Errorf("agent wpm = %v, want 140", got)
	}
}

// compareTracker feeds segs to a DynamicsTracker as a voice activity
// detector would (each start and end reported up to cfg.Lag late, ticks in
// between), and each paused span up to cfg.Lag after it began, and fails
// unless its final events and snapshot equal AnalyzeDynamicsPaused.
func compareTracker(t *testing.T, segs []SpeechSegment, paused []Span, duration time.Duration, cfg DynamicsConfig, rng *rand.Rand) {
	t.Helper()
	want := AnalyzeDynamicsPaused(segs, paused, duration, cfg)
	lag := cfg.withDefaults().Lag
	type report struct {
		at, t time.Duration
		sp    Speaker
		start bool
		pause Span
	}
	var reps []report
	for _, p := range paused {
		reps = append(reps, report{at: p.Start + time.Duration(rng.Int64N(int64(lag)+1)), sp: NoSpeaker, pause: p})
	}
	for _, sp := range []Speaker{Agent, Caller} {
		var own []SpeechSegment
		for _, s := range segs {
			if s.Speaker == sp {
				own = append(own, s)
			}
		}
		slices.SortFunc(own, func(a, b SpeechSegment) int { return int(a.Start - b.Start) })
		last := time.Duration(0)
		for _, s := range own {
			for _, e := range []struct {
				t     time.Duration
				start bool
			}{{s.Start, true}, {s.End, false}} {
				at := max(last, e.t+time.Duration(rng.Int64N(int64(lag)+1)))
				last = at
				reps = append(reps, report{at: at, t: e.t, sp: sp, start: e.start})
			}
		}
	}
	slices.SortStableFunc(reps, func(a, b report) int { return int(a.at - b.at) })
	tr := NewDynamicsTracker(cfg)
	var events []DynamicsEvent
	tick := time.Duration(0)
	for _, r := range reps {
		for ; tick < r.at; tick += sec(0.1) + time.Duration(rng.Int64N(int64(sec(0.2)))) {
			events = append(events, tr.Tick(tick)...)
		}
		var ev []DynamicsEvent
		var err error
		if r.sp == NoSpeaker {
			tr.Paused(r.pause.Start, r.pause.End)
			continue
		}
		if r.start {
			ev, err = tr.SpeechStart(r.sp, r.t, r.at)
		} else {
			ev, err = tr.SpeechEnd(r.sp, r.t, r.at)
		}
		if err != nil {
			t.Fatalf("tracker refused %+v: %v", r, err)
		}
		events = append(events, ev...)
	}
	events = append(events, tr.Finish(duration)...)
	got := tr.Snapshot()

	var deadAir []Span
	var overtalk []OvertalkSpan
	var monologues []MonologueSpan
	ongoing := map[DynamicsEventKind]int{}
	for _, e := range events {
		if e.Ongoing {
			ongoing[e.Kind]++
			continue
		}
		switch e.Kind {
		case DeadAir:
			deadAir = append(deadAir, Span{e.Start, e.End})
		case Overtalk:
			overtalk = append(overtalk, OvertalkSpan{e.Start, e.End, e.Speaker})
		case Monologue:
			monologues = append(monologues, MonologueSpan{e.Speaker, e.Start, e.End})
		}
	}
	sortMono := func(m []MonologueSpan) []MonologueSpan {
		m = slices.Clone(m)
		slices.SortFunc(m, func(a, b MonologueSpan) int { return int(a.Start - b.Start) })
		return m
	}
	switch {
	case !slices.Equal(deadAir, want.DeadAir):
		t.Errorf("tracker dead air events %v, offline %v", deadAir, want.DeadAir)
	case !slices.Equal(overtalk, want.Overtalk):
		t.Errorf("tracker overtalk events %v, offline %v", overtalk, want.Overtalk)
	case !slices.Equal(sortMono(monologues), sortMono(want.Monologues)):
		t.Errorf("tracker monologue events %v, offline %v", monologues, want.Monologues)
	case !slices.Equal(got.DeadAir, want.DeadAir) || !slices.Equal(got.Overtalk, want.Overtalk):
		t.Errorf("tracker snapshot lists differ: %+v, offline %+v", got, want)
	case got.Talk != want.Talk || got.Turns != want.Turns || got.Interruptions != want.Interruptions ||
		got.LongestMonologue != want.LongestMonologue || !slices.Equal(got.ResponseGaps, want.ResponseGaps) ||
		got.MeanResponseGap != want.MeanResponseGap || got.TalkRatio != want.TalkRatio || got.Duration != want.Duration:
		t.Errorf("tracker snapshot %+v, offline %+v", got, want)
	}
	// Every ongoing report must be followed by its final one.
	for _, k := range []DynamicsEventKind{DeadAir, Overtalk, Monologue} {
		finals := map[DynamicsEventKind]int{DeadAir: len(deadAir), Overtalk: len(overtalk), Monologue: len(monologues)}[k]
		if ongoing[k] > finals {
			t.Errorf("%d ongoing %s events but only %d final", ongoing[k], k, finals)
		}
	}
	if t.Failed() {
		t.Logf("segments: %v", segs)
		t.Logf("paused: %v", paused)
		t.Logf("events: %v", events)
	}
}

// randomCall makes a call of alternating turns with pauses, overlaps,
// breaths, backchannels, long silences and long monologues.
func randomCall(rng *rand.Rand) ([]SpeechSegment, time.Duration) {
	var segs []SpeechSegment
	var last BySpeaker[time.Duration]
	ms := func(lo, hi int) time.Duration { return time.Duration(lo+rng.IntN(hi-lo+1)) * time.Millisecond }
	now := ms(0, 8000)
	sp := Agent
	if rng.IntN(2) == 0 {
		sp = Caller
	}
	add := func(sp Speaker, start, end time.Duration) {
		start = max(start, last.Of(sp)+ms(1, 300))
		if end <= start {
			return
		}
		segs = append(segs, SpeechSegment{sp, start, end})
		*last.Ptr(sp) = end
	}
	for range 4 + rng.IntN(30) {
		var l time.Duration
		if rng.IntN(10) == 0 {
			l = ms(20000, 80000) // a long talk, split by breaths
		} else {
			l = ms(200, 9000)
		}
		start, end := now, now+l
		for s := start; s < end; {
			e := min(end, s+ms(300, 15000))
			add(sp, s, e)
			s = e + ms(50, 4000)
		}
		if rng.IntN(4) == 0 { // a backchannel or an interruption
			bs := start + ms(0, int(l/time.Millisecond))
			add(sp.Other(), bs, bs+ms(100, 3000))
		}
		switch rng.IntN(6) {
		case 0:
			now = end - ms(0, 1500) // overlap at the turn
		case 1:
			now = end + ms(4000, 12000) // dead air
		default:
			now = end + ms(0, 2500)
		}
		now = max(now, 0)
		sp = sp.Other()
	}
	var end time.Duration
	for _, s := range segs {
		end = max(end, s.End)
	}
	return segs, end + ms(0, 9000)
}

// randomPauses makes up to three paused stretches of 1-25 s starting
// anywhere in a call of length d, some running past its end.
func randomPauses(rng *rand.Rand, d time.Duration) []Span {
	var out []Span
	for range rng.IntN(4) {
		start := time.Duration(rng.Int64N(int64(d)))
		out = append(out, Span{start, start + time.Second + time.Duration(rng.Int64N(int64(24*time.Second)))})
	}
	return out
}

func TestTrackerMatchesOfflineOnGeneratedCalls(t *testing.T) {
	for i := range 300 {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		segs, d := randomCall(rng)
		var paused []Span
		if i%2 == 1 { // every other call paused, with a generator of its own
			paused = randomPauses(rand.New(rand.NewPCG(uint64(i), 11)), d)
		}
		compareTracker(t, segs, paused, d, DynamicsConfig{}, rng)
		if t.Failed() {
			t.Fatalf("generated call %d", i)
		}
	}
}

func TestTrackerReportsOngoingEventsOnTime(t *testing.T) {
	cfg := DynamicsConfig{Lag: sec(0.5)}
	tr := NewDynamicsTracker(cfg)
	must := func(ev []DynamicsEvent, err error) []DynamicsEvent {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	must(tr.SpeechStart(Agent, sec(1), sec(1.1)))
	must(tr.SpeechEnd(Agent, sec(2), sec(2.3)))
	// Silence since 2 s: dead air passes 5 s at 7 s, settled at 7.5 s.
	if ev := tr.Tick(sec(7.49)); len(ev) != 0 {
		t.Fatalf("events before the dead-air threshold settled: %v", ev)
	}
	ev := tr.Tick(sec(7.5))
	if len(ev) != 1 || ev[0].Kind != DeadAir || !ev[0].Ongoing || ev[0].Start != sec(2) {
		t.Fatalf("at 7.5 s got %v, want one ongoing dead air from 2 s", ev)
	}
	ev = must(tr.SpeechStart(Caller, sec(9), sec(9.1)))
	ev = append(ev, tr.Tick(sec(9.6))...)
	if len(ev) != 1 || ev[0].Kind != DeadAir || ev[0].Ongoing || ev[0].End != sec(9) {
		t.Fatalf("after the caller spoke got %v, want the final dead air 2-9 s", ev)
	}
	// The agent talks over the caller from 10 s; overtalk passes 0.5 s at
	// 10.5 s, settled after Lag and Bridge at 11.5 s.
	must(tr.SpeechStart(Agent, sec(10), sec(10.1)))
	if ev := tr.Tick(sec(11.4)); len(ev) != 0 {
		t.Fatalf("overtalk reported before it settled: %v", ev)
	}
	ev = tr.Tick(sec(11.5))
	if len(ev) != 1 || ev[0].Kind != Overtalk || ev[0].Speaker != Agent || !ev[0].Ongoing {
		t.Fatalf("at 11.5 s got %v, want ongoing overtalk by the agent", ev)
	}
	snap := tr.Snapshot()
	if snap.Talk.Agent != sec(1)+sec(1) {
		t.Errorf("snapshot agent talk %v, want 2s (1 s closed + 1 s open up to 11 s)", snap.Talk.Agent)
	}
	if _, err := tr.SpeechStart(Agent, sec(12), sec(12)); err == nil {
		t.Error("a second start for a speaking agent was accepted")
	}
	if _, err := tr.SpeechEnd(Speaker(7), sec(12), sec(12)); err == nil {
		t.Error("an unknown speaker was accepted")
	}
}

func TestTrackerReportsFastSpeechOnceUntilItSlows(t *testing.T) {
	tr := NewDynamicsTracker(DynamicsConfig{})
	utt := func(start, end float64, n int) Utterance {
		return Utterance{Speaker: Agent, Start: sec(start), End: sec(end), Text: strings.TrimSpace(strings.Repeat("word ", n))}
	}
	if ev := tr.AddUtterance(utt(0, 2, 7)); len(ev) != 0 { // 210 wpm but only 7 words
		t.Fatalf("fast speech on too few words: %v", ev)
	}
	ev := tr.AddUtterance(utt(3, 4, 4)) // 11 words in 3 s: 220 wpm
	if len(ev) != 1 || ev[0].Kind != FastSpeech || ev[0].Value != 220 {
		t.Fatalf("got %v, want one fast-speech event at 220 wpm", ev)
	}
	if ev := tr.AddUtterance(utt(5, 6, 4)); len(ev) != 0 {
		t.Fatalf("fast speech repeated while still fast: %v", ev)
	}
	tr.AddUtterance(utt(40, 42, 3))                           // the window now holds 90 wpm
	if ev := tr.AddUtterance(utt(43, 46, 14)); len(ev) != 1 { // 17 words in 5 s: 204 wpm
		t.Fatalf("fast speech after slowing down not reported again: %v", ev)
	}
}

func FuzzDynamicsTracker(f *testing.F) {
	f.Add([]byte{0, 10, 50, 1, 40, 60, 0, 70, 200, 1, 255, 255})
	f.Add([]byte{1, 0, 3, 0, 2, 9, 1, 3, 1, 0, 9, 250, 1, 200, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		// Each 3 bytes: speaker, gap after the speaker's previous segment
		// (×100 ms), length (×100 ms).
		var segs []SpeechSegment
		var last BySpeaker[time.Duration]
		var end time.Duration
		for i := 0; i+2 < len(data) && len(segs) < 200; i += 3 {
			sp := Agent
			if data[i]&1 == 1 {
				sp = Caller
			}
			start := last.Of(sp) + time.Duration(data[i+1]%100+1)*100*time.Millisecond
			s := SpeechSegment{sp, start, start + time.Duration(data[i+2]%100+1)*100*time.Millisecond}
			*last.Ptr(sp) = s.End
			end = max(end, s.End)
			segs = append(segs, s)
		}
		compareTracker(t, segs, nil, end+time.Second, DynamicsConfig{}, rand.New(rand.NewPCG(uint64(len(data)), 3)))
	})
}
