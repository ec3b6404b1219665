package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/earshot/earshot/agentassist"
	"github.com/earshot/earshot/insights/store"
	"github.com/earshot/earshot/internal/auth"
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

	// Protocol timings, shortened by tests.
	ResumeWindow time.Duration // how long a dropped call waits for a resume; default 120 s
	PingInterval time.Duration // default 15 s
	ReadTimeout  time.Duration // a connection silent this long is closed; default 45 s
	AckInterval  time.Duration // default 200 ms (the protocol promises ≤ 250 ms)
	QueueSize    int           // per live subscriber, default 256
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
	return nil
}

// Server is the Earshot engine. Create it with New, serve with Run.
type Server struct {
	cfg   Config
	log   *slog.Logger
	store *store.Store
	auth  *auth.Authority
	hub   *agentassist.Hub
	m     *metrics

	mu       sync.Mutex
	sessions map[string]*session  // live calls
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
	secret, err := auth.LoadOrCreateSecret(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(filepath.Join(cfg.DataDir, DBFile), store.Config{Retention: cfg.Retention, Sync: cfg.Sync, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	m := newMetrics()
	s := &Server{
		cfg: cfg, log: cfg.Logger, store: st, auth: auth.NewAuthority(secret, nil), m: m,
		sessions: map[string]*session{}, orphans: map[string]time.Time{}, started: time.Now(),
	}
	s.hub = agentassist.NewHub(agentassist.HubConfig{QueueSize: cfg.QueueSize, Logger: cfg.Logger,
		OnSubscribers: func(n int) { m.subscribers.Set(float64(n)) }})
	s.sessCtx, s.sessCancel = context.WithCancel(context.Background())
	// Calls a crash left live get the resume window from now; the janitor
	// ends those nobody resumes.
	live, err := st.Calls(store.StatusLive)
	if err != nil {
		st.Close()
		return nil, err
	}
	for _, c := range live {
		s.orphans[c.ID] = time.Now().Add(cfg.ResumeWindow)
	}
	if len(live) > 0 {
		s.log.Info("calls left live by the last run wait for resume", "calls", len(live), "window", cfg.ResumeWindow)
	}
	return s, nil
}

// Authority returns the token authority (for `earshot token` and tests).
func (s *Server) Authority() *auth.Authority { return s.auth }

// Store returns the call store. It is closed when Run returns.
func (s *Server) Store() *store.Store { return s.store }

// Hub returns the live event hub.
func (s *Server) Hub() *agentassist.Hub { return s.hub }

// Handler returns the HTTP handler with every route.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	a := s.auth
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
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
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = hs.Shutdown(shutCtx) // stops the listener; hijacked WebSockets are ours to close
	cancel()
	s.sessCancel() // sessions end their calls with reason "shutdown" and close their endpoints
	s.sessWG.Wait()
	stopJanitor()
	s.hub.Close() // live subscribers get 1001 "going away"
	s.connWG.Wait()
	bg.Wait()
	<-serveErr
	if cerr := s.store.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	s.log.Info("engine stopped")
	return err
}

// Close releases the store of a server that never ran.
func (s *Server) Close() error {
	s.sessCancel()
	s.hub.Close()
	return s.store.Close()
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
	c, err := s.store.GetCall(id)
	if err != nil || c.Status != store.StatusLive {
		return
	}
	s.mu.Lock()
	_, active := s.sessions[id]
	s.mu.Unlock()
	if active {
		return
	}
	end := c.StartedAt.Add(time.Duration(c.AudioS * float64(time.Second)))
	c.Status, c.EndReason, c.EndedAt, c.DurationS = store.StatusEnded, "endpoint_lost", &end, c.AudioS
	if err := s.store.PutCall(c); err != nil {
		s.log.Error("ending orphaned call", "call_id", id, "err", err)
		return
	}
	s.m.callsTotal.WithLabelValues("endpoint_lost").Inc()
	s.log.Info("call not resumed after restart, ended", "call_id", id)
}
