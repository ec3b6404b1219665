package endpoint

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/earshot/earshot/audio/capture"
	"github.com/earshot/earshot/internal/ingestclient"
)

// Run is the daemon: it checks that the engine takes the token, opens the
// two devices, serves the control API and streams calls until ctx ends or
// the engine rejects the token (ErrTokenRejected). When ctx ends it ends
// the active call, waiting up to 10 s for its last frames, and stops the
// control API; it returns nil after such a clean stop. An unreachable
// engine is not an error: calls are buffered until it answers.
func Run(ctx context.Context, cfg Config) error {
	cfg.defaults()
	log := cfg.Logger
	if err := CheckControlAddr(cfg.Control); err != nil {
		return err
	}
	urls, err := ingestclient.Config{URL: cfg.URL, URLs: cfg.URLs}.Engines()
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = checkEngine(pctx, cfg, urls)
	cancel()
	switch {
	case errors.Is(err, ErrTokenRejected):
		return err
	case err != nil:
		log.Warn("engine unreachable; calls will be buffered and sent when it answers", "urls", urls, "err", err)
	}
	cp, err := capture.Open(capture.Config{AgentDevice: cfg.AgentDevice, CallerDevice: cfg.CallerDevice, Backend: cfg.Backend, Period: cfg.Period, Logger: log})
	if err != nil {
		return fmt.Errorf("%w\n(list devices with `earshot-capture devices`; setup in docs/capture.md)", err)
	}
	defer cp.Close()
	ln, err := net.Listen("tcp", cfg.Control)
	if err != nil {
		return fmt.Errorf("control API: %w (is another earshot-capture running?)", err)
	}
	d := newDaemon(cfg, cp)
	d.capStat = func() any { return cp.Stats() }
	srv := &http.Server{Handler: d.controlHandler(), ReadHeaderTimeout: 5 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("control API stopped", "err", err)
		}
	})
	log.Info("control API listening", "addr", ln.Addr().String())
	stopStatus := cfg.Term.start(d)
	err = d.run(ctx)
	stopStatus()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	srv.Shutdown(sctx)
	scancel()
	wg.Wait()
	if err != nil && !errors.Is(err, capture.ErrClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// checkEngine asks the engines at urls, in order, whether they take the
// token, without starting a call: the first that answers decides. The
// ingest route authenticates before it upgrades, so a plain GET answers
// 401/403 for a bad token and 400 (not a WebSocket) for a good one. The
// error of an engine that does not answer is returned only when none does.
func checkEngine(ctx context.Context, cfg Config, urls []string) error {
	var errs []error
	for _, u := range urls {
		err := checkOneEngine(ctx, cfg, u)
		if err == nil || errors.Is(err, ErrTokenRejected) {
			return err
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func checkOneEngine(ctx context.Context, cfg Config, base string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(base, "/")+"/v1/ingest", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+cfg.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return fmt.Errorf("%w: HTTP %d from %s (check --token-file, and that the token has role endpoint and agent %s)",
			ErrTokenRejected, resp.StatusCode, base, cfg.Agent)
	}
	return nil
}
