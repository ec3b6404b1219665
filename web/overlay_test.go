package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"github.com/earshot/earshot/internal/auth"
)

// The overlay tests below drive the page with live events whose call times
// they choose, through fakeEngine: the real pages and the engine's wire
// format (docs/protocol.md), without audio or a recognizer, so that what
// happens at 6 minutes into a call can be shown in a second.

// fakeCall is the call every fake event belongs to.
const fakeCall = "c-overlay"

// fakeEngine serves the pages and stands in for the engine's API: the live
// socket carries exactly the events a test sends, the knowledge base has
// one long article, and hint feedback is recorded.
type fakeEngine struct {
	base  string
	token string // an agent token for A17

	mu       sync.Mutex
	conn     *websocket.Conn // the overlay's live connection, nil between connections
	conns    int             // live connections made
	refuse   bool            // answer new live connections with 503
	seq      uint64
	feedback []string // "hint action", in order
}

var fakeUpgrader = websocket.Upgrader{}

func startFakeEngine(t *testing.T) *fakeEngine {
	t.Helper()
	tok, err := auth.NewAuthority([]byte("the fake engine's secret, 32 byte"), nil).Issue(auth.RoleAgent, "A17", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeEngine{token: tok}
	mux := http.NewServeMux()
	mux.Handle("/", Handler())
	mux.HandleFunc("GET /v1/calls", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"calls": []any{}})
	})
	mux.HandleFunc("GET /v1/kb/{id}", func(w http.ResponseWriter, r *http.Request) {
		var body strings.Builder
		body.WriteString("# Card payments\n\n")
		for i := 1; i <= 30; i++ {
			fmt.Fprintf(&body, "- step %d: never read a card number aloud\n", i)
		}
		writeJSON(w, map[string]any{"id": r.PathValue("id"), "title": "Card payments", "body": body.String()})
	})
	mux.HandleFunc("POST /v1/calls/{id}/hints/{hint}/feedback", func(w http.ResponseWriter, r *http.Request) {
		var b struct{ Action string }
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.feedback = append(f.feedback, r.PathValue("hint")+" "+b.Action)
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /v1/live", f.live)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		f.drop()
		srv.Close()
	})
	f.base = srv.URL
	return f
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// live takes one overlay connection: the auth message, "ready", then a
// read loop for control frames until the page or drop closes it.
func (f *fakeEngine) live(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	refuse := f.refuse
	f.mu.Unlock()
	if refuse {
		http.Error(w, "engine restarting", http.StatusServiceUnavailable)
		return
	}
	c, err := fakeUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetReadLimit(64 << 10)
	var hello struct{ Type, Token string }
	if err := c.ReadJSON(&hello); err != nil || hello.Type != "auth" || hello.Token != f.token {
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4401, "unauthorized"), time.Now().Add(time.Second))
		return
	}
	f.mu.Lock()
	f.conn = c
	f.conns++
	err = c.WriteJSON(map[string]string{"type": "ready"})
	f.mu.Unlock()
	for err == nil {
		_, _, err = c.ReadMessage()
	}
	f.mu.Lock()
	if f.conn == c {
		f.conn = nil
	}
	f.mu.Unlock()
}

// drop closes the live connection as a dying engine would (no close frame).
func (f *fakeEngine) drop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conn != nil {
		f.conn.Close()
		f.conn = nil
	}
}

// send pushes events to the overlay, numbering them as the engine does.
func (f *fakeEngine) send(t *testing.T, evs ...map[string]any) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conn == nil {
		t.Fatal("the overlay has no live connection")
	}
	for _, ev := range evs {
		f.seq++
		ev["call_id"], ev["agent_id"], ev["seq"] = fakeCall, "A17", f.seq
		ev["ts"] = time.Now().UTC().Format(time.RFC3339Nano)
		if err := f.conn.WriteJSON(ev); err != nil {
			t.Fatalf("sending %v: %v", ev["type"], err)
		}
	}
}

func (f *fakeEngine) feedbackGiven() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.feedback)
}

func callStarted() map[string]any { return map[string]any{"type": "call.started", "t": 0.0} }

// said is a final line that ended at call time at.
func said(at float64, speaker, text string) map[string]any {
	return map[string]any{"type": "transcript.final", "t": at, "start": at - 1, "end": at, "speaker": speaker, "text": text}
}

// hintAt is a hint fired at call time at; ttl 0 leaves ttl_s out, as the
// engine does for a rule without one.
func hintAt(at float64, id string, priority int, ttl float64) map[string]any {
	ev := map[string]any{"type": "hint", "t": at, "id": id, "kind": "playbook", "title": "Hint " + id,
		"text": "Advice for " + id + ".", "priority": priority}
	if ttl > 0 {
		ev["ttl_s"] = ttl
	}
	return ev
}

func callEnded(at float64) map[string]any {
	return map[string]any{"type": "call.ended", "t": at, "reason": "end", "duration_s": at}
}

// openOverlay signs the agent in and opens the overlay in a width×height
// window, connected to f.
func openOverlay(t *testing.T, f *fakeEngine, width, height int64) *browser {
	t.Helper()
	b := newBrowser(t, width, height)
	b.signIn(t, f.base, f.token)
	b.do(t, 20*time.Second, chromedp.Navigate(f.base+"/overlay"))
	b.waitFor(t, "the live connection", `document.getElementById('conn').classList.contains('live')`, 10*time.Second)
	return b
}

// lines sends n caller/agent lines ending at call times from, from+step, …
// and returns the call time of the last one.
func lines(t *testing.T, f *fakeEngine, from, step float64, n int) float64 {
	t.Helper()
	at := from
	for i := range n {
		at = from + float64(i)*step
		sp := "caller"
		if i%2 == 1 {
			sp = "agent"
		}
		f.send(t, said(at, sp, fmt.Sprintf("line %d of the call, long enough to wrap once in a narrow window", i)))
	}
	return at
}

// newestInView is a predicate: the transcript's last line is the one that
// started at start and is wholly inside the list's visible box, which is
// itself inside the window.
func newestInView(start float64) string {
	return fmt.Sprintf(`(() => {
		const l = document.getElementById('transcript'), last = l.lastElementChild;
		if (!last || Number(last.dataset.start) !== %v) return false;
		const a = l.getBoundingClientRect(), b = last.getBoundingClientRect();
		return a.bottom <= innerHeight + 1 && b.bottom <= a.bottom + 1 && b.top >= a.top - 1;
	})()`, start-1)
}

// transcriptShare is the part of the window's height the transcript's
// visible list takes.
const transcriptShare = `document.getElementById('transcript').getBoundingClientRect().height / innerHeight`

func TestOverlayFollowsNewestLineAfterHintArticleAndResize(t *testing.T) {
	needBrowser(t)
	f := startFakeEngine(t)
	b := openOverlay(t, f, 420, 900)
	f.send(t, callStarted())
	last := lines(t, f, 2, 3, 40)
	b.waitFor(t, "the newest line in view", newestInView(last), 10*time.Second)

	// A hint card takes room from the transcript; the newest line stays.
	ev := hintAt(last, "payment_secure", 1, 0)
	ev["kb"] = "card-payments"
	f.send(t, ev)
	b.waitFor(t, "the hint card", `!!document.querySelector('#hints [data-hint="payment_secure"]')`, 10*time.Second)
	b.waitFor(t, "the newest line in view after the hint card appeared", newestInView(last), 5*time.Second)
	last = lines(t, f, last+3, 3, 2)
	b.waitFor(t, "a line said after the hint card in view", newestInView(last), 5*time.Second)

	// Opening the card's long article takes more room still.
	b.do(t, 10*time.Second, chromedp.Click(chromedp.CSS(`#hints [data-hint="payment_secure"] button.link`)))
	b.waitFor(t, "the article", `!!document.querySelector('#kb-payment_secure h4')`, 10*time.Second)
	b.waitFor(t, "the newest line in view after the article opened", newestInView(last), 5*time.Second)

	// The agent shrinks the window to the overlay's smallest size.
	b.do(t, 10*time.Second, chromedp.EmulateViewport(360, 640))
	b.waitFor(t, "the window at 360×640", `innerWidth === 360 && innerHeight === 640`, 5*time.Second)
	b.waitFor(t, "the newest line in view after the resize", newestInView(last), 5*time.Second)
	if share := eval[float64](t, b, transcriptShare); share < 0.4 {
		t.Errorf("with the article open the transcript has %.0f%% of the window, want at least 40%%", share*100)
	}
	last = lines(t, f, last+3, 3, 1)
	b.waitFor(t, "a line said after the resize in view", newestInView(last), 5*time.Second)
	if eval[bool](t, b, `!document.querySelector('.transcript-box button.newer').hidden`) {
		t.Error(`the "newer lines" button shows though the agent never scrolled`)
	}
	b.screenshot(t, "overlay-follows")
	b.log.check(t, nil)
}

// topLine is the start time of the first line visible in the transcript.
const topLine = `(() => { const l = document.getElementById('transcript'), y = l.getBoundingClientRect().top + 2;
	return [...l.children].find((li) => li.getBoundingClientRect().bottom > y).dataset.start; })()`

// wheel scrolls the transcript with the mouse wheel, as an agent would.
func wheel(t *testing.T, b *browser, dy float64) {
	t.Helper()
	type point struct{ X, Y float64 }
	p := eval[point](t, b, `(() => { const r = document.getElementById('transcript').getBoundingClientRect();
		return {X: r.left + r.width / 2, Y: r.top + r.height / 2}; })()`)
	b.do(t, 10*time.Second, chromedp.MouseEvent(chromedp.MouseWheel, p.X, p.Y, func(e *input.DispatchMouseEventParams) {
		// Chromium wants deltaX too, and cdproto leaves a zero out.
		e.DeltaX, e.DeltaY = 1e-9, dy
	}))
}

func TestOverlayScrolledUpShowsNewerLinesButtonAndIsNotYanked(t *testing.T) {
	needBrowser(t)
	f := startFakeEngine(t)
	b := openOverlay(t, f, 360, 640)
	f.send(t, callStarted())
	last := lines(t, f, 2, 3, 40)
	b.waitFor(t, "the newest line in view", newestInView(last), 10*time.Second)

	wheel(t, b, -600)
	b.waitFor(t, `the "newer lines" button`, `!document.querySelector('.transcript-box button.newer').hidden`, 5*time.Second)
	top := eval[float64](t, b, `document.getElementById('transcript').scrollTop`)
	reading := eval[string](t, b, topLine)

	// New lines (and a hint card, which resizes the list) must not move
	// what the agent is reading.
	f.send(t, hintAt(last, "empathy", 2, 0))
	last = lines(t, f, last+3, 3, 3)
	b.waitFor(t, "the three new lines", fmt.Sprintf(`document.getElementById('transcript').lastElementChild.dataset.start === '%v'`, last-1), 5*time.Second)
	b.waitFor(t, "the hint card", `!!document.querySelector('#hints [data-hint="empathy"]')`, 5*time.Second)
	if now := eval[float64](t, b, `document.getElementById('transcript').scrollTop`); now != top {
		t.Errorf("the transcript scrolled from %v to %v while the agent was reading above", top, now)
	}
	if now := eval[string](t, b, topLine); now != reading {
		t.Errorf("the line at the top of the view changed from the one started at %s s to %s s", reading, now)
	}
	if eval[bool](t, b, newestInView(last)) {
		t.Error("the view jumped to the newest line while the agent was reading above")
	}
	if got := eval[string](t, b, `document.querySelector('.transcript-box button.newer').textContent`); !strings.HasPrefix(got, "3 newer lines") {
		t.Errorf(`the button says %q, want "3 newer lines"`, got)
	}
	b.screenshot(t, "overlay-newer-lines")

	// The button jumps to the newest line, and following resumes.
	b.do(t, 10*time.Second, chromedp.Click(chromedp.CSS(`.transcript-box button.newer`)))
	b.waitFor(t, "the newest line in view after the button", newestInView(last), 5*time.Second)
	b.waitFor(t, "the button to go", `document.querySelector('.transcript-box button.newer').hidden`, 5*time.Second)
	last = lines(t, f, last+3, 3, 2)
	b.waitFor(t, "the next line in view: following again", newestInView(last), 5*time.Second)

	// Scrolling back down to the end by hand resumes following too.
	wheel(t, b, -300)
	b.waitFor(t, `the "newer lines" button again`, `!document.querySelector('.transcript-box button.newer').hidden`, 5*time.Second)
	wheel(t, b, 5000)
	b.waitFor(t, "the button to go at the end", `document.querySelector('.transcript-box button.newer').hidden`, 5*time.Second)
	last = lines(t, f, last+3, 3, 1)
	b.waitFor(t, "the next line in view after scrolling to the end", newestInView(last), 5*time.Second)
	b.log.check(t, nil)
}

// shownHints lists the ids of the hint cards on screen, top to bottom.
const shownHints = `[...document.querySelectorAll('#hints > li.hint')].filter((li) => !li.hidden && li.offsetParent !== null).map((li) => li.dataset.hint)`

func TestOverlayHintsAgeOutByCallTime(t *testing.T) {
	needBrowser(t)
	f := startFakeEngine(t)
	b := openOverlay(t, f, 360, 640)
	f.send(t, callStarted(), hintAt(10, "default_ttl", 2, 0), hintAt(10, "short_ttl", 1, 20))
	b.waitFor(t, "both hints", `document.querySelectorAll('#hints > li.hint').length === 2`, 10*time.Second)

	// Call time comes from the events: the wall clock only moves it on
	// between them, by far less than the margins below.
	steps := []struct {
		at   float64
		want []string
	}{
		{25, []string{"short_ttl", "default_ttl"}}, // 15 s after: both still there
		{31, []string{"default_ttl"}},              // past 10 + 20: the short one went
		{95, []string{"default_ttl"}},              // 85 s after: the default 90 s holds
		{101, nil},                                 // past 10 + 90
	}
	for _, s := range steps {
		f.send(t, said(s.at, "caller", fmt.Sprintf("something at %v s", s.at)))
		want, _ := json.Marshal(s.want)
		if s.want == nil {
			want = []byte("[]")
		}
		b.waitFor(t, fmt.Sprintf("hints %s at %v s", want, s.at), fmt.Sprintf(`JSON.stringify(%s) === %q`, shownHints, want), 5*time.Second)
	}
	if eval[bool](t, b, `document.getElementById('no-hints').hidden`) {
		t.Error(`"No open hints." is not shown once every hint aged out`)
	}

	// A hint that fires again comes back, and ages out from its new time.
	f.send(t, hintAt(102, "short_ttl", 1, 20))
	b.waitFor(t, "the hint fired again", `JSON.stringify(`+shownHints+`) === '["short_ttl"]'`, 5*time.Second)
	f.send(t, said(110, "caller", "still within its time"))
	if got := eval[[]string](t, b, shownHints); !slices.Equal(got, []string{"short_ttl"}) {
		t.Errorf("at 110 s the hint fired at 102 s with ttl 20 s is gone: %v", got)
	}
	f.send(t, said(123, "caller", "past its time"))
	b.waitFor(t, "the refired hint aged out", `JSON.stringify(`+shownHints+`) === '[]'`, 5*time.Second)
	b.log.check(t, nil)
}

func TestOverlayShowsThreeHintsByPriorityThenNewestAndFoldsTheRest(t *testing.T) {
	needBrowser(t)
	f := startFakeEngine(t)
	b := openOverlay(t, f, 360, 640)
	f.send(t, callStarted())
	// Fired in this order, as a long call would.
	for _, h := range []struct {
		id       string
		priority int
		at       float64
	}{{"low_old", 3, 5}, {"high_old", 1, 6}, {"mid_old", 2, 7}, {"high_new", 1, 8}, {"mid_new", 2, 9}, {"low_new", 3, 10}} {
		f.send(t, hintAt(h.at, h.id, h.priority, 0))
	}
	b.waitFor(t, "six hints", `document.querySelectorAll('#hints > li.hint').length === 6`, 10*time.Second)
	if got := eval[[]string](t, b, shownHints); !slices.Equal(got, []string{"high_new", "high_old", "mid_new"}) {
		t.Errorf("shown %v, want the 3 first by priority then newest: [high_new high_old mid_new]", got)
	}
	more := `document.querySelector('.hints-box button.more')`
	if got := eval[string](t, b, more+`.textContent`); got != "3 more" {
		t.Errorf(`the fold says %q, want "3 more"`, got)
	}
	b.screenshot(t, "overlay-three-hints")

	b.do(t, 10*time.Second, chromedp.Click(chromedp.CSS(`.hints-box button.more`)))
	b.waitFor(t, "all six after unfolding", `JSON.stringify(`+shownHints+`) === '["high_new","high_old","mid_new","mid_old","low_new","low_old"]'`, 5*time.Second)
	if got := eval[string](t, b, more+`.getAttribute('aria-expanded')`); got != "true" {
		t.Errorf("the unfolded button has aria-expanded %q", got)
	}
	if share := eval[float64](t, b, transcriptShare); share < 0.4 {
		t.Errorf("with six hints unfolded the transcript has %.0f%% of the window, want at least 40%%", share*100)
	}
	b.do(t, 10*time.Second, chromedp.Click(chromedp.CSS(`.hints-box button.more`)))
	b.waitFor(t, "three again after folding", `JSON.stringify(`+shownHints+`).startsWith('["high_new","high_old","mid_new"]') && `+shownHints+`.length === 3`, 5*time.Second)

	// The shortcuts act on the top card; the next one moves up.
	b.do(t, 10*time.Second, chromedp.KeyEvent("d"))
	b.waitFor(t, "the top hint dismissed", `JSON.stringify(`+shownHints+`) === '["high_old","mid_new","mid_old"]'`, 5*time.Second)
	if got := f.feedbackGiven(); !slices.Equal(got, []string{"high_new dismiss"}) {
		t.Errorf("feedback sent %v, want [high_new dismiss]", got)
	}
	if got := eval[string](t, b, more+`.textContent`); got != "2 more" {
		t.Errorf(`after a dismissal the fold says %q, want "2 more"`, got)
	}
	// A newer high-priority hint goes on top.
	f.send(t, hintAt(11, "high_newest", 1, 0))
	b.waitFor(t, "the newest high hint on top", `JSON.stringify(`+shownHints+`) === '["high_newest","high_old","mid_new"]'`, 5*time.Second)
	b.log.check(t, nil)
}

func TestOverlayDisablesAnEndedCallsHints(t *testing.T) {
	needBrowser(t)
	f := startFakeEngine(t)
	b := openOverlay(t, f, 360, 640)
	ev := hintAt(4, "retention_offer", 1, 0)
	ev["kb"] = "cancellation"
	f.send(t, callStarted(), ev, hintAt(5, "empathy", 2, 0), said(6, "caller", "goodbye"))
	b.waitFor(t, "two hints with live buttons", `document.querySelectorAll('#hints button.accept:not([disabled])').length === 2`, 10*time.Second)
	f.send(t, callEnded(8))
	b.waitFor(t, "the call to end", `document.body.dataset.ended === '1'`, 5*time.Second)
	b.waitFor(t, "every accept and dismiss button disabled", `(() => {
		const bs = [...document.querySelectorAll('#hints button.accept, #hints button.dismiss')];
		return bs.length === 4 && bs.every((b) => b.disabled);
	})()`, 5*time.Second)
	type look struct {
		Opacity float64
		Says    string
	}
	l := eval[look](t, b, `(() => { const li = document.querySelector('#hints [data-hint="retention_offer"]');
		return {Opacity: Number(getComputedStyle(li).opacity), Says: li.textContent}; })()`)
	if l.Opacity >= 0.9 || !strings.Contains(l.Says, "call ended") {
		t.Errorf("an ended call's card looks live: opacity %v, text %q", l.Opacity, l.Says)
	}
	b.do(t, 10*time.Second, chromedp.KeyEvent("a"), chromedp.KeyEvent("d"))
	b.do(t, 10*time.Second, chromedp.Click(chromedp.CSS(`#hints [data-hint="empathy"] button.accept`)))
	// The article stays readable.
	b.do(t, 10*time.Second, chromedp.KeyEvent("k"))
	b.waitFor(t, "the article of the ended call's hint", `!!document.querySelector('#kb-retention_offer h4')`, 10*time.Second)
	if got := f.feedbackGiven(); len(got) != 0 {
		t.Errorf("an ended call's hints sent feedback %v", got)
	}
	b.screenshot(t, "overlay-ended-hints")
	b.log.check(t, nil)
}

func TestOverlayMovesFocusToTheTranscriptAfterTheLastHintIsAnswered(t *testing.T) {
	needBrowser(t)
	f := startFakeEngine(t)
	b := openOverlay(t, f, 360, 640)
	f.send(t, callStarted(), hintAt(4, "first", 1, 0), hintAt(5, "second", 2, 0))
	b.waitFor(t, "two hints", `document.querySelectorAll('#hints button.accept').length === 2`, 10*time.Second)
	b.do(t, 10*time.Second, chromedp.Focus(chromedp.CSS(`#hints [data-hint="first"] button.dismiss`)), chromedp.KeyEvent("\r"))
	b.waitFor(t, "focus on the next hint's Accept", `document.activeElement.matches('#hints [data-hint="second"] button.accept')`, 5*time.Second)
	b.do(t, 10*time.Second, chromedp.KeyEvent("\r"))
	b.waitFor(t, "the last hint accepted", `!!document.querySelector('#hints [data-hint="second"].accepted')`, 5*time.Second)
	b.waitFor(t, "focus on the transcript", `document.activeElement === document.getElementById('transcript')`, 5*time.Second)
	if got := f.feedbackGiven(); !slices.Equal(got, []string{"first dismiss", "second accept"}) {
		t.Errorf("feedback %v", got)
	}
	b.log.check(t, nil)
}

func TestOverlayCountsTheReconnectWaitDownLive(t *testing.T) {
	needBrowser(t)
	f := startFakeEngine(t)
	b := openOverlay(t, f, 360, 640)
	eval[bool](t, b, `window.connTexts = []; new MutationObserver(() => {
		window.connTexts.push(document.getElementById('conn').textContent);
	}).observe(document.getElementById('conn'), {childList: true, characterData: true, subtree: true}), true`)
	// The engine goes away and refuses connections for a while, so the
	// back-off grows to waits of seconds.
	f.mu.Lock()
	f.refuse = true
	f.mu.Unlock()
	f.drop()
	b.waitFor(t, "a wait of more than a second", `/Reconnecting in ([1-9]\d*\.\d)s/.test(document.getElementById('conn').textContent)`, 15*time.Second)
	b.waitFor(t, "the wait to count down", `(() => {
		// The longest run of "Reconnecting in" texts with no other between.
		let best = 0, run = [];
		for (const s of window.connTexts) {
			const m = /Reconnecting in (\d+\.\d)s/.exec(s);
			if (!m) { run = []; continue; }
			const v = Number(m[1]);
			if (run.length && v > run[run.length - 1]) run = [];
			if (!run.length || v < run[run.length - 1]) run.push(v);
			best = Math.max(best, run.length);
		}
		return best >= 5;
	})()`, 10*time.Second)
	f.mu.Lock()
	f.refuse = false
	f.mu.Unlock()
	b.waitFor(t, "the overlay live again", `document.getElementById('conn').textContent === 'Live'`, 20*time.Second)
	f.mu.Lock()
	conns := f.conns
	f.mu.Unlock()
	if conns != 2 {
		t.Errorf("%d live connections, want the first and one after the engine came back", conns)
	}
	b.log.check(t, allowRefusedSocket)
}

// allowRefusedSocket accepts Chromium's log line for a WebSocket the
// engine refused, which TestOverlayCountsTheReconnectWaitDownLive causes.
func allowRefusedSocket(p string) bool {
	return strings.Contains(p, "WebSocket connection to") && strings.Contains(p, "503")
}
