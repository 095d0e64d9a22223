package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"nrmnet/node"
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
	return slog.New(slog.NewTextHandler(tWriter{t, new(sync.Mutex)}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// testClock is a clock the test moves.
type testClock struct{ ns atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// Monday 3 March 2025, 09:00 in London.
var start = time.Date(2025, time.March, 3, 9, 0, 0, 0, time.UTC)

// testNode is a whole node behind a real HTTP server on loopback.
type testNode struct {
	t      testing.TB
	store  *storage.Store
	node   *node.Node
	api    *Server
	srv    *httptest.Server
	clock  *testClock
	tokens map[node.Role]string
	ids    map[node.Role]string
	cross  *node.CrossBorder
	sent   *sentAlerts
	// members is the federation's checkpoint checking, faked.
	members *fakeMembers
}

var roleUserID = map[node.Role]string{
	node.RoleSocialWorker: "sw", node.RoleNRMCoordinator: "coord", node.RolePanelMember: "member",
	node.RolePanelChair: "chair", node.RoleAdvocate: "ictg", node.RoleRegionalCoordinator: "region",
	node.RoleAuditor: "auditor", node.RoleAdministrator: "admin",
}

// newTestNode opens a store (in memory unless onDisk), a node and the API,
// serves it on loopback, and issues a token for one user of each role.
func newTestNode(t testing.TB, onDisk bool) *testNode {
	t.Helper()
	dir := t.TempDir()
	sc := storage.DefaultConfig()
	sc.DataDir = filepath.Join(dir, "data")
	sc.KeysDir = filepath.Join(dir, "keys")
	sc.Authority = testAuthority
	sc.InMemory = !onDisk
	sc.Logger = testLogger(t)
	if err := storage.CreateKeys(sc.KeysDir); err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(sc)
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{}
	clock.ns.Store(start.UnixNano())
	nc := node.DefaultConfig()
	nc.Store, nc.Authority, nc.Now, nc.Logger = s, testAuthority, clock.Now, testLogger(t)
	n, err := node.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	sent := &sentAlerts{}
	cc := node.DefaultCrossBorderConfig()
	_, cc.Signer, err = ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	cc.Node, cc.Store, cc.Publisher, cc.Logger = n, s, sent, testLogger(t)
	cross, err := node.NewCrossBorder(cc)
	if err != nil {
		t.Fatal(err)
	}
	ac := DefaultConfig()
	ac.Node, ac.Alerts, ac.Logger = n, cross, testLogger(t)
	ac.Relocations = newTestRelocations(t, n, s)
	members := &fakeMembers{}
	ac.Federation = members
	a, err := New(ac)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(func() {
		srv.Close()
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	tn := &testNode{t: t, store: s, node: n, api: a, srv: srv, clock: clock, tokens: map[node.Role]string{}, ids: map[node.Role]string{},
		cross: cross, sent: sent, members: members}
	for _, r := range node.Roles {
		id := roleUserID[r]
		_, tok, err := s.CreateUser(context.Background(), storage.User{ID: id, Name: "Test " + id, Role: string(r), Authority: testAuthority},
			storage.Access{Actor: "node", Role: "node"})
		if err != nil {
			t.Fatal(err)
		}
		tn.tokens[r], tn.ids[r] = tok, id
	}
	return tn
}

// response is a decoded HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) errorCode() string {
	var e errorBody
	_ = json.Unmarshal(r.body, &e)
	return e.Code
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request as role (no token when role is ""), with body (a
// string, []byte, or a value encoded as JSON) and extra headers.
func (tn *testNode) do(role node.Role, method, path string, body any, headers ...string) response {
	tn.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			tn.t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, tn.srv.URL+path, rd)
	if err != nil {
		tn.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+tn.tokens[role])
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := tn.srv.Client().Do(req)
	if err != nil {
		tn.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tn.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// referralBody is a valid POST /v1/cases body made at the node's clock.
func (tn *testNode) referralBody() map[string]any {
	return map[string]any{
		"identity": map[string]any{
			"names":         []any{map[string]any{"kind": "used", "given": "Thi", "family": "Nguyen"}},
			"date_of_birth": map[string]any{"date": "2010-09-01", "estimated": true, "uncertainty_days": 180, "basis": "age assessment"},
			"sex":           "female",
			"nationalities": []string{"VNM"},
		},
		"referral": map[string]any{
			"referred_at": tn.clock.Now().Format(time.RFC3339), "first_responder_org": "Synthetic Borough Council",
			"first_responder_type": "local_authority", "exploitation_types": []string{"labour"},
			"exploitation_location": "both", "source": "school", "presenting_issue": "working in a nail bar",
		},
		"risk": "amber",
	}
}

// createCase makes a case through the API as a social worker.
func (tn *testNode) createCase() caseBody {
	tn.t.Helper()
	r := tn.do(node.RoleSocialWorker, "POST", "/v1/cases", tn.referralBody())
	if r.status != http.StatusCreated {
		tn.t.Fatalf("create case: %d %s", r.status, r.body)
	}
	var out createCaseResponse
	r.decode(tn.t, &out)
	return out.Case
}

func (tn *testNode) auditSize() int64 {
	tn.t.Helper()
	cp, err := tn.store.AuditCheckpoint()
	if err != nil {
		tn.t.Fatal(err)
	}
	return cp.Size
}

func (tn *testNode) auditSince(from int64) []v1.AuditEntry {
	tn.t.Helper()
	es, err := tn.store.AuditEntries(from, 1000)
	if err != nil {
		tn.t.Fatal(err)
	}
	return es
}

const purpose = "Nrmnet-Purpose"

// sentAlerts is the federation as the API tests see it: it keeps every
// alert handed to it.
type sentAlerts struct {
	mu     sync.Mutex
	alerts []*v1.CrossBorderAlert
}

func (p *sentAlerts) PublishAlert(_ context.Context, a *v1.CrossBorderAlert) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := *a
	p.alerts = append(p.alerts, &c)
	return nil
}

func (p *sentAlerts) all() []*v1.CrossBorderAlert {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*v1.CrossBorderAlert(nil), p.alerts...)
}

// openTask raises a match task on case c, as private matching would.
func (tn *testNode) openTask(c v1.CaseID) storage.MatchTask {
	tn.t.Helper()
	t, _, err := tn.store.RaiseMatchTask(context.Background(), storage.MatchTask{Alert: v1.NewID(), Issuer: "CMD", Case: c,
		Strength: "exact_date", AlertExpiresAt: tn.clock.Now().Add(24 * time.Hour)}, storage.Access{Actor: "node", Role: "node"})
	if err != nil {
		tn.t.Fatal(err)
	}
	return t
}
