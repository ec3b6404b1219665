package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/earshot/earshot/agentassist"
	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/cluster"
	"github.com/earshot/earshot/internal/auth"
	"github.com/earshot/earshot/live"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/store"
)

// ArticleSource looks up knowledge-base articles for GET /v1/kb/{id};
// *agentassist.KB is one.
type ArticleSource interface {
	Article(id string) (agentassist.Article, bool)
}

// Config configures a Server. Zero values are the documented defaults;
// NewAnalyzer is required.
type Config struct {
	DataDir   string           // default ./earshot-data
	Retention time.Duration    // default 90 days
	Sync      store.SyncPolicy // default every second
	TLSCert   string           // with TLSKey: serve HTTPS/WSS
	TLSKey    string

	NewAnalyzer NewAnalyzerFunc
	Articles    ArticleSource // optional; /v1/kb answers 404 without it
	// Web, if set, serves everything the API does not (pages), and "/"
	// redirects to /overlay.
	Web http.Handler

	Logger *slog.Logger

	// Cluster, when set, makes this engine a node of a cluster on NATS
	// JetStream (embedded in the process unless Cluster.NATSURLs is set;
	// Cluster.DataDir defaults to DataDir): live events of every node's
	// calls reach this node's subscribers. `earshot serve` always sets it;
	// nil runs without NATS (tests of one engine's own behaviour).
	Cluster *cluster.Config
	// SecretFile, when set, is the token secret shared by every node of a
	// cluster (auth.LoadSecretFile: it must exist, mode 0600); otherwise
	// the secret is DataDir/token.secret, made at first start.
	SecretFile string
	// Advertise is the engine base URL (http(s)://host:port) endpoints can
	// reach this node at; a full node sends new calls to a node with room
	// by it (close 4503). Empty behind one load balancer address.
	Advertise string
	// MaxCalls is how many calls this node runs before a cluster's new
	// calls go to other nodes (4503); 0 means no limit. Alone, a node
	// takes every call (beyond its recognizers, without a transcript).
	MaxCalls int

	// Protocol timings, shortened by tests.
	ResumeWindow time.Duration // how long a dropped call waits for a resume; default 120 s
	PingInterval time.Duration // default 15 s
	ReadTimeout  time.Duration // a connection silent this long is closed; default 45 s
	AckInterval  time.Duration // default 200 ms (the protocol promises ≤ 250 ms)
	QueueSize    int           // per live subscriber, default 256

	// Limits on what one endpoint can make the engine do.
	//
	// MaxCallLength is the longest call: a frame whose capture time is
	// beyond it, or a seq more than its frames ahead of the ack, is a
	// protocol violation (1008). Default 12 h.
	MaxCallLength time.Duration
	// NoAudioTimeout ends a call (reason no_audio) that gets neither audio
	// nor a pause this long after its start. Default 30 s.
	NoAudioTimeout time.Duration
	// IdleTimeout closes an ingest connection (4408) that sends no frame
	// and no control message for this long, unless its call is paused
	// (pings do not count). Default 60 s.
	IdleTimeout time.Duration
	// MaxWaitingCalls caps the calls per endpoint token that have started
	// but not streamed yet; a start beyond it gets 4429. Such calls hold
	// no recognizers (the pipeline starts with the first frame), so the
	// cap bounds memory and sessions. Default 16.
	MaxWaitingCalls int
	// MaxGapRecords caps the gap records of one call; past it gaps extend
	// the last record. Default 1000.
	MaxGapRecords int
	// StorageTimeout is how long a call's records may fail to be written
	// before the call is dropped for a resume (1011 "storage
	// unavailable"); acks stop at the first failure. Default 10 s.
	StorageTimeout time.Duration
	// ShutdownTimeout bounds a graceful shutdown: calls still running when
	// it passes are ended with reason shutdown from their last
	// checkpoint. Default 10 s.
	ShutdownTimeout time.Duration
}

func (c *Config) defaults() error {
	if c.NewAnalyzer == nil {
		return fmt.Errorf("%w: NewAnalyzer is required", ErrConfig)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("%w: --tls-cert and --tls-key go together", ErrConfig)
	}
	if c.DataDir == "" {
		c.DataDir = "./earshot-data"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ResumeWindow <= 0 {
		c.ResumeWindow = 120 * time.Second
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 15 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 45 * time.Second
	}
	if c.AckInterval <= 0 {
		c.AckInterval = 200 * time.Millisecond
	}
	if c.MaxCallLength <= 0 {
		c.MaxCallLength = 12 * time.Hour
	}
	if c.MaxCallLength > 30*24*time.Hour {
		return fmt.Errorf("%w: the longest call may be 30 days (the protocol's capture-time limit)", ErrConfig)
	}
	if c.NoAudioTimeout <= 0 {
		c.NoAudioTimeout = 30 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 60 * time.Second
	}
	if c.MaxWaitingCalls <= 0 {
		c.MaxWaitingCalls = 16
	}
	if c.MaxGapRecords <= 0 {
		c.MaxGapRecords = 1000
	}
	if c.StorageTimeout <= 0 {
		c.StorageTimeout = 10 * time.Second
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	return nil
}

// maxSeqAhead is how far above the ack a seq may be: the frames of both
// channels of the longest call.
func (s *Server) maxSeqAhead() int64 {
	return 2 * int64(s.cfg.MaxCallLength/audio.FrameDuration)
}

// adoptOrphan leaves a call whose session stopped without ending it (its
// records could not be written) to the janitor, as a crash would: it ends
// the call if nobody resumes it within the resume window.
func (s *Server) adoptOrphan(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orphans[id] = time.Now().Add(s.cfg.ResumeWindow)
}

// Server is the Earshot engine. Create it with New, serve with Run.
type Server struct {
	cfg   Config
	log   *slog.Logger
	store callStore    // the journal in a cluster, else db itself
	db    *store.Store // the local buntdb file (the journal's projection)
	auth  *auth.Authority
	hub   *live.Hub
	m     *metrics
	node  *cluster.Node // nil without Config.Cluster
	relay *live.Relay   // with node: live events to and from the other nodes
	// relayConn is the relay's own NATS connection.
	relayConn *nats.Conn
	journal   *store.Journal // with node: every write goes to JetStream first
	owners    *owners        // with node: which node runs each live call
	// stopProj stops the journal's projection (started by New) and waits.
	stopProj func()

	mu       sync.Mutex
	sessions map[string]*session // live calls
	// starting are the calls whose start is being checked, claimed and
	// written outside mu (round trips to JetStream in a cluster): a second
	// start of one waits for the first, and they count as waiting calls.
	starting map[string]pendingStart
	orphans  map[string]time.Time // calls a crash left live: resume deadline
	started  time.Time            // when New ran: the resume window after a restart starts here
	swept    bool                 // janitor only: stale open speech deleted
	draining bool

	sessCtx    context.Context // cancelled at shutdown: sessions end with reason "shutdown"
	sessCancel context.CancelFunc
	sessWG     sync.WaitGroup // session goroutines
	connWG     sync.WaitGroup // WebSocket handlers (hijacked, so http.Server does not track them)
}

// DBFile is the store's file name inside the data directory.
const DBFile = "earshot.db"

// New opens the data directory (creating it, the token secret and the
// store) and returns a server ready to Run. Close it with Run's return, or
// with Close if Run is never called.
func New(cfg Config) (*Server, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	secret, err := loadSecret(cfg)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(filepath.Join(cfg.DataDir, DBFile), store.Config{Retention: cfg.Retention, Sync: cfg.Sync, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	m := newMetrics()
	s := &Server{
		cfg: cfg, log: cfg.Logger, store: st, db: st, auth: auth.NewAuthority(secret, nil), m: m,
		sessions: map[string]*session{}, starting: map[string]pendingStart{}, orphans: map[string]time.Time{}, started: time.Now(),
	}
	hc := live.HubConfig{QueueSize: cfg.QueueSize, Logger: cfg.Logger,
		OnSubscribers: func(n int) { m.subscribers.Set(float64(n)) }}
	if cfg.Cluster != nil {
		if err := s.joinCluster(&hc); err != nil {
			st.Close()
			return nil, err
		}
	}
	s.hub = live.NewHub(hc)
	s.sessCtx, s.sessCancel = context.WithCancel(context.Background())
	if s.node != nil {
		if err := s.newRelay(); err != nil {
			s.Close()
			return nil, err
		}
		if err := s.openJournal(); err != nil {
			s.Close()
			return nil, err
		}
	}
	if err := s.adoptLeftLive(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// adoptLeftLive gives the calls a crash of this node left live the resume
// window from now; the janitor ends those nobody resumes. Another node's
// live calls are that node's to end.
func (s *Server) adoptLeftLive() error {
	live, err := s.store.Calls(store.StatusLive)
	if err != nil {
		return err
	}
	n := 0
	for _, c := range live {
		if c.Node != "" && c.Node != s.nodeName() {
			continue
		}
		s.orphans[string(c.ID)] = time.Now().Add(s.cfg.ResumeWindow)
		n++
	}
	if n > 0 {
		s.log.Info("calls left live by the last run wait for resume", "calls", n, "window", s.cfg.ResumeWindow)
	}
	return nil
}

func loadSecret(cfg Config) ([]byte, error) {
	if cfg.SecretFile != "" {
		return auth.LoadSecretFile(cfg.SecretFile)
	}
	return auth.LoadOrCreateSecret(cfg.DataDir)
}

// Authority returns the token authority (for `earshot token` and tests).
func (s *Server) Authority() *auth.Authority { return s.auth }

// Store returns the local call store (in a cluster, the projection of the
// cluster's records), for reading. It is closed when Run returns.
func (s *Server) Store() *store.Store { return s.db }

// Handler returns the HTTP handler with every route.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	a := s.auth
	mux.HandleFunc("GET /healthz", s.health)
	mux.Handle("GET /v1/cluster", a.Middleware(auth.Roles(auth.RoleSupervisor, auth.RoleAdmin), http.HandlerFunc(s.getCluster)))
	mux.Handle("GET /metrics", a.Middleware(auth.Roles(auth.RoleSupervisor, auth.RoleAdmin),
		promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{})))
	mux.HandleFunc("GET /v1/ingest", s.serveIngest)
	mux.HandleFunc("GET /v1/live", s.serveLive)
	viewers := auth.Roles(auth.RoleAgent, auth.RoleSupervisor, auth.RoleAdmin)
	mux.Handle("GET /v1/calls", a.Middleware(viewers, http.HandlerFunc(s.listCalls)))
	mux.Handle("GET /v1/calls/{id}", a.Middleware(viewers, http.HandlerFunc(s.getCall)))
	mux.Handle("POST /v1/calls/{id}/hints/{hint}/feedback", a.Middleware(auth.Roles(auth.RoleAgent, auth.RoleAdmin), http.HandlerFunc(s.postFeedback)))
	mux.Handle("GET /v1/kb/{article}", a.Middleware(viewers, http.HandlerFunc(s.getArticle)))
	if s.cfg.Web != nil {
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/overlay", http.StatusFound)
		})
		mux.Handle("/", s.cfg.Web)
	}
	return mux
}

// Run serves on ln until ctx is cancelled, then shuts down in order: stop
// accepting connections and calls, end every live call (flush its pipeline,
// save it, tell its endpoint), close the live subscriptions, wait for every
// goroutine, and close the store last. It returns nil after a clean
// shutdown.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	if s.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			s.Close()
			return fmt.Errorf("tls: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	serveErr := make(chan error, 1)
	var bg sync.WaitGroup
	bg.Add(2)
	go func() {
		defer bg.Done()
		err := hs.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		serveErr <- err
	}()
	janitorCtx, stopJanitor := context.WithCancel(context.Background())
	go func() {
		defer bg.Done()
		s.janitor(janitorCtx)
	}()
	if s.relay != nil {
		bg.Add(1)
		go func() {
			defer bg.Done()
			s.runRelay(janitorCtx)
		}()
	}
	s.log.Info("engine listening", "addr", ln.Addr().String(), "tls", s.cfg.TLSCert != "", "data", s.cfg.DataDir)

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		serveErr <- nil // let the wait below find it
	}
	s.log.Info("engine shutting down")
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	deadline := time.Now().Add(s.cfg.ShutdownTimeout)
	shutCtx, cancel := context.WithDeadline(context.Background(), deadline)
	_ = hs.Shutdown(shutCtx) // stops the listener; hijacked WebSockets are ours to close
	cancel()
	s.sessCancel() // sessions end their calls with reason "shutdown" and close their endpoints
	late := !waitUntil(&s.sessWG, deadline)
	if late {
		s.abandonSessions()
	}
	stopJanitor()
	s.hub.Close() // live subscribers get 1001 "going away"
	if late {
		// The calls left are checkpointed as shut down; their goroutines
		// die with the process.
		waitUntil(&s.connWG, time.Now().Add(closeGrace))
		waitUntil(&bg, time.Now().Add(closeGrace))
	} else {
		s.connWG.Wait()
		bg.Wait()
	}
	<-serveErr
	s.stopProjection()
	if cerr := s.store.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if cerr := s.leaveCluster(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	s.log.Info("engine stopped")
	return err
}

// waitUntil waits for wg until deadline; false if it had to stop waiting.
func waitUntil(wg *sync.WaitGroup, deadline time.Time) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// abandonSessions ends, from their last checkpoint, the calls whose
// sessions did not finish within the shutdown deadline (a pipeline stuck
// decoding): each is stored as ended with reason shutdown, so it resumes
// from its stored ack after the restart, and its endpoint is closed.
func (s *Server) abandonSessions() {
	s.mu.Lock()
	left := slices.Collect(maps.Values(s.sessions))
	s.mu.Unlock()
	for _, sess := range left {
		c, err := s.store.GetCall(store.CallID(sess.id))
		if err != nil {
			s.log.Error("shutdown deadline: call not found", "call_id", sess.id, "err", err)
			continue
		}
		now := time.Now()
		c.Status, c.EndReason, c.EndedAt = store.StatusEnded, protocol.EndShutdown, &now
		if err := s.store.PutCall(c); err != nil {
			s.log.Error("shutdown deadline: call not saved", "call_id", sess.id, "err", err)
		}
		if conn := sess.attached.Load(); conn != nil {
			conn.closeWith(protocol.CloseGoingAway, "server shutting down")
		}
		s.log.Warn("shutdown deadline passed: call ended from its last checkpoint", "call_id", sess.id,
			"ack", c.Ack, "deadline", s.cfg.ShutdownTimeout)
	}
}

// Close releases the store and the cluster node of a server that never ran.
func (s *Server) Close() error {
	if s.sessCancel != nil {
		s.sessCancel()
	}
	if s.hub != nil {
		s.hub.Close()
	}
	s.stopProjection()
	return errors.Join(s.store.Close(), s.leaveCluster())
}

// janitor ends calls a crash left live once their resume window passes.
func (s *Server) janitor(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.mu.Lock()
			var due []string
			for id, dl := range s.orphans {
				if now.After(dl) {
					due = append(due, id)
					delete(s.orphans, id)
				}
			}
			s.mu.Unlock()
			for _, id := range due {
				s.endOrphan(id)
			}
			if !s.swept && now.After(s.openSpeechDeadline()) {
				s.swept = true
				if err := s.removeStaleOpenSpeech(s.hasSession); err != nil {
					s.log.Error("open speech of calls not resumed", "err", err)
				}
			}
		}
	}
}

// hasSession reports whether call id is live in this process.
func (s *Server) hasSession(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.sessions[id]
	return ok
}

func (s *Server) endOrphan(id string) {
	c, err := s.store.GetCall(store.CallID(id))
	if err != nil || c.Status != store.StatusLive {
		return
	}
	if _, ok := s.ownedElsewhere(id); ok || c.Node != s.nodeName() && c.Node != "" {
		return // another node resumed it: it is that node's to end
	}
	s.mu.Lock()
	_, active := s.sessions[id]
	s.mu.Unlock()
	if active {
		return
	}
	// The projection and the watch of the owners may both be stale (this
	// node cut off, then healed): only a call the quorum says is this
	// node's, or nobody's, is ended here.
	if node, err := s.confirmOwner(id); err != nil || node != "" {
		s.log.Debug("orphaned call left alone: not this node's to end", "call_id", id, "owner", node, "err", err)
		return
	}
	end := c.StartedAt.Add(c.Audio)
	c.Status, c.EndReason, c.EndedAt, c.Duration = store.StatusEnded, protocol.EndEndpointLost, &end, c.Audio
	if err := s.store.PutCall(c); err != nil {
		s.log.Error("ending orphaned call", "call_id", id, "err", err)
		return
	}
	s.m.callsTotal.WithLabelValues(string(protocol.EndEndpointLost)).Inc()
	s.log.Info("call not resumed after restart, ended", "call_id", id)
}
