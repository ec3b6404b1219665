package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigFileAndFlags(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "tok")
	os.WriteFile(tok, []byte("secret-token\n"), 0o600)
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte("# rolled out by IT\nurl: http://engine:8080\ntoken_file: "+tok+"\nagent: A17\ncaller_device: sink.monitor\nbuffer: 90s\nauto: true\nperiod: 50ms\n"), 0o600)
	// A cluster's file: everything but the engines.
	cluster := "token: t\nagent: A17\ncaller_device: sink.monitor\n"
	tests := []struct {
		name    string
		args    []string
		file    string
		check   func(t *testing.T, c Config)
		wantErr bool
		msg     string // what the error must say
	}{
		{"the file is read and the token file trimmed", []string{"--config", file}, "", func(t *testing.T, c Config) {
			if c.URL != "http://engine:8080" || c.Token != "secret-token" || c.Buffer != 90*time.Second || !c.Auto || c.Control != "127.0.0.1:8471" || c.Period != 50*time.Millisecond {
				t.Errorf("config %+v", c)
			}
		}, false, ""},
		{"flags override the file", []string{"--config", file, "--buffer", "30s", "--agent", "B2", "--auto=false", "--period", "100ms"}, "", func(t *testing.T, c Config) {
			if c.Buffer != 30*time.Second || c.Agent != "B2" || c.Auto || c.Period != 100*time.Millisecond {
				t.Errorf("config %+v", c)
			}
		}, false, ""},
		{"a control address other machines can reach is refused", []string{"--config", file, "--control", "0.0.0.0:8471"}, "", nil, true, ""},
		{"the device period defaults to 200 ms", []string{"--url", "http://x:1", "--token", "t", "--agent", "A", "--caller-device", "m"}, "", func(t *testing.T, c Config) {
			if c.Period != 200*time.Millisecond {
				t.Errorf("period %v", c.Period)
			}
		}, false, ""},
		{"a device period of a second is refused", []string{"--config", file, "--period", "1s"}, "", nil, true, ""},
		{"a missing caller device is refused", []string{"--url", "http://x:1", "--token", "t", "--agent", "A"}, "", nil, true, ""},
		{"an unknown key in the file is an error", []string{"--config", filepath.Join(dir, "bad.yaml")}, "caller_devise: x\n", nil, true, "caller_devise"},
		{"urls in the file are the engines, in order", []string{"--config", filepath.Join(dir, "bad.yaml")}, cluster + "urls: [http://a:1, https://b:2]\n", func(t *testing.T, c Config) {
			if got := strings.Join(c.endpoint(nil, nil).URLs, " "); got != "http://a:1 https://b:2" {
				t.Errorf("engines %q", got)
			}
		}, false, ""},
		{"url and urls at once are an error naming both", []string{"--config", filepath.Join(dir, "bad.yaml")}, cluster + "url: http://a:1\nurls:\n  - http://b:2\n", nil, true, "url and urls are both set"},
		{"an empty urls list is an error", []string{"--config", filepath.Join(dir, "bad.yaml")}, cluster + "urls: []\n", nil, true, "urls is an empty list"},
		{"a bad URL in urls is named", []string{"--config", filepath.Join(dir, "bad.yaml")}, cluster + "urls: [http://a:1, 'b:2']\n", nil, true, `"b:2"`},
		{"--url takes a comma-separated list", []string{"--url", "http://a:1,http://b:2", "--token", "t", "--agent", "A", "--caller-device", "m"}, "", func(t *testing.T, c Config) {
			if got := strings.Join(c.endpoint(nil, nil).URLs, " "); got != "http://a:1 http://b:2" {
				t.Errorf("engines %q", got)
			}
		}, false, ""},
		{"--url replaces the file's urls", []string{"--config", filepath.Join(dir, "bad.yaml"), "--url", "http://c:3"}, cluster + "urls: [http://a:1, http://b:2]\n", func(t *testing.T, c Config) {
			if got := strings.Join(c.endpoint(nil, nil).URLs, " "); got != "http://c:3" {
				t.Errorf("engines %q", got)
			}
		}, false, ""},
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
			if tt.wantErr && !strings.Contains(err.Error()+stderr.String(), tt.msg) {
				t.Errorf("the error says %q (stderr %q), want it to say %q", err, stderr.String(), tt.msg)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
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
