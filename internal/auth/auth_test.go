package auth

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestSecretIsCreatedOnceWithPrivateMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s1, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, SecretFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v, want 0600", st.Mode().Perm())
	}
	s2, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(s1) != string(s2) || len(s1) != 32 {
		t.Errorf("second load returned a different or short secret")
	}
}

func TestCorruptSecretIsAnError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, SecretFile), []byte("not hex"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSecret(dir); !errors.Is(err, ErrSecret) {
		t.Errorf("got %v, want ErrSecret", err)
	}
}

func TestVerify(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	a := NewAuthority([]byte("0123456789abcdef0123456789abcdef"), clock)
	other := NewAuthority([]byte("another secret of thirty-two b!!"), clock)
	good, err := a.Issue(RoleAgent, "A17", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := other.Issue(RoleAdmin, "", time.Hour)
	past := NewAuthority([]byte("0123456789abcdef0123456789abcdef"), func() time.Time { return now.Add(-2 * time.Hour) })
	expired, _ := past.Issue(RoleAdmin, "", time.Hour)
	// A token claiming alg "none" must never pass.
	none := jwt.NewWithClaims(jwt.SigningMethodNone, Claims{Role: RoleAdmin, RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}})
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	// The agent's own token with the role in the payload rewritten to admin.
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"agent"`, `"admin"`, 1))) + "." + parts[2]

	tests := []struct {
		name, token, reason string
		ok                  bool
	}{
		{"a fresh token verifies", good, "", true},
		{"an empty token is unauthorized", "", "no token", false},
		{"garbage is malformed", "abc.def", "malformed", false},
		{"a token signed with another secret is forged", forged, "signature", false},
		{"an expired token is refused", expired, "expired", false},
		{"an unsigned alg none token is refused", noneTok, "", false},
		{"a token with a rewritten role is refused", tampered, "signature", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := a.Verify(tt.token)
			if tt.ok {
				if err != nil || c.Role != RoleAgent || c.Agent != "A17" {
					t.Fatalf("got %+v, %v", c, err)
				}
				return
			}
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("got %v, want ErrUnauthorized", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not say %q", err, tt.reason)
			}
			if tt.token != "" && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error echoes the token")
			}
		})
	}
}

func TestIssueRefusesBadInput(t *testing.T) {
	a := NewAuthority([]byte("0123456789abcdef"), nil)
	if _, err := a.Issue("root", "", time.Hour); !errors.Is(err, ErrBadRole) {
		t.Errorf("unknown role: %v", err)
	}
	if _, err := a.Issue(RoleEndpoint, "", time.Hour); !errors.Is(err, ErrAgentRequired) {
		t.Errorf("endpoint without agent: %v", err)
	}
	if _, err := a.Issue(RoleAdmin, "", 0); err == nil {
		t.Errorf("zero ttl accepted")
	}
}

func TestMiddlewareSeparates401From403(t *testing.T) {
	a := NewAuthority([]byte("0123456789abcdef0123456789abcdef"), nil)
	h := a.Middleware(Roles(RoleSupervisor, RoleAdmin), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if FromContext(r.Context()) == nil {
			t.Error("claims missing in context")
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	sup, _ := a.Issue(RoleSupervisor, "", time.Hour)
	agent, _ := a.Issue(RoleAgent, "A1", time.Hour)
	for _, tt := range []struct {
		name, header string
		want         int
	}{
		{"no header is 401", "", 401},
		{"a non-bearer scheme is 401", "Basic Zm9vOmJhcg==", 401},
		{"a supervisor passes", "Bearer " + sup, 204},
		{"a lower-case bearer scheme passes", "bearer " + sup, 204},
		{"an agent on a supervisor route is 403", "Bearer " + agent, 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/x", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Errorf("status %d, want %d", w.Code, tt.want)
			}
			if strings.Contains(w.Body.String(), "ey") {
				t.Errorf("body may echo a token: %s", w.Body)
			}
		})
	}
}

func TestSeesAgent(t *testing.T) {
	for _, tt := range []struct {
		name string
		c    Claims
		want bool
	}{
		{"an agent sees its own calls", Claims{Role: RoleAgent, Agent: "A1"}, true},
		{"an agent does not see another's", Claims{Role: RoleAgent, Agent: "A2"}, false},
		{"a supervisor sees everyone", Claims{Role: RoleSupervisor}, true},
		{"an endpoint sees no calls", Claims{Role: RoleEndpoint, Agent: "A1"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.SeesAgent("A1"); got != tt.want {
				t.Errorf("got %v", got)
			}
		})
	}
}

// fullDisk stands in for the temporary secret file on a disk that fills up
// after n bytes.
type fullDisk struct {
	*os.File
	n int
}

func (f *fullDisk) WriteString(s string) (int, error) {
	if len(s) > f.n {
		k, _ := f.File.WriteString(s[:f.n])
		return k, syscall.ENOSPC
	}
	return f.File.WriteString(s)
}

func TestAFullDiskAtFirstStartLeavesNoSecretFileBehind(t *testing.T) {
	for _, n := range []int{0, 20} {
		t.Run(fmt.Sprintf("the disk fills after %d bytes", n), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			real := createTemp
			createTemp = func(dir, pattern string) (secretFile, error) {
				f, err := os.CreateTemp(dir, pattern)
				if err != nil {
					return nil, err
				}
				return &fullDisk{File: f, n: n}, nil
			}
			_, err := LoadOrCreateSecret(dir)
			createTemp = real
			if !errors.Is(err, ErrSecret) || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("got %v, want ErrSecret wrapping ENOSPC", err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("a failed first start left %v in the data directory", entries)
			}
			// Space is back: the next start creates the secret normally.
			s1, err := LoadOrCreateSecret(dir)
			if err != nil {
				t.Fatalf("start after the disk was freed: %v", err)
			}
			if s2, err := LoadOrCreateSecret(dir); err != nil || string(s1) != string(s2) {
				t.Errorf("the secret did not persist: %v", err)
			}
		})
	}
}

func TestAnEmptyOrShortSecretFileNamesTheFileAndTheWayOut(t *testing.T) {
	tests := []struct {
		name, content string
		mention       []string
	}{
		{"an empty file says it is empty and may be deleted", "", []string{"is empty", "delete the file"}},
		{"a file of whitespace counts as empty", "\n", []string{"is empty", "delete the file"}},
		{"a secret cut mid-write says it is cut short", "0123456789abcdef0123", []string{"cut short", "restore it from a backup", "earshot token create"}},
		{"an odd number of hex digits is cut short too", strings.Repeat("a", 41), []string{"cut short"}},
		{"text that is not hex says so", "not hex at all", []string{"not hex", "restore it from a backup"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, SecretFile)
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreateSecret(dir)
			if !errors.Is(err, ErrSecret) {
				t.Fatalf("got %v, want ErrSecret", err)
			}
			for _, m := range append(tc.mention, path) {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			if b, _ := os.ReadFile(path); string(b) != tc.content {
				t.Errorf("the existing file was changed to %q", b)
			}
		})
	}
}

func TestASecretReadableByOthersIsTightened(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SecretFile)
	if err := os.WriteFile(path, []byte(strings.Repeat("ab", 32)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSecret(dir); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after loading, want 0600", st.Mode().Perm())
	}
}

func TestANewDataDirectoryIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := LoadOrCreateSecret(dir); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode %v, want 0700", st.Mode().Perm())
	}
}

func TestASharedSecretFileMustExistAndBePrivate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte(strings.Repeat("ab", 32)+"\n"), 0o600)
	open := filepath.Join(dir, "open")
	os.WriteFile(open, []byte(strings.Repeat("ab", 32)+"\n"), 0o644)
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("abcd\n"), 0o600)
	for _, tc := range []struct {
		name, path, want string
	}{
		{"a private file is read", good, ""},
		{"a missing file names the flag and how to make one", filepath.Join(dir, "none"), "--secret-file"},
		{"a file others can read is refused, not fixed", open, "chmod 600"},
		{"a short secret is refused", short, "cut short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret, err := LoadSecretFile(tc.path)
			if tc.want == "" {
				if err != nil || len(secret) != 32 {
					t.Fatalf("got %d bytes, %v", len(secret), err)
				}
				return
			}
			if !errors.Is(err, ErrSecret) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrSecret saying %q", err, tc.want)
			}
		})
	}
	if st, _ := os.Stat(open); st.Mode().Perm() != 0o644 {
		t.Error("the open file's mode was changed")
	}
}
