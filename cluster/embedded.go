package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startServer starts the embedded nats-server and waits until it takes
// connections. A single node listens on nothing (clients come in process);
// a cluster node listens for routes, and for clients on a random loopback
// port unless Config.ClientListen says otherwise, because nats-server
// does not cluster with DontListen (its issue #5174).
func (n *Node) startServer(ctx context.Context) (*server.Server, error) {
	dir := filepath.Join(n.cfg.DataDir, "nats")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	// MkdirAll keeps the mode of a directory that exists: JetStream's files
	// hold transcripts, so the mode is set either way.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	opts := &server.Options{
		ServerName:   n.cfg.Node,
		JetStream:    true,
		StoreDir:     dir,
		SyncInterval: syncInterval,
		NoSigs:       true, // signals belong to the command
		DontListen:   true,
	}
	if n.cfg.ClusterListen != "" {
		host, port, err := splitHostPort(n.cfg.ClusterListen)
		if err != nil {
			return nil, err
		}
		opts.Cluster = server.ClusterOpts{Name: n.cfg.ClusterName, Host: host, Port: port}
		for _, p := range n.cfg.ClusterPeers {
			opts.Routes = append(opts.Routes, &url.URL{Scheme: "nats-route", Host: p})
		}
		opts.DontListen = false
		opts.Host, opts.Port = "127.0.0.1", server.RANDOM_PORT
		// The loopback client port is an internal detail: do not tell
		// clients of other nodes to use it.
		opts.Cluster.NoAdvertise = n.cfg.ClientListen == ""
	}
	if n.cfg.ClientListen != "" {
		host, port, err := splitHostPort(n.cfg.ClientListen)
		if err != nil {
			return nil, err
		}
		opts.DontListen = false
		opts.Host, opts.Port = host, port
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("%w: embedded nats-server: %v", ErrBadConfig, err)
	}
	n.serverLg = newServerLog(n.log.With("component", "nats-server"))
	// Trace stays off: it logs every protocol message, payloads
	// (transcripts) included.
	ns.SetLoggerV2(n.serverLg, n.serverLg.debug, false, false)
	ns.Start()
	wait := time.Until(deadline(ctx))
	if !ns.ReadyForConnections(wait) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("%w: the embedded nats-server was not ready within %s: %s", ErrUnreachable, wait.Round(time.Millisecond), n.serverLg.lastError())
	}
	return ns, nil
}

// deadline is ctx's deadline, or now when it has none (Start always sets one).
func deadline(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Now()
	}
	return d
}

// serverLog bridges nats-server's Logger to slog: notices are Info,
// warnings Warn, errors and fatal errors Error (the node, not the server,
// decides what is fatal), debug and trace Debug. It keeps the last error
// so that a server that fails to start can say why.
type serverLog struct {
	log     *slog.Logger
	debug   bool
	started atomic.Bool // "Server is ready" was logged: the banner is over
	// formed is set once Start has returned: the cluster had a quorum and
	// every peer it waited for had started.
	formed atomic.Bool
	// quiet is set while the node restarts JetStream: its notices (the
	// banner again, a line per stream restored) go to Debug.
	quiet atomic.Bool

	mu   sync.Mutex
	last string
}

func newServerLog(log *slog.Logger) *serverLog {
	return &serverLog{log: log, debug: log.Enabled(context.Background(), slog.LevelDebug)}
}

func (l *serverLog) emit(level slog.Level, format string, v []any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, v...))
}

func (l *serverLog) keep(format string, v []any) {
	l.mu.Lock()
	l.last = fmt.Sprintf(format, v...)
	l.mu.Unlock()
}

func (l *serverLog) lastError() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == "" {
		return "no error logged"
	}
	return l.last
}

// Noticef logs nats-server's notices at Info, but for the two dozen lines
// of its start-up banner (version, limits, paths), which go to Debug: a
// user starting `earshot serve` needs "Server is ready", not the banner.
func (l *serverLog) Noticef(format string, v ...any) {
	level := slog.LevelInfo
	if l.quiet.Load() {
		level = slog.LevelDebug
	} else if !l.started.Load() {
		if strings.HasPrefix(format, "Server is ready") {
			l.started.Store(true)
		} else {
			level = slog.LevelDebug
		}
	}
	l.emit(level, format, v)
}
func (l *serverLog) Warnf(format string, v ...any) { l.emit(slog.LevelWarn, format, v) }
func (l *serverLog) Errorf(format string, v ...any) {
	if format == routeConnectErr {
		l.emit(l.routeErrLevel(v), format, v)
		return
	}
	l.keep(format, v)
	l.emit(slog.LevelError, format, v)
}

// routeConnectErr is nats-server's format (route.go, connectToRoute) for a
// failed attempt to connect to a peer's cluster port; its arguments are
// the attempt number and the error.
const routeConnectErr = "Error trying to connect to route (attempt %v): %v"

// routeReportEvery is how many refused attempts to reach a peer that
// was lost make one Warn: nats-server tries every second and reports each.
const routeReportEvery = 60

// routeErrLevel picks the level of a failed route connection. A refused
// one while the cluster forms is expected (the peer's process has not
// opened its port yet) and is Debug; a refused one later means a peer is
// down, which is a Warn (the node's own loss of quorum is reported
// elsewhere), once a minute rather than every second. Any other failure
// (no such host, a timeout through a firewall) is likely a configuration
// error and stays an Error.
func (l *serverLog) routeErrLevel(v []any) slog.Level {
	if len(v) != 2 {
		return slog.LevelError
	}
	err, _ := v[1].(error)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return slog.LevelError
	}
	if !l.formed.Load() {
		return slog.LevelDebug
	}
	if attempt, ok := v[0].(int); ok && attempt != 1 && attempt%routeReportEvery != 0 {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}
func (l *serverLog) Fatalf(format string, v ...any) {
	l.keep(format, v)
	l.emit(slog.LevelError, format, v)
}
func (l *serverLog) Debugf(format string, v ...any) { l.emit(slog.LevelDebug, format, v) }
func (l *serverLog) Tracef(format string, v ...any) { l.emit(slog.LevelDebug, format, v) }
