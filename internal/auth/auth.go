package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Role is what a token's holder may do.
type Role string

// The four roles of docs/protocol.md.
const (
	RoleEndpoint   Role = "endpoint"   // a capture daemon: may only ingest
	RoleAgent      Role = "agent"      // an agent: its own calls only
	RoleSupervisor Role = "supervisor" // every call, read-only
	RoleAdmin      Role = "admin"      // everything
)

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleEndpoint, RoleAgent, RoleSupervisor, RoleAdmin:
		return r, nil
	}
	return "", fmt.Errorf("%w: %q", ErrBadRole, s)
}

// Claims are the verified contents of a token.
type Claims struct {
	Role  Role   `json:"role"`
	Agent string `json:"agent,omitempty"`
	jwt.RegisteredClaims
}

// SeesAgent reports whether the holder may see calls of agentID: agents only
// their own, supervisors and admins everyone, endpoints nobody.
func (c *Claims) SeesAgent(agentID string) bool {
	switch c.Role {
	case RoleSupervisor, RoleAdmin:
		return true
	case RoleAgent:
		return c.Agent != "" && c.Agent == agentID
	}
	return false
}

// SecretFile is the name of the signing secret inside the data directory.
const SecretFile = "token.secret"

// secretHexLen is the length of a secret file LoadOrCreateSecret writes:
// 32 random bytes in hex and a newline.
const secretHexLen = 2*32 + 1

// createTemp makes the temporary file a new secret is written to; tests
// replace it to simulate a full disk.
var createTemp = func(dir, pattern string) (secretFile, error) { return os.CreateTemp(dir, pattern) }

// secretFile is the part of *os.File that writing a secret uses.
type secretFile interface {
	Name() string
	WriteString(s string) (int, error)
	Sync() error
	Close() error
}

// LoadOrCreateSecret returns the signing secret kept in dir, creating dir
// (mode 0700) and a new random 32-byte secret (mode 0600) on first use.
//
// The secret is written to a temporary file in dir, fsynced and then linked
// to its name, so a failed first start (a full disk, a crash) never leaves a
// partial token.secret behind to block the next one. Two processes racing to
// create it agree: the link fails for the loser, which reads the winner's.
// An existing secret file that is not what this function writes (empty, cut
// short, not hex) is an error naming the file and what to do; it is never
// replaced, since tokens already issued may depend on it. A secret file
// readable by others is tightened to 0600. Errors wrap ErrSecret.
func LoadOrCreateSecret(dir string) ([]byte, error) {
	path := filepath.Join(dir, SecretFile)
	if b, err := os.ReadFile(path); err == nil {
		return loadSecret(path, b)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %v", ErrSecret, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSecret, err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSecret, err)
	}
	if err := writeSecret(dir, path, hex.EncodeToString(raw)+"\n"); errors.Is(err, os.ErrExist) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSecret, err)
		}
		return loadSecret(path, b)
	} else if err != nil {
		return nil, fmt.Errorf("%w: creating %s: %w (no partial secret file was left behind: fix the cause and start again)", ErrSecret, path, err)
	}
	return raw, nil
}

// LoadSecretFile reads the shared secret of a cluster from path (every node
// and `earshot token create` name the same file, so a token made for one
// node is good on all). The file must exist — a cluster must not have each
// node invent its own — and be readable by its owner only (mode 0600):
// another mode is refused, not fixed, because the file was copied there
// by an administrator who should know.
func LoadSecretFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: --secret-file: %v (create it with: head -c 32 /dev/urandom | xxd -p -c 64 > FILE; chmod 600 FILE)", ErrSecret, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v: a secret file must be readable by its owner only (chmod 600 %s)", ErrSecret, path, st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSecret, err)
	}
	return decodeSecret(path, b)
}

// writeSecret writes text to path atomically: a temporary file in the same
// directory (so the link cannot cross filesystems), fsynced before it gets
// its name, the directory fsynced after. It returns an error wrapping
// os.ErrExist if path appeared meanwhile, and removes the temporary file
// in every case.
func writeSecret(dir, path, text string) error {
	f, err := createTemp(dir, "."+SecretFile+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, werr := f.WriteString(text)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return err
	}
	// os.CreateTemp makes the file 0600; say so in case a replacement
	// or an odd umask did not.
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	// A link, unlike a rename, fails if the name exists: a process that
	// lost the race must not replace the secret the winner is signing with.
	if err := os.Link(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory so a new name in it survives a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// loadSecret decodes an existing secret file and makes sure only its owner
// can read it.
func loadSecret(path string, b []byte) ([]byte, error) {
	raw, err := decodeSecret(path, b)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("%w: %s is readable by other users (mode %v) and could not be made 0600: %v", ErrSecret, path, st.Mode().Perm(), err)
		}
	}
	return raw, nil
}

func decodeSecret(path string, b []byte) ([]byte, error) {
	text := strings.TrimSpace(string(b))
	if text == "" {
		// Only a version that wrote the file in place could leave this
		// (a full disk at first start): no token was ever signed with it.
		return nil, fmt.Errorf("%w: %s is empty (%d bytes), probably left by a first start that failed to write it; "+
			"no token can have been signed with it: delete the file and start again to create a new secret", ErrSecret, path, len(b))
	}
	raw, err := hex.DecodeString(text)
	if err != nil || len(raw) < 16 {
		what := "is not hex"
		if err == nil || errors.Is(err, hex.ErrLength) {
			what = fmt.Sprintf("is cut short (%d bytes; a secret is at least 32 hex digits and earshot writes %d bytes)", len(b), secretHexLen)
		}
		return nil, fmt.Errorf("%w: %s %s; restore it from a backup, or delete it to create a new secret "+
			"(every token signed with the old one stops working: issue new ones with earshot token create)", ErrSecret, path, what)
	}
	return raw, nil
}

// Authority signs and verifies tokens with one secret. It is safe for
// concurrent use.
type Authority struct {
	secret []byte
	now    func() time.Time
}

// NewAuthority returns an Authority for secret. now is the clock used for
// issuing and expiry checks; nil means time.Now (tests inject their own).
func NewAuthority(secret []byte, now func() time.Time) *Authority {
	if now == nil {
		now = time.Now
	}
	return &Authority{secret: append([]byte(nil), secret...), now: now}
}

// Issue returns a signed token for role (and agent, required for the agent
// and endpoint roles) valid for ttl from now.
func (a *Authority) Issue(role Role, agent string, ttl time.Duration) (string, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return "", err
	}
	if (role == RoleAgent || role == RoleEndpoint) && agent == "" {
		return "", ErrAgentRequired
	}
	if ttl <= 0 {
		return "", fmt.Errorf("token ttl must be positive, got %v", ttl)
	}
	id := make([]byte, 12)
	if _, err := rand.Read(id); err != nil {
		return "", fmt.Errorf("token id: %w", err)
	}
	now := a.now()
	c := Claims{Role: role, Agent: agent, RegisteredClaims: jwt.RegisteredClaims{
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		ID:        hex.EncodeToString(id),
	}}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(a.secret)
	if err != nil {
		return "", fmt.Errorf("signing token: %w", err)
	}
	return s, nil
}

// Verify checks token's signature, algorithm (HS256 only), expiry and role.
// Errors wrap ErrUnauthorized with a short reason and never include the token.
func (a *Authority) Verify(token string) (*Claims, error) {
	if token == "" {
		return nil, fmt.Errorf("%w: no token", ErrUnauthorized)
	}
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return a.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(a.now))
	if err != nil {
		reason := "invalid token"
		switch {
		case errors.Is(err, jwt.ErrTokenExpired):
			reason = "token expired"
		case errors.Is(err, jwt.ErrTokenSignatureInvalid):
			reason = "bad token signature"
		case errors.Is(err, jwt.ErrTokenMalformed):
			reason = "malformed token"
		}
		return nil, fmt.Errorf("%w: %s", ErrUnauthorized, reason)
	}
	if _, err := ParseRole(string(c.Role)); err != nil {
		return nil, fmt.Errorf("%w: token has an unknown role", ErrUnauthorized)
	}
	if (c.Role == RoleAgent || c.Role == RoleEndpoint) && c.Agent == "" {
		return nil, fmt.Errorf("%w: token lacks its agent id", ErrUnauthorized)
	}
	return &c, nil
}

// BearerToken returns the token of an "Authorization: Bearer <token>" header,
// or "" when there is none.
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
		return strings.TrimSpace(h[len(prefix):])
	}
	return ""
}

// Authenticate verifies the request's bearer token.
func (a *Authority) Authenticate(r *http.Request) (*Claims, error) {
	return a.Verify(BearerToken(r))
}

type ctxKey struct{}

// WithClaims returns ctx carrying c, for handlers behind Middleware.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// FromContext returns the claims Middleware stored, or nil.
func FromContext(ctx context.Context) *Claims {
	c, _ := ctx.Value(ctxKey{}).(*Claims)
	return c
}

// Middleware authenticates every request with its bearer token and lets it
// through only when allowed(role) is true: 401 for a missing or bad token,
// 403 for a role that may not use the route. Finer checks (an agent's own
// calls) are the handler's, using FromContext. Error bodies are
// {"error":"unauthorized"} or {"error":"forbidden"}: they never say more,
// so nothing about the token leaks.
func (a *Authority) Middleware(allowed func(Role) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := a.Authenticate(r)
		if err != nil {
			WriteError(w, err)
			return
		}
		if !allowed(c.Role) {
			WriteError(w, ErrForbidden)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), c)))
	})
}

// Roles returns an allowed-function for Middleware that admits exactly roles.
func Roles(roles ...Role) func(Role) bool {
	return func(r Role) bool {
		for _, x := range roles {
			if x == r {
				return true
			}
		}
		return false
	}
}

// WriteError writes the JSON error for an ErrUnauthorized or ErrForbidden
// error (anything else is treated as unauthorized).
func WriteError(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	if errors.Is(err, ErrForbidden) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":"forbidden"}` + "\n"))
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="earshot"`)
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"error":"unauthorized"}` + "\n"))
}
