package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

var admin = Access{Actor: "admin", Role: "administrator", Purpose: "user administration", LegalBasis: v1.BasisPublicTask}

func mustCreateUser(t testing.TB, s *Store, id, role string) (User, string) {
	t.Helper()
	u, token, err := s.CreateUser(context.Background(), User{ID: id, Name: "Test " + id, Role: role, Authority: testAuthority}, admin)
	if err != nil {
		t.Fatalf("CreateUser %s: %v", id, err)
	}
	return u, token
}

func TestUserTokenLifecycle(t *testing.T) {
	s := mustOpen(t, newMemNode(t))
	before := mustVerify(t, s)
	u, token := mustCreateUser(t, s, "a.khan", "social_worker")
	if !strings.HasPrefix(token, UserTokenPrefix) || len(token) != len(UserTokenPrefix)+43 {
		t.Fatalf("token %q has the wrong form", token)
	}
	if u.CreatedBy != "admin" || u.CreatedAt.IsZero() || u.Revoked() {
		t.Fatalf("created user %+v", u)
	}
	got, err := s.UserByToken(token)
	if err != nil {
		t.Fatalf("UserByToken: %v", err)
	}
	if got.ID != "a.khan" || got.Role != "social_worker" || got.Authority != testAuthority {
		t.Fatalf("UserByToken = %+v", got)
	}

	// A second user gets a different token; tokens do not cross.
	_, token2 := mustCreateUser(t, s, "b.jones", "auditor")
	if token2 == token {
		t.Fatal("two users got the same token")
	}
	if got, err := s.UserByToken(token2); err != nil || got.ID != "b.jones" {
		t.Fatalf("UserByToken(second) = %+v, %v", got, err)
	}

	revoked, err := s.RevokeUser(context.Background(), "a.khan", admin)
	if err != nil {
		t.Fatalf("RevokeUser: %v", err)
	}
	if !revoked.Revoked() || revoked.RevokedBy != "admin" {
		t.Fatalf("revoked user %+v", revoked)
	}
	if _, err := s.UserByToken(token); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoked token: err = %v, want ErrNotFound", err)
	}
	// Revoking again is a no-op that is still audited.
	if _, err := s.RevokeUser(context.Background(), "a.khan", admin); err != nil {
		t.Fatalf("second RevokeUser: %v", err)
	}
	// The record stays, and its ID is never reused.
	if u, err := s.User("a.khan"); err != nil || !u.Revoked() {
		t.Fatalf("User(a.khan) = %+v, %v", u, err)
	}
	if _, _, err := s.CreateUser(context.Background(), User{ID: "a.khan", Name: "Someone else", Role: "social_worker", Authority: testAuthority}, admin); !errors.Is(err, ErrExists) {
		t.Fatalf("reusing a revoked ID: err = %v, want ErrExists", err)
	}
	if _, err := s.RevokeUser(context.Background(), "nobody", admin); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoking an unknown user: err = %v, want ErrNotFound", err)
	}

	users, err := s.Users()
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users[0].ID != "a.khan" || users[1].ID != "b.jones" {
		t.Fatalf("Users = %+v", users)
	}

	// create, create, revoke, revoke, refused create, refused revoke.
	entries, err := s.AuditEntries(before, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		action  v1.AuditAction
		subject string
		outcome v1.AuditOutcome
	}{
		{v1.ActionUserCreate, "a.khan", v1.AuditAllowed},
		{v1.ActionUserCreate, "b.jones", v1.AuditAllowed},
		{v1.ActionUserRevoke, "a.khan", v1.AuditAllowed},
		{v1.ActionUserRevoke, "a.khan", v1.AuditAllowed},
		{v1.ActionUserCreate, "a.khan", v1.AuditFailed},
		{v1.ActionUserRevoke, "nobody", v1.AuditFailed},
	}
	if len(entries) != len(want) {
		t.Fatalf("%d audit entries, want %d: %+v", len(entries), len(want), entries)
	}
	for i, w := range want {
		e := entries[i]
		if e.Action != w.action || e.Subject != w.subject || e.Outcome != w.outcome || e.Actor != "admin" {
			t.Errorf("audit entry %d = %+v, want %v %s %s by admin", i, e, w.action, w.subject, w.outcome)
		}
	}
}

func TestUserByTokenRefusesForgeries(t *testing.T) {
	s := mustOpen(t, newMemNode(t))
	_, token := mustCreateUser(t, s, "a.khan", "social_worker")
	raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(token, UserTokenPrefix))
	flipped := append([]byte(nil), raw...)
	flipped[0] ^= 1
	for name, tok := range map[string]string{
		"empty":        "",
		"no prefix":    strings.TrimPrefix(token, UserTokenPrefix),
		"one bit off":  UserTokenPrefix + base64.RawURLEncoding.EncodeToString(flipped),
		"truncated":    token[:len(token)-1],
		"extended":     token + "A",
		"bad base64":   UserTokenPrefix + strings.Repeat("!", 43),
		"the hash":     UserTokenPrefix + base64.RawURLEncoding.EncodeToString(sha256Of(raw)),
		"other prefix": "Bearer " + token,
	} {
		t.Run(name, func(t *testing.T) {
			if u, err := s.UserByToken(tok); !errors.Is(err, ErrNotFound) {
				t.Fatalf("UserByToken = %+v, %v; want ErrNotFound", u, err)
			}
		})
	}
}

func sha256Of(b []byte) []byte { h := sha256.Sum256(b); return h[:] }

func TestCreateUserValidates(t *testing.T) {
	s := mustOpen(t, newMemNode(t))
	before := mustVerify(t, s)
	for name, tc := range map[string]struct {
		u     User
		field string
	}{
		"upper-case id":     {User{ID: "AKhan", Name: "A", Role: "social_worker", Authority: testAuthority}, "id"},
		"empty id":          {User{ID: "", Name: "A", Role: "social_worker", Authority: testAuthority}, "id"},
		"id with slash":     {User{ID: "a/b", Name: "A", Role: "social_worker", Authority: testAuthority}, "id"},
		"no name":           {User{ID: "a", Role: "social_worker", Authority: testAuthority}, "name"},
		"control in name":   {User{ID: "a", Name: "A\x00B", Role: "social_worker", Authority: testAuthority}, "name"},
		"bad role":          {User{ID: "a", Name: "A", Role: "Admin!", Authority: testAuthority}, "role"},
		"unknown authority": {User{ID: "a", Name: "A", Role: "auditor", Authority: "ZZZ"}, "authority"},
	} {
		t.Run(name, func(t *testing.T) {
			_, token, err := s.CreateUser(context.Background(), tc.u, admin)
			if !errors.Is(err, schemas.ErrInvalid) || !strings.Contains(err.Error(), "field "+tc.field) {
				t.Fatalf("err = %v, want ErrInvalid naming field %s", err, tc.field)
			}
			if token != "" {
				t.Fatal("a token was returned for a refused user")
			}
		})
	}
	if users, _ := s.Users(); len(users) != 0 {
		t.Fatalf("refused users were stored: %+v", users)
	}
	if after := mustVerify(t, s); after != before {
		t.Fatalf("invalid input reached the audit log: %d -> %d entries", before, after)
	}
	if _, _, err := s.CreateUser(context.Background(), User{ID: "a", Name: "A", Role: "auditor", Authority: testAuthority}, Access{}); !errors.Is(err, ErrNoActor) {
		t.Fatalf("no actor: err = %v", err)
	}
}

// TestUserTokensNeverOnDisk: the token is shown once and only its hash is
// stored; neither the token text nor its raw bytes are anywhere in the node
// directory after a restart.
func TestUserTokensNeverOnDisk(t *testing.T) {
	cfg := newNode(t)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, token := mustCreateUser(t, s, "a.khan", "nrm_coordinator")
	mustClose(t, s)

	s = mustOpen(t, cfg)
	if u, err := s.UserByToken(token); err != nil || u.ID != "a.khan" {
		t.Fatalf("after reopening: UserByToken = %+v, %v", u, err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(token, UserTokenPrefix))
	// Badger encrypts at rest, so also look at the stored record itself.
	err = s.view(func(txn *badger.Txn) error {
		item, err := txn.Get(userKey("a.khan"))
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		if bytes.Contains(v, raw) || bytes.Contains(v, []byte(token)) {
			t.Error("the stored user record holds the token")
		}
		if !bytes.Contains(v, sha256Of(raw)) {
			t.Error("the stored user record does not hold the token's SHA-256")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(cfg.DataDir)
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(token)) || bytes.Contains(b, raw) || bytes.Contains(b, []byte(strings.TrimPrefix(token, UserTokenPrefix))) {
			t.Errorf("%s holds the token", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
