package localengine

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/engine"
)

func testConfig(t *testing.T, ctx context.Context) engine.Config {
	return engine.Config{DataDir: t.TempDir(), NewAnalyzer: engine.PipelineAnalyzers(ctx, call.Deps{}),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func TestStartServesUntilTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e, err := Start(ctx, testConfig(t, ctx), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(e.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz: %s", resp.Status)
	}
	cancel()
	select {
	case <-e.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the engine did not stop within 30 s of its context's end")
	}
	if err := e.Wait(); err != nil {
		t.Errorf("Wait after a clean stop: %v", err)
	}
}

func TestStartFailsOnABusyAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx := context.Background()
	if _, err := Start(ctx, testConfig(t, ctx), ln.Addr().String()); err == nil {
		t.Fatal("Start on a busy address succeeded")
	}
}
