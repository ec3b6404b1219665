package insights

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// rawEvent is a voice-activity start or end waiting for its time to settle;
// with sp NoSpeaker, a pause's start or end (DynamicsTracker.Paused).
type rawEvent struct {
	t     time.Duration
	sp    Speaker
	start bool
}

// DynamicsTracker follows conversation dynamics live, one per call. Feed it
// each channel's speech starts and ends as the voice activity detector
// reports them, Tick it regularly (every frame or every few hundred ms),
// add final utterances for speaking rate, and call Finish at the end.
//
// Events may be stamped up to cfg.Lag before the call time at which they
// arrive; the tracker settles time only up to now-Lag, and its floor
// measures another Bridge behind that (a pause only counts once it has
// lasted Bridge), so live events come Lag (+Bridge) after the moment they
// describe. Fed within that lag, the final events and the Snapshot after
// Finish equal AnalyzeDynamicsPaused on the same segments and pauses. An
// event stamped earlier than already-settled time is moved to the settled
// time.
//
// Ongoing dead air, overtalk and monologues are reported once with Ongoing
// set when they pass their threshold, and again with their final End (and
// Ongoing false) when they stop. It is not safe for concurrent use: the
// call session that owns it calls it from one goroutine.
type DynamicsTracker struct {
	cfg      DynamicsConfig
	queue    []rawEvent // sorted, not yet settled
	done     time.Duration
	finished bool
	opened   BySpeaker[bool]          // a start was observed and no end yet
	openedAt BySpeaker[time.Duration] // its time

	// Raw (settled) state.
	rawOn        BySpeaker[bool]
	rawStart     BySpeaker[time.Duration]
	talk         BySpeaker[time.Duration]
	silenceStart time.Duration
	deadReported bool
	paused       int // pauses open: the stretch is not silence
	deadAir      []Span

	// Bridging: a settled end that a quick restart may still cancel.
	pendEnd   BySpeaker[bool]
	pendEndAt BySpeaker[time.Duration]
	bridgedOn BySpeaker[bool]
	floorQ    []boundary // bridged boundaries not yet swept
	floor     *floorSweep

	// Speaking rate.
	rates     BySpeaker[[]rateSample]
	words     BySpeaker[int]
	span      BySpeaker[time.Duration]
	fast      BySpeaker[bool]
	lastFloor time.Duration

	out []DynamicsEvent
}

// NewDynamicsTracker returns a tracker for one call starting at offset 0.
func NewDynamicsTracker(cfg DynamicsConfig) *DynamicsTracker {
	cfg = cfg.withDefaults()
	return &DynamicsTracker{cfg: cfg, floor: newFloorSweep(cfg)}
}

// SpeechStart records that sp started speaking at start (which may be
// before at, the current call time, by up to cfg.Lag) and returns the
// events that settled meanwhile. It returns an error wrapping
// ErrUnknownSpeaker or ErrSpeechState (sp is already speaking) and then
// changes nothing.
func (t *DynamicsTracker) SpeechStart(sp Speaker, start, at time.Duration) ([]DynamicsEvent, error) {
	if !sp.Valid() {
		return nil, fmt.Errorf("insights: speech start of %q: %w", sp, ErrUnknownSpeaker)
	}
	if t.finished {
		return nil, nil
	}
	if t.opened.Of(sp) {
		return nil, fmt.Errorf("insights: %s starts at %v while speaking since %v: %w", sp, start, t.openedAt.Of(sp), ErrSpeechState)
	}
	start = max(start, t.done, 0)
	*t.opened.Ptr(sp), *t.openedAt.Ptr(sp) = true, start
	t.enqueue(rawEvent{start, sp, true})
	return t.Tick(at), nil
}

// SpeechEnd records that sp stopped speaking at end (the real end, before
// any hangover; up to cfg.Lag before at) and returns the events that
// settled meanwhile. An end at or before its start cancels the segment. It
// returns an error wrapping ErrUnknownSpeaker or ErrSpeechState (sp is not
// speaking) and then changes nothing.
func (t *DynamicsTracker) SpeechEnd(sp Speaker, end, at time.Duration) ([]DynamicsEvent, error) {
	if !sp.Valid() {
		return nil, fmt.Errorf("insights: speech end of %q: %w", sp, ErrUnknownSpeaker)
	}
	if t.finished {
		return nil, nil
	}
	if !t.opened.Of(sp) {
		return nil, fmt.Errorf("insights: %s ends at %v without speaking: %w", sp, end, ErrSpeechState)
	}
	*t.opened.Ptr(sp) = false
	start := t.openedAt.Of(sp)
	end = max(end, t.done)
	if end <= start {
		// An empty segment: drop its start if it has not settled yet,
		// otherwise close it at once.
		if i := slices.Index(t.queue, rawEvent{start, sp, true}); i >= 0 {
			t.queue = slices.Delete(t.queue, i, i+1)
			return t.Tick(at), nil
		}
		end = start
	}
	t.enqueue(rawEvent{end, sp, false})
	return t.Tick(at), nil
}

// Paused records that the call's audio from..to was paused by its endpoint
// (an agent stopping capture while a card is read): nobody knows whether
// anyone spoke, so the stretch is not silence. Dead air neither spans it
// nor counts it: silence before it ends at from, silence after it starts at
// to. Talk, floor and the other measures are not affected. from may be up
// to cfg.Lag before the current call time, like a speech start; a pause
// reported later only covers time not yet settled. Overlapping or repeated
// pauses are fine. The events it causes come with the next Tick.
func (t *DynamicsTracker) Paused(from, to time.Duration) {
	if t.finished {
		return
	}
	from = max(from, t.done, 0)
	if to <= from {
		return
	}
	t.enqueue(rawEvent{from, NoSpeaker, true})
	t.enqueue(rawEvent{to, NoSpeaker, false})
}

func (t *DynamicsTracker) enqueue(e rawEvent) {
	i, _ := slices.BinarySearchFunc(t.queue, e, func(a, b rawEvent) int {
		return compareBoundary(boundary(a), boundary(b))
	})
	t.queue = slices.Insert(t.queue, i, e)
}

// Tick settles time up to at-cfg.Lag and returns the events that happened
// by then: dead air, overtalk and monologues passing their thresholds while
// still running, and those that ended.
func (t *DynamicsTracker) Tick(at time.Duration) []DynamicsEvent {
	if t.finished {
		return nil
	}
	t.settle(at - t.cfg.Lag)
	return t.take()
}

func (t *DynamicsTracker) take() []DynamicsEvent {
	t.out = append(t.out, t.floor.take()...)
	ev := t.out
	t.out = nil
	return ev
}

// settle handles every queued event strictly before h, then the passing
// of time up to h.
func (t *DynamicsTracker) settle(h time.Duration) {
	if h <= t.done {
		return
	}
	n := 0
	for n < len(t.queue) && t.queue[n].t < h {
		t.rawEvent(t.queue[n])
		n++
	}
	t.queue = slices.Delete(t.queue, 0, n)
	t.done = h
	for _, sp := range []Speaker{Agent, Caller} {
		if t.pendEnd.Of(sp) && t.pendEndAt.Of(sp)+t.cfg.Bridge <= h {
			t.commitEnd(sp)
		}
	}
	if !t.occupied() && !t.deadReported && h-t.silenceStart >= t.cfg.DeadAir {
		t.deadReported = true
		t.out = append(t.out, DynamicsEvent{Kind: DeadAir, Speaker: NoSpeaker, Start: t.silenceStart, End: h, Ongoing: true})
	}
	t.sweep(h - t.cfg.Bridge)
}

// occupied reports whether the settled present is not silence: someone is
// speaking or the call is paused.
func (t *DynamicsTracker) occupied() bool {
	return t.rawOn.Agent || t.rawOn.Caller || t.paused > 0
}

// silenceEnds ends the silence at end, as dead air if it lasted long enough.
func (t *DynamicsTracker) silenceEnds(end time.Duration) {
	if t.occupied() || end-t.silenceStart < t.cfg.DeadAir {
		return
	}
	t.deadAir = append(t.deadAir, Span{t.silenceStart, end})
	t.out = append(t.out, DynamicsEvent{Kind: DeadAir, Speaker: NoSpeaker, Start: t.silenceStart, End: end})
}

// silenceStarts starts a silence at start if nothing occupies the call.
func (t *DynamicsTracker) silenceStarts(start time.Duration) {
	if !t.occupied() {
		t.silenceStart, t.deadReported = start, false
	}
}

func (t *DynamicsTracker) rawEvent(e rawEvent) {
	sp := e.sp
	if sp == NoSpeaker {
		if e.start {
			t.silenceEnds(e.t)
			t.paused++
		} else {
			t.paused--
			t.silenceStarts(e.t)
		}
		return
	}
	if e.start {
		t.silenceEnds(e.t)
		*t.rawOn.Ptr(sp), *t.rawStart.Ptr(sp) = true, e.t
		if t.pendEnd.Of(sp) {
			if e.t-t.pendEndAt.Of(sp) < t.cfg.Bridge {
				// A breath: the floor segment goes on, and the pause is talk.
				*t.pendEnd.Ptr(sp) = false
				*t.talk.Ptr(sp) += e.t - t.pendEndAt.Of(sp)
				return
			}
			t.commitEnd(sp)
		}
		if !t.bridgedOn.Of(sp) {
			*t.bridgedOn.Ptr(sp) = true
			t.pushFloor(boundary{e.t, sp, true})
		}
		return
	}
	*t.talk.Ptr(sp) += e.t - t.rawStart.Of(sp)
	*t.rawOn.Ptr(sp) = false
	*t.pendEnd.Ptr(sp), *t.pendEndAt.Ptr(sp) = true, e.t
	t.silenceStarts(e.t)
}

func (t *DynamicsTracker) commitEnd(sp Speaker) {
	*t.pendEnd.Ptr(sp) = false
	*t.bridgedOn.Ptr(sp) = false
	t.pushFloor(boundary{t.pendEndAt.Of(sp), sp, false})
}

func (t *DynamicsTracker) pushFloor(b boundary) {
	i, _ := slices.BinarySearchFunc(t.floorQ, b, compareBoundary)
	t.floorQ = slices.Insert(t.floorQ, i, b)
}

// sweep feeds the floor state machine every bridged boundary before h2.
func (t *DynamicsTracker) sweep(h2 time.Duration) {
	n := 0
	for n < len(t.floorQ) && t.floorQ[n].t < h2 {
		j := n
		for j < len(t.floorQ) && t.floorQ[j].t == t.floorQ[n].t {
			j++
		}
		t.floor.apply(t.floorQ[n].t, t.floorQ[n:j])
		n = j
	}
	t.floorQ = slices.Delete(t.floorQ, 0, n)
	t.floor.advance(h2)
	t.lastFloor = max(t.lastFloor, h2)
}

// Finish ends the call at duration (raised to the latest time seen):
// speech still open ends there, and the final events of everything still
// running are returned. Later calls to the tracker return nothing.
func (t *DynamicsTracker) Finish(duration time.Duration) []DynamicsEvent {
	if t.finished {
		return nil
	}
	duration = max(duration, t.done)
	for _, e := range t.queue {
		if e.sp != NoSpeaker { // a pause says nothing about the call's length
			duration = max(duration, e.t)
		}
	}
	for _, sp := range []Speaker{Agent, Caller} {
		if t.opened.Of(sp) {
			*t.opened.Ptr(sp) = false
			if i := slices.Index(t.queue, rawEvent{t.openedAt.Of(sp), sp, true}); i >= 0 && t.openedAt.Of(sp) >= duration {
				t.queue = slices.Delete(t.queue, i, i+1)
				continue
			}
			t.enqueue(rawEvent{duration, sp, false})
		}
	}
	// Settle everything: the queue, every bridge, every floor boundary. No
	// time passes beyond duration, so nothing is reported as ongoing.
	for _, e := range t.queue {
		if e.t <= duration { // a pause past the end: still paused at the end
			t.rawEvent(e)
		}
	}
	t.queue = nil
	for _, sp := range []Speaker{Agent, Caller} {
		if t.pendEnd.Of(sp) {
			t.commitEnd(sp)
		}
	}
	for n := 0; n < len(t.floorQ); {
		j := n
		for j < len(t.floorQ) && t.floorQ[j].t == t.floorQ[n].t {
			j++
		}
		t.floor.apply(t.floorQ[n].t, t.floorQ[n:j])
		n = j
	}
	t.floorQ = nil
	t.floor.finish(duration)
	t.silenceEnds(duration)
	t.done = duration
	t.lastFloor = duration
	t.finished = true
	return t.take()
}

// AddUtterance adds a final utterance to the speaking-rate measure and
// returns a FastSpeech event when the speaker's rate over the last
// cfg.WPMWindow (with at least cfg.MinWPMWords words) rises to cfg.FastWPM;
// it is reported again only after the rate has dropped below. Utterances
// must come in order of their end per speaker.
func (t *DynamicsTracker) AddUtterance(u Utterance) []DynamicsEvent {
	if !u.Speaker.Valid() {
		return nil
	}
	r := utteranceRate(u)
	if r.span <= 0 {
		return nil
	}
	sp := u.Speaker
	*t.words.Ptr(sp) += r.words
	*t.span.Ptr(sp) += r.span
	rs := append(t.rates.Of(sp), r)
	i := 0
	for i < len(rs) && rs[i].end < u.End-t.cfg.WPMWindow {
		i++
	}
	rs = slices.Delete(rs, 0, i)
	*t.rates.Ptr(sp) = rs
	var words int
	var span time.Duration
	for _, x := range rs {
		words += x.words
		span += x.span
	}
	rate := wpm(words, span)
	switch {
	case rate < t.cfg.FastWPM:
		*t.fast.Ptr(sp) = false
	case words >= t.cfg.MinWPMWords && !t.fast.Of(sp):
		*t.fast.Ptr(sp) = true
		return []DynamicsEvent{{Kind: FastSpeech, Speaker: sp, Start: rs[0].start, End: u.End, Value: rate}}
	}
	return nil
}

// Snapshot returns the dynamics of the call so far: settled time for the
// talk and dead air, floor measures up to the floor's settled time, and
// the rate of every utterance added. Lists are copies the caller owns.
func (t *DynamicsTracker) Snapshot() Dynamics {
	var d Dynamics
	d.Duration = t.done
	d.Talk = t.talk
	for _, sp := range []Speaker{Agent, Caller} {
		if t.rawOn.Of(sp) && t.done > t.rawStart.Of(sp) && !t.finished {
			*d.Talk.Ptr(sp) += t.done - t.rawStart.Of(sp)
		}
	}
	d.TalkRatio = talkRatio(d.Talk)
	d.DeadAir = slices.Clone(t.deadAir)
	t.floor.fill(&d, t.lastFloor)
	d.WPM.Agent = wpm(t.words.Agent, t.span.Agent)
	d.WPM.Caller = wpm(t.words.Caller, t.span.Caller)
	return d
}

// String names the event for logs and test failures.
func (e DynamicsEvent) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", e.Kind)
	if e.Speaker != NoSpeaker {
		fmt.Fprintf(&b, " by %s", e.Speaker)
	}
	fmt.Fprintf(&b, " %.2f-%.2f", e.Start.Seconds(), e.End.Seconds())
	if e.Ongoing {
		b.WriteString(" (ongoing)")
	}
	if e.Value != 0 {
		fmt.Fprintf(&b, " %.0f", e.Value)
	}
	return b.String()
}
