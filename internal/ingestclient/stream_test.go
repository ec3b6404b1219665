package ingestclient

import (
	"context"
	"testing"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/protocol"
)

func TestStreamKeepsRealTimePaceAndFraming(t *testing.T) {
	c, err := New(Config{URL: "http://127.0.0.1:1", Token: "t", CallID: "c", AgentID: "A", RingFrames: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	// 0.5 s of audio at 4× speed takes 125 ms; the caller side is shorter
	// and must be padded.
	agent := make([]float32, audio.PipelineRate.Samples(500*time.Millisecond))
	caller := make([]float32, 1000)
	var ends []time.Duration
	start := time.Now()
	err = Stream(context.Background(), c, agent, caller, StreamConfig{Speed: 4, OnFrame: func(end time.Duration, _ time.Time) { ends = append(ends, end) }})
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	if el < 110*time.Millisecond || el > 2*time.Second {
		t.Errorf("0.5 s at 4× took %v", el)
	}
	if len(ends) != 25 || ends[24] != 500*time.Millisecond {
		t.Errorf("%d slots, last ending at %v", len(ends), ends[len(ends)-1])
	}
	if st := c.Stats(); st.Frames != 50 {
		t.Errorf("%d frames queued, want 50 (25 per channel)", st.Frames)
	}
}

func TestSendDropsTheOldestAndReportsAGapWhenTheRingIsFull(t *testing.T) {
	c, _ := New(Config{URL: "http://x", Token: "t", CallID: "c", AgentID: "A", RingFrames: 4})
	p := make([]byte, c.PayloadBytes())
	for i := 0; i < 10; i++ {
		if _, err := c.Send(protocol.Channel(i%2), 0, p); err != nil {
			t.Fatal(err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ring.len() != 4 || c.ring.at(0).seq != 6 || len(c.gaps) != 1 || c.gaps[0] != (gapRange{0, 5}) {
		t.Fatalf("ring %d from %d, gaps %v", c.ring.len(), c.ring.at(0).seq, c.gaps)
	}
	c.ackLocked(7)
	if c.ring.len() != 2 || len(c.gaps) != 0 {
		t.Errorf("after ack 7: ring %d, gaps %v", c.ring.len(), c.gaps)
	}
	if _, err := c.Send(2, 0, p); err == nil {
		t.Error("channel 2 accepted")
	}
}
