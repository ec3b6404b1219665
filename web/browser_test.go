package web

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/earshot/earshot/internal/auth"
)

// TestPagesInChromium drives the pages in Debian's Chromium against the
// real engine on loopback, fed by real sample calls replayed through the
// ingest client. The subtests share the engine and run in order: the
// review and history pages look at the calls the first two streamed.
func TestPagesInChromium(t *testing.T) {
	needBrowser(t)
	e := startEngine(t)

	t.Run("the overlay shows the live transcript and the retention hint, and dismissing it stores the feedback", func(t *testing.T) {
		b := newBrowser(t, 360, 640)
		// Sign in through the form, as an agent would.
		b.do(t, 20*time.Second, chromedp.Navigate(e.base+"/signin"),
			chromedp.SendKeys(chromedp.ID("token"), e.tokens["agent"]),
			chromedp.Click(chromedp.ID("signin-button")))
		b.waitFor(t, "the overlay after sign-in", `location.pathname === '/overlay'`, 10*time.Second)
		b.waitFor(t, "the live connection", `document.getElementById('conn').classList.contains('live')`, 10*time.Second)
		// Partial lines are replaced by finals, so record that one showed.
		eval[bool](t, b, `window.sawPartial = false; new MutationObserver(() => {
			if (document.querySelector('#transcript .line.partial')) window.sawPartial = true;
		}).observe(document.getElementById('transcript'), {childList: true, subtree: true}), true`)

		// The caller asks to cancel in the cancellation sample's second
		// segment, which ends at 15.091 s.
		r := startReplay(t, e, "c-web-overlay", "cancellation", 0, 24, 5)
		b.waitFor(t, "the call to show", `document.body.dataset.call === 'c-web-overlay'`, 15*time.Second)
		shown := b.waitFor(t, "the retention hint card", `!!document.querySelector('#hints [data-hint="retention_offer"]')`, 45*time.Second)
		trigger := r.sentAt(15091 * time.Millisecond)
		if trigger.IsZero() {
			t.Fatal("the hint card showed before the caller's cancel request was sent")
		}
		// How soon is a latency, measured by `earshot bench live` (hint
		// latency p95); under -race on a busy machine it says nothing.
		t.Logf("retention_offer card shown %.2f s (wall) after the triggering utterance was sent at 5x speed", shown.Sub(trigger).Seconds())
		// The retention rule has no ttl_s: the card stays the overlay's default 90 s.
		if ttl := eval[string](t, b, `document.querySelector('#hints [data-hint="retention_offer"]').dataset.ttl`); ttl != "90" {
			t.Errorf("the retention card stays %s s, want the default 90", ttl)
		}
		if got := eval[string](t, b, `document.getElementById('announce').textContent`); !strings.Contains(got, "Retention offer") {
			t.Errorf("the ARIA live region says %q, want the new hint announced", got)
		}
		b.waitFor(t, "final transcript lines of both speakers", `document.querySelectorAll('#transcript .line.agent:not(.partial)').length >= 2 &&
			document.querySelectorAll('#transcript .line.caller:not(.partial)').length >= 1`, 30*time.Second)
		if !eval[bool](t, b, `window.sawPartial`) {
			t.Error("no grey partial line was ever shown")
		}
		// The top hint's article opens with k and is rendered, not raw Markdown.
		b.do(t, 10*time.Second, chromedp.KeyEvent("k"))
		b.waitFor(t, "the KB article", `!!document.querySelector('#kb-retention_offer h4') && !document.getElementById('kb-retention_offer').hidden`, 10*time.Second)
		if md := eval[string](t, b, `document.getElementById('kb-retention_offer').textContent`); strings.Contains(md, "**") || strings.Contains(md, "---") {
			t.Errorf("the article shows Markdown syntax: %q", md)
		}
		b.screenshot(t, "overlay")

		// d dismisses the top hint; the card goes once the engine stored it.
		b.do(t, 10*time.Second, chromedp.KeyEvent("d"))
		b.waitFor(t, "the dismissed card to go", `!document.querySelector('#hints [data-hint="retention_offer"]')`, 10*time.Second)
		action, err := e.hintFeedback(t, "c-web-overlay", "retention_offer")
		if err != nil || action != "dismiss" {
			t.Fatalf("stored feedback %q, %v; want dismiss", action, err)
		}

		r.finish(t)
		b.waitFor(t, "the call to end", `document.body.dataset.ended === '1'`, 20*time.Second)
		if s := eval[string](t, b, `document.getElementById('call-state').textContent`); !strings.Contains(s, "ended") {
			t.Errorf("call state %q after the call ended", s)
		}
		b.screenshot(t, "overlay-ended")
		b.log.check(t, nil)
	})

	t.Run("the overlay counts dead air live and suggests filling it", func(t *testing.T) {
		b := newBrowser(t, 360, 640)
		b.signIn(t, e.base, e.tokens["agent"])
		b.do(t, 20*time.Second, chromedp.Navigate(e.base+"/overlay"))
		b.waitFor(t, "the live connection", `document.getElementById('conn').classList.contains('live')`, 10*time.Second)
		// The tech-support sample is silent from 36.4 s to 48.4 s (a line
		// test); from 30 s on, that silence starts 6.4 s into this call.
		r := startReplay(t, e, "c-web-deadair", "tech_support", 30, 54, 2)
		b.waitFor(t, "the dead-air timer", `!!document.querySelector('#warnings [data-kind="dead_air"] .timer')`, 30*time.Second)
		first := eval[string](t, b, `document.querySelector('#warnings [data-kind="dead_air"] .timer').textContent`)
		b.waitFor(t, "the timer to count", fmt.Sprintf(`(() => { const x = document.querySelector('#warnings [data-kind="dead_air"] .timer'); return !!x && x.textContent !== %q; })()`, first), 5*time.Second)
		b.waitFor(t, "the dead-air hint card", `!!document.querySelector('#hints [data-hint="dead_air"]')`, 20*time.Second)
		// The default playbook's dead_air rule says ttl_s: 30; the engine
		// passes it on in the hint event.
		if ttl := eval[string](t, b, `document.querySelector('#hints [data-hint="dead_air"]').dataset.ttl`); ttl != "30" {
			t.Errorf("the dead-air card stays %s s, want the rule's ttl_s 30", ttl)
		}
		b.screenshot(t, "overlay-dead-air")
		b.waitFor(t, "the warning to go when talk resumes", `!document.querySelector('#warnings [data-kind="dead_air"]')`, 30*time.Second)
		// Accepting with the keyboard stores the feedback too.
		b.do(t, 10*time.Second, chromedp.KeyEvent("a"))
		b.waitFor(t, "the card marked accepted", `!!document.querySelector('#hints [data-hint="dead_air"].accepted')`, 10*time.Second)
		if action, err := e.hintFeedback(t, "c-web-deadair", "dead_air"); err != nil || action != "accept" {
			t.Errorf("stored feedback %q, %v; want accept", action, err)
		}
		r.finish(t)
		b.log.check(t, nil)
	})

	t.Run("the supervisor wall lists the live call, opens it, and drops it when it ends", func(t *testing.T) {
		b := newBrowser(t, 1280, 800)
		b.signIn(t, e.base, e.tokens["supervisor"])
		b.do(t, 20*time.Second, chromedp.Navigate(e.base+"/supervisor"))
		b.waitFor(t, "the live connection", `document.getElementById('conn').classList.contains('live')`, 10*time.Second)

		// The billing dispute has agent overtalk at 23 s and no recording
		// disclosure by 30 s: both raise hints without the recognizer.
		r := startReplay(t, e, "c-web-wall", "billing_dispute", 0, 34, 5)
		b.waitFor(t, "the call's tile", `!!document.querySelector('#calls [data-call="c-web-wall"]')`, 15*time.Second)
		b.waitFor(t, "a hint on the tile", `(document.querySelector('[data-call="c-web-wall"] .tile-hint') || {}).textContent.startsWith('Hint:')`, 40*time.Second)
		if n := eval[int](t, b, `document.querySelectorAll('[data-call="c-web-wall"] svg.spark').length`); n != 1 {
			t.Errorf("the tile has %d sentiment sparklines, want 1", n)
		}
		if got := eval[string](t, b, `document.querySelector('[data-call="c-web-wall"] .tile-agent').textContent`); got != "A17" {
			t.Errorf("the tile names agent %q, want A17", got)
		}
		b.screenshot(t, "supervisor-wall")

		b.do(t, 10*time.Second, chromedp.Click(chromedp.CSS(`[data-call="c-web-wall"]`)))
		b.waitFor(t, "the live call view with transcript", `!document.getElementById('detail').hidden &&
			document.querySelectorAll('#detail-transcript .line').length > 0`, 30*time.Second)
		if n := eval[int](t, b, `document.querySelectorAll('#detail-hints button.accept, #detail-hints button.dismiss').length`); n != 0 {
			t.Errorf("the supervisor's view has %d feedback buttons, want none (read-only)", n)
		}
		b.screenshot(t, "supervisor-call")

		r.finish(t)
		b.waitFor(t, "the tile to go when the call ends", `!document.querySelector('[data-call="c-web-wall"]') &&
			!document.getElementById('empty').hidden`, 20*time.Second)
		if s := eval[string](t, b, `document.getElementById('detail-state').textContent`); !strings.Contains(s, "ended") {
			t.Errorf("the open call view says %q after the call ended", s)
		}
		b.log.check(t, nil)
	})

	t.Run("the review page draws the sentiment chart and the two-lane timeline", func(t *testing.T) {
		b := newBrowser(t, 1280, 800)
		b.signIn(t, e.base, e.tokens["supervisor"])
		b.do(t, 20*time.Second, chromedp.Navigate(e.base+"/calls/c-web-wall"))
		b.waitFor(t, "the call detail", `document.body.dataset.loaded === '1'`, 15*time.Second)
		type point struct{ X, Y float64 }
		type series struct {
			Speaker string
			Points  []point
		}
		type rect struct {
			Cls        string
			X, Y, W, H float64
		}
		type geometry struct {
			ChartW, ChartH, TimelineW, TimelineH, RenderedW float64
			Series                                          []series
			Segs                                            []rect
			Overtalk                                        []rect
			Lines, Hints                                    int
		}
		g := eval[geometry](t, b, `(() => {
			const c = document.getElementById('sentiment-chart'), tl = document.getElementById('timeline-chart');
			const rect = (r) => ({Cls: r.getAttribute('class'), X: r.x.baseVal.value, Y: r.y.baseVal.value, W: r.width.baseVal.value, H: r.height.baseVal.value});
			return {
				ChartW: c.viewBox.baseVal.width, ChartH: c.viewBox.baseVal.height,
				TimelineW: tl.viewBox.baseVal.width, TimelineH: tl.viewBox.baseVal.height,
				RenderedW: c.getBoundingClientRect().width,
				Series: [...c.querySelectorAll('polyline.series')].map((p) => ({Speaker: p.dataset.speaker, Points: [...p.points].map((q) => ({X: q.x, Y: q.y}))})),
				Segs: [...tl.querySelectorAll('rect.seg')].map(rect),
				Overtalk: [...tl.querySelectorAll('rect.overtalk')].map(rect),
				Lines: document.querySelectorAll('#transcript .line').length,
				Hints: document.querySelectorAll('#hints .hint-row').length,
			};
		})()`)
		if g.RenderedW < 900 {
			t.Errorf("the chart is %.0f px wide in a 1280 px window", g.RenderedW)
		}
		points := 0
		for _, s := range g.Series {
			last := -1.0
			for _, p := range s.Points {
				if p.X < 0 || p.X > g.ChartW || p.Y < 0 || p.Y > g.ChartH {
					t.Errorf("%s sentiment point %+v lies outside the %gx%g chart", s.Speaker, p, g.ChartW, g.ChartH)
				}
				if p.X < last {
					t.Errorf("%s sentiment line goes back in time at %+v", s.Speaker, p)
				}
				last = p.X
			}
			points += len(s.Points)
		}
		if points < 3 {
			t.Errorf("the sentiment chart has %d points in %d lines, want a line with several", points, len(g.Series))
		}
		lanes := map[string]float64{}
		for _, r := range g.Segs {
			if r.W <= 0 || r.X < 0 || r.X+r.W > g.TimelineW+0.5 || r.Y < 0 || r.Y+r.H > g.TimelineH {
				t.Errorf("timeline segment %+v lies outside the %gx%g timeline", r, g.TimelineW, g.TimelineH)
			}
			for _, sp := range []string{"agent", "caller"} {
				if strings.Contains(r.Cls, sp) {
					if y, ok := lanes[sp]; ok && y != r.Y {
						t.Errorf("%s segments sit at y %g and %g: not one lane", sp, y, r.Y)
					}
					lanes[sp] = r.Y
				}
			}
		}
		if len(lanes) != 2 || lanes["agent"] >= lanes["caller"] {
			t.Errorf("timeline lanes %v, want the agent lane above the caller lane", lanes)
		}
		if len(g.Segs) < 6 {
			t.Errorf("the timeline has %d speech segments for 34 s of a two-sided call", len(g.Segs))
		}
		if len(g.Overtalk) == 0 {
			t.Error("the timeline marks no overtalk; the billing dispute's agent talks over the caller at 23 s")
		}
		if g.Lines == 0 || g.Hints == 0 {
			t.Errorf("the review lists %d transcript lines and %d hints", g.Lines, g.Hints)
		}
		b.screenshot(t, "review")
		b.log.check(t, nil)
	})

	t.Run("the history lists stored calls and filters them", func(t *testing.T) {
		b := newBrowser(t, 1280, 800)
		b.signIn(t, e.base, e.tokens["supervisor"])
		b.do(t, 20*time.Second, chromedp.Navigate(e.base+"/calls"))
		b.waitFor(t, "the three calls listed", `document.querySelectorAll('#rows tr').length === 3`, 15*time.Second)
		if !eval[bool](t, b, `!!document.querySelector('#rows a[href="/calls/c-web-wall"]') && !!document.querySelector('#rows a[href="/calls/c-web-overlay"]')`) {
			t.Error("the rows do not link to both calls' review pages")
		}
		b.screenshot(t, "history")
		b.do(t, 10*time.Second, chromedp.SendKeys(chromedp.ID("f-agent"), "B99"), chromedp.Click(chromedp.CSS(`#filters button[type=submit]`)))
		b.waitFor(t, "no calls for another agent", `document.querySelectorAll('#rows tr').length === 0 &&
			document.getElementById('status').textContent === 'No calls match.'`, 10*time.Second)
		if q := eval[string](t, b, `location.search`); q != "?agent=B99" {
			t.Errorf("the filter shows in the URL as %q", q)
		}
		b.do(t, 10*time.Second, chromedp.Click(chromedp.CSS(`#filters button[type=reset]`)))
		b.waitFor(t, "the calls back after clearing", `document.querySelectorAll('#rows tr').length === 3`, 10*time.Second)
		b.log.check(t, nil)
	})

	t.Run("a page opened with a bad or expired token says so and offers sign-in", func(t *testing.T) {
		b := newBrowser(t, 360, 640)
		forged, err := auth.NewAuthority([]byte("not the engine's secret, 32 bytes"), nil).Issue(auth.RoleAgent, "A17", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		secret, err := auth.LoadOrCreateSecret(e.dir)
		if err != nil {
			t.Fatal(err)
		}
		expired, err := auth.NewAuthority(secret, func() time.Time { return time.Now().Add(-2 * time.Hour) }).Issue(auth.RoleSupervisor, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, token, page, want, shot string
		}{
			{"a token the engine did not sign", forged, "/overlay", "rejected", "bad-token"},
			{"an expired token", expired, "/supervisor", "expired", "expired-token"},
			{"something that is not a token", "hello", "/calls", "not a valid token", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b.signIn(t, e.base, tc.token)
				b.do(t, 20*time.Second, chromedp.Navigate(e.base+tc.page))
				b.waitFor(t, "the sign-in notice", `!!document.getElementById('auth-problem')`, 10*time.Second)
				if msg := eval[string](t, b, `document.getElementById('auth-problem').textContent`); !strings.Contains(msg, tc.want) {
					t.Errorf("the notice says %q, want it to say %q", msg, tc.want)
				}
				href := eval[string](t, b, `document.getElementById('signin-again').getAttribute('href')`)
				if want := "/signin?next=" + strings.ReplaceAll(tc.page, "/", "%2F"); href != want {
					t.Errorf("sign-in link %q, want %q", href, want)
				}
				if tc.shot != "" {
					b.screenshot(t, tc.shot)
				}
			})
		}
		// The sign-in page itself refuses the forged token with a reason.
		b.do(t, 20*time.Second, chromedp.Navigate(e.base+"/signin?next=%2Foverlay"),
			chromedp.SendKeys(chromedp.ID("token"), forged),
			chromedp.Click(chromedp.ID("signin-button")))
		b.waitFor(t, "the sign-in error", `document.getElementById('error').textContent.includes('rejected')`, 10*time.Second)
		if p := eval[string](t, b, `location.pathname`); p != "/signin" {
			t.Errorf("a rejected token went on to %s", p)
		}
		b.log.check(t, allowHTTP401)
	})
}

// TestModulesInChromium runs the pages' small pure modules in the browser
// that uses them: the Markdown renderer must build elements for its few
// constructs and show any HTML as text; the token decoder must read a JWT
// payload and reject anything else.
func TestModulesInChromium(t *testing.T) {
	needBrowser(t)
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	b := newBrowser(t, 800, 600)
	b.do(t, 20*time.Second, chromedp.Navigate(srv.URL+"/signin"))

	render := func(t *testing.T, md string) string {
		return eval[string](t, b, fmt.Sprintf(`import('/static/markdown.js').then((m) => {
			const d = document.createElement('div'); d.append(m.render(%q)); return d.innerHTML; })`, md), chromedp.EvalAwaitPromise)
	}
	for _, tc := range []struct{ name, md, want string }{
		{"headings, lists and bold become elements", "# Cancel\n\nAsk **why** first.\n\n- price\n- service\n\n1. offer\n2. confirm",
			"<h3>Cancel</h3><p>Ask <strong>why</strong> first.</p><ul><li>price</li><li>service</li></ul><ol><li>offer</li><li>confirm</li></ol>"},
		{"lines of a paragraph join", "one\ntwo\n\nthree", "<p>one two</p><p>three</p>"},
		{"an indented line continues a list item", "- first\n  more\n- second", "<ul><li>first more</li><li>second</li></ul>"},
		{"HTML shows as text and never becomes markup", `<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>`,
			`<p>&lt;img src=x onerror="window.pwned=1"&gt;&lt;script&gt;window.pwned=2&lt;/script&gt;</p>`},
		{"an unpaired ** stays literal", "a **b", "<p>a **b</p>"},
		{"front matter is dropped", "---\ntitle: x\nkeywords: [a]\n---\nBody", "<p>Body</p>"},
		{"deep headings stop at h6", "##### Five", "<h6>Five</h6>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := render(t, tc.md); got != tc.want {
				t.Errorf("render(%q)\n got %s\nwant %s", tc.md, got, tc.want)
			}
		})
	}
	if eval[bool](t, b, `window.pwned !== undefined`) {
		t.Error("markup in an article ran script")
	}

	tok, err := auth.NewAuthority([]byte("any secret will do for decoding.."), nil).Issue(auth.RoleAgent, "A17", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, token, want string }{
		{"a JWT's role and agent are read", tok, "agent A17 false"},
		{"a string that is no JWT gives null", "abc.def", "null"},
		{"a JWT with a non-JSON payload gives null", "a.bm90IGpzb24.c", "null"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := eval[string](t, b, fmt.Sprintf(`import('/static/common.js').then((m) => {
				const c = m.decodeClaims(%q); return c ? c.role + ' ' + c.agent + ' ' + m.isExpired(c) : 'null'; })`, tc.token), chromedp.EvalAwaitPromise)
			if got != tc.want {
				t.Errorf("decodeClaims: %q, want %q", got, tc.want)
			}
		})
	}
	b.log.check(t, nil)
}
