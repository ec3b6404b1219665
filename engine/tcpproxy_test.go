package engine

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// tcpProxy forwards TCP connections from a loopback port to a target: a
// network link the test can cut and heal. While cut, every connection it
// carried is closed and new ones are accepted and closed at once, so the
// two sides see the link drop (as a firewall rule that resets would make
// it) rather than hang.
type tcpProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{} // both ends of every forwarded connection
	// total counts connections forwarded since the start, so a test can
	// check that traffic really goes through the proxy.
	total int

	wg sync.WaitGroup // the accept loop and the copy goroutines
}

// newTCPProxy listens on listen (a loopback HOST:PORT, port 0 for any)
// and forwards to target until the test ends. It dials from 127.0.0.1,
// which partitionedCluster relies on.
func newTCPProxy(t *testing.T, listen, target string) *tcpProxy {
	t.Helper()
	p, err := tryTCPProxy(t, listen, target)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tryTCPProxy is newTCPProxy returning the error of a listen address in use.
func tryTCPProxy(t *testing.T, listen, target string) (*tcpProxy, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p, nil
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) accept() {
	defer p.wg.Done()
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}
	for {
		in, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // a connection reset before it was accepted
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			in.Close()
			continue
		}
		out, err := d.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		if p.cut { // cut while dialling
			p.mu.Unlock()
			in.Close()
			out.Close()
			continue
		}
		p.conns[in], p.conns[out] = struct{}{}, struct{}{}
		p.total++
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

// pipe copies src to dst; when either side ends, both are closed, so a
// half-dead link is never left open.
func (p *tcpProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	io.Copy(dst, src)
	p.mu.Lock()
	delete(p.conns, src)
	delete(p.conns, dst)
	p.mu.Unlock()
	src.Close()
	dst.Close()
}

// Cut drops every connection the proxy carries and refuses new ones
// until Heal.
func (p *tcpProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Heal lets connections through again.
func (p *tcpProxy) Heal() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// carried is how many connections the proxy has forwarded so far.
func (p *tcpProxy) carried() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total
}

func (p *tcpProxy) close() {
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}
