package ingestclient

import (
	"errors"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/earshot/earshot/protocol"
)

func TestEnginesIsURLsOrURLAsAListOfOne(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		want    []string
		wantErr string // a fragment of the error; "" for none
	}{
		{"URL alone is a list of one", Config{URL: "http://a:1"}, []string{"http://a:1"}, ""},
		{"URLs are kept in order", Config{URLs: []string{"http://a:1", "https://b:2", "wss://c:3"}}, []string{"http://a:1", "https://b:2", "wss://c:3"}, ""},
		{"both set is an error naming both", Config{URL: "http://a:1", URLs: []string{"http://b:2"}}, nil, "URL and URLs are both set"},
		{"neither set is an error", Config{}, nil, "set URL or URLs"},
		{"a URL without a host is refused", Config{URLs: []string{"http://a:1", "http://"}}, nil, "names no host"},
		{"a URL of another scheme is refused", Config{URL: "ftp://a:1"}, nil, "must start with http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.Engines()
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Engines() = %v, %v; want an ErrBadURL saying %q", got, err, tt.wantErr)
				}
				if _, err := New(Config{URL: tt.cfg.URL, URLs: tt.cfg.URLs, Token: "t", CallID: "c", AgentID: "A"}); !errors.Is(err, ErrBadURL) {
					t.Errorf("New accepted the configuration: %v", err)
				}
				return
			}
			if err != nil || strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("Engines() = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestSplitURLsTakesACommaSeparatedList(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://a:1", "http://a:1"},
		{"http://a:1,http://b:2", "http://a:1|http://b:2"},
		{" http://a:1 , http://b:2 ,", "http://a:1|http://b:2"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := strings.Join(SplitURLs(tt.in), "|"); got != tt.want {
			t.Errorf("SplitURLs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestA4503ReasonIsFollowedOnlyWhenItIsAnEngineBaseURL(t *testing.T) {
	tests := []struct {
		name, reason, from string
		follow             bool
	}{
		{"an http engine is followed", "http://10.0.0.2:8470", "http://10.0.0.1:8470", true},
		{"an https engine is followed", "https://node-b.example.com:8443", "https://lb.example.com", true},
		{"a trailing slash is allowed", "wss://node-b:8443/", "wss://node-a:8443", true},
		{"an empty reason names no engine", "", "http://a:1", false},
		{"a script URL is ignored", "javascript:alert(1)", "http://a:1", false},
		{"another scheme is ignored", "ftp://node-b:21", "http://a:1", false},
		{"a URL without a host is ignored", "http://", "http://a:1", false},
		{"a bad port is ignored", "http://node-b:port", "http://a:1", false},
		{"credentials are ignored", "http://user:pw@node-b:8470", "http://a:1", false},
		{"a path is ignored", "http://node-b:8470/elsewhere", "http://a:1", false},
		{"a query is ignored", "http://node-b:8470?x=1", "http://a:1", false},
		{"a fragment is ignored", "http://node-b:8470#x", "http://a:1", false},
		{"plain words are ignored", "no free recognizer", "http://a:1", false},
		{"a TLS connection is not sent to plain HTTP", "http://node-b:8470", "https://node-a:8443", false},
		// A close frame carries at most 123 bytes of reason; a longer one
		// did not come from an engine (the end-to-end test sends one raw).
		{"a 10 kB reason is ignored", "http://" + strings.Repeat("a", 10<<10) + ":1", "http://a:1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := redirectURL(tt.reason, tt.from)
			if tt.follow && got != tt.reason || !tt.follow && got != "" {
				t.Errorf("redirectURL(%.40q) = %.40q, want follow %v", tt.reason, got, tt.follow)
			}
		})
	}
}

func TestTheRouteTriesEveryEngineOnceBeforeItWaits(t *testing.T) {
	closed := func(code int, reason string) error { return &websocket.CloseError{Code: code, Text: reason} }
	refused := errors.New("connection refused")
	type step struct {
		err       error // how the attempt ended
		connected bool  // whether it had connected first
		want      string
		wait      bool // Run waits its back-off before the next attempt
	}
	tests := []struct {
		name  string
		urls  []string
		steps []step
	}{
		{"a lost connection goes to the next engine at once, and round robin", []string{"A", "B", "C"}, []step{
			{closed(protocol.CloseGoingAway, "server shutting down"), true, "A", false},
			{refused, false, "B", false},
			{closed(websocket.CloseAbnormalClosure, ""), true, "C", false},
			{refused, false, "A", false},
		}},
		{"once every engine failed since the last connection it waits", []string{"A", "B"}, []step{
			{refused, false, "A", false},
			{refused, false, "B", true},
			{closed(protocol.CloseInternalError, "storage unavailable"), false, "A", false},
			{errAckTimeout, false, "B", true},
		}},
		{"one engine waits after every failure, as before the list", []string{"A"}, []step{
			{refused, false, "A", true},
			{closed(protocol.CloseGoingAway, ""), true, "A", true},
		}},
		{"a close for the call's own sake retries the same engine after the back-off", []string{"A", "B"}, []step{
			{closed(protocol.CloseTooSlow, "too many calls waiting for audio"), false, "A", true},
			{closed(protocol.CloseIdle, "idle"), true, "A", true},
			{refused, false, "A", false},
		}},
		{"a 4503 naming an engine sends the next attempt there, then the list goes on", []string{"A", "B", "C"}, []step{
			{closed(protocol.CloseTryElsewhere, "http://X:1"), false, "A", false},
			{refused, false, "http://X:1", false},
			{refused, false, "B", false},
		}},
		{"a 4503 from a named engine is not followed again", []string{"A", "B"}, []step{
			{closed(protocol.CloseTryElsewhere, "http://X:1"), false, "A", false},
			{closed(protocol.CloseTryElsewhere, "http://Y:1"), false, "http://X:1", false},
			{refused, false, "B", true},
		}},
		{"a 4503 with garbage goes on to the next engine", []string{"A", "B"}, []step{
			{closed(protocol.CloseTryElsewhere, "javascript:alert(1)"), false, "A", false},
			{refused, false, "B", true},
		}},
		{"a call on a named engine that is lost goes on with the list", []string{"A", "B"}, []step{
			{closed(protocol.CloseTryElsewhere, "http://X:1"), false, "A", false},
			{closed(protocol.CloseGoingAway, ""), true, "http://X:1", false},
			{refused, false, "B", false},
			{refused, false, "A", true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := route{urls: tt.urls}
			for i, s := range tt.steps {
				u, redirected := r.target()
				if u != s.want {
					t.Fatalf("attempt %d went to %s, want %s", i+1, u, s.want)
				}
				if s.connected {
					r.connected()
				}
				if wait := r.lost(s.err, redirected); wait != s.wait {
					t.Fatalf("after attempt %d (%v): wait %v, want %v", i+1, s.err, wait, s.wait)
				}
			}
		})
	}
}
