// Command probe-limits replays, against a running engine, the hostile and
// unlucky ingest sequences of issue 12 and reports the CPU the engine
// process spent on each (read from /proc/PID/stat, so the probe's own work
// does not count). It speaks the wire protocol of docs/protocol.md itself,
// so it runs against older engines too:
//
//	go run ./scripts/probe-limits --url ws://127.0.0.1:8470 --token-file T --pid PID
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	url := flag.String("url", "ws://127.0.0.1:8470", "engine base URL (ws:// or wss://)")
	tokenFile := flag.String("token-file", "", "file holding an endpoint token for agent --agent")
	agent := flag.String("agent", "P1", "agent id of the token")
	pid := flag.Int("pid", 0, "engine process id, for its CPU time")
	wait := flag.Duration("wait", 20*time.Second, "how long to wait for each call to end")
	only := flag.String("only", "", "run only this scenario (seqjump, timejump, gaponly, gapflood, dropstarts)")
	dropTokens := flag.String("drop-tokens", "", "dropstarts: files of endpoint tokens for agents D0, D1, …, comma-separated (one start and drop each)")
	flag.Parse()
	tok, err := os.ReadFile(*tokenFile)
	if err != nil || *pid == 0 {
		fmt.Fprintln(os.Stderr, "probe-limits: need --token-file and --pid")
		os.Exit(2)
	}
	p := prober{url: strings.TrimSuffix(*url, "/"), token: strings.TrimSpace(string(tok)), agent: *agent, pid: *pid, wait: *wait}
	run := time.Now().UnixNano()
	scenarios := []struct {
		name string
		fn   func(id string) (string, error)
	}{
		{"seqjump", p.seqJump},
		{"timejump", p.timeJump},
		{"gaponly", p.gapOnly},
		{"gapflood", p.gapFlood},
		{"dropstarts", func(id string) (string, error) { return p.dropStarts(id, *dropTokens) }},
	}
	for _, s := range scenarios {
		if *only != "" && *only != s.name {
			continue
		}
		before := p.cpu()
		start := time.Now()
		outcome, err := s.fn(fmt.Sprintf("probe-%s-%d", s.name, run))
		if err != nil {
			outcome = "error: " + err.Error()
		}
		// Whatever the engine still spends after the call should have ended.
		time.Sleep(2 * time.Second)
		fmt.Printf("%-9s engine CPU %7.3f s  wall %6.2f s  %s\n", s.name, (p.cpu() - before).Seconds(), time.Since(start).Seconds(), outcome)
	}
}

type prober struct {
	url, token, agent string
	pid               int
	wait              time.Duration
}

// cpu is the engine's user+system CPU time.
func (p prober) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

func (p prober) dial(id string) (*websocket.Conn, error) {
	ws, _, err := websocket.DefaultDialer.Dial(p.url+"/v1/ingest", http.Header{"Authorization": {"Bearer " + p.token}})
	if err != nil {
		return nil, err
	}
	start := map[string]any{"type": "start", "call_id": id, "agent_id": p.agent, "sample_rate": 16000,
		"encoding": "pcm_s16le", "channels": []string{"agent", "caller"}}
	if err := ws.WriteJSON(start); err != nil {
		return nil, err
	}
	var m map[string]any
	if err := ws.ReadJSON(&m); err != nil || m["type"] != "started" {
		return nil, fmt.Errorf("start answered %v, %v", m, err)
	}
	return ws, nil
}

func frame(ch int, seq uint64, at time.Duration) []byte {
	b := []byte{1, byte(ch), 0, 0}
	b = binary.LittleEndian.AppendUint64(b, seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(at/time.Microsecond))
	return append(b, make([]byte, 640)...)
}

// ended sends end and waits for "ended" or the close.
func (p prober) ended(ws *websocket.Conn) string {
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"end"}`))
	return p.outcome(ws)
}

func (p prober) outcome(ws *websocket.Conn) string {
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(p.wait))
	for {
		_, msg, err := ws.ReadMessage()
		var ce *websocket.CloseError
		switch {
		case errors.As(err, &ce):
			return fmt.Sprintf("closed %d %q", ce.Code, ce.Text)
		case err != nil:
			return fmt.Sprintf("no answer within %v (%v)", p.wait, err)
		}
		var m map[string]any
		if json.Unmarshal(msg, &m) == nil && m["type"] == "ended" {
			return fmt.Sprintf("ended frames=%v gaps=%v", m["frames"], m["gaps"])
		}
	}
}

// seqJump: start, seq 0, seq 2^62, end.
func (p prober) seqJump(id string) (string, error) {
	ws, err := p.dial(id)
	if err != nil {
		return "", err
	}
	_ = ws.WriteMessage(websocket.BinaryMessage, frame(0, 0, 0))
	_ = ws.WriteMessage(websocket.BinaryMessage, frame(0, 1<<62, 0))
	return p.ended(ws), nil
}

// timeJump: both channels at 0, then both two hours later, end.
func (p prober) timeJump(id string) (string, error) {
	ws, err := p.dial(id)
	if err != nil {
		return "", err
	}
	for i, at := range []time.Duration{0, 0, 2 * time.Hour, 2 * time.Hour} {
		_ = ws.WriteMessage(websocket.BinaryMessage, frame(i%2, uint64(i), at))
	}
	return p.ended(ws), nil
}

// dropStarts: one call started and dropped (no close frame) per token in
// files, agents D0, D1, …; a real call replayed afterwards shows whether
// they still hold recognizers.
func (p prober) dropStarts(id, files string) (string, error) {
	if files == "" {
		return "skipped: no --drop-tokens", nil
	}
	started := 0
	for i, f := range strings.Split(files, ",") {
		tok, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		q := p
		q.token, q.agent = strings.TrimSpace(string(tok)), fmt.Sprintf("D%d", i)
		ws, err := q.dial(fmt.Sprintf("%s-%d", id, i))
		if err != nil {
			return "", err
		}
		started++
		ws.UnderlyingConn().Close()
	}
	return fmt.Sprintf("%d calls started and dropped", started), nil
}

// gapOnly: seq 0, then 50,000 gap messages of one seq each, end.
func (p prober) gapOnly(id string) (string, error) {
	ws, err := p.dial(id)
	if err != nil {
		return "", err
	}
	_ = ws.WriteMessage(websocket.BinaryMessage, frame(0, 0, 0))
	for i := 1; i <= 50_000; i++ {
		g := fmt.Sprintf(`{"type":"gap","from_seq":%d,"to_seq":%d}`, i, i)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(g)); err != nil {
			return "", err
		}
	}
	return p.ended(ws), nil
}

// gapFlood: 50,000 frames, each followed by a gap of the next seq.
func (p prober) gapFlood(id string) (string, error) {
	ws, err := p.dial(id)
	if err != nil {
		return "", err
	}
	go func() { // acks
		for {
			if _, _, err := ws.NextReader(); err != nil {
				return
			}
		}
	}()
	for i := uint64(0); i < 50_000; i++ {
		if err := ws.WriteMessage(websocket.BinaryMessage, frame(int(i%2), 2*i, time.Duration(i)*20*time.Millisecond)); err != nil {
			return "", err
		}
		g := fmt.Sprintf(`{"type":"gap","from_seq":%d,"to_seq":%d}`, 2*i+1, 2*i+1)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(g)); err != nil {
			return "", err
		}
	}
	// The ack reader owns reads now; wait for the close after end.
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"end"}`))
	deadline := time.Now().Add(p.wait)
	for time.Now().Before(deadline) {
		if err := ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)); err != nil {
			return "call ended (connection closed)", nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return "no end within the wait", nil
}
