package engine

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot/earshot/protocol"
)

func TestALiveClientThatNeverAuthenticatesIsToldWhy(t *testing.T) {
	old := authTimeout
	authTimeout = 300 * time.Millisecond
	t.Cleanup(func() { authTimeout = old })
	e := startEngine(t, t.TempDir(), "")
	tests := []struct {
		name   string
		header http.Header
		code   int
	}{
		{"a client without a token gets 4401 and the reason", nil, protocol.CloseUnauthorized},
		{"a client authenticated by header gets a policy violation: the auth message is still required",
			http.Header{"Authorization": {"Bearer " + e.tokens["supervisor"]}}, websocket.ClosePolicyViolation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws, _, err := websocket.DefaultDialer.Dial(e.ws()+"/v1/live?all=1", tc.header)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			start := time.Now()
			code, reason := closeOf(ws)
			if code != tc.code || !strings.Contains(reason, `no {"type":"auth",...} message within 300ms`) {
				t.Errorf("closed %d %q, want %d naming the missing auth message", code, reason, tc.code)
			}
			if took := time.Since(start); took < authTimeout {
				t.Errorf("closed after %v, before the %v the client has", took, authTimeout)
			}
		})
	}
	t.Run("a client that authenticates in time is not closed", func(t *testing.T) {
		ws, _, err := websocket.DefaultDialer.Dial(e.ws()+"/v1/live?all=1", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		if err := ws.WriteJSON(map[string]string{"type": "auth", "token": e.tokens["supervisor"]}); err != nil {
			t.Fatal(err)
		}
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, msg, err := ws.ReadMessage(); err != nil || !strings.Contains(string(msg), "ready") {
			t.Fatalf("first message %q, %v; want ready", msg, err)
		}
		// Past the auth timeout the subscription stays open: the next
		// read times out on the client's side, not with a close.
		ws.SetReadDeadline(time.Now().Add(2 * authTimeout))
		if _, _, err := ws.ReadMessage(); websocket.IsUnexpectedCloseError(err) || err == nil {
			t.Errorf("after the auth timeout: %v, want the client's own read timeout", err)
		}
	})
}
