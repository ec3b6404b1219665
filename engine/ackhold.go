package engine

import (
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/store"
)

// An utterance in progress is audio the call has received but not yet
// turned into anything stored: its transcript comes when it ends. Were it
// acknowledged, a crash or the loss of the node would lose it (only a
// graceful stop keeps it, as open speech). So a checkpoint acknowledges
// only up to where the open utterances began, and stores where each
// channel's analysis stands (store.ChannelState.HeardTo): the endpoint
// keeps the utterance's frames and resends them to whichever node resumes
// the call, whose pipeline hears the utterance whole. No audio is stored
// or crosses the cluster for it.

// maxAckHold bounds how long the ack may stay at the start of one
// utterance. An endpoint gives up a connection whose frames got no ack for
// 10 s (docs/protocol.md, failover), so a longer utterance is acknowledged
// on after this, and only its start can be lost with a node.
const maxAckHold = 7 * time.Second

// ackHold is where one channel's utterance in progress holds the ack.
type ackHold struct {
	open bool          // the channel is in an utterance that began at from
	from time.Duration // where the pipeline says it began
	held bool          // the ack stops before seq
	seq  int64         // the first frame of the channel the utterance needs
	at   time.Duration // that frame's capture time
}

// noteOpenSpeech follows channel ch's utterance in progress after a frame
// of it was analysed.
func (s *session) noteOpenSpeech(ch protocol.Channel) {
	h := &s.holds[ch]
	from, open := s.an.OpenSince(ch)
	switch {
	case !open:
		*h = ackHold{}
	case h.open && h.from == from:
		if h.held && s.pushedTo[ch]-h.at > maxAckHold {
			h.held = false
			s.log.Debug("utterance too long to hold its ack", "speaker", ch, "from", from)
		}
	default:
		seq, at, ok := s.firstFrameFrom(ch, from, s.ackSent+1)
		*h = ackHold{open: true, from: from, held: ok, seq: seq, at: at}
	}
}

// firstFrameFrom finds, among the recent frames, channel ch's first frame
// with audio at or after call time from and a seq of at least minSeq (the
// endpoint has dropped what was acknowledged): the frame that holds from.
// When the utterance began before the frames kept, the oldest one of the
// channel is the best there is.
func (s *session) firstFrameFrom(ch protocol.Channel, from time.Duration, minSeq int64) (seq int64, at time.Duration, ok bool) {
	var oldest seqTime
	found := false
	for i := range min(s.recentN, recentFrames) {
		r := s.recent[i]
		if r.ch != ch || r.seq < minSeq {
			continue
		}
		if r.at+audio.FrameDuration > from && (!ok || r.seq < seq) {
			seq, at, ok = r.seq, r.at, true
		}
		if !found || r.seq < oldest.seq {
			oldest, found = r, true
		}
	}
	if !ok && found {
		return oldest.seq, oldest.at, true
	}
	return seq, at, ok
}

// ackPoint is what a checkpoint acknowledges: every frame received except
// those of utterances in progress, and the frames that counts as received.
// A hold that would reach back over frames the endpoint declared lost is
// dropped, as the count would then be unknown.
func (s *session) ackPoint() (ack, received int64) {
	ack = s.seq.ack
	for _, h := range s.holds {
		if h.held {
			ack = min(ack, h.seq-1)
		}
	}
	ack = max(ack, s.ackSent)
	if r, ok := s.seq.receivedThrough(ack); ok {
		return ack, r
	}
	return s.seq.ack, s.seq.received
}

// liveChannels is where each channel's analysis stands for a checkpoint at
// ack, taken while the pipeline runs: a channel whose utterance is held
// starts again where it began, not speaking; the other goes on from the
// audio it has analysed.
func (s *session) liveChannels(ack int64) []store.ChannelState {
	var live [2]call.ChannelState
	for ch := range live {
		live[ch] = s.an.LiveState(protocol.Channel(ch))
		live[ch].HeardTo = s.pushedTo[ch]
		if h := s.holds[ch]; h.held && h.seq > ack {
			live[ch].HeardTo, live[ch].Speaking = h.at, false
		}
	}
	return storedChannels(live)
}

// resumePoints is where each channel of a stored call goes on from: what
// its last checkpoint says it had analysed, or its audio's end.
func resumePoints(c store.Call) [2]time.Duration {
	at := [2]time.Duration{c.Audio, c.Audio}
	for ch, st := range channelStates(c.Channels) {
		if st.HeardTo > 0 && st.HeardTo < c.Audio {
			at[ch] = st.HeardTo
		}
	}
	return at
}

// A graceful stop of a cluster node lets the utterances in progress end
// before it releases a call, as long as its endpoint keeps sending: the
// call then stops between utterances, and the node that resumes it needs
// no audio of this one (open speech is saved to this node's disk only).
// A single engine keeps the open speech for its own restart instead.

// startDrain begins the drain of a call at a shutdown; false when there is
// nothing to wait for.
func (s *session) startDrain(now time.Time) bool {
	if !s.host.inCluster() || s.conn == nil || !s.utteranceOpen() {
		return false
	}
	s.drainUntil = now.Add(min(maxAckHold, s.cfg.ShutdownTimeout/2))
	s.log.Info("engine stopping: the call is released once its utterance in progress ends", "within", s.drainUntil.Sub(now))
	return true
}

// drained ends a draining call for the shutdown once no utterance is in
// progress, its endpoint is gone, or the drain's time is up; true when it
// did.
func (s *session) drained(now time.Time) bool {
	if s.drainUntil.IsZero() || s.conn != nil && s.utteranceOpen() && now.Before(s.drainUntil) {
		return false
	}
	s.stopForShutdown()
	return true
}

// utteranceOpen says whether either channel is in an utterance without a
// final.
func (s *session) utteranceOpen() bool {
	return s.holds[0].open || s.holds[1].open
}
