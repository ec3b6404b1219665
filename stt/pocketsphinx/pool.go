package pocketsphinx

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/earshot/earshot/stt"
)

// ErrPoolClosed means Get was called on a closed Pool.
var ErrPoolClosed = errors.New("pocketsphinx: pool closed")

// Pool holds decoders loaded before calls arrive, so a call's first partial
// comes as fast as any later one. Each decoder serves one stream at a time;
// size the pool to the CPU cores (more decoders than cores raised the cost
// per stream 1.35–1.9× in FACTS.md's measurements).
//
// A Pool is safe for concurrent use.
type Pool struct {
	free chan *Decoder
	done chan struct{}

	mu     sync.Mutex
	closed bool
	owned  map[*Decoder]bool // member -> idle
}

// NewPool loads size decoders from cfg (size <= 0 means one per CPU core).
// It blocks for about a second of CPU per decoder and fails, closing what it
// loaded, when any decoder fails.
func NewPool(cfg Config, size int) (*Pool, error) {
	if size <= 0 {
		size = runtime.NumCPU()
	}
	p := &Pool{
		free:  make(chan *Decoder, size),
		done:  make(chan struct{}),
		owned: make(map[*Decoder]bool, size),
	}
	for i := range size {
		d, err := NewDecoder(cfg)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("pocketsphinx: loading pool decoder %d of %d: %w", i+1, size, err)
		}
		p.owned[d] = true
		p.free <- d
	}
	return p, nil
}

// Get returns an idle decoder with a fresh stream (clock at zero), blocking
// until one is free, ctx ends (ctx.Err()) or the pool is closed
// (ErrPoolClosed). The caller owns the decoder until it calls Put.
func (p *Pool) Get(ctx context.Context) (*Decoder, error) {
	select {
	case <-p.done:
		return nil, ErrPoolClosed
	default:
	}
	select {
	case d := <-p.free:
		p.mu.Lock()
		p.owned[d] = false
		p.mu.Unlock()
		return d, nil
	case <-p.done:
		return nil, ErrPoolClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Put returns d to the pool after resetting its stream and CMN estimate (an
// open utterance is discarded). After Close, or for a decoder that did not
// come from this pool, Put closes d instead. It never blocks.
func (p *Pool) Put(d *Decoder) {
	if d == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	idle, member := p.owned[d]
	if idle {
		panic("pocketsphinx: decoder returned to the pool twice")
	}
	if p.closed || !member {
		d.Close()
		return
	}
	if err := d.Reset(); err != nil {
		// Closed by its user: it is no longer a pool member.
		delete(p.owned, d)
		return
	}
	p.owned[d] = true
	// Never blocks: the channel has room for every member.
	p.free <- d
}

// Close closes the idle decoders and makes Get fail; decoders still out are
// closed when they are Put. Close is idempotent.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	close(p.done)
	for {
		select {
		case d := <-p.free:
			d.Close()
		default:
			return nil
		}
	}
}

// Recognizers returns the pool as a source of stt.Recognizers, the form
// the engine's call pipelines take recognizers in.
func (p *Pool) Recognizers() RecognizerSource { return RecognizerSource{p} }

// RecognizerSource hands out a Pool's decoders as stt.Recognizers.
type RecognizerSource struct{ pool *Pool }

// Get is Pool.Get returning the decoder as an stt.Recognizer.
func (s RecognizerSource) Get(ctx context.Context) (stt.Recognizer, error) {
	d, err := s.pool.Get(ctx)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Put is Pool.Put for a recognizer Get returned; any other is ignored.
func (s RecognizerSource) Put(r stt.Recognizer) {
	if d, ok := r.(*Decoder); ok {
		s.pool.Put(d)
	}
}
