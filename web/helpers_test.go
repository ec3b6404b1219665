package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/engine"
	"github.com/earshot/earshot/internal/auth"
	"github.com/earshot/earshot/internal/ingestclient"
	"github.com/earshot/earshot/samples/defaults"
	"github.com/earshot/earshot/stt/pocketsphinx"
)

// chromiumPath is Debian's Chromium, installed by scripts/setup.sh.
const chromiumPath = "/usr/bin/chromium"

// sphinxModel is the acoustic model the default pocketsphinx.Config loads.
const sphinxModel = "/usr/share/pocketsphinx/model/en-us/en-us"

// needBrowser skips a test on a machine without Chromium (the setup script
// installs it, so CI has it).
func needBrowser(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests are skipped with -short")
	}
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Skipf("no Chromium at %s (run make setup): %v", chromiumPath, err)
	}
}

// testEngine is the real engine, with the real pipeline (PocketSphinx,
// default playbook and KB) and these pages, on a loopback port.
type testEngine struct {
	base   string // http://127.0.0.1:port
	srv    *engine.Server
	dir    string
	tokens map[string]string // "agent", "supervisor", "admin", "endpoint"
}

// startEngine starts the engine for the whole test; it is stopped (every
// call ended and saved, the store closed) in t.Cleanup.
func startEngine(t *testing.T) *testEngine {
	t.Helper()
	if _, err := os.Stat(sphinxModel); err != nil {
		t.Skipf("no PocketSphinx model (run make setup): %v", err)
	}
	pb, kb, err := defaults.Assist()
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("EARSHOT_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// One decoder per channel of one call: the tests stream one call at a time.
	pool, err := pocketsphinx.NewPool(pocketsphinx.Config{Logger: logger}, 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	deps := call.Deps{Recognizers: pool.Recognizers(), Playbook: pb, KB: kb, Logger: logger}
	dir := t.TempDir()
	srv, err := engine.New(engine.Config{
		DataDir:      dir,
		NewAnalyzer:  engine.PipelineAnalyzers(ctx, deps),
		Articles:     kb,
		Web:          Handler(),
		Logger:       logger,
		ResumeWindow: 5 * time.Second,
		AckInterval:  50 * time.Millisecond,
	})
	if err != nil {
		cancel()
		pool.Close()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		srv.Close()
		pool.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("engine stopped with %v", err)
		}
		pool.Close()
	})
	e := &testEngine{base: "http://" + ln.Addr().String(), srv: srv, dir: dir, tokens: map[string]string{}}
	for name, c := range map[string]struct {
		role  auth.Role
		agent string
	}{
		"agent": {auth.RoleAgent, "A17"}, "supervisor": {auth.RoleSupervisor, ""},
		"admin": {auth.RoleAdmin, ""}, "endpoint": {auth.RoleEndpoint, "A17"},
	} {
		tok, err := srv.Authority().Issue(c.role, c.agent, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[name] = tok
	}
	return e
}

// getJSON GETs an API path with a token and decodes the answer.
func (e *testEngine) getJSON(t *testing.T, token, path string, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, res.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// replay streams the stretch [from, to) seconds of a sample call to the
// engine as an endpoint would (as a call of its own, starting at call time
// 0), speed times faster than real time.
type replay struct {
	client *ingestclient.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup
	stream chan error
	run    chan error

	mu   sync.Mutex
	sent []time.Time // wall time each 20 ms slot was handed to the client
}

func startReplay(t *testing.T, e *testEngine, callID, sample string, from, to, speed float64) *replay {
	t.Helper()
	agent, caller, err := audio.LoadCall(filepath.Join("..", "samples", "calls", sample+".mp3"))
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := int(from*float64(audio.PipelineRate)), int(to*float64(audio.PipelineRate))
	agent, caller = agent[min(lo, len(agent)):min(hi, len(agent))], caller[min(lo, len(caller)):min(hi, len(caller))]
	c, err := ingestclient.New(ingestclient.Config{URL: e.base, Token: e.tokens["endpoint"], CallID: callID, AgentID: "A17",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &replay{client: c, cancel: cancel, stream: make(chan error, 1), run: make(chan error, 1)}
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		r.run <- c.Run(ctx)
	}()
	go func() {
		defer r.wg.Done()
		r.stream <- ingestclient.Stream(ctx, c, agent, caller, ingestclient.StreamConfig{Speed: speed,
			OnFrame: func(end time.Duration, sent time.Time) {
				r.mu.Lock()
				r.sent = append(r.sent, sent)
				r.mu.Unlock()
			}})
	}()
	// Whatever a test does, the replay's goroutines end with it.
	t.Cleanup(r.stop)
	return r
}

// sentAt returns the wall time the audio up to call time at was sent, or
// the zero time if it has not been yet.
func (r *replay) sentAt(at time.Duration) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := int((at + audio.FrameDuration - 1) / audio.FrameDuration)
	if i < 1 || i > len(r.sent) {
		return time.Time{}
	}
	return r.sent[i-1]
}

// finish waits for the whole stream to be sent and the call to be ended and
// stored by the engine.
func (r *replay) finish(t *testing.T) {
	t.Helper()
	if err := <-r.stream; err != nil {
		t.Fatalf("streaming: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := r.client.End(ctx); err != nil {
		t.Fatalf("ending the call: %v", err)
	}
	if err := <-r.run; err != nil {
		t.Fatalf("ingest client: %v", err)
	}
}

func (r *replay) stop() {
	r.cancel()
	r.wg.Wait()
}

// browserLog records what a page did on the network and in its console.
type browserLog struct {
	mu       sync.Mutex
	requests []string
	problems []string
}

func (b *browserLog) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, e.Request.URL)
	case *network.EventWebSocketCreated:
		b.requests = append(b.requests, e.URL)
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert || e.Type == runtime.ConsoleAPICalledTypeWarning {
			var args []string
			for _, a := range e.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			b.problems = append(b.problems, fmt.Sprintf("console.%s: %s", e.Type, strings.Join(args, " ")))
		}
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		b.problems = append(b.problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
	case *log.EventEntryAdded:
		if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
			b.problems = append(b.problems, fmt.Sprintf("browser log %s (%s): %s %s", e.Entry.Level, e.Entry.Source, e.Entry.Text, e.Entry.URL))
		}
	}
}

// check fails the test for any request off the loopback address and for
// any console error or warning that allowed does not accept.
func (b *browserLog) check(t *testing.T, allowed func(problem string) bool) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.requests) == 0 {
		t.Error("the browser log saw no request at all: the network listener is not working")
	}
	for _, r := range b.requests {
		u, err := url.Parse(r)
		if err == nil && u.Scheme == "data" {
			continue // inline data (Chromium's own date-picker icon): no network
		}
		if err != nil || u.Hostname() != "127.0.0.1" {
			t.Errorf("the page made a request off the machine: %s", r)
		}
	}
	for _, p := range b.problems {
		if allowed == nil || !allowed(p) {
			t.Errorf("console: %s", p)
		}
	}
}

// browser is a fresh headless Chromium with its own profile, showing one
// tab of width×height CSS pixels.
type browser struct {
	ctx context.Context
	log *browserLog
}

func newBrowser(t *testing.T, width, height int64) *browser {
	t.Helper()
	needBrowser(t)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(int(width), int(height)),
	)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b := &browser{ctx: ctx, log: &browserLog{}}
	// Open the tab first so the listener sees everything from the first page.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	if err := chromedp.Listen(ctx, b.log.listen); err != nil {
		t.Fatal(err)
	}
	return b
}

// do runs actions with a deadline.
func (b *browser) do(t *testing.T, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression and decodes its value.
func eval[T any](t *testing.T, b *browser, expr string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript predicate in the page until it is true or
// timeout passes, and returns when it became true.
func (b *browser) waitFor(t *testing.T, what, predicate string, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithDeadline(b.ctx, deadline.Add(5*time.Second))
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](predicate, chromedp.WithPollingTimeout(time.Until(deadline)), chromedp.WithPollingInterval(50*time.Millisecond)))
		cancel()
		if err == nil {
			return time.Now()
		}
		// A navigation (a form submit, a redirect) destroys the page the
		// predicate ran in: poll again in the new one.
		if navigated(err) && time.Now().Before(deadline) {
			continue
		}
		b.screenshot(t, "failed-"+strings.NewReplacer(" ", "-", "/", "-", "'", "").Replace(what))
		b.log.mu.Lock()
		problems := slices.Clone(b.log.problems)
		b.log.mu.Unlock()
		t.Fatalf("waiting %v for %s: %v (console: %q)", timeout, what, err, problems)
	}
}

func navigated(err error) bool {
	m := err.Error()
	return strings.Contains(m, "navigated or closed") || strings.Contains(m, "Cannot find context") ||
		strings.Contains(m, "Execution context was destroyed") || strings.Contains(m, "Not attached to an active page")
}

// signIn stores token in the page origin's localStorage, as the sign-in
// page does.
func (b *browser) signIn(t *testing.T, base, token string) {
	t.Helper()
	b.do(t, 20*time.Second, chromedp.Navigate(base+"/signin"))
	eval[bool](t, b, fmt.Sprintf(`localStorage.setItem('earshot.token', %q), true`, token))
}

// screenshot saves a PNG of the page (the whole page when it is longer
// than the window) under the test's temp dir, and in testdata/screenshots
// when EARSHOT_SCREENSHOTS is set.
func (b *browser) screenshot(t *testing.T, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	path := filepath.Join(t.TempDir(), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("EARSHOT_SCREENSHOTS") != "" {
		dir := filepath.Join("testdata", "screenshots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot %s (%d bytes)", path, len(png))
	return path
}

// allowHTTP401 accepts the browser's own log line for a REST call the
// engine refused, which a bad-token page causes on purpose.
func allowHTTP401(p string) bool {
	return strings.Contains(p, "status of 401")
}

var errNoCall = errors.New("call not found")

// callDetail reads a stored call's detail.
func (e *testEngine) callDetail(t *testing.T, id string) map[string]any {
	t.Helper()
	var d map[string]any
	e.getJSON(t, e.tokens["supervisor"], "/v1/calls/"+url.PathEscape(id), &d)
	return d
}

// hintFeedback returns the stored feedback action of a call's hint.
func (e *testEngine) hintFeedback(t *testing.T, callID, hintID string) (string, error) {
	d := e.callDetail(t, callID)
	hints, _ := d["hints"].([]any)
	for _, h := range hints {
		m, _ := h.(map[string]any)
		if m["id"] != hintID {
			continue
		}
		fb, _ := m["feedback"].(map[string]any)
		a, _ := fb["action"].(string)
		return a, nil
	}
	ids := slices.Collect(func(yield func(string) bool) {
		for _, h := range hints {
			m, _ := h.(map[string]any)
			if !yield(fmt.Sprint(m["id"])) {
				return
			}
		}
	})
	return "", fmt.Errorf("%w: hint %s not stored with call %s (hints %v)", errNoCall, hintID, callID, ids)
}
