package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/earshot/earshot/agentassist"
	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/insights"
	"github.com/earshot/earshot/insights/store"
)

type msgKind int

const (
	msgFrame msgKind = iota
	msgControl
	msgAttach
	msgDetach
)

// sessMsg is what an ingest connection hands its call's session, in the
// order it read it.
type sessMsg struct {
	kind    msgKind
	hdr     FrameHeader
	payload []byte
	ctl     Control
	conn    *ingestConn
	resume  bool
	reply   chan attachReply
}

type attachReply struct {
	ack int64
	err error
}

type seqRange struct{ from, to int64 }

// maxPending bounds the frames held above the ack (received out of order):
// an endpoint resends in order, so more means a broken or hostile client.
const maxPending = 1 << 16

// wallSlots is how much call time (in 20 ms slots) the receive-time map
// covers for latency measurement: 60 s.
const wallSlots = 3000

// session is one live call. Its goroutine (run) owns every field below
// "owned by run"; connections talk to it only through in.
type session struct {
	srv     *Server
	id      string
	agentID string
	log     *slog.Logger
	in      chan sessMsg
	done    chan struct{} // closed when run returns

	// owned by run
	call         store.Call
	resumedAt    time.Duration
	conn         *ingestConn
	payloadBytes int
	dec          [2]*channelDecoder
	an           Analyzer
	ack          int64
	framesAcked  int64
	lost         int64
	pending      map[int64]struct{}
	lostRanges   []seqRange
	maxSeq       int64
	seqAt        map[int64]time.Duration // capture time of recent frames, for gap times
	pushedTo     [2]time.Duration        // end of the last frame pushed, per channel
	audioEnd     time.Duration
	ackSent      int64
	ackSentAt    time.Time
	pausedAt     time.Duration
	paused       bool
	lostTimer    *time.Timer
	wall         []wallSlot
	procTime     time.Duration // pipeline time since the last RTF sample
	procAudio    time.Duration
	procSampleAt time.Time
	categories   []string
	sentiment    store.Sentiment
	gapCount     int64
	// replaces holds, per speaker, the stored final of an utterance the
	// last engine stopped in the middle of; the resumed pipeline decodes
	// it whole, and its first final of that speaker takes its place.
	replaces map[string]store.Utterance
}

type wallSlot struct {
	slot int64
	at   time.Time
}

func newSession(srv *Server, c store.Call) *session {
	s := &session{
		srv: srv, id: c.ID, agentID: c.AgentID,
		log:  srv.log.With("call_id", c.ID, "agent_id", c.AgentID),
		in:   make(chan sessMsg, 256),
		done: make(chan struct{}),
		call: c, ack: c.Ack, framesAcked: c.Frames, lost: c.FramesLost, maxSeq: c.Ack,
		pending: map[int64]struct{}{}, seqAt: map[int64]time.Duration{},
		ackSent: c.Ack, wall: make([]wallSlot, wallSlots),
		categories: slices.Clone(c.Categories), sentiment: c.Sentiment,
		audioEnd: time.Duration(c.AudioS * float64(time.Second)),
	}
	s.resumedAt = s.audioEnd
	s.pushedTo = [2]time.Duration{s.audioEnd, s.audioEnd}
	s.payloadBytes = PayloadBytes(c.SampleRate, c.Encoding)
	for ch := range s.dec {
		s.dec[ch] = newChannelDecoder(c.SampleRate, c.Encoding)
	}
	return s
}

// send hands m to the session; false if the session has ended.
func (s *session) send(m sessMsg) bool {
	select {
	case s.in <- m:
		return true
	case <-s.done:
		return false
	}
}

// run is the session goroutine. It ends when the call ends (end message,
// resume window over, failure, or server shutdown).
func (s *session) run() {
	defer s.srv.sessWG.Done()
	defer close(s.done)
	defer s.srv.removeSession(s)
	defer func() {
		if r := recover(); r != nil {
			s.fail(fmt.Errorf("panic: %v", r))
		}
	}()
	s.srv.m.callsActive.Inc()
	defer s.srv.m.callsActive.Dec()

	info := CallInfo{ID: s.id, AgentID: s.agentID, StartedAt: s.call.StartedAt, ResumedAt: s.resumedAt,
		PriorSegments: storedSegments(s.call.Segments), Resume: storedChannels(s.call.Channels)}
	if s.resumedAt > 0 {
		s.srv.loadOpenSpeech(s.id, &info.Resume)
		if d, err := s.srv.store.Detail(s.id); err != nil {
			s.log.Warn("reading the call's utterances for its sentiment: the summary will cover the call from the restart on", "err", err)
			// Without them an utterance carried over would be stored twice.
			for i := range info.Resume {
				info.Resume[i].OpenSpeech = nil
			}
		} else {
			s.replaces = openUtterances(info.Resume, d.Utterances)
			info.PriorSentiment = storedSentiment(d.Utterances, slices.Collect(maps.Values(s.replaces))...)
		}
	}
	an, err := s.srv.cfg.NewAnalyzer(info)
	if err != nil {
		s.fail(fmt.Errorf("starting pipeline: %w", err))
		return
	}
	s.an = an
	s.dropOpenSpeech(false) // taken into the pipeline
	if s.resumedAt == 0 {
		s.publish([]agentassist.Event{{Type: agentassist.EventCallStarted, Data: map[string]any{"started_at": s.call.StartedAt.UTC().Format(time.RFC3339Nano)}}})
	}
	tick := time.NewTicker(s.srv.cfg.AckInterval / 4)
	defer tick.Stop()
	s.lostTimer = time.NewTimer(s.srv.cfg.ResumeWindow)
	s.lostTimer.Stop()
	s.procSampleAt = time.Now()
	for {
		select {
		case m := <-s.in:
			if s.handle(m) {
				return
			}
		case now := <-tick.C:
			s.tick(now)
		case <-s.lostTimer.C:
			if s.conn == nil {
				s.log.Info("endpoint did not resume in time")
				s.finish("endpoint_lost")
				return
			}
		case <-s.srv.sessCtx.Done():
			s.finish("shutdown")
			if s.conn != nil {
				s.conn.closeWith(1001, "server shutting down")
			}
			return
		}
	}
}

// handle processes one message; true means the call has ended.
func (s *session) handle(m sessMsg) bool {
	switch m.kind {
	case msgAttach:
		if s.conn != nil && s.conn != m.conn {
			if !m.resume {
				m.reply <- attachReply{err: ErrCallActive}
				return false
			}
			// The endpoint reconnected before the engine noticed the old
			// connection die: the newer one wins.
			s.conn.closeWith(CloseCallActive, "call resumed on another connection")
		}
		s.conn = m.conn
		s.lostTimer.Stop()
		m.reply <- attachReply{ack: s.ack}
		s.ackSent, s.ackSentAt = s.ack, time.Now()
	case msgDetach:
		if s.conn == m.conn {
			s.conn = nil
			s.lostTimer.Reset(s.srv.cfg.ResumeWindow)
			s.checkpoint() // keep what arrived for a resume after a restart
			s.log.Info("endpoint disconnected; call waits for resume", "window", s.srv.cfg.ResumeWindow, "ack", s.ack)
		}
	case msgFrame:
		if m.conn != s.conn {
			return false // a superseded connection's leftovers
		}
		if err := s.frame(m.hdr, m.payload); err != nil {
			s.fail(err)
			return true
		}
	case msgControl:
		if m.conn != s.conn {
			return false
		}
		switch m.ctl.Type {
		case "gap":
			s.declaredGap(*m.ctl.From, *m.ctl.To, m.ctl.Reason)
		case "pause":
			s.paused, s.pausedAt = true, time.Duration(*m.ctl.AtUS)*time.Microsecond
		case "resume":
			if s.paused {
				to := time.Duration(*m.ctl.AtUS) * time.Microsecond
				s.recordGap(store.Gap{FromSeq: -1, ToSeq: -1, From: s.pausedAt.Seconds(), To: to.Seconds(), Reason: "paused"})
				for ch := 0; ch < 2; ch++ {
					s.an.Gap(ch, s.pausedAt, to, "paused")
				}
				s.paused = false
			}
		case "end":
			if err := s.finish("end"); err != nil {
				s.conn.closeWith(1011, closeReason("call failed: "+err.Error()))
				return true
			}
			frames, gaps := s.call.Frames, s.gapCount
			s.conn.sendJSON(Control{Type: "ended", CallID: s.id, Frames: &frames, Gaps: &gaps})
			s.conn.closeAfterQueued(1000, "")
			return true
		}
	}
	return false
}

// frame takes one audio frame: dedupe by seq, advance the ack, decode, and
// feed the pipeline.
func (s *session) frame(h FrameHeader, payload []byte) error {
	seq := int64(h.Seq)
	if _, dup := s.pending[seq]; dup || seq <= s.ack || s.inLost(seq) {
		s.srv.m.framesDup.Inc()
		return nil
	}
	if len(s.pending) >= maxPending {
		return fmt.Errorf("%w: more than %d frames out of order", ErrProtocol, maxPending)
	}
	s.pending[seq] = struct{}{}
	s.seqAt[seq] = h.At
	s.maxSeq = max(s.maxSeq, seq)
	s.srv.m.framesIn.Inc()
	s.advance()
	s.noteWall(h.At + audio.FrameDuration)

	ch := int(h.Channel)
	at := h.At
	if at < s.pushedTo[ch] && at > s.pushedTo[ch]-audio.FrameDuration/2 {
		at = s.pushedTo[ch] // capture clock jitter, not a late frame
	}
	start := time.Now()
	err := s.dec[ch].push(payload, at, func(f decodedFrame) error {
		if f.at < s.pushedTo[ch] {
			// Audio older than what the pipeline has already heard (a
			// late resend after newer frames): it is counted, but time
			// only runs forward in the pipeline.
			return nil
		}
		evs, err := s.an.Push(ch, f.samples, f.at)
		s.publish(evs)
		if err != nil {
			return err
		}
		s.pushedTo[ch] = f.at + audio.FrameDuration
		s.audioEnd = max(s.audioEnd, s.pushedTo[ch])
		return nil
	})
	s.procTime += time.Since(start)
	s.procAudio += audio.FrameDuration / 2 // two channels share the call's time
	if err != nil {
		return fmt.Errorf("%w: pipeline: %w", ErrSessionFailed, err)
	}
	return nil
}

func (s *session) inLost(seq int64) bool {
	for _, r := range s.lostRanges {
		if seq >= r.from && seq <= r.to {
			return true
		}
	}
	return false
}

// advance moves the cumulative ack over received and declared-lost frames.
func (s *session) advance() {
	for {
		n := s.ack + 1
		if _, ok := s.pending[n]; ok {
			delete(s.pending, n)
			s.ack, s.framesAcked = n, s.framesAcked+1
			// Gap times look back at most 64 seqs from the ack.
			delete(s.seqAt, n-64)
			continue
		}
		if s.inLost(n) {
			s.ack = n
			continue
		}
		break
	}
	s.lostRanges = slices.DeleteFunc(s.lostRanges, func(r seqRange) bool { return r.to <= s.ack })
}

// frameTime estimates the capture time of seq from its neighbours: both
// channels share the sequence, so two seqs make one 20 ms slot.
func (s *session) frameTime(seq int64) time.Duration {
	for d := int64(1); d < 64; d++ {
		if at, ok := s.seqAt[seq-d]; ok {
			return at + time.Duration((d+1)/2)*audio.FrameDuration
		}
	}
	return s.audioEnd
}

// declaredGap records frames the endpoint says it will never send.
func (s *session) declaredGap(from, to int64, reason string) {
	var missing int64
	for q := max(from, s.ack+1); q <= to; q++ {
		if _, ok := s.pending[q]; !ok {
			missing++
		}
	}
	if missing == 0 {
		return
	}
	s.lostRanges = append(s.lostRanges, seqRange{from, to})
	s.maxSeq = max(s.maxSeq, to)
	s.lost += missing
	s.srv.m.framesLost.Add(float64(missing))
	fromT := s.frameTime(from)
	toT := fromT + time.Duration((to-from+2)/2)*audio.FrameDuration
	s.recordGap(store.Gap{FromSeq: from, ToSeq: to, From: fromT.Seconds(), To: toT.Seconds(), Frames: missing, Reason: reason})
	for ch := 0; ch < 2; ch++ {
		s.an.Gap(ch, fromT, toT, reason)
	}
	s.advance()
}

func (s *session) recordGap(g store.Gap) {
	s.gapCount++
	g.From, g.To = roundMilli(g.From), roundMilli(g.To)
	if err := s.srv.store.AppendGap(s.id, g); err != nil {
		s.log.Error("storing gap", "err", err)
	}
}

// noteWall remembers when the audio up to call time t arrived.
func (s *session) noteWall(t time.Duration) {
	slot := int64(t / audio.FrameDuration)
	w := &s.wall[slot%wallSlots]
	if w.slot != slot || w.at.IsZero() {
		*w = wallSlot{slot: slot, at: time.Now()}
	} else {
		w.at = time.Now() // the second channel completes the slot
	}
}

// wallAt returns when the audio at call time t arrived, if still known.
func (s *session) wallAt(t time.Duration) (time.Time, bool) {
	slot := int64(math.Ceil(float64(t) / float64(audio.FrameDuration)))
	for d := int64(0); d < 3; d++ {
		w := s.wall[((slot+d)%wallSlots+wallSlots)%wallSlots]
		if w.slot == slot+d && !w.at.IsZero() {
			return w.at, true
		}
	}
	return time.Time{}, false
}

func (s *session) tick(now time.Time) {
	if s.an != nil && s.audioEnd > 0 {
		s.publish(s.an.Tick(s.audioEnd))
	}
	if s.ack != s.ackSent && now.Sub(s.ackSentAt) >= s.srv.cfg.AckInterval {
		s.checkpoint()
	}
	if d := now.Sub(s.procSampleAt); d >= time.Second && s.procAudio > 0 {
		s.srv.m.rtf.Observe(s.procTime.Seconds() / s.procAudio.Seconds())
		s.procTime, s.procAudio, s.procSampleAt = 0, 0, now
	}
}

// checkpoint stores the ingest progress and only then acks it, so an
// acknowledged frame survives an engine restart.
func (s *session) checkpoint() {
	s.fillCall()
	if err := s.srv.store.PutCall(s.call); err != nil {
		s.log.Error("checkpoint", "err", err)
		return
	}
	if s.conn != nil {
		s.conn.setAck(s.ack)
	}
	s.ackSent, s.ackSentAt = s.ack, time.Now()
}

func (s *session) fillCall() {
	s.call.Ack = s.ack
	s.call.Frames = s.framesAcked
	s.call.FramesLost = s.lost
	s.call.AudioS = roundMilli(s.audioEnd.Seconds())
	s.call.DurationS = s.call.AudioS
	s.call.Categories = s.categories
	s.call.Sentiment = s.sentiment
}

// publish stamps, publishes and stores events, and folds them into the
// call's summary.
func (s *session) publish(evs []agentassist.Event) {
	for _, ev := range evs {
		ev.CallID, ev.AgentID = s.id, s.agentID
		replaced := s.replacing(&ev)
		d, err := s.srv.hub.Publish(ev)
		if err != nil {
			s.log.Error("publishing event", "type", ev.Type, "err", err)
			continue
		}
		s.call.LastSeq = d.Event.Seq
		if err := s.srv.store.AppendEvent(s.id, d.Event.Seq, d.JSON); err != nil {
			s.log.Error("storing event", "type", ev.Type, "err", err)
		}
		var f eventFields
		if err := json.Unmarshal(d.JSON, &f); err != nil {
			continue
		}
		ref := ev.T
		switch ev.Type {
		case agentassist.EventTranscriptFinal:
			ref = time.Duration(f.End * float64(time.Second))
			u := store.Utterance{Speaker: f.Speaker, Start: f.Start, End: f.End, Text: f.Text, Words: f.Words,
				Confidence: f.Confidence, Sentiment: f.Sentiment, Seq: d.Event.Seq}
			var err error
			if replaced != nil {
				err = s.srv.store.ReplaceUtterance(s.id, *replaced, u)
			} else {
				err = s.srv.store.AppendUtterance(s.id, u)
			}
			if err != nil {
				s.log.Error("storing utterance", "err", err)
			}
		case agentassist.EventHint:
			s.call.Hints++
			if f.ID != "" && store.ValidID(f.ID) {
				if err := s.srv.store.AppendHint(s.id, f.ID, d.JSON); err != nil {
					s.log.Error("storing hint", "err", err)
				}
			}
		case agentassist.EventAlert:
			s.call.Alerts++
		case agentassist.EventCategory:
			if f.ID != "" && !slices.Contains(s.categories, f.ID) {
				s.categories = append(s.categories, f.ID)
			}
		case agentassist.EventSentiment:
			v := f.Rolling
			if v == nil {
				v = f.Score
			}
			if v != nil {
				switch f.Speaker {
				case "caller":
					s.sentiment.Caller = roundMilli(*v)
					if f.Trend != "" {
						s.sentiment.Trend = f.Trend
					}
				case "agent":
					s.sentiment.Agent = roundMilli(*v)
				}
			}
		}
		if w, ok := s.wallAt(ref); ok {
			s.srv.m.eventLatency.WithLabelValues(ev.Type).Observe(time.Since(w).Seconds())
		}
	}
}

// openUtterances finds, for each channel that stopped in the middle of an
// utterance whose audio it kept (ChannelState.OpenSpeech), the stored final
// of the part decoded before the stop: the last utterance of that speaker
// starting where the open speech does or later. A part with no words was
// never stored, and has nothing to replace.
func openUtterances(resume [2]store.ChannelState, utts []store.Utterance) map[string]store.Utterance {
	out := map[string]store.Utterance{}
	for i, r := range resume {
		if len(r.OpenSpeech) == 0 {
			continue
		}
		speaker := string([]insights.Speaker{insights.Agent, insights.Caller}[i])
		for _, u := range utts {
			if u.Speaker == speaker && u.Start >= r.OpenSpeechFrom-0.001 && u.Seq > out[speaker].Seq {
				out[speaker] = u
			}
		}
	}
	return out
}

// replacing marks the first final of a speaker with an utterance carried
// over (s.replaces) as replacing the stored part, and returns that part;
// nil for every other event. A final that starts after the restart is not
// the carried utterance (it ended without words): nothing is replaced.
func (s *session) replacing(ev *agentassist.Event) *store.Utterance {
	u, ok := ev.Data.(utteranceOut)
	if !ok || ev.Type != agentassist.EventTranscriptFinal {
		return nil
	}
	old, ok := s.replaces[u.Speaker]
	if !ok {
		return nil
	}
	delete(s.replaces, u.Speaker)
	if u.Start >= s.resumedAt.Seconds() {
		return nil
	}
	u.Replaces = old.Seq
	ev.Data = u
	return &old
}

// dropOpenSpeech forgets the open speech the call's channels kept: it has
// been carried into a pipeline or saved (saveOpenSpeech), or the call
// ended for good. The stored call keeps where it began (OpenSpeechFrom)
// only when it was saved for a resume.
func (s *session) dropOpenSpeech(keepFrom bool) {
	for i := range s.call.Channels {
		s.call.Channels[i].OpenSpeech = nil
		if !keepFrom {
			s.call.Channels[i].OpenSpeechFrom = 0
		}
	}
}

// eventFields are the event fields the session reads back for the summary.
type eventFields struct {
	ID         string          `json:"id"`
	Speaker    string          `json:"speaker"`
	Start      float64         `json:"start"`
	End        float64         `json:"end"`
	Text       string          `json:"text"`
	Words      json.RawMessage `json:"words"`
	Confidence float64         `json:"confidence"`
	Sentiment  json.RawMessage `json:"sentiment"`
	Score      *float64        `json:"score"`
	Rolling    *float64        `json:"rolling"`
	Trend      string          `json:"trend"`
}

// finish ends the call: flush the pipeline, record what never arrived,
// publish call.ended and save the summary. For "shutdown" the frames above
// the ack are not declared lost: the endpoint still holds them and may
// resume the call after the restart.
func (s *session) finish(reason string) error {
	var ferr error
	if s.an != nil {
		for ch := 0; ch < 2; ch++ {
			if err := s.dec[ch].flush(func(f decodedFrame) error {
				evs, err := s.an.Push(ch, f.samples, f.at)
				s.publish(evs)
				s.audioEnd = max(s.audioEnd, f.at+audio.FrameDuration)
				return err
			}); err != nil {
				ferr = err
			}
		}
		if reason != "shutdown" {
			s.missingAtEnd()
		}
		evs, res, err := s.an.Finish(s.audioEnd)
		// The session publishes call.ended itself, with the real reason.
		s.publish(slices.DeleteFunc(evs, func(e agentassist.Event) bool { return e.Type == agentassist.EventCallEnded }))
		if err != nil {
			ferr = errors.Join(ferr, err)
		}
		s.applyResult(res)
		if reason == "shutdown" {
			if err := s.srv.saveOpenSpeech(s.id, s.call.Channels); err != nil {
				s.log.Warn("open speech not saved: a resume will decode the utterance in two parts", "err", err)
			}
		}
		s.dropOpenSpeech(reason == "shutdown")
	}
	s.endCall(reason)
	return ferr
}

// missingAtEnd declares every seq up to the highest seen that never arrived.
func (s *session) missingAtEnd() {
	for s.ack < s.maxSeq {
		from := s.ack + 1
		to := from
		for to+1 <= s.maxSeq {
			if _, ok := s.pending[to+1]; ok {
				break
			}
			to++
		}
		s.declaredGap(from, to, "never_arrived")
		s.advance()
	}
}

func (s *session) applyResult(r CallResult) {
	if r.TalkRatio > 0 {
		s.call.TalkRatio = roundMilli(r.TalkRatio)
	}
	for _, c := range r.Categories {
		// A resumed call's new pipeline only knows the categories since the
		// restart: keep the earlier ones too.
		if !slices.Contains(s.categories, c) {
			s.categories = append(s.categories, c)
		}
	}
	if r.Sentiment != nil {
		s.sentiment = *r.Sentiment
	}
	if r.Dynamics != nil {
		if b, err := json.Marshal(r.Dynamics); err == nil {
			s.call.Dynamics = b
		}
	}
	if r.Segments != nil {
		if b, err := json.Marshal(r.Segments); err == nil {
			s.call.Segments = b
		}
	}
	if len(r.Channels) == 2 {
		s.call.Channels = r.Channels
	}
}

// endCall publishes call.ended, saves the final summary and releases the
// pipeline. It never calls the pipeline, so fail can use it on a broken one.
func (s *session) endCall(reason string) {
	s.publish([]agentassist.Event{{Type: agentassist.EventCallEnded, T: s.audioEnd,
		Data: map[string]any{"reason": reason, "duration_s": roundMilli(s.audioEnd.Seconds())}}})
	s.fillCall()
	if reason != "shutdown" {
		// Everything received counts; nothing more will be resent.
		s.call.Frames = s.framesAcked + int64(len(s.pending))
	}
	now := time.Now()
	s.call.Status, s.call.EndReason, s.call.EndedAt = store.StatusEnded, reason, &now
	if s.call.Categories == nil {
		s.call.Categories = []string{}
	}
	if err := s.srv.store.PutCall(s.call); err != nil {
		s.log.Error("saving call", "err", err)
	}
	s.srv.hub.CloseCall(s.id)
	if s.an != nil {
		if err := s.an.Close(); err != nil {
			s.log.Warn("closing pipeline", "err", err)
		}
		s.an = nil
	}
	s.srv.m.callsTotal.WithLabelValues(reason).Inc()
	s.log.Info("call ended", "reason", reason, "frames", s.call.Frames, "lost", s.call.FramesLost, "audio_s", s.call.AudioS)
}

// fail ends the call after a pipeline error or panic: an error event, the
// call saved with reason "error", the endpoint closed with 1011. The
// server and every other call carry on.
func (s *session) fail(err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("session failed while failing", "panic", r)
		}
	}()
	s.srv.m.sessionPanics.Inc()
	s.log.Error("call failed", "err", err)
	if errors.Is(err, ErrProtocol) {
		if s.conn != nil {
			s.conn.closeWith(1008, closeReason(err.Error()))
			s.conn = nil
		}
	}
	s.publish([]agentassist.Event{{Type: agentassist.EventError, T: s.audioEnd, Data: map[string]any{"message": "call failed"}}})
	if s.an != nil {
		s.an.Close()
		s.an = nil
	}
	s.endCall("error")
	if s.conn != nil {
		s.conn.closeWith(1011, closeReason("call failed: "+err.Error()))
	}
}
