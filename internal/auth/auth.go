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

// LoadOrCreateSecret returns the signing secret kept in dir, creating dir and
// a new random 32-byte secret (file mode 0600) on first use. Two processes
// racing to create it agree: the file is created exclusively and the loser
// reads the winner's.
func LoadOrCreateSecret(dir string) ([]byte, error) {
	path := filepath.Join(dir, SecretFile)
	if b, err := os.ReadFile(path); err == nil {
		return decodeSecret(path, b)
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
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSecret, err)
		}
		return decodeSecret(path, b)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSecret, err)
	}
	_, werr := f.WriteString(hex.EncodeToString(raw) + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return nil, fmt.Errorf("%w: writing %s: %v", ErrSecret, path, err)
	}
	return raw, nil
}

func decodeSecret(path string, b []byte) ([]byte, error) {
	raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(raw) < 16 {
		return nil, fmt.Errorf("%w: %s is not a hex secret of at least 16 bytes", ErrSecret, path)
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
