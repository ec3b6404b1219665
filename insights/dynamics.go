package insights

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// DynamicsConfig tunes conversation-dynamics analysis. The zero value means
// the defaults given on each field.
type DynamicsConfig struct {
	// DeadAir is the shortest stretch with both sides silent that counts as
	// dead air (default 5 s). A silence of exactly DeadAir counts.
	DeadAir time.Duration
	// Overtalk is the shortest overlap of both sides that counts as
	// overtalk (default 500 ms). An overlap of exactly Overtalk counts.
	Overtalk time.Duration
	// Monologue is the run length from which a monologue is reported as an
	// event (default 60 s). The longest run per speaker is always measured.
	Monologue time.Duration
	// MonologueGap is the pause that ends a monologue run (default 3 s):
	// a speaker who pauses for less and then goes on, without the other
	// side taking the floor meanwhile, is still in the same monologue.
	MonologueGap time.Duration
	// Bridge is the pause inside one speaker's speech that does not yield
	// the floor (default 500 ms). Voice activity detectors split sentences
	// at breaths; without bridging, a breath during overlapping speech
	// would read as a fresh interruption by the other side.
	Bridge time.Duration
	// FastWPM is the speaking rate from which the live tracker reports
	// fast speech (default 190 words per minute).
	FastWPM float64
	// WPMWindow is how far back the live tracker looks when measuring a
	// speaker's current rate (default 30 s of call time).
	WPMWindow time.Duration
	// MinWPMWords is the fewest words in the window before fast speech can
	// be reported (default 10): a rate over three words means nothing.
	MinWPMWords int
	// Lag is the latest a voice activity event may arrive after the moment
	// it describes (default 500 ms): the live tracker only settles time up
	// to now-Lag, so that a speech start stamped in the past (onset
	// confirmation) or an end reported after the hangover still lands in
	// order. Set it to the detector's worst-case reporting delay.
	Lag time.Duration
}

func (c DynamicsConfig) withDefaults() DynamicsConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.DeadAir, 5*time.Second)
	def(&c.Overtalk, 500*time.Millisecond)
	def(&c.Monologue, 60*time.Second)
	def(&c.MonologueGap, 3*time.Second)
	def(&c.Bridge, 500*time.Millisecond)
	def(&c.WPMWindow, 30*time.Second)
	def(&c.Lag, 500*time.Millisecond)
	if c.FastWPM <= 0 {
		c.FastWPM = 190
	}
	if c.MinWPMWords <= 0 {
		c.MinWPMWords = 10
	}
	return c
}

// Span is a stretch of call time, in offsets from the call start.
type Span struct {
	Start, End time.Duration
}

// Len returns End-Start.
func (s Span) Len() time.Duration { return s.End - s.Start }

// OvertalkSpan is a stretch where both sides talked. By is the side that
// started talking while the other was already talking; it is NoSpeaker
// when both started at the same instant.
type OvertalkSpan struct {
	Start, End time.Duration
	By         Speaker
}

// MonologueSpan is one run of a speaker's talk without the other side
// taking the floor.
type MonologueSpan struct {
	Speaker    Speaker
	Start, End time.Duration
}

// Dynamics is the conversation-dynamics summary of a call (or, from
// DynamicsTracker.Snapshot, of the call so far).
//
// Definitions, all on the speech segments of the two channels:
//   - Talk is the total length of each side's segments.
//   - Talk is each side's speaking time, pauses shorter than Bridge
//     inside its speech included (a breath between two sentences is part
//     of talking, as a listener hears it).
//   - TalkRatio is Agent talk / (Agent + Caller talk), 0..1; 0 when nobody
//     talked. 0.5 means both talked equally; above means the agent talked more.
//   - DeadAir lists every stretch of at least DeadAir where neither side
//     talks, including from the call start to the first speech and from the
//     last speech to the call end. A stretch the endpoint paused is not
//     silence: it is unknown (AnalyzeDynamicsPaused).
//   - The remaining measures work on "floor" segments: each side's segments
//     with pauses shorter than Bridge filled in.
//   - Overtalk lists every overlap of the two sides' floor segments lasting
//     at least Overtalk. Its By is the side whose segment started later,
//     that is, who started talking while the other was talking.
//   - Interruptions counts, per side, the overtalk spans it caused: the
//     interrupter's floor segment starts strictly inside the other's and
//     the overlap lasts at least Overtalk. Simultaneous starts count for
//     nobody.
//   - A side holds the floor while it is the only one talking; the floor
//     stays with its holder through silence and overlap. Turns counts the
//     changes of floor holder (A→C→A is 2 turns).
//   - ResponseGaps holds, for every change of the floor from caller to
//     agent, the time from the end of the caller's last segment to the start
//     of the agent's segment that took the floor; 0 when the agent started
//     before the caller stopped.
//   - A monologue run is a side's consecutive floor segments with pauses
//     shorter than MonologueGap and no speech by the other side alone in
//     between (speech of the other side entirely overlapped, a backchannel,
//     does not end it). It runs from its first segment's start to its last
//     segment's end. LongestMonologue is the longest run per side;
//     Monologues lists runs of at least Monologue.
//   - WPM is words per minute of talk time per side, filled by AddWPM.
type Dynamics struct {
	Duration         time.Duration
	Talk             BySpeaker[time.Duration]
	TalkRatio        float64
	DeadAir          []Span
	Overtalk         []OvertalkSpan
	Interruptions    BySpeaker[int]
	LongestMonologue BySpeaker[time.Duration]
	Monologues       []MonologueSpan
	Turns            int
	ResponseGaps     []time.Duration
	MeanResponseGap  time.Duration
	MaxResponseGap   time.Duration
	WPM              BySpeaker[float64]
}

// AnalyzeDynamics computes the conversation dynamics of a whole call from
// its speech segments (any order; a side's overlapping or touching segments
// are merged). duration is the call length; it is raised to the last
// segment end if shorter. Segments of unknown speakers or with End <= Start
// are ignored. It does not fill WPM: see AddWPM.
func AnalyzeDynamics(segs []SpeechSegment, duration time.Duration, cfg DynamicsConfig) Dynamics {
	return AnalyzeDynamicsPaused(segs, nil, duration, cfg)
}

// AnalyzeDynamicsPaused is AnalyzeDynamics for a call whose endpoint
// paused it over the paused spans (DynamicsTracker.Paused): whether anyone
// spoke then is unknown, so a paused stretch is not dead air and splits the
// silence around it. Paused spans do not lengthen the call and change no
// other measure.
func AnalyzeDynamicsPaused(segs []SpeechSegment, paused []Span, duration time.Duration, cfg DynamicsConfig) Dynamics {
	cfg = cfg.withDefaults()
	var raw BySpeaker[[]Span]
	for _, s := range segs {
		if !s.Speaker.Valid() || s.End <= s.Start {
			continue
		}
		st := max(s.Start, 0)
		if s.End <= st {
			continue
		}
		p := raw.Ptr(s.Speaker)
		*p = append(*p, Span{st, s.End})
		duration = max(duration, s.End)
	}
	raw.Agent = mergeSpans(raw.Agent, 0)
	raw.Caller = mergeSpans(raw.Caller, 0)

	var d Dynamics
	d.Duration = duration
	for _, sp := range []Speaker{Agent, Caller} {
		for _, s := range mergeSpans(slices.Clone(raw.Of(sp)), cfg.Bridge) {
			*d.Talk.Ptr(sp) += s.Len()
		}
	}
	d.TalkRatio = talkRatio(d.Talk)

	// Dead air: the gaps of the union of both sides and the pauses.
	both := append(slices.Clone(raw.Agent), raw.Caller...)
	for _, s := range paused {
		if s = (Span{max(s.Start, 0), min(s.End, duration)}); s.End > s.Start {
			both = append(both, s)
		}
	}
	both = mergeSpans(both, 0)
	prev := time.Duration(0)
	for _, s := range both {
		if s.Start-prev >= cfg.DeadAir {
			d.DeadAir = append(d.DeadAir, Span{prev, s.Start})
		}
		prev = s.End
	}
	if duration-prev >= cfg.DeadAir {
		d.DeadAir = append(d.DeadAir, Span{prev, duration})
	}

	// Floor measures: sweep the bridged segments' boundaries in time order.
	var bs []boundary
	for _, sp := range []Speaker{Agent, Caller} {
		for _, s := range mergeSpans(slices.Clone(raw.Of(sp)), cfg.Bridge) {
			bs = append(bs, boundary{s.Start, sp, true}, boundary{s.End, sp, false})
		}
	}
	slices.SortFunc(bs, compareBoundary)
	fs := newFloorSweep(cfg)
	for i := 0; i < len(bs); {
		j := i
		for j < len(bs) && bs[j].t == bs[i].t {
			j++
		}
		fs.apply(bs[i].t, bs[i:j])
		i = j
	}
	fs.finish(duration)
	fs.fill(&d, duration)
	return d
}

// talkRatio is the agent's share of all talk, 0 when nobody talked.
func talkRatio(t BySpeaker[time.Duration]) float64 {
	if sum := t.Agent + t.Caller; sum > 0 {
		return float64(t.Agent) / float64(sum)
	}
	return 0
}

// mergeSpans sorts spans and joins those whose gap is below bridge
// (touching or overlapping spans are always joined). It reuses s.
func mergeSpans(s []Span, bridge time.Duration) []Span {
	if len(s) == 0 {
		return nil
	}
	slices.SortFunc(s, func(a, b Span) int { return cmp.Compare(a.Start, b.Start) })
	out := s[:1]
	for _, x := range s[1:] {
		last := &out[len(out)-1]
		if x.Start-last.End < bridge || x.Start <= last.End {
			last.End = max(last.End, x.End)
			continue
		}
		out = append(out, x)
	}
	return out
}

// boundary is a floor segment's start or end.
type boundary struct {
	t     time.Duration
	sp    Speaker
	start bool
}

// compareBoundary orders boundaries by time, ends before starts at the same
// instant (touching segments of the two sides do not overlap), agent first.
func compareBoundary(a, b boundary) int {
	if c := cmp.Compare(a.t, b.t); c != 0 {
		return c
	}
	if a.start != b.start {
		if a.start {
			return 1
		}
		return -1
	}
	return strings.Compare(string(a.sp), string(b.sp))
}

// run is a monologue run in progress.
type run struct {
	active, reported bool
	start, end       time.Duration
}

// floorSweep is the state machine over floor-segment boundaries shared by
// AnalyzeDynamics (fed the whole call at once) and DynamicsTracker (fed as
// time settles). It must see boundaries in compareBoundary order, grouped
// by instant.
type floorSweep struct {
	cfg               DynamicsConfig
	on                BySpeaker[bool]
	segStart, lastEnd BySpeaker[time.Duration]
	overlapping       bool
	overlapReported   bool
	overlapStart      time.Duration
	overlapBy         Speaker
	floor             Speaker
	turns             int
	gaps              []time.Duration
	runs              BySpeaker[run]
	overtalk          []OvertalkSpan
	interruptions     BySpeaker[int]
	monologues        []MonologueSpan
	longest           BySpeaker[time.Duration]
	settled           time.Duration // latest instant handled
	events            []DynamicsEvent
}

func newFloorSweep(cfg DynamicsConfig) *floorSweep {
	return &floorSweep{cfg: cfg, overlapBy: NoSpeaker, floor: NoSpeaker}
}

// take returns and clears the events gathered so far.
func (f *floorSweep) take() []DynamicsEvent {
	ev := f.events
	f.events = nil
	return ev
}

// apply handles every boundary at instant t (ends first, as sorted).
func (f *floorSweep) apply(t time.Duration, group []boundary) {
	f.settled = max(f.settled, t)
	for _, b := range group {
		if b.start {
			continue
		}
		if f.overlapping {
			f.endOverlap(t)
		}
		*f.on.Ptr(b.sp) = false
		*f.lastEnd.Ptr(b.sp) = t
		f.runs.Ptr(b.sp).end = t
	}
	for _, b := range group {
		if !b.start {
			continue
		}
		r := f.runs.Ptr(b.sp)
		if r.active && t-r.end >= f.cfg.MonologueGap {
			f.closeRun(b.sp)
		}
		if !r.active {
			*r = run{active: true, start: t, end: t}
		}
		*f.on.Ptr(b.sp) = true
		*f.segStart.Ptr(b.sp) = t
	}
	if f.on.Agent && f.on.Caller && !f.overlapping {
		f.overlapping, f.overlapReported, f.overlapStart = true, false, t
		switch {
		case f.segStart.Agent > f.segStart.Caller:
			f.overlapBy = Agent
		case f.segStart.Caller > f.segStart.Agent:
			f.overlapBy = Caller
		default:
			f.overlapBy = NoSpeaker
		}
	}
	solo := NoSpeaker
	switch {
	case f.on.Agent && !f.on.Caller:
		solo = Agent
	case f.on.Caller && !f.on.Agent:
		solo = Caller
	}
	if solo == NoSpeaker {
		return
	}
	// Talk by one side alone ends the other side's monologue run; talk
	// entirely overlapped (a backchannel) does not.
	if f.runs.Of(solo.Other()).active {
		f.closeRun(solo.Other())
	}
	if solo != f.floor {
		if f.floor != NoSpeaker {
			f.turns++
			if f.floor == Caller && solo == Agent {
				f.gaps = append(f.gaps, max(0, f.segStart.Agent-f.lastEnd.Caller))
			}
		}
		f.floor = solo
	}
}

func (f *floorSweep) endOverlap(t time.Duration) {
	f.overlapping = false
	if t-f.overlapStart < f.cfg.Overtalk {
		return
	}
	f.overtalk = append(f.overtalk, OvertalkSpan{f.overlapStart, t, f.overlapBy})
	if f.overlapBy != NoSpeaker {
		*f.interruptions.Ptr(f.overlapBy) += 1
	}
	f.events = append(f.events, DynamicsEvent{Kind: Overtalk, Speaker: f.overlapBy, Start: f.overlapStart, End: t})
}

func (f *floorSweep) closeRun(sp Speaker) {
	r := f.runs.Ptr(sp)
	if !r.active {
		return
	}
	r.active = false
	n := r.end - r.start
	if n > f.longest.Of(sp) {
		*f.longest.Ptr(sp) = n
	}
	if n >= f.cfg.Monologue {
		f.monologues = append(f.monologues, MonologueSpan{sp, r.start, r.end})
		f.events = append(f.events, DynamicsEvent{Kind: Monologue, Speaker: sp, Start: r.start, End: r.end})
	}
}

// advance settles time up to h with no boundary before it left unhandled:
// it reports overtalk and monologues passing their thresholds while they
// last, and closes runs whose pause has grown to MonologueGap.
func (f *floorSweep) advance(h time.Duration) {
	if h < f.settled {
		return
	}
	f.settled = h
	if f.overlapping && !f.overlapReported && h-f.overlapStart >= f.cfg.Overtalk {
		f.overlapReported = true
		f.events = append(f.events, DynamicsEvent{Kind: Overtalk, Speaker: f.overlapBy, Start: f.overlapStart, End: h, Ongoing: true})
	}
	for _, sp := range []Speaker{Agent, Caller} {
		r := f.runs.Ptr(sp)
		if !r.active {
			continue
		}
		if f.on.Of(sp) {
			if !r.reported && h-r.start >= f.cfg.Monologue {
				r.reported = true
				f.events = append(f.events, DynamicsEvent{Kind: Monologue, Speaker: sp, Start: r.start, End: h, Ongoing: true})
			}
		} else if h-r.end >= f.cfg.MonologueGap {
			f.closeRun(sp)
		}
	}
}

// finish ends the call at d: open segments end there and runs close.
func (f *floorSweep) finish(d time.Duration) {
	var ends []boundary
	for _, sp := range []Speaker{Agent, Caller} {
		if f.on.Of(sp) {
			ends = append(ends, boundary{d, sp, false})
		}
	}
	if len(ends) > 0 {
		f.apply(d, ends)
	}
	f.closeRun(Agent)
	f.closeRun(Caller)
}

// fill copies the floor measures into d; runs still open count up to now.
func (f *floorSweep) fill(d *Dynamics, now time.Duration) {
	d.Overtalk = slices.Clone(f.overtalk)
	d.Interruptions = f.interruptions
	d.Monologues = slices.Clone(f.monologues)
	d.Turns = f.turns
	d.ResponseGaps = slices.Clone(f.gaps)
	d.MeanResponseGap, d.MaxResponseGap = 0, 0
	if len(f.gaps) > 0 {
		var sum time.Duration
		for _, g := range f.gaps {
			sum += g
			d.MaxResponseGap = max(d.MaxResponseGap, g)
		}
		d.MeanResponseGap = sum / time.Duration(len(f.gaps))
	}
	d.LongestMonologue = f.longest
	for _, sp := range []Speaker{Agent, Caller} {
		r := f.runs.Of(sp)
		if !r.active {
			continue
		}
		end := r.end
		if f.on.Of(sp) {
			end = max(end, now)
		}
		if n := end - r.start; n > d.LongestMonologue.Of(sp) {
			*d.LongestMonologue.Ptr(sp) = n
		}
	}
}
