package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/insights"
	"github.com/earshot/earshot/live"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/store"
)

type msgKind int

const (
	msgFrame msgKind = iota
	msgControl
	msgAttach
	msgDetach
	msgViolation // the connection was closed for breaking the protocol (err)
)

// sessMsg is what an ingest connection hands its call's session, in the
// order it read it.
type sessMsg struct {
	kind    msgKind
	hdr     protocol.FrameHeader
	payload []byte
	ctl     protocol.Control
	conn    *ingestConn
	resume  bool
	reply   chan attachReply
	err     error
}

type attachReply struct {
	ack int64
	err error
}

// wallSlots is how much call time (in 20 ms slots) the receive-time map
// covers for latency measurement: 60 s.
const wallSlots = 3000

// recentFrames is how many received frames' capture times a session keeps
// to place a gap declared by seq in call time, both channels together,
// and to find where an utterance in progress began (ackhold.go).
const recentFrames = 256

// skipGapMin is the jump in a channel's capture time from which the
// skipped stretch is recorded as a gap ("skipped"): shorter ones are
// capture jitter or a lost frame or two.
const skipGapMin = time.Second

// session is one live call. Its goroutine (run) owns every field below
// "owned by run"; connections talk to it only through in.
type session struct {
	sessionDeps
	id       string
	agentID  string
	tokenKey string // the endpoint token that started the call
	log      *slog.Logger
	in       chan sessMsg
	done     chan struct{} // closed when run returns
	// streaming is set once audio (or a pause) arrived: until then the
	// call counts against its token's MaxWaitingCalls.
	streaming atomic.Bool
	// attached mirrors conn for the server's shutdown deadline, which
	// closes the endpoint of a session that did not stop in time.
	attached atomic.Pointer[ingestConn]

	// owned by run
	call      store.Call
	resumedAt time.Duration
	conn      *ingestConn
	dec       [2]*channelDecoder
	// an is the call's pipeline; nil while no endpoint is attached, so a
	// dropped call holds no recognizers while it waits for its resume.
	an       Analyzer
	seq      *seqTracker
	recent   [recentFrames]seqTime // capture time of recent frames, for gap times
	recentN  int
	pushedTo [2]time.Duration // end of the last frame pushed, per channel
	holds    [2]ackHold       // utterances in progress, which the ack stops before
	// pipelineLive is set while the pipeline analyses the call (between
	// startPipeline and Finish): its checkpoints hold the ack back.
	pipelineLive bool
	// drainUntil is set while a shutdown waits for the utterances in
	// progress to end (startDrain).
	drainUntil   time.Time
	audioEnd     time.Duration
	ackSent      int64
	ackSentAt    time.Time
	pausedAt     time.Duration
	paused       bool
	lostTimer    *time.Timer
	noAudioTimer *time.Timer
	wall         []wallSlot
	procTime     time.Duration // pipeline time since the last RTF sample
	procAudio    time.Duration
	procSampleAt time.Time
	categories   []string
	sentiment    store.Sentiment
	gaps         gapLog
	writes       recordWriter
	// replaces holds, per speaker, the stored final of an utterance the
	// last pipeline stopped in the middle of; the resumed pipeline decodes
	// it whole, and its first final of that speaker takes its place.
	replaces map[protocol.Channel]store.Utterance
}

type seqTime struct {
	seq int64
	at  time.Duration
	ch  protocol.Channel
}

type wallSlot struct {
	slot int64
	at   time.Time
}

// sessionDeps is what a session needs of the server it runs in: its
// configuration, where the call's records and events go, its metrics, the
// shutdown signal, and the server's bookkeeping of sessions, orphaned calls
// and open speech. Nothing else of the server is within its reach.
type sessionDeps struct {
	cfg      *Config
	store    recordStore
	hub      eventHub
	m        *metrics
	shutdown <-chan struct{} // closed when the engine stops: calls end "shutdown"
	host     sessionHost
}

// recordStore is where a session writes its call.
type recordStore interface {
	PutCall(c store.Call) error
	Detail(id store.CallID) (store.Detail, error)
	AppendEvent(id store.CallID, seq uint64, event []byte) error
	AppendUtterance(id store.CallID, u store.Utterance) error
	ReplaceUtterance(id store.CallID, old, u store.Utterance) error
	AppendHint(id store.CallID, hintID string, event []byte) error
	AppendGap(id store.CallID, g store.Gap) error
}

// eventHub is where a session publishes its call's live events.
type eventHub interface {
	Publish(ev protocol.Event) (live.Delivery, error)
	CloseCall(callID string)
}

// sessionHost is the server's side of a session's life: it counts and
// forgets sessions, takes over calls a session could not end, and keeps
// the audio of utterances in progress across a restart.
type sessionHost interface {
	removeSession(s *session) // before the session's done is closed
	sessionStopped()          // the last thing its goroutine does
	adoptOrphan(callID string)
	saveOpenSpeech(callID string, chans []store.ChannelState) error
	loadOpenSpeech(callID string, r *[2]store.ChannelState)
	// ownedElsewhere reports the node that took the call over (a cluster's
	// owners bucket); releaseCall gives up ownership of an ended call.
	ownedElsewhere(callID string) (node string, ok bool)
	releaseCall(callID string)
	// confirmOwner asks the quorum whether the call is still this node's
	// to write: node is its owner instead, if another.
	confirmOwner(callID string) (node string, err error)
	// inCluster says whether other nodes may resume this node's calls.
	inCluster() bool
}

// sessionDeps is the part of srv its sessions may use.
func (srv *Server) sessionDeps() sessionDeps {
	return sessionDeps{cfg: &srv.cfg, store: srv.store, hub: srv.hub, m: srv.m, shutdown: srv.sessCtx.Done(), host: srv}
}

func newSession(srv *Server, c store.Call, tokenKey string) *session {
	s := &session{
		sessionDeps: srv.sessionDeps(), id: string(c.ID), agentID: string(c.AgentID), tokenKey: tokenKey,
		log:  srv.log.With("call_id", c.ID, "agent_id", c.AgentID),
		in:   make(chan sessMsg, 256),
		done: make(chan struct{}),
		call: c, seq: newSeqTracker(c.Ack, c.Frames, c.FramesLost, srv.maxSeqAhead()),
		ackSent: c.Ack, wall: make([]wallSlot, wallSlots),
		categories: slices.Clone(c.Categories), sentiment: c.Sentiment,
		audioEnd: c.Audio,
		gaps:     gapLog{max: srv.cfg.MaxGapRecords},
	}
	s.writes.onError = srv.m.storeErrors.Inc
	s.resumedAt = s.audioEnd
	s.pushedTo = resumePoints(c)
	for ch := range s.dec {
		s.dec[ch] = newChannelDecoder(c.SampleRate, c.Encoding)
	}
	if c.Frames > 0 || c.Audio > 0 {
		s.streaming.Store(true)
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
// resume window over, no audio, failure, storage lost, or server shutdown).
func (s *session) run() {
	defer s.host.sessionStopped()
	defer close(s.done)
	defer s.host.removeSession(s)
	defer func() {
		if r := recover(); r != nil {
			s.fail(fmt.Errorf("panic: %v", r))
		}
	}()
	s.m.callsActive.Inc()
	defer s.m.callsActive.Dec()

	if s.resumedAt == 0 {
		s.publish([]protocol.Event{{Type: protocol.EventCallStarted, Data: protocol.CallStarted{StartedAt: s.call.StartedAt.UTC()}}})
	}
	tick := time.NewTicker(s.cfg.AckInterval / 4)
	defer tick.Stop()
	s.lostTimer = time.NewTimer(s.cfg.ResumeWindow)
	s.lostTimer.Stop()
	s.noAudioTimer = time.NewTimer(s.cfg.NoAudioTimeout)
	defer s.noAudioTimer.Stop()
	if s.streaming.Load() {
		s.noAudioTimer.Stop()
	}
	s.procSampleAt = time.Now()
	shutdown := s.shutdown
	for {
		select {
		case m := <-s.in:
			if s.handle(m) || s.drained(time.Now()) {
				return
			}
		case now := <-tick.C:
			if s.tick(now) || s.drained(now) {
				return
			}
		case <-s.lostTimer.C:
			if s.conn == nil {
				s.log.Info("endpoint did not resume in time")
				s.finish(protocol.EndEndpointLost)
				return
			}
		case <-s.noAudioTimer.C:
			if !s.streaming.Load() {
				s.log.Info("no audio within the limit after start: call ended", "limit", s.cfg.NoAudioTimeout)
				s.finish(protocol.EndNoAudio)
				if s.conn != nil {
					s.conn.closeWith(protocol.CloseIdle, fmt.Sprintf("call ended: no audio within %v of start", s.cfg.NoAudioTimeout))
				}
				return
			}
		case <-shutdown:
			shutdown = nil
			if s.startDrain(time.Now()) {
				continue
			}
			s.stopForShutdown()
			return
		}
	}
}

// stopForShutdown ends the call for an engine shutdown: resumable, its
// endpoint told to go elsewhere.
func (s *session) stopForShutdown() {
	s.finish(protocol.EndShutdown)
	if s.conn != nil {
		s.conn.closeWith(protocol.CloseGoingAway, "server shutting down")
	}
}

// startPipeline makes the call's pipeline, at the first frame of a call,
// after an engine restart, or after an endpoint came back to a call whose
// pipeline was released when it dropped. A resumed pipeline starts at the audio
// received so far and carries on from the stored state.
func (s *session) startPipeline() error {
	s.resumedAt = s.audioEnd
	cfg := call.Config{CallID: s.id, AgentID: s.agentID, Start: s.resumedAt,
		PriorSegments: call.SegmentsFromWire(s.call.Segments)}
	if len(s.call.Redaction) > 0 {
		cfg.Redaction = new(insights.RedactorState)
		if err := json.Unmarshal(s.call.Redaction, cfg.Redaction); err != nil {
			// The engine wrote it: unreadable means a damaged store, and
			// going on without it could let card digits through.
			return fmt.Errorf("call %s: stored redaction state: %w", s.id, err)
		}
	}
	resume := channelStates(s.call.Channels)
	if s.resumedAt > 0 {
		if !slices.ContainsFunc(s.call.Channels, func(c store.ChannelState) bool { return len(c.OpenSpeech) > 0 }) {
			s.host.loadOpenSpeech(s.id, &resume)
		}
		if d, err := s.store.Detail(store.CallID(s.id)); err != nil {
			s.log.Warn("reading the call's utterances for its sentiment: the summary will cover the call from the restart on", "err", err)
			// Without them an utterance carried over would be stored twice.
			for i := range resume {
				resume[i].OpenSpeech = nil
			}
		} else {
			s.replaces = openUtterances(resume, d.Utterances)
			cfg.PriorSentiment = storedSentiment(d.Utterances, slices.Collect(maps.Values(s.replaces))...)
		}
	}
	cfg.Resume = pipelineChannels(resume)
	an, err := s.cfg.NewAnalyzer(cfg)
	if err != nil {
		return fmt.Errorf("starting pipeline: %w", err)
	}
	s.an, s.pipelineLive, s.holds = an, true, [2]ackHold{}
	s.dropOpenSpeech(false) // taken into the pipeline
	return nil
}

// suspend releases the pipeline (and its recognizers) of a call whose
// endpoint dropped: the pipeline is finished as for a shutdown, keeping
// where each channel stood, and startPipeline goes on from there when the
// endpoint resumes.
func (s *session) suspend() {
	if s.an == nil {
		return
	}
	if err := s.flushPipeline(false); err != nil {
		s.log.Warn("releasing the pipeline of a dropped call", "err", err)
	}
	s.closePipeline()
}

// closePipeline releases the pipeline, if any: its recognizers go back to
// the pool, and with it go the utterances it held the ack for.
func (s *session) closePipeline() {
	if s.an == nil {
		return
	}
	if err := s.an.Close(); err != nil {
		s.log.Warn("closing pipeline", "err", err)
	}
	s.an, s.pipelineLive, s.holds = nil, false, [2]ackHold{}
}

// flushPipeline finishes the pipeline at the audio received so far and
// folds its results into the call; the pipeline can only be closed after.
// ended says the call is over (not a shutdown or a dropped endpoint): the
// pipeline then judges the rules that wait for the call's end.
func (s *session) flushPipeline(ended bool) error {
	var ferr error
	for _, ch := range protocol.BothChannels {
		if err := s.dec[ch].flush(func(f decodedFrame) error {
			evs, err := s.an.Push(ch, f.samples, f.at)
			s.publish(evs)
			s.audioEnd = max(s.audioEnd, f.at+audio.FrameDuration)
			return err
		}); err != nil {
			ferr = err
		}
	}
	s.noteRedaction()
	s.pipelineLive, s.holds = false, [2]ackHold{}
	stop := s.an.Finish
	if ended {
		stop = s.an.End
	}
	evs, rec, err := stop(s.audioEnd)
	s.publish(evs)
	s.applyRecord(rec)
	return errors.Join(ferr, err)
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
			s.conn.closeWith(protocol.CloseCallActive, "call resumed on another connection")
		}
		s.setConn(m.conn)
		s.lostTimer.Stop()
		m.reply <- attachReply{ack: s.seq.ack}
		s.ackSent, s.ackSentAt = s.seq.ack, time.Now()
	case msgDetach:
		if s.conn == m.conn {
			s.setConn(nil)
			s.lostTimer.Reset(s.cfg.ResumeWindow)
			s.suspend()
			s.checkpoint() // keep what arrived for a resume after a restart
			s.log.Info("endpoint disconnected; call waits for resume", "window", s.cfg.ResumeWindow, "ack", s.seq.ack)
		}
	case msgViolation:
		if m.conn == s.conn {
			s.fail(m.err)
			return true
		}
	case msgFrame:
		if m.conn != s.conn {
			return false // a superseded connection's leftovers
		}
		if err := s.takeFrame(m.hdr, m.payload); err != nil {
			s.fail(err)
			return true
		}
	case msgControl:
		if m.conn != s.conn {
			return false
		}
		return s.control(m.ctl)
	}
	return false
}

func (s *session) setConn(c *ingestConn) {
	s.conn = c
	s.attached.Store(c)
}

// nowStreaming notes that the endpoint has begun to stream (audio or a
// pause): the call no longer waits for audio.
func (s *session) nowStreaming() {
	if !s.streaming.Load() {
		s.streaming.Store(true)
		s.noAudioTimer.Stop()
	}
}

// control handles a control message; true means the call has ended.
func (s *session) control(ctl protocol.Control) bool {
	switch ctl.Type {
	case "gap":
		s.nowStreaming()
		if err := s.declaredGap(*ctl.From, *ctl.To, ctl.Reason); err != nil {
			s.fail(err)
			return true
		}
	case "pause":
		s.nowStreaming()
		s.paused, s.pausedAt = true, time.Duration(*ctl.AtUS)*time.Microsecond
	case "resume":
		if s.paused {
			to := time.Duration(*ctl.AtUS) * time.Microsecond
			s.recordGap(store.Gap{FromSeq: -1, ToSeq: -1, From: s.pausedAt, To: to, Reason: "paused"})
			s.paused = false
		}
	case "end":
		err := s.finish(protocol.EndEnd)
		if errors.Is(err, ErrStorage) {
			s.storageLost(err)
			return true
		}
		if err != nil {
			s.conn.closeWith(protocol.CloseInternalError, closeReason("call failed: "+err.Error()))
			return true
		}
		frames, gaps := s.call.Frames, s.gaps.stored
		s.conn.sendJSON(protocol.Control{Type: "ended", CallID: s.id, Frames: &frames, Gaps: &gaps})
		s.conn.closeAfterQueued(protocol.CloseNormal, "")
		return true
	}
	return false
}

// takeFrame takes a frame from the endpoint. The pipeline, and with it the
// recognizers, is taken with the first frame after a start or a resume,
// so a call that never streams (or is waiting for its endpoint) holds
// none.
func (s *session) takeFrame(h protocol.FrameHeader, payload []byte) error {
	s.nowStreaming()
	if s.an == nil {
		if err := s.startPipeline(); err != nil {
			return err
		}
	}
	return s.frame(h, payload)
}

// frame takes one audio frame: dedupe by seq, advance the ack, decode, and
// feed the pipeline.
func (s *session) frame(h protocol.FrameHeader, payload []byte) error {
	seq := int64(h.Seq)
	if h.At > s.cfg.MaxCallLength {
		return fmt.Errorf("%w: capture time %v is beyond the longest call (%v)", ErrProtocol, h.At, s.cfg.MaxCallLength)
	}
	fresh, err := s.seq.receive(seq)
	if err != nil {
		return err
	}
	if !fresh {
		s.m.framesDup.Inc()
		return nil
	}
	s.recent[s.recentN%recentFrames] = seqTime{seq, h.At, h.Channel}
	s.recentN++
	s.m.framesIn.Inc()
	s.noteWall(h.At + audio.FrameDuration)

	ch := h.Channel
	at := h.At
	if at < s.pushedTo[ch] && at > s.pushedTo[ch]-audio.FrameDuration/2 {
		at = s.pushedTo[ch] // capture clock jitter, not a late frame
	}
	if at-s.pushedTo[ch] >= skipGapMin {
		// Capture time jumped: the stretch is a gap (the pipeline skips
		// it without generating it), merged with the gap that explains
		// it when there is one (lost frames, a pause).
		s.recordGap(store.Gap{FromSeq: -1, ToSeq: -1, From: s.pushedTo[ch], To: at, Reason: "skipped"})
	}
	start := time.Now()
	err = s.dec[ch].push(payload, at, func(f decodedFrame) error {
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
	s.noteOpenSpeech(ch)
	return nil
}

// frameTime estimates the capture time of seq from the nearest frame
// received before it: both channels share the sequence, so two seqs make
// one 20 ms slot.
func (s *session) frameTime(seq int64) time.Duration {
	best := seqTime{seq: -1}
	for i := range min(s.recentN, recentFrames) {
		if r := s.recent[i]; r.seq < seq && r.seq > best.seq {
			best = r
		}
	}
	if best.seq < 0 {
		return s.audioEnd
	}
	return best.at + time.Duration((seq-best.seq+1)/2)*audio.FrameDuration
}

// declaredGap records frames the endpoint says it will never send.
func (s *session) declaredGap(from, to int64, reason string) error {
	missing, err := s.seq.declare(from, to)
	if err != nil || missing == 0 {
		return err
	}
	s.noteLost(from, to, missing, reason)
	return nil
}

// noteLost records a gap of missing frames from..to.
func (s *session) noteLost(from, to, missing int64, reason string) {
	s.m.framesLost.Add(float64(missing))
	fromT := s.frameTime(from)
	toT := fromT + time.Duration((to-from+2)/2)*audio.FrameDuration
	s.recordGap(store.Gap{FromSeq: from, ToSeq: to, From: fromT, To: toT, Frames: missing, Reason: reason})
}

// recordGap adds g to the call's gaps, merged with the last one when they
// meet; a new record is told to the pipeline. The open record is written
// when the next one starts or at the next checkpoint, so a flood of gap
// messages costs one record.
func (s *session) recordGap(g store.Gap) {
	from, to := g.From, g.To
	g.From, g.To = from.Round(time.Millisecond), to.Round(time.Millisecond)
	if s.gaps.stored > 0 && !s.gaps.merges(g) {
		s.flushGap()
	}
	// A pause is told to the pipeline even when it merged into the gap
	// before it (frames lost just before it, or a call past its gap
	// records): a paused stretch is not dead air.
	if added := s.gaps.add(g); (added || g.Reason == call.GapPaused) && s.an != nil {
		for _, ch := range protocol.BothChannels {
			s.an.Gap(ch, from, to, g.Reason)
		}
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

// tick runs the pipeline's timers and checkpoints; true means the call
// was dropped because its records cannot be written.
func (s *session) tick(now time.Time) bool {
	if node, ok := s.host.ownedElsewhere(s.id); ok {
		s.takenOver(node)
		return true
	}
	if s.writes.failing() && now.Sub(s.ackSentAt) >= s.cfg.AckInterval {
		// Before the failed writes are tried again: they failed because
		// this node lost the quorum, and another node may have taken the
		// call over meanwhile, which the watch of the owners has not
		// necessarily caught up with when writes work again.
		if node, err := s.host.confirmOwner(s.id); err == nil && node != "" {
			s.takenOver(node)
			return true
		}
	}
	if s.an != nil && s.audioEnd > 0 {
		s.publish(s.an.Tick(s.audioEnd))
	}
	if ack, _ := s.ackPoint(); (ack != s.ackSent || s.gaps.dirty || s.writes.failing()) && now.Sub(s.ackSentAt) >= s.cfg.AckInterval {
		s.checkpoint()
	}
	if s.writes.failing() && (now.Sub(s.writes.since) >= s.cfg.StorageTimeout || len(s.writes.queue) >= maxQueuedWrites) {
		s.storageLost(s.writes.err)
		return true
	}
	if d := now.Sub(s.procSampleAt); d >= time.Second && s.procAudio > 0 {
		s.m.rtf.Observe(s.procTime.Seconds() / s.procAudio.Seconds())
		s.procTime, s.procAudio, s.procSampleAt = 0, 0, now
	}
	return false
}

// checkpoint stores the ingest progress and only then acks it, so an
// acknowledged frame survives an engine restart. While any record of the
// call is unwritten (a full disk) nothing is acked: the endpoint keeps
// the frames.
func (s *session) checkpoint() {
	s.ackSentAt = time.Now()
	if !s.writes.retry(s.ackSentAt) {
		return
	}
	s.flushGap()
	s.fillCall()
	c := s.call
	s.writes.do(s.ackSentAt, func() error { return s.store.PutCall(c) })
	if s.writes.failing() {
		s.log.Error("checkpoint not written: acks stop until the store takes writes again", "err", s.writes.err)
		return
	}
	if s.conn != nil {
		s.conn.setAck(c.Ack)
	}
	s.ackSent = c.Ack
}

// flushGap writes the open gap record if it changed.
func (s *session) flushGap() {
	if !s.gaps.dirty {
		return
	}
	g := s.gaps.last
	s.gaps.dirty = false
	s.writes.do(time.Now(), func() error { return s.store.AppendGap(store.CallID(s.id), g) })
}

// noteRedaction keeps the pipeline's redaction state with the call, so a
// call resumed after a crash in the middle of a card still knows a card is
// being read.
func (s *session) noteRedaction() {
	if b, err := json.Marshal(s.an.RedactionState()); err == nil {
		s.call.Redaction = b
	}
}

func (s *session) fillCall() {
	if s.an != nil {
		s.noteRedaction()
	}
	s.call.Ack, s.call.Frames = s.seq.ack, s.seq.received
	if s.pipelineLive {
		s.call.Ack, s.call.Frames = s.ackPoint()
		s.call.Channels = s.liveChannels(s.call.Ack)
	}
	s.call.FramesLost = s.seq.lost
	s.call.Audio = s.audioEnd.Round(time.Millisecond)
	s.call.Duration = s.call.Audio
	s.call.Categories = s.categories
	s.call.Sentiment = s.sentiment
}

// publish stamps, publishes and stores events, and folds them into the
// call's summary from their typed data: the session never reads back the
// JSON it published.
func (s *session) publish(evs []protocol.Event) {
	for _, ev := range evs {
		ev.CallID, ev.AgentID = s.id, s.agentID
		replaced := s.replacing(&ev)
		d, err := s.hub.Publish(ev)
		if err != nil {
			s.log.Error("publishing event", "type", ev.Type, "err", err)
			continue
		}
		s.call.LastSeq = d.Event.Seq
		now := time.Now()
		seq, js := d.Event.Seq, d.JSON
		s.writes.do(now, func() error { return s.store.AppendEvent(store.CallID(s.id), seq, js) })
		ref := ev.T
		switch data := ev.Data.(type) {
		case protocol.Utterance:
			ref = protocol.FromSeconds(data.End)
			s.storeUtterance(data, seq, replaced, now)
		case protocol.Hint:
			s.call.Hints++
			if data.ID != "" && protocol.ValidID(data.ID) {
				s.writes.do(now, func() error { return s.store.AppendHint(store.CallID(s.id), data.ID, js) })
			}
		case protocol.Alert:
			s.call.Alerts++
		case protocol.Category:
			if data.ID != "" && !slices.Contains(s.categories, data.ID) {
				s.categories = append(s.categories, data.ID)
			}
		case protocol.Sentiment:
			s.foldSentiment(data)
		}
		if w, ok := s.wallAt(ref); ok {
			s.m.eventLatency.WithLabelValues(ev.Type).Observe(time.Since(w).Seconds())
		}
	}
}

// storeUtterance writes a final transcript (or, replacing an utterance an
// earlier pipeline stopped in the middle of, puts it in that one's place).
func (s *session) storeUtterance(u protocol.Utterance, seq uint64, replaced *store.Utterance, now time.Time) {
	rec := store.Utterance{Speaker: u.Speaker, Start: protocol.FromSeconds(u.Start), End: protocol.FromSeconds(u.End),
		Text: u.Text, Words: u.Words, Confidence: u.Confidence, Sentiment: u.Sentiment, Seq: seq}
	if replaced != nil {
		old := *replaced
		s.writes.do(now, func() error { return s.store.ReplaceUtterance(store.CallID(s.id), old, rec) })
		return
	}
	s.writes.do(now, func() error { return s.store.AppendUtterance(store.CallID(s.id), rec) })
}

// foldSentiment keeps the latest rolling sentiment per speaker, and the
// caller's trend, in the live call's summary.
func (s *session) foldSentiment(f protocol.Sentiment) {
	switch f.Speaker {
	case protocol.ChannelCaller:
		s.sentiment.Caller = protocol.Round3(f.Rolling)
		s.sentiment.Trend = insights.TrendWord(f.Trend)
	case protocol.ChannelAgent:
		s.sentiment.Agent = protocol.Round3(f.Rolling)
	}
}

// replacing marks the first final of a speaker with an utterance carried
// over (s.replaces) as replacing the stored part, and returns that part;
// nil for every other event. A final that starts after the restart is not
// the carried utterance (it ended without words): nothing is replaced.
func (s *session) replacing(ev *protocol.Event) *store.Utterance {
	u, ok := ev.Data.(protocol.Utterance)
	if !ok || ev.Type != protocol.EventTranscriptFinal {
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

// applyRecord folds a finished pipeline's record into the call.
func (s *session) applyRecord(r call.Record) {
	if r.Dynamics.TalkRatio > 0 {
		s.call.TalkRatio = protocol.Round3(r.Dynamics.TalkRatio)
	}
	for _, c := range r.Categories {
		// A resumed call's new pipeline only knows the categories since the
		// restart: keep the earlier ones too.
		if !slices.Contains(s.categories, c) {
			s.categories = append(s.categories, c)
		}
	}
	s.sentiment = store.Sentiment{Caller: r.Sentiment.Caller, Agent: r.Sentiment.Agent,
		Trend: insights.TrendWord(r.Sentiment.Trend)}
	if b, err := json.Marshal(r.Dynamics); err == nil {
		s.call.Dynamics = b
	}
	s.call.Segments = call.SegmentsWire(r.Segments)
	s.call.Channels = storedChannels(r.Channels)
}

// finish ends the call: flush the pipeline, record what never arrived,
// publish call.ended and save the summary. For "shutdown" the frames above
// the ack are not declared lost: the endpoint still holds them and may
// resume the call after the restart. An ErrStorage error means the call
// could not be saved: it stays resumable from its last checkpoint.
func (s *session) finish(reason protocol.EndReason) error {
	var ferr error
	if s.an != nil {
		ferr = s.flushPipeline(reason != protocol.EndShutdown)
	}
	if reason == protocol.EndShutdown {
		if err := s.host.saveOpenSpeech(s.id, s.call.Channels); err != nil {
			s.log.Warn("open speech not saved: a resume will decode the utterance in two parts", "err", err)
		}
	} else {
		s.missingAtEnd()
	}
	s.dropOpenSpeech(reason == protocol.EndShutdown)
	if err := s.endCall(reason); err != nil {
		return err
	}
	return ferr
}

// missingAtEnd declares every seq up to the highest seen that never
// arrived: one gap per hole, whatever its length.
func (s *session) missingAtEnd() {
	for _, h := range s.seq.holes() {
		missing, err := s.seq.declare(h.from, h.to)
		if err != nil || missing == 0 {
			continue // holes are below maxSeq, never too far ahead
		}
		s.noteLost(h.from, h.to, missing, "never_arrived")
	}
}

// endCall publishes call.ended, saves the final summary and releases the
// pipeline. It never calls the pipeline, so fail can use it on a broken
// one. It returns an ErrStorage error when a record of the call could not
// be written.
func (s *session) endCall(reason protocol.EndReason) error {
	s.publish([]protocol.Event{{Type: protocol.EventCallEnded, T: s.audioEnd,
		Data: protocol.CallEnded{Reason: reason, DurationS: protocol.Seconds(s.audioEnd)}}})
	s.flushGap()
	s.fillCall()
	if reason != protocol.EndShutdown {
		// Everything received counts; nothing more will be resent.
		s.call.Frames = s.seq.received + int64(s.seq.pending())
	}
	now := time.Now()
	s.call.Status, s.call.EndReason, s.call.EndedAt = store.StatusEnded, reason, &now
	if s.call.Categories == nil {
		s.call.Categories = []string{}
	}
	c := s.call
	s.writes.retry(now)
	s.writes.do(now, func() error { return s.store.PutCall(c) })
	s.hub.CloseCall(s.id)
	s.closePipeline()
	if s.writes.failing() {
		s.log.Error("call not saved", "reason", reason, "err", s.writes.err)
		return fmt.Errorf("%w: %w", ErrStorage, s.writes.err)
	}
	s.m.callsTotal.WithLabelValues(string(reason)).Inc()
	s.host.releaseCall(s.id)
	s.log.Info("call ended", "reason", reason, "frames", s.call.Frames, "lost", s.call.FramesLost, "audio", s.call.Audio)
	return nil
}

// AlertStorage is the id of the alert a call gets when the engine cannot
// write its records and drops it for a resume (ErrStorage).
const AlertStorage = "storage_unavailable"

// storageLost drops a call whose records cannot be written: its endpoint
// is closed with 1011 "storage unavailable" and keeps every unacked frame;
// the stored call stays live at its last checkpoint, exactly as after a
// crash, so a resume (here once writes work again, or on a restarted
// engine) goes on from there. Supervisors get an alert.
func (s *session) storageLost(err error) {
	s.m.storageDrops.Inc()
	s.log.Error("store not writable: call dropped, resumable from its last checkpoint", "ack", s.call.Ack, "err", err)
	ev := protocol.Event{Type: protocol.EventAlert, CallID: s.id, AgentID: s.agentID, T: s.audioEnd, TS: time.Now(),
		Data: protocol.Alert{ID: AlertStorage, Severity: protocol.SeverityCritical,
			Text: "The engine cannot write to its disk: this call's audio is kept by its endpoint and resent once storage works again."}}
	if _, err := s.hub.Publish(ev); err != nil {
		s.log.Error("publishing storage alert", "err", err)
	}
	s.closePipeline()
	s.hub.CloseCall(s.id)
	s.host.adoptOrphan(s.id)
	if s.conn != nil {
		s.conn.closeWith(protocol.CloseInternalError, "storage unavailable")
		s.setConn(nil)
	}
}

// takenOver stops a call another node now owns: its endpoint resumed
// there (this node was cut off, say). Nothing more is written or
// published — the other node's pipeline goes on from the last checkpoint —
// and the endpoint, if still connected here, is closed with 4409.
func (s *session) takenOver(node string) {
	s.log.Warn("call taken over by another node: stopped here without writing", "node", node, "ack", s.seq.ack)
	s.closePipeline()
	s.hub.CloseCall(s.id)
	if s.conn != nil {
		s.conn.closeWith(protocol.CloseCallActive, closeReason("call taken over by node "+node))
		s.setConn(nil)
	}
}

// fail ends the call after a pipeline error or panic: an error event, the
// call saved with reason "error", the endpoint closed with 1011 (1008 for
// a protocol violation). The server and every other call carry on.
func (s *session) fail(err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("session failed while failing", "panic", r)
		}
	}()
	s.m.sessionPanics.Inc()
	s.log.Error("call failed", "err", err)
	if errors.Is(err, ErrProtocol) {
		if s.conn != nil {
			s.conn.closeWith(protocol.ClosePolicyViolation, closeReason(err.Error()))
			s.setConn(nil)
		}
	}
	s.publish([]protocol.Event{{Type: protocol.EventError, T: s.audioEnd, Data: protocol.Error{Message: "call failed"}}})
	s.closePipeline()
	if err := s.endCall(protocol.EndError); err != nil {
		s.host.adoptOrphan(s.id)
	}
	if s.conn != nil {
		s.conn.closeWith(protocol.CloseInternalError, closeReason("call failed: "+err.Error()))
	}
}

// gapLog is a call's gap records: a gap that overlaps or touches the last
// one (by seq, or by call time when either has none) extends it instead of
// making a new record, and past max records every gap extends the last,
// so no sequence of messages makes more than max records.
type gapLog struct {
	max    int
	stored int64 // records made
	last   store.Gap
	dirty  bool // last changed since it was written
}

// add folds g in and reports whether it made a new record.
func (l *gapLog) add(g store.Gap) bool {
	if l.merges(g) {
		switch {
		case !l.meets(g):
			l.last.Reason = "merged"
		case l.last.Reason == "skipped":
			// A jump in capture time only says time passed; lost
			// frames or a pause say why.
			l.last.Reason = g.Reason
		}
		if g.FromSeq >= 0 && (l.last.FromSeq < 0 || g.ToSeq > l.last.ToSeq) {
			if l.last.FromSeq < 0 {
				l.last.FromSeq = g.FromSeq
			}
			l.last.ToSeq = max(l.last.ToSeq, g.ToSeq)
		}
		l.last.To = max(l.last.To, g.To)
		l.last.Frames += g.Frames
		l.dirty = true
		return false
	}
	l.last, l.dirty = g, true
	l.stored++
	return true
}

// merges reports whether g would extend the last record.
func (l *gapLog) merges(g store.Gap) bool {
	return l.stored > 0 && (l.meets(g) || l.stored >= int64(l.max))
}

// gapSlack is how far apart in call time two gaps may be and still be one.
const gapSlack = 100 * time.Millisecond

func (l *gapLog) meets(g store.Gap) bool {
	if g.FromSeq >= 0 && l.last.FromSeq >= 0 {
		return g.FromSeq <= l.last.ToSeq+1 && g.ToSeq >= l.last.FromSeq-1
	}
	return g.From <= l.last.To+gapSlack && g.To >= l.last.From-gapSlack
}

// maxQueuedWrites bounds the records a session holds while the store
// fails; at it the call is dropped (storageLost) at its next tick, and
// what it would have written is produced again from the resent audio.
const maxQueuedWrites = 4096

// recordWriter writes one call's records in order. When a write fails it
// keeps that record and every later one, in order, and retries them at the
// next checkpoint: nothing is lost while the disk is full for a moment,
// and the session knows not to ack meanwhile.
type recordWriter struct {
	queue []func() error
	since time.Time // first failure of the current run of failures
	err   error     // the last failure
	// onError counts failures (the store-error metric); nil in tests.
	onError func()
}

func (w *recordWriter) failing() bool { return len(w.queue) > 0 || w.err != nil }

// do writes a record now, or queues it behind earlier failed ones.
func (w *recordWriter) do(now time.Time, write func() error) {
	if len(w.queue) > 0 {
		if len(w.queue) < maxQueuedWrites {
			w.queue = append(w.queue, write)
		}
		return
	}
	if err := write(); err != nil {
		w.fail(now, err)
		w.queue = append(w.queue, write)
	} else {
		w.err = nil
	}
}

// retry writes the queued records in order; true when none is left.
func (w *recordWriter) retry(now time.Time) bool {
	for len(w.queue) > 0 {
		if err := w.queue[0](); err != nil {
			w.fail(now, err)
			return false
		}
		w.queue[0] = nil
		w.queue = w.queue[1:]
	}
	w.queue = nil
	if w.err != nil {
		w.err, w.since = nil, time.Time{}
	}
	return true
}

func (w *recordWriter) fail(now time.Time, err error) {
	if w.err == nil && len(w.queue) == 0 {
		w.since = now
	}
	w.err = err
	if w.onError != nil {
		w.onError()
	}
}
