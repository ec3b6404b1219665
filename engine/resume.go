package engine

import (
	"cmp"
	"encoding/binary"
	"slices"
	"time"

	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/insights"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/store"
)

// The stored form of what a resumed call's pipeline continues from, and
// back: the store keeps bytes and millisecond times, the pipeline samples.
// These read what an earlier process wrote to disk.

// storedChannels is the pipeline's channel states as the call keeps them.
func storedChannels(in [2]call.ChannelState) []store.ChannelState {
	out := make([]store.ChannelState, len(in))
	for i, c := range in {
		out[i] = store.ChannelState{NoiseFloorDBFS: c.NoiseFloorDBFS, Speaking: c.Speaking, Adaptation: c.Adaptation,
			HeardTo: c.HeardTo.Round(time.Millisecond)}
		if len(c.OpenSpeech) > 0 {
			b := make([]byte, 2*len(c.OpenSpeech))
			for j, v := range c.OpenSpeech {
				binary.LittleEndian.PutUint16(b[2*j:], uint16(v))
			}
			out[i].OpenSpeech, out[i].OpenSpeechFrom = b, c.OpenSpeechFrom.Round(time.Millisecond)
		}
	}
	return out
}

// pipelineChannels is the inverse of storedChannels; zero (unknown) when
// the call kept none.
func pipelineChannels(in [2]store.ChannelState) (out [2]call.ChannelState) {
	for i, c := range in {
		out[i] = call.ChannelState{NoiseFloorDBFS: c.NoiseFloorDBFS, Speaking: c.Speaking, Adaptation: c.Adaptation,
			OpenSpeechFrom: c.OpenSpeechFrom, HeardTo: c.HeardTo}
		if len(c.OpenSpeech) > 0 {
			pcm := make([]int16, len(c.OpenSpeech)/2)
			for j := range pcm {
				pcm[j] = int16(binary.LittleEndian.Uint16(c.OpenSpeech[2*j:]))
			}
			out[i].OpenSpeech = pcm
		}
	}
	return out
}

// channelStates is a stored call's channel states; zero when it has none.
func channelStates(c []store.ChannelState) (out [2]store.ChannelState) {
	if len(c) == 2 {
		copy(out[:], c)
	}
	return out
}

// storedSentiment is the sentiment scores of a call's stored utterances
// in the order their finals were published; utterances without a score
// and those in skip (to be replaced) are left out.
func storedSentiment(utts []store.Utterance, skip ...store.Utterance) []insights.TimedScore {
	utts = slices.DeleteFunc(slices.Clone(utts), func(u store.Utterance) bool {
		return slices.ContainsFunc(skip, func(x store.Utterance) bool { return x.Seq == u.Seq })
	})
	slices.SortStableFunc(utts, func(a, b store.Utterance) int { return cmp.Compare(a.Seq, b.Seq) })
	var out []insights.TimedScore
	for _, u := range utts {
		if u.Sentiment == nil {
			continue
		}
		out = append(out, insights.TimedScore{Speaker: u.Speaker, At: u.End, Score: u.Sentiment.Score})
	}
	return out
}

// openUtterances finds, for each channel that stopped in the middle of an
// utterance whose audio it kept (ChannelState.OpenSpeech), the stored final
// of the part decoded before the stop: the last utterance of that speaker
// starting where the open speech does or later. A part with no words was
// never stored, and has nothing to replace.
func openUtterances(resume [2]store.ChannelState, utts []store.Utterance) map[protocol.Channel]store.Utterance {
	out := map[protocol.Channel]store.Utterance{}
	for i, r := range resume {
		if len(r.OpenSpeech) == 0 {
			continue
		}
		speaker := protocol.Channel(i)
		for _, u := range utts {
			if u.Speaker == speaker && u.Start >= r.OpenSpeechFrom-time.Millisecond && u.Seq > out[speaker].Seq {
				out[speaker] = u
			}
		}
	}
	return out
}
