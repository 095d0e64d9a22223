package node

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

const testAuthority v1.AuthorityCode = "ISL"

type tWriter struct {
	t  testing.TB
	mu *sync.Mutex
}

func (w tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t, new(sync.Mutex)}, nil))
}

// testClock is a clock the test moves.
type testClock struct{ ns atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.ns.Store(t.UnixNano())
	return c
}
func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// Monday 3 March 2025, 09:00 in London (GMT).
var start = time.Date(2025, time.March, 3, 9, 0, 0, 0, time.UTC)

type fixture struct {
	store *storage.Store
	node  *Node
	clock *testClock
	users map[Role]Principal
}

// newFixture opens an in-memory store and a node with one user per role
// (the social worker's ID is "sw", and so on).
func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	sc := storage.DefaultConfig()
	sc.DataDir = filepath.Join(dir, "data")
	sc.KeysDir = filepath.Join(dir, "keys")
	sc.Authority = testAuthority
	sc.InMemory = true
	sc.Logger = testLogger(t)
	if err := storage.CreateKeys(sc.KeysDir); err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	clock := newTestClock(start)
	cfg := DefaultConfig()
	cfg.Store = s
	cfg.Authority = testAuthority
	cfg.Now = clock.Now
	cfg.Logger = testLogger(t)
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: s, node: n, clock: clock, users: map[Role]Principal{}}
	for _, r := range Roles {
		id := roleUserID[r]
		u, _, err := s.CreateUser(context.Background(), storage.User{ID: id, Name: "Test " + id, Role: string(r), Authority: testAuthority},
			storage.Access{Actor: "node", Role: "node"})
		if err != nil {
			t.Fatal(err)
		}
		f.users[r] = Principal{ID: u.ID, Name: u.Name, Role: r, Authority: u.Authority}
	}
	return f
}

var roleUserID = map[Role]string{
	RoleSocialWorker: "sw", RoleNRMCoordinator: "coord", RolePanelMember: "member",
	RolePanelChair: "chair", RoleAdvocate: "ictg", RoleRegionalCoordinator: "region",
	RoleAuditor: "auditor", RoleAdministrator: "admin",
}

// referral returns a valid synthetic referral made at the fixture's clock.
func (f *fixture) referral() NewReferral {
	return NewReferral{
		Identity: v1.ChildIdentity{
			Names:       []v1.PersonName{{Kind: v1.NameUsed, Given: "Dritan", Family: "Hoxha"}},
			DateOfBirth: &v1.DateOfBirth{Date: "2010-06-14"},
			Sex:         v1.SexMale,
		},
		Referral: v1.Referral{
			ReferredAt: f.clock.Now(), FirstResponderOrg: "Synthetic Borough Police",
			FirstResponderType: v1.ResponderPolice, ExploitationTypes: []v1.ExploitationType{v1.ExploitationCriminal},
			CountyLines: true, ExploitationLocation: v1.LocationUK, Source: "police", PresentingIssue: "missing episodes",
		},
		Risk: v1.RAGAmber,
	}
}

func (f *fixture) mustCreate(t testing.TB) *v1.Case {
	t.Helper()
	r, err := f.node.CreateReferral(context.Background(), f.users[RoleSocialWorker], f.referral())
	if err != nil {
		t.Fatalf("CreateReferral: %v", err)
	}
	return r.Case
}

func (f *fixture) auditSize(t testing.TB) int64 {
	t.Helper()
	cp, err := f.store.AuditCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	return cp.Size
}

func (f *fixture) auditSince(t testing.TB, from int64) []v1.AuditEntry {
	t.Helper()
	es, err := f.store.AuditEntries(from, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

var work = Read{Purpose: "case work"}

func (f *fixture) mustRead(t testing.TB, id v1.CaseID) *CaseRecord {
	t.Helper()
	rec, err := f.node.Case(context.Background(), f.users[RoleSocialWorker], id, work)
	if err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	return rec
}
