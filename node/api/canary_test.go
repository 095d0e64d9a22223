package api

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"nrmnet/node"
	"nrmnet/storage"
)

// lockedBuffer is a bytes.Buffer safe for the loggers of several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogsAndAuditCarryNoCaseContent seeds canary values in a child's names
// and views, drives every case route (successes, refusals and bad input
// that quotes the canary) with every logger at debug level, and searches
// the logs and the audit log for the canary.
func TestLogsAndAuditCarryNoCaseContent(t *testing.T) {
	const canary = "Zqxcanaryvbn"
	var logs lockedBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	tn := newTestNode(t, false) // for its users; the node under test below logs to logs
	dir := t.TempDir()
	sc := storage.DefaultConfig()
	sc.DataDir, sc.KeysDir, sc.Authority, sc.InMemory, sc.Logger = filepath.Join(dir, "d"), filepath.Join(dir, "k"), testAuthority, true, log
	if err := storage.CreateKeys(sc.KeysDir); err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(sc)
	if err != nil {
		t.Fatal(err)
	}
	nc := node.DefaultConfig()
	nc.Store, nc.Authority, nc.Now, nc.Logger = s, testAuthority, tn.clock.Now, log
	n, err := node.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ac := DefaultConfig()
	ac.Node, ac.Logger = n, log
	a, err := New(ac)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(func() { srv.Close(); s.Close() })
	tn.srv, tn.store = srv, s
	for _, r := range node.Roles {
		_, tok, err := s.CreateUser(context.Background(), storage.User{ID: roleUserID[r], Name: "Test", Role: string(r), Authority: testAuthority}, storage.Access{Actor: "node"})
		if err != nil {
			t.Fatal(err)
		}
		tn.tokens[r] = tok
	}

	body := tn.referralBody()
	body["identity"].(map[string]any)["names"] = []any{
		map[string]any{"kind": "used", "given": canary, "family": canary},
		map[string]any{"kind": "alias", "given": canary + "a"},
	}
	r := tn.do(node.RoleSocialWorker, "POST", "/v1/cases", body)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var created createCaseResponse
	r.decode(t, &created)
	id := string(created.Case.ID)
	calls := []struct {
		role         node.Role
		method, path string
		body         any
		headers      []string
	}{
		{node.RoleSocialWorker, "GET", "/v1/cases/" + id, nil, []string{purpose, "case work"}},
		{node.RoleAuditor, "GET", "/v1/cases/" + id, nil, []string{purpose, "curious"}},
		{node.RoleAdvocate, "POST", "/v1/cases/" + id + "/views", map[string]any{"views": "My name is " + canary + " and I like football."}, nil},
		{node.RoleSocialWorker, "POST", "/v1/cases/" + id + "/events", map[string]any{"revision": 2, "type": "rate_risk", "data": map[string]any{"rating": canary, "stage": "review"}}, nil},
		{node.RoleSocialWorker, "POST", "/v1/cases/" + id + "/events", fmt.Sprintf(`{"revision": 2, "type": "rate_risk", "%s": 1}`, canary), nil},
		{node.RoleSocialWorker, "POST", "/v1/cases", map[string]any{"identity": map[string]any{"names": []any{map[string]any{"kind": canary}}}}, nil},
		{node.RoleSocialWorker, "POST", "/v1/cases/" + id + "/events", map[string]any{"revision": 1, "type": "update_safeguarding", "data": map[string]any{"safeguarding": map[string]any{"section_47": true}}}, nil},
		{node.RoleAdvocate, "GET", "/v1/cases/" + id + "/child-record", nil, nil},
		{node.RoleSocialWorker, "GET", "/v1/cases", nil, nil},
		{node.RoleSocialWorker, "GET", "/v1/overdue", nil, nil},
		{node.RoleRegionalCoordinator, "GET", "/v1/reports/quarterly?quarter=2025-Q1", nil, nil},
	}
	for _, c := range calls {
		r := tn.do(c.role, c.method, c.path, c.body, c.headers...)
		if r.status >= 500 {
			t.Fatalf("%s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	if l := logs.String(); strings.Contains(l, canary) || !strings.Contains(l, "request") {
		t.Fatalf("the logs carry case content (or nothing was logged):\n%s", l)
	}
	es, err := s.AuditEntries(0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) < len(calls) {
		t.Fatalf("only %d audit entries", len(es))
	}
	for _, e := range es {
		if strings.Contains(fmt.Sprintf("%+v", e), canary) {
			t.Fatalf("an audit entry carries case content: %+v", e)
		}
	}
}
