package replay

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/earshot/earshot/internal/ingestclient"
	"github.com/earshot/earshot/protocol"
)

// Job is one recording to stream as one call.
type Job struct {
	Name          string // for messages
	CallID        string
	AgentID       string
	Agent, Caller []float32 // 16 kHz channels
	// OnFrame, if set, is told when each 20 ms slot of the call (ending at
	// call time end) was handed to the ingest client.
	OnFrame func(end time.Duration, sent time.Time)
}

// Result is what streaming one call gave.
type Result struct {
	Job     *Job
	Ended   ingestclient.Ended
	Stats   ingestclient.Stats
	Elapsed time.Duration // first frame handed over → stream done
	Drain   time.Duration // stream done → engine's "ended"
	Err     error
}

// One streams job through its own ingest client to the engine at url and
// blocks until the engine has stored the call, the stream failed or ctx
// ended. url is one engine base URL or a comma-separated list of them (the
// nodes of a cluster): the call starts on the first and moves to the next
// when its engine fails (ingestclient.Config.URLs). The client's Run
// goroutine is owned here: started, then waited for before returning.
func One(ctx context.Context, url, token string, speed float64, job *Job) Result {
	res := Result{Job: job}
	c, err := ingestclient.New(ingestclient.Config{URLs: ingestclient.SplitURLs(url), Token: token, CallID: job.CallID, AgentID: job.AgentID})
	if err != nil {
		res.Err = err
		return res
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var runErr error
	wg.Go(func() { runErr = c.Run(runCtx) })
	start := time.Now()
	err = ingestclient.Stream(ctx, c, job.Agent, job.Caller, ingestclient.StreamConfig{Speed: speed, OnFrame: job.OnFrame})
	res.Elapsed = time.Since(start)
	if err == nil {
		res.Ended, err = c.End(ctx)
		res.Drain = time.Since(start) - res.Elapsed
	}
	cancel()
	wg.Wait()
	if err != nil && runErr != nil && !errors.Is(runErr, context.Canceled) {
		err = fmt.Errorf("%w (connection: %v)", err, runErr)
	}
	res.Err, res.Stats = err, c.Stats()
	return res
}

// All streams jobs with at most concurrency at once, each with One (url
// may list several engines), blocks until every one is done, and returns
// the results in job order. Jobs not started
// when ctx ends get ctx's error.
func All(ctx context.Context, url, token string, speed float64, concurrency int, jobs []*Job) []Result {
	results := make([]Result, len(jobs))
	sem := make(chan struct{}, max(concurrency, 1))
	var wg sync.WaitGroup
	for i, j := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			results[i] = Result{Job: j, Err: ctx.Err()}
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			results[i] = One(ctx, url, token, speed, j)
		})
	}
	wg.Wait()
	return results
}

// CallID makes a protocol-valid call id (protocol.ValidID) from a prefix,
// a time stamp, a file's base name and an index.
func CallID(prefix, stamp, base string, i int) string {
	id := fmt.Sprintf("%s-%s-%d-%s", prefix, stamp, i, protocol.IDPart(base))
	if len(id) > protocol.MaxIDLen {
		id = id[:protocol.MaxIDLen]
	}
	return id
}
