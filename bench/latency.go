package bench

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot/earshot/audio"
)

// sendClock maps a call's call time to the wall time the replay handed
// that audio to its client, slot by slot.
type sendClock struct {
	mu    sync.Mutex
	slots []time.Time // index: 20 ms slot ending at (i+1)*20 ms
}

func (c *sendClock) note(end time.Duration, at time.Time) {
	c.mu.Lock()
	c.slots = append(c.slots, at)
	c.mu.Unlock()
}

// at returns when the audio up to call time t had been sent.
func (c *sendClock) at(t time.Duration) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := int(math.Ceil(float64(t)/float64(audio.FrameDuration))) - 1
	i = max(i, 0)
	if i >= len(c.slots) {
		return time.Time{}, false
	}
	return c.slots[i], true
}

// arrival is one final or hint as the subscriber received it.
type arrival struct {
	typ    string
	callID string
	t      float64 // event t
	end    float64 // transcript end
	id     string  // hint id
	at     time.Time
}

// subscriber is a supervisor wall watching every call: it notes when each
// final and hint arrives. Its reader goroutine is stopped by close.
type subscriber struct {
	ws       *websocket.Conn
	allEnded chan struct{} // closed when every call's call.ended arrived
	done     chan struct{} // the reader returned

	mu       sync.Mutex
	arrivals []arrival
	closed   bool
}

// subscribe connects to the engine's live events for all calls with token
// and starts reading; calls is how many call.ended events close allEnded.
func subscribe(ctx context.Context, addr, token string, calls int) (*subscriber, error) {
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+addr+"/v1/live?all=1", nil)
	if err != nil {
		return nil, err
	}
	if err := ws.WriteJSON(map[string]any{"type": "auth", "token": token}); err != nil {
		ws.Close()
		return nil, err
	}
	s := &subscriber{ws: ws, allEnded: make(chan struct{}), done: make(chan struct{})}
	go s.read(calls)
	return s, nil
}

func (s *subscriber) read(calls int) {
	defer close(s.done)
	ended := 0
	for {
		_, msg, err := s.ws.ReadMessage()
		now := time.Now()
		if err != nil {
			return
		}
		var ev struct {
			Type   string  `json:"type"`
			CallID string  `json:"call_id"`
			T      float64 `json:"t"`
			End    float64 `json:"end"`
			ID     string  `json:"id"`
		}
		if json.Unmarshal(msg, &ev) != nil {
			continue
		}
		if ev.Type == "call.ended" {
			if ended++; ended == calls {
				close(s.allEnded)
			}
		}
		// Every event is kept: latency uses finals and hints, a failover
		// the first event of any kind from a call's new node.
		s.mu.Lock()
		s.arrivals = append(s.arrivals, arrival{ev.Type, ev.CallID, ev.T, ev.End, ev.ID, now})
		s.mu.Unlock()
	}
}

// firstAfter returns when the first event of call (of type typ, or of any
// type for "") arrived after t.
func (s *subscriber) firstAfter(call, typ string, t time.Time) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.arrivals {
		if a.callID == call && (typ == "" || a.typ == typ) && a.at.After(t) {
			return a.at, true
		}
	}
	return time.Time{}, false
}

// close disconnects, waits for the reader and returns what arrived. It
// may be called more than once.
func (s *subscriber) close() []arrival {
	s.ws.Close()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.arrivals
}

// measureLatency sets the latency figures of res: for finals from when
// their utterance's last audio was sent, for hints from when their
// trigger's was (hintTrigger).
func measureLatency(res *LiveResult, arrivals []arrival, clocks map[string]*sendClock) {
	var finals, hints []float64
	lastFinal := map[string]arrival{}
	for _, a := range arrivals {
		clk, ok := clocks[a.callID]
		if !ok {
			continue
		}
		switch a.typ {
		case "transcript.final":
			lastFinal[a.callID] = a
			if sent, ok := clk.at(time.Duration(a.end * float64(time.Second))); ok {
				finals = append(finals, a.at.Sub(sent).Seconds())
			}
		case "hint":
			if sent, ok := clk.at(time.Duration(hintTrigger(lastFinal[a.callID], a) * float64(time.Second))); ok {
				hints = append(hints, a.at.Sub(sent).Seconds())
			}
		}
	}
	res.Finals, res.Hints = len(finals), len(hints)
	res.FinalLatencyP50 = roundTo(percentile(finals, 0.50), 3)
	res.FinalLatencyP95 = roundTo(percentile(finals, 0.95), 3)
	res.HintLatencyP95 = roundTo(percentile(hints, 0.95), 3)
	if len(finals) > 0 {
		res.FinalLatencyMaxS = roundTo(slices.Max(finals), 3)
	}
}

// hintTrigger is the call time a hint's latency is measured from. The
// pipeline emits an utterance's hints with the same call time as its
// transcript.final, right after it: then the trigger is the end of that
// utterance's speech. Otherwise the hint was driven by time (dead air, a
// disclosure missing by its deadline, overtalk from the VAD) and its own
// time is when its condition became true.
func hintTrigger(lastFinal, hint arrival) float64 {
	if lastFinal.typ != "" && math.Abs(lastFinal.t-hint.t) < 0.0005 {
		return lastFinal.end
	}
	return hint.t
}

func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func roundTo(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
