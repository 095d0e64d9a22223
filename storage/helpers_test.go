package storage

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	v1 "nrmnet/schemas/v1"
)

const testAuthority v1.AuthorityCode = "ISL"

// tWriter sends log lines to t.Log.
type tWriter struct {
	t  testing.TB
	mu *sync.Mutex
}

func (w tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t, new(sync.Mutex)}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// newNode makes a node directory with fresh keys and returns its config.
func newNode(t testing.TB) Config {
	t.Helper()
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.KeysDir = filepath.Join(dir, "keys")
	cfg.Authority = testAuthority
	cfg.Logger = testLogger(t)
	if err := CreateKeys(cfg.KeysDir); err != nil {
		t.Fatalf("CreateKeys: %v", err)
	}
	return cfg
}

// newMemNode is newNode for an in-memory store.
func newMemNode(t testing.TB) Config {
	cfg := newNode(t)
	cfg.InMemory = true
	return cfg
}

// mustOpen opens a store and closes it when the test ends.
func mustOpen(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func mustClose(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

var (
	worker = Access{Actor: "sw-001", Role: "social_worker", Purpose: "case work", LegalBasis: v1.BasisPublicTask}
	fixed  = time.Date(2025, 3, 3, 9, 30, 0, 0, time.UTC)
)

// newCase returns a valid case of child at revision 1, with every optional
// field that the tests look for.
func newCase(child v1.ID) *v1.Case {
	due := fixed.Add(5 * 24 * time.Hour)
	return &v1.Case{
		ID:           v1.NewCaseID(testAuthority),
		ChildID:      child,
		Revision:     1,
		State:        v1.StateRGPending,
		Responsible:  testAuthority,
		LeadWorker:   "sw-001",
		CreatedAt:    fixed,
		UpdatedAt:    fixed,
		NextDeadline: &due,
		Identity: v1.ChildIdentity{
			Names: []v1.PersonName{{Kind: v1.NameUsed, Given: "Amira", Family: "Haddad"}},
			Sex:   v1.SexFemale,
		},
		Referral: v1.Referral{
			ReferredAt: fixed, FirstResponderOrg: "Islington Children's Services",
			FirstResponderType: v1.ResponderLocalAuthority,
			ExploitationTypes:  []v1.ExploitationType{v1.ExploitationCriminal},
			CountyLines:        true, ExploitationLocation: v1.LocationUK,
			Source: "police", PresentingIssue: "missing episodes",
		},
		WishesAndFeelings: []v1.ChildView{{RecordedAt: fixed, RecordedBy: "sw-001", Views: "wants to stay at school"}},
	}
}

func mustCreate(t testing.TB, s *Store, c *v1.Case) {
	t.Helper()
	if err := s.CreateCase(context.Background(), c, worker); err != nil {
		t.Fatalf("CreateCase %s: %v", c.ID, err)
	}
}

func mustRead(t testing.TB, s *Store, id v1.CaseID) *v1.Case {
	t.Helper()
	c, err := s.Case(context.Background(), id, worker)
	if err != nil {
		t.Fatalf("Case %s: %v", id, err)
	}
	return c
}

// mustVerify verifies the audit log and returns its size.
func mustVerify(t testing.TB, s *Store) int64 {
	t.Helper()
	cp, err := s.VerifyAudit(nil)
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	return cp.Size
}

// nextRevision returns a copy of c changed as the next revision.
func nextRevision(c *v1.Case, state v1.CaseState) *v1.Case {
	n := *c
	n.Revision++
	n.State = state
	n.UpdatedAt = n.UpdatedAt.Add(time.Minute)
	return &n
}

func caseIDs(list []CaseSummary) []v1.CaseID {
	ids := make([]v1.CaseID, len(list))
	for i, s := range list {
		ids[i] = s.ID
	}
	return ids
}

func sprint(v any) string { return fmt.Sprintf("%v", v) }
