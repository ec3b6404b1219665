package engine

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/internal/ingestclient"
	"github.com/earshot/earshot/samples"
	"github.com/earshot/earshot/samples/defaults"
	"github.com/earshot/earshot/stt/pocketsphinx"
)

// TestEndToEndWithTheRealPipeline replays the first 32 s of the
// cancellation sample through the real engine, pipeline and recognizer:
// the agent's overlay must see the transcript, the retention hint and
// dynamics live, and GET /v1/calls/{id} must have them stored.
func TestEndToEndWithTheRealPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the recognizer and streams 32 s of audio")
	}
	truth, err := samples.Call("cancellation")
	if err != nil {
		t.Fatal(err)
	}
	f, err := samples.Open(truth.AudioPath())
	if err != nil {
		t.Fatal(err)
	}
	src, err := audio.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	chans, err := audio.ReadAll(audio.Resample(src, audio.PipelineRate))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	cut := audio.PipelineRate.Samples(32 * time.Second)
	agentPCM, callerPCM := chans[0][:cut], chans[1][:cut]

	pool, err := pocketsphinx.NewPool(pocketsphinx.Config{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	pb, kb, err := defaults.Assist()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	deps := call.Deps{Recognizers: pool.Recognizers(), Playbook: pb, KB: kb}
	e := startEngine(t, t.TempDir(), "", func(c *Config) {
		c.NewAnalyzer = PipelineAnalyzers(ctx, deps)
		c.Articles = kb
	})

	overlay := dialLive(t, e, "agent=A1", e.tokens["agent"], nil, nil)
	seen := map[string][]map[string]any{}
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			overlay.SetReadDeadline(time.Now().Add(60 * time.Second))
			var ev map[string]any
			if err := overlay.ReadJSON(&ev); err != nil {
				return
			}
			mu.Lock()
			typ, _ := ev["type"].(string)
			seen[typ] = append(seen[typ], ev)
			mu.Unlock()
			if typ == "call.ended" {
				return
			}
		}
	}()

	c, err := ingestclient.New(ingestclient.Config{URL: e.base(), Token: e.tokens["endpoint"], CallID: "c-e2e", AgentID: "A1"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.Run(ctx) }()
	if err := ingestclient.Stream(ctx, c, agentPCM, callerPCM, ingestclient.StreamConfig{Speed: 2}); err != nil {
		t.Fatal(err)
	}
	ended, err := c.End(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	<-done
	if want := int64(2 * (cut / audio.FrameSize)); ended.Frames != want || ended.Gaps != 0 {
		t.Errorf("ended %+v, want %d frames", ended, want)
	}

	mu.Lock()
	defer mu.Unlock()
	var text []string
	for _, ev := range seen["transcript.final"] {
		text = append(text, ev["text"].(string))
	}
	t.Logf("live transcript: %q", text)
	if len(text) < 4 {
		t.Errorf("only %d final transcripts reached the overlay", len(text))
	}
	// The recognizer is far from perfect on the phone-band caller, so ask
	// for a fair share of the words actually spoken, not an exact text.
	hyp := map[string]int{}
	for _, w := range strings.Fields(strings.Join(text, " ")) {
		hyp[w]++
	}
	ref, found := 0, 0
	for _, seg := range truth.Segments {
		if seg.End > 32 {
			break
		}
		for _, w := range strings.Fields(seg.Text) {
			ref++
			if hyp[w] > 0 {
				hyp[w]--
				found++
			}
		}
	}
	if ref == 0 || float64(found)/float64(ref) < 0.5 {
		t.Errorf("the live transcript has %d of the %d words spoken", found, ref)
	}
	t.Logf("%d of %d reference words recognized", found, ref)
	var hintIDs []string
	for _, ev := range seen["hint"] {
		hintIDs = append(hintIDs, ev["id"].(string))
	}
	if !slices.Contains(hintIDs, "retention_offer") {
		t.Errorf("hints at the overlay %v lack retention_offer", hintIDs)
	}
	if len(seen["dynamics"]) == 0 {
		t.Error("no dynamics events reached the overlay")
	}

	d := e.call("c-e2e")
	if len(d.Utterances) != len(text) {
		t.Errorf("%d utterances stored, %d seen live", len(d.Utterances), len(text))
	}
	b, _ := json.Marshal(d.Hints)
	if !strings.Contains(string(b), "retention_offer") {
		t.Errorf("stored hints %s", b)
	}
	if len(d.Dynamics) == 0 || !strings.Contains(string(d.Dynamics), "talk") {
		t.Errorf("stored dynamics %s", d.Dynamics)
	}
	if !slices.Contains(d.Categories, "churn_risk") {
		t.Errorf("stored categories %v", d.Categories)
	}
	types := eventTypes(t, d.Events)
	if types[len(types)-1] != "call.ended" || slices.Index(types, "call.ended") != len(types)-1 {
		t.Errorf("call.ended not exactly once at the end: %v", types)
	}
}
