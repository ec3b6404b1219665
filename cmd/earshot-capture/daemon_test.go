package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/audio"
)

func TestConfigFileAndFlags(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "tok")
	os.WriteFile(tok, []byte("secret-token\n"), 0o600)
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte("# rolled out by IT\nurl: http://engine:8080\ntoken_file: "+tok+"\nagent: A17\ncaller_device: sink.monitor\nbuffer: 90s\nauto: true\nperiod: 50ms\n"), 0o600)
	tests := []struct {
		name    string
		args    []string
		file    string
		check   func(t *testing.T, c Config)
		wantErr bool
	}{
		{"the file is read and the token file trimmed", []string{"--config", file}, "", func(t *testing.T, c Config) {
			if c.URL != "http://engine:8080" || c.Token != "secret-token" || c.Buffer != 90*time.Second || !c.Auto || c.Control != "127.0.0.1:8471" || c.Period != 50*time.Millisecond {
				t.Errorf("config %+v", c)
			}
		}, false},
		{"flags override the file", []string{"--config", file, "--buffer", "30s", "--agent", "B2", "--auto=false", "--period", "100ms"}, "", func(t *testing.T, c Config) {
			if c.Buffer != 30*time.Second || c.Agent != "B2" || c.Auto || c.Period != 100*time.Millisecond {
				t.Errorf("config %+v", c)
			}
		}, false},
		{"a control address other machines can reach is refused", []string{"--config", file, "--control", "0.0.0.0:8471"}, "", nil, true},
		{"the device period defaults to 200 ms", []string{"--url", "http://x:1", "--token", "t", "--agent", "A", "--caller-device", "m"}, "", func(t *testing.T, c Config) {
			if c.Period != 200*time.Millisecond {
				t.Errorf("period %v", c.Period)
			}
		}, false},
		{"a device period of a second is refused", []string{"--config", file, "--period", "1s"}, "", nil, true},
		{"a missing caller device is refused", []string{"--url", "http://x:1", "--token", "t", "--agent", "A"}, "", nil, true},
		{"an unknown key in the file is an error", []string{"--config", filepath.Join(dir, "bad.yaml")}, "caller_devise: x\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.file != "" {
				os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(tt.file), 0o600)
			}
			var stderr strings.Builder
			c, err := runFlags(tt.args, &stderr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v (stderr %q), want error %v", err, stderr.String(), tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

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
	d := newDaemon(Config{Buffer: time.Minute}, testLogger(t, "d"), nil)
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
				req.Header.Set(controlHeader, "1")
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
			err := controlCall(context.Background(), addr, "POST", p, nil, nil)
			if err == nil || !strings.Contains(err.Error(), "no call") {
				t.Errorf("%s: %v", p, err)
			}
		}
		err := controlCall(context.Background(), addr, "POST", "/v1/call/start", map[string]string{"call_id": "bad id!"}, nil)
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
	ctx := context.Background()
	if err := checkEngine(ctx, Config{URL: srv.URL, Token: "good"}); err != nil {
		t.Errorf("good token: %v", err)
	}
	if err := checkEngine(ctx, Config{URL: srv.URL, Token: "bad", Agent: "A1"}); !errors.Is(err, errTokenRejected) {
		t.Errorf("bad token: %v, want errTokenRejected", err)
	}
	if err := checkEngine(ctx, Config{URL: "http://127.0.0.1:1", Token: "good"}); err == nil || errors.Is(err, errTokenRejected) {
		t.Errorf("unreachable engine: %v, want a connection error", err)
	}
}

func TestRunWithARejectedTokenExitsNonZeroWithoutRetrying(t *testing.T) {
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	}))
	defer srv.Close()
	var stderr strings.Builder
	code := runMain([]string{"run", "--url", srv.URL, "--token", "revoked", "--agent", "A1", "--caller-device", "x.monitor", "--status", "off"}, &strings.Builder{}, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "rejected the endpoint token") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	if hits != 1 {
		t.Errorf("%d requests to the engine, want 1", hits)
	}
}
