package endpoint

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/internal/ingestclient"
)

func TestAutoDetector(t *testing.T) {
	const win = 2 * time.Second
	at := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	t.Run("speech on one channel only does not start a call", func(t *testing.T) {
		a := newAutoDetector(win)
		if got := a.update(0, at(1), vadNews{start: true, segStart: at(0.9), speaking: true}, false); got != autoNone {
			t.Fatalf("got %v", got)
		}
		if got := a.update(1, at(5), vadNews{}, false); got != autoNone {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("speech on both channels within the window starts a call at the first word", func(t *testing.T) {
		a := newAutoDetector(win)
		a.update(1, at(1), vadNews{start: true, segStart: at(0.8), speaking: true}, false)
		if got := a.update(0, at(2.5), vadNews{start: true, segStart: at(2.3), speaking: true}, false); got != autoStart {
			t.Fatalf("got %v, want start", got)
		}
		if a.firstSpeech() != at(0.8) {
			t.Errorf("first speech %v", a.firstSpeech())
		}
	})
	t.Run("the call ends after the window of silence on both channels", func(t *testing.T) {
		a := newAutoDetector(win)
		a.update(0, at(1), vadNews{start: true, segStart: at(1), speaking: true}, true)
		a.update(1, at(3), vadNews{speaking: true}, true)
		if got := a.update(0, at(4.9), vadNews{}, true); got != autoNone {
			t.Fatalf("ended at 4.9 s with speech until 3.02 s")
		}
		if got := a.update(0, at(5.1), vadNews{}, true); got != autoEnd {
			t.Fatalf("got %v at 5.1 s, want end", got)
		}
	})
}

func TestPreRollKeepsTheNewestFramesInOrder(t *testing.T) {
	p := newPreRoll(3)
	pcm := make([]byte, 2*audio.FrameSize)
	for i := range 5 {
		pcm[0] = byte(i)
		p.put(time.Duration(i)*audio.FrameDuration, pcm)
	}
	var got []byte
	p.each(3*audio.FrameDuration, func(at time.Duration, b []byte) { got = append(got, b[0]) })
	if string(got) != "\x03\x04" || p.oldest() != 2*audio.FrameDuration {
		t.Errorf("got %v, oldest %v", got, p.oldest())
	}
}

func TestControlAPIRefusesBrowsersAndRemoteHosts(t *testing.T) {
	d := newDaemon(Config{Buffer: time.Minute}, nil)
	srv := httptest.NewServer(d.controlHandler())
	defer srv.Close()
	tests := []struct {
		name   string
		host   string
		header bool
		want   int
	}{
		{"a local program with the header is served", "", true, http.StatusOK},
		{"a request without the header (a web page) is refused", "", false, http.StatusForbidden},
		{"a rebinding DNS name is refused", "evil.example.com", true, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+"/v1/status", nil)
			if tt.host != "" {
				req.Host = tt.host
			}
			if tt.header {
				req.Header.Set(ControlHeader, "1")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
	t.Run("ending or pausing without a call is a clear conflict", func(t *testing.T) {
		addr := strings.TrimPrefix(srv.URL, "http://")
		for _, p := range []string{"/v1/call/end", "/v1/pause"} {
			err := Control(context.Background(), addr, "POST", p, nil, nil)
			if err == nil || !strings.Contains(err.Error(), "no call") {
				t.Errorf("%s: %v", p, err)
			}
		}
		err := Control(context.Background(), addr, "POST", "/v1/call/start", map[string]string{"call_id": "bad id!"}, nil)
		if err == nil || !strings.Contains(err.Error(), "call id") {
			t.Errorf("bad call id: %v", err)
		}
	})
}

func TestCheckEngineTellsABadTokenFromAnUnreachableEngine(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer good" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		http.Error(w, "not a websocket handshake", http.StatusBadRequest)
	}))
	defer srv.Close()
	const down = "http://127.0.0.1:1"
	tests := []struct {
		name    string
		token   string
		urls    []string
		ok, bad bool // no error; ErrTokenRejected
	}{
		{"a good token is taken", "good", []string{srv.URL}, true, false},
		{"a bad token is rejected", "bad", []string{srv.URL}, false, true},
		{"an unreachable engine is a connection error", "good", []string{down}, false, false},
		{"the first engine that answers decides for a good token", "good", []string{down, srv.URL}, true, false},
		{"the first engine that answers decides for a bad token", "bad", []string{down, srv.URL}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkEngine(context.Background(), Config{Token: tt.token, Agent: "A1"}, tt.urls)
			if (err == nil) != tt.ok || errors.Is(err, ErrTokenRejected) != tt.bad {
				t.Errorf("checkEngine = %v, want ok %v, rejected %v", err, tt.ok, tt.bad)
			}
		})
	}
}

func TestCheckControlAddrAcceptsOnlyLoopback(t *testing.T) {
	tests := []struct {
		name string
		addr string
		ok   bool
	}{
		{"the default address is accepted", DefaultControl, true},
		{"localhost is accepted", "localhost:9000", true},
		{"IPv6 loopback is accepted", "[::1]:9000", true},
		{"every interface is refused", "0.0.0.0:8471", false},
		{"a LAN address is refused", "192.168.1.5:8471", false},
		{"an address without a port is refused", "127.0.0.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckControlAddr(tt.addr)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrControlAddr)) {
				t.Errorf("CheckControlAddr(%q) = %v, want ok %v", tt.addr, err, tt.ok)
			}
		})
	}
}

func TestRunRefusesAControlAddressOthersCanReach(t *testing.T) {
	err := Run(context.Background(), Config{URL: "http://127.0.0.1:1", Token: "t", Agent: "A", CallerDevice: "x", Control: "0.0.0.0:8471"})
	if !errors.Is(err, ErrControlAddr) {
		t.Errorf("Run: %v, want ErrControlAddr", err)
	}
}

func TestRunRefusesBothURLAndURLs(t *testing.T) {
	err := Run(context.Background(), Config{URL: "http://127.0.0.1:1", URLs: []string{"http://127.0.0.1:2"}, Token: "t", Agent: "A", CallerDevice: "x"})
	if !errors.Is(err, ingestclient.ErrBadURL) {
		t.Errorf("Run: %v, want ErrBadURL", err)
	}
}
