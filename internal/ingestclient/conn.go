package ingestclient

import (
	"net"
	"sync"
	"time"
)

// flushBytes is how much a batchConn holds before it writes anyway: a
// resend after a long outage goes out in pieces of this size, not as one
// write of megabytes.
const flushBytes = 64 << 10

// batchConn is the network connection under the WebSocket. Between hold and
// flush it keeps what is written and sends it with one write. The writer
// usually finds several frames per wake-up (a capture device delivers
// 100 ms at a time, five frames per channel); one message per write cost a
// system call and a TCP segment per 20 ms frame, and the engine answered
// most of them with an ack of its own that woke the endpoint again. Each
// WebSocket message is still a message of its own on the wire: only the
// system calls are batched.
//
// gorilla/websocket serialises its writes, and the reader's pongs may come
// between a hold and a flush: they join the batch and leave with it.
type batchConn struct {
	net.Conn
	mu       sync.Mutex
	holding  bool
	buf      []byte
	deadline time.Time // the latest write deadline asked for while holding
	applied  time.Time // the write deadline set on the connection
}

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.holding {
		return c.Conn.Write(p)
	}
	c.buf = append(c.buf, p...)
	if len(c.buf) >= flushBytes {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// SetWriteDeadline applies at once when not holding; while holding it
// applies to the write that flushes. gorilla sets the deadline before
// every message; setting it on the socket once per batch also saves a
// timer update per frame.
func (c *batchConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holding {
		c.deadline = t
		return nil
	}
	return c.setDeadlineLocked(t)
}

func (c *batchConn) setDeadlineLocked(t time.Time) error {
	if t.Equal(c.applied) {
		return nil
	}
	c.applied = t
	return c.Conn.SetWriteDeadline(t)
}

// SetDeadline is used by the handshake, before any batch.
func (c *batchConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.applied = t
	return c.Conn.SetDeadline(t)
}

// hold starts a batch: writes are kept until flush.
func (c *batchConn) hold() {
	c.mu.Lock()
	c.holding = true
	c.deadline = c.applied
	c.mu.Unlock()
}

// flush writes what the batch holds and ends it. An error means the
// connection is broken: part of the batch may be lost, and the engine's
// ack tells what to resend.
func (c *batchConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.flushLocked()
	c.holding = false
	return err
}

func (c *batchConn) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	if err := c.setDeadlineLocked(c.deadline); err != nil {
		return err
	}
	_, err := c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}
