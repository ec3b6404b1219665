package demo

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a strings.Builder safe for the demo's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunPrintsTheTokensAndStoresReplayedCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("replays sample calls through an engine")
	}
	var out, log syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Addr: "127.0.0.1:0", Lanes: 1, Speed: 30, Logger: slog.New(slog.NewTextHandler(&log, nil)), Out: &out})
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(log.String(), "demo call stored") {
		select {
		case err := <-done:
			t.Fatalf("Run returned before storing a call: %v\n%s", err, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no call stored within 2 minutes; log:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after Ctrl-C: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not stop within 60 s of its context's end")
	}
	for _, want := range []string{"agent token:", "supervisor token:", "/overlay", "as 1 agents at 30x"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(log.String(), "agent=A17") {
		t.Errorf("the first lane is not agent A17:\n%s", log.String())
	}
}

func TestRunRefusesMoreLanesThanAgents(t *testing.T) {
	err := Run(context.Background(), Config{Lanes: len(Agents) + 1})
	if !errors.Is(err, ErrConfig) {
		t.Errorf("Run with %d lanes: %v, want ErrConfig", len(Agents)+1, err)
	}
}
