package ingestclient

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot/earshot/protocol"
)

// fakeEngine speaks the engine's side of the ingest protocol: it acks
// every frame it has with nothing missing before it, as the engine does,
// and can drop the connection after a number of frames to force a resume.
type fakeEngine struct {
	t    *testing.T
	node *fakeNode

	mu      sync.Mutex
	frames  map[uint64][]byte // seq -> whole message
	ack     int64
	conns   int
	resumes []bool
	dropAt  int // lose the first connection after this many frames (0: never)
	ended   bool
}

func newFakeEngine(t *testing.T, dropAt int) *fakeEngine {
	e := &fakeEngine{t: t, frames: map[uint64][]byte{}, ack: -1, dropAt: dropAt}
	e.node = newFakeNode(t, func(ws *websocket.Conn, start protocol.Control) {
		e.mu.Lock()
		e.conns++
		first := e.conns == 1
		e.resumes = append(e.resumes, start.Resume)
		ack := e.ack
		e.mu.Unlock()
		ws.WriteJSON(map[string]any{"type": "started", "call_id": start.CallID, "ack": ack})
		got := 0
		for {
			mt, msg, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if mt == websocket.TextMessage {
				var m map[string]any
				json.Unmarshal(msg, &m)
				if m["type"] == "end" {
					e.mu.Lock()
					e.ended = true
					n := len(e.frames)
					e.mu.Unlock()
					ws.WriteJSON(map[string]any{"type": "ended", "call_id": start.CallID, "frames": n, "gaps": 0})
					return
				}
				continue
			}
			seq := binary.LittleEndian.Uint64(msg[4:])
			e.mu.Lock()
			e.frames[seq] = append([]byte(nil), msg...)
			for {
				if _, ok := e.frames[uint64(e.ack+1)]; !ok {
					break
				}
				e.ack++
			}
			ack := e.ack
			e.mu.Unlock()
			got++
			if first && e.dropAt > 0 && got == e.dropAt {
				// The network dies: what the endpoint writes from here on
				// is lost, then the connection drops.
				ws.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				for {
					if _, _, err := ws.ReadMessage(); err != nil {
						return
					}
				}
			}
			ws.WriteJSON(map[string]any{"type": "ack", "seq": ack})
		}
	})
	return e
}

func TestClientDeliversEveryFrameOnceInOrderThroughAReconnect(t *testing.T) {
	for _, tt := range []struct {
		name   string
		dropAt int
	}{
		{"a steady connection gets every frame", 0},
		{"a connection dropped mid-call resumes and gets the rest", 37},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newFakeEngine(t, tt.dropAt)
			c, err := New(Config{URL: e.node.srv.URL, Token: "t", CallID: "c-1", AgentID: "A", MinBackoff: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			runErr := make(chan error, 1)
			go func() { runErr <- c.Run(ctx) }()
			const n = 200
			p := make([]byte, c.PayloadBytes())
			for i := range n {
				for j := range p {
					p[j] = byte(i + j)
				}
				if _, err := c.Send(protocol.Channel(i%2), time.Duration(i/2)*20*time.Millisecond, p); err != nil {
					t.Fatal(err)
				}
				if i%10 == 9 {
					// Frames come in bursts, as a device delivers them.
					time.Sleep(2 * time.Millisecond) // pacing the producer, not synchronisation
				}
			}
			ended, err := c.End(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := <-runErr; err != nil {
				t.Fatalf("Run: %v", err)
			}
			if ended.Frames != n {
				t.Errorf("engine says %d frames, want %d", ended.Frames, n)
			}
			e.mu.Lock()
			defer e.mu.Unlock()
			for i := range n {
				m := e.frames[uint64(i)]
				if len(m) != 20+len(p) || m[0] != 1 || m[1] != byte(i%2) || binary.LittleEndian.Uint64(m[12:]) != uint64(i/2*20000) {
					t.Fatalf("frame %d: header % x", i, m[:min(len(m), 20)])
				}
				for j := range p {
					p[j] = byte(i + j)
				}
				if !bytes.Equal(m[20:], p) {
					t.Fatalf("frame %d: payload differs", i)
				}
			}
			if tt.dropAt > 0 && (e.conns != 2 || e.resumes[0] || !e.resumes[1]) {
				t.Errorf("%d connections, resume flags %v; want a fresh start then a resume", e.conns, e.resumes)
			}
			if st := c.Stats(); tt.dropAt > 0 && st.Resent == 0 {
				t.Errorf("nothing resent after the drop: %+v", st)
			}
		})
	}
}

// countConn counts the writes that reach the network.
type countConn struct {
	net.Conn
	writes int
	data   bytes.Buffer
}

func (c *countConn) Write(p []byte) (int, error)      { c.writes++; return c.data.Write(p) }
func (c *countConn) SetWriteDeadline(time.Time) error { return nil }
func (c *countConn) SetDeadline(t time.Time) error    { return nil }

func TestBatchConnSendsAHeldBatchInOneWrite(t *testing.T) {
	t.Run("writes between hold and flush leave together, in order", func(t *testing.T) {
		cc := &countConn{}
		bc := &batchConn{Conn: cc}
		bc.hold()
		for _, s := range []string{"a", "bb", "ccc"} {
			bc.Write([]byte(s))
		}
		if cc.writes != 0 {
			t.Fatalf("%d writes before flush", cc.writes)
		}
		if err := bc.flush(); err != nil {
			t.Fatal(err)
		}
		if cc.writes != 1 || cc.data.String() != "abbccc" {
			t.Errorf("%d writes of %q, want 1 of abbccc", cc.writes, cc.data.String())
		}
	})
	t.Run("writes outside a batch go straight through", func(t *testing.T) {
		cc := &countConn{}
		bc := &batchConn{Conn: cc}
		bc.Write([]byte("pong"))
		if cc.writes != 1 {
			t.Errorf("%d writes", cc.writes)
		}
	})
	t.Run("a batch larger than the flush size goes out in pieces", func(t *testing.T) {
		cc := &countConn{}
		bc := &batchConn{Conn: cc}
		bc.hold()
		chunk := make([]byte, 1000)
		for range 3 * flushBytes / len(chunk) {
			bc.Write(chunk)
		}
		bc.flush()
		if cc.writes < 3 || cc.writes > 4 || cc.data.Len() != 3*flushBytes/len(chunk)*len(chunk) {
			t.Errorf("%d writes of %d bytes", cc.writes, cc.data.Len())
		}
	})
}

func TestSendAllocatesNothingOnceFramesAreAcknowledged(t *testing.T) {
	c, _ := New(Config{URL: "http://x", Token: "t", CallID: "c", AgentID: "A"})
	p := make([]byte, c.PayloadBytes())
	var seq uint64
	step := func() {
		for range 10 {
			seq, _ = c.Send(0, 0, p)
		}
		c.mu.Lock()
		c.ackLocked(int64(seq))
		c.mu.Unlock()
	}
	for range 100 {
		step() // the ring and the spare buffers reach their steady size
	}
	if a := testing.AllocsPerRun(100, step); a != 0 {
		t.Errorf("%v allocations per 10 frames", a)
	}
}
