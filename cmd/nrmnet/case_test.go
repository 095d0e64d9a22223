package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"nrmnet/node"
	"nrmnet/node/api"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// apiNode is a node's store, application and API served on loopback, with
// a clock the test moves, for the commands that talk to the API.
type apiNode struct {
	url   string
	store *storage.Store
	clock *atomic.Int64 // Unix nanoseconds
	admin string        // the first administrator's token
}

type cliLogWriter struct {
	t  testing.TB
	mu sync.Mutex
}

func (w *cliLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func startAPINode(t *testing.T, at time.Time) *apiNode {
	t.Helper()
	log := slog.New(slog.NewTextHandler(&cliLogWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dir := t.TempDir()
	sc := storage.DefaultConfig()
	sc.DataDir, sc.KeysDir, sc.Authority, sc.Logger = filepath.Join(dir, "data"), filepath.Join(dir, "keys"), "ISL", log
	if err := storage.CreateKeys(sc.KeysDir); err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(sc)
	if err != nil {
		t.Fatal(err)
	}
	clock := new(atomic.Int64)
	clock.Store(at.UnixNano())
	nc := node.DefaultConfig()
	nc.Store, nc.Authority, nc.Logger = s, "ISL", log
	nc.Now = func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	n, err := node.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ac := api.DefaultConfig()
	ac.Node, ac.Logger = n, log
	h, err := api.New(ac)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	_, token, err := n.AddFirstAdministrator(context.Background(), "admin", "Test Administrator")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envServer, srv.URL)
	return &apiNode{url: srv.URL, store: s, clock: clock, admin: token}
}

func (n *apiNode) advance(d time.Duration) { n.clock.Add(int64(d)) }

var tokenPattern = regexp.MustCompile(`nrmnet_[A-Za-z0-9_-]{43}`)

// as runs the CLI with NRMNET_TOKEN set to token.
func as(t *testing.T, token string, args ...string) (string, error) {
	t.Helper()
	t.Setenv(envToken, token)
	return runCLI(t, args...)
}

func mustCLI(t *testing.T, token string, args ...string) string {
	t.Helper()
	out, err := as(t, token, args...)
	if err != nil {
		t.Fatalf("nrmnet %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// addUser adds a user through the CLI and returns their token.
func (n *apiNode) addUser(t *testing.T, id, role string) string {
	t.Helper()
	out := mustCLI(t, n.admin, "user", "add", "--id", id, "--name", "Test "+id, "--role", role)
	tok := tokenPattern.FindString(out)
	if tok == "" {
		t.Fatalf("user add printed no token:\n%s", out)
	}
	return tok
}

func TestUserCommands(t *testing.T) {
	n := startAPINode(t, time.Now().UTC())
	sw := n.addUser(t, "a.khan", "social_worker")
	if u, err := n.store.UserByToken(sw); err != nil || u.ID != "a.khan" || u.Role != "social_worker" {
		t.Fatalf("the printed token does not sign in: %+v, %v", u, err)
	}
	out := mustCLI(t, n.admin, "user", "list")
	if !strings.Contains(out, "a.khan") || !strings.Contains(out, "social_worker") || !strings.Contains(out, "admin") {
		t.Fatalf("user list:\n%s", out)
	}
	if strings.Contains(out, sw) {
		t.Fatal("user list shows a token")
	}
	// A social worker may not manage users.
	if _, err := as(t, sw, "user", "add", "--id", "b", "--name", "B", "--role", "auditor"); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("social worker adding a user: %v", err)
	}
	if _, err := as(t, n.admin, "user", "add", "--id", "x", "--name", "X", "--role", "wizard"); err == nil || !strings.Contains(err.Error(), "wizard") {
		t.Fatalf("unknown role: %v", err)
	}
	out = mustCLI(t, n.admin, "user", "revoke", "a.khan")
	if !strings.Contains(out, "Revoked a.khan") {
		t.Fatalf("revoke: %s", out)
	}
	if _, err := as(t, sw, "case", "list"); err == nil || !strings.Contains(err.Error(), "unauthenticated") {
		t.Fatalf("revoked token still works: %v", err)
	}
	out = mustCLI(t, n.admin, "user", "list", "--json")
	var list struct {
		Users []apiUser `json:"users"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Users) != 2 || list.Users[0].RevokedAt == nil {
		t.Fatalf("user list --json: %v\n%s", err, out)
	}
}

func TestClientErrors(t *testing.T) {
	t.Setenv(envToken, "")
	t.Setenv(envServer, "http://127.0.0.1:1")
	if _, err := runCLI(t, "case", "list"); err == nil || !strings.Contains(err.Error(), envToken) {
		t.Fatalf("no token: %v", err)
	}
	if _, err := as(t, "nrmnet_x", "case", "list", "--server", "ftp://x"); err == nil || !strings.Contains(err.Error(), "--server") {
		t.Fatalf("bad server: %v", err)
	}
	if _, err := as(t, "nrmnet_x", "case", "list"); err == nil || !strings.Contains(err.Error(), "cannot reach the node") {
		t.Fatalf("no node: %v", err)
	}
}

// TestInitPrintsFirstAdministrator: init creates the first administrator
// and prints a token that signs in as them.
func TestInitPrintsFirstAdministrator(t *testing.T) {
	dir := t.TempDir()
	out, err := runCLI(t, "init", "--dir", dir, "--authority", "ISL", "--admin-id", "it.admin")
	if err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	tok := tokenPattern.FindString(out)
	if tok == "" || !strings.Contains(out, "shown this once") {
		t.Fatalf("init printed no token:\n%s", out)
	}
	cfg, err := loadNodeConfig(dir, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(cfg.storeConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u, err := s.UserByToken(tok)
	if err != nil || u.ID != "it.admin" || u.Role != string(node.RoleAdministrator) {
		t.Fatalf("token from init: %+v, %v", u, err)
	}
	es, err := s.AuditEntries(0, 10)
	if err != nil || len(es) != 1 || es[0].Action != v1.ActionUserCreate || es[0].Actor != "node" {
		t.Fatalf("init audit: %+v, %v", es, err)
	}
}

var revisionPattern = regexp.MustCompile(`revision (\d+)`)

// TestCaseScenarioThroughCLI drives a referral from creation to a positive
// conclusive grounds decision through the CLI against a running node (a real
// HTTP server on loopback over a real store), checking the overdue list on
// the way. The node's clock is moved by the test.
func TestCaseScenarioThroughCLI(t *testing.T) {
	start := time.Date(2025, time.March, 3, 9, 0, 0, 0, time.UTC) // a Monday
	n := startAPINode(t, start)
	sw := n.addUser(t, "a.khan", "social_worker")
	coord := n.addUser(t, "c.obi", "nrm_coordinator")
	ictg := n.addUser(t, "g.ward", "advocate")
	region := n.addUser(t, "r.lee", "regional_coordinator")

	referral := `{"identity": {"names": [{"kind": "used", "given": "Thi", "family": "Nguyen"}], "sex": "female",
	  "date_of_birth": {"date": "2010-09-01", "estimated": true, "uncertainty_days": 180, "basis": "age assessment"}},
	 "referral": {"referred_at": "2025-03-03T09:00:00Z", "first_responder_org": "Synthetic Borough Council",
	  "first_responder_type": "local_authority", "exploitation_types": ["labour"], "exploitation_location": "both",
	  "source": "school", "presenting_issue": "working in a nail bar"},
	 "risk": "amber"}`
	file := filepath.Join(t.TempDir(), "referral.json")
	if err := os.WriteFile(file, []byte(referral), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustCLI(t, sw, "case", "create", "--file", file)
	id := regexp.MustCompile(`ISL-[0-9a-f]{16}`).FindString(out)
	if id == "" || !strings.Contains(out, "in scope") || !strings.Contains(out, "triage (amber)") {
		t.Fatalf("case create:\n%s", out)
	}
	rev := 1
	event := func(token, typ, data string) {
		t.Helper()
		args := []string{"case", "event", id, "--revision", strconv.Itoa(rev), "--type", typ}
		if data != "" {
			args = append(args, "--data", data)
		}
		out := mustCLI(t, token, args...)
		m := revisionPattern.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("case event %s:\n%s", typ, out)
		}
		rev, _ = strconv.Atoi(m[1])
	}
	overdue := func(token string) string {
		t.Helper()
		return mustCLI(t, token, "case", "overdue")
	}

	// Day 2: the amber triage (24 hours) is overdue.
	n.advance(30 * time.Hour)
	if out := overdue(sw); !strings.Contains(out, "Overdue: 1") || !strings.Contains(out, id) {
		t.Fatalf("triage should be overdue:\n%s", out)
	}
	if out := overdue(region); !strings.Contains(out, "ISL") || strings.Contains(out, id) || !strings.Contains(out, "overdue 1") {
		t.Fatalf("regional coordinator should see counts only:\n%s", out)
	}
	event(sw, "rate_risk", `{"rating": "amber", "stage": "after_discussion", "reason": "multi-agency discussion held"}`)
	if out := overdue(sw); !strings.Contains(out, "Overdue: 0") {
		t.Fatalf("triage met, nothing overdue:\n%s", out)
	}
	// A stale revision is refused, not applied.
	if _, err := as(t, sw, "case", "event", id, "--revision", "1", "--type", "start_scope_check"); err == nil || !strings.Contains(err.Error(), "revision_conflict") {
		t.Fatalf("stale revision: %v", err)
	}
	n.advance(time.Hour)
	event(sw, "start_scope_check", "")
	event(sw, "record_scope", `{"in_scope": true, "reason": "Estimated 14; well clear of 18."}`)
	mustCLI(t, ictg, "case", "views", id, "--views", "Thi wants to stay at her school and see her friends.", "--how-considered", "Shared with the panel.")
	rev++
	n.advance(24 * time.Hour)
	event(coord, "record_rg_decision", `{"outcome": "positive", "reasons": "Consistent account of forced work; police intelligence on the premises.", "child_views": "Heard through her ICTG; she wants to stay at school.", "decided_by": "Islington NRM panel"}`)
	event(sw, "start_recovery_period", "")
	event(sw, "start_conclusive_grounds", "")
	// A CG decision before the recovery period's 30 days is refused.
	if _, err := as(t, coord, "case", "event", id, "--revision", strconv.Itoa(rev), "--type", "record_cg_decision",
		"--data", `{"outcome": "positive", "reasons": "r", "child_views": "v"}`); err == nil || !strings.Contains(err.Error(), "not_allowed_now") {
		t.Fatalf("early CG decision: %v", err)
	}
	// 31 days on, the recovery period has ended: the case is waiting on its
	// CG decision and shows as overdue.
	n.advance(31 * 24 * time.Hour)
	if out := overdue(coord); !strings.Contains(out, "Overdue: 1") || !strings.Contains(out, id) {
		t.Fatalf("the CG decision should be overdue:\n%s", out)
	}
	event(coord, "record_cg_decision", `{"outcome": "positive", "reasons": "On the balance of probabilities she was exploited for labour.", "child_views": "She was told the outcome with her ICTG.", "decided_by": "Islington NRM panel"}`)

	out = mustCLI(t, ictg, "case", "show", id, "--purpose", "explain the decision to the child")
	for _, want := range []string{"cg_positive", "conclusive_grounds positive", "reasonable_grounds positive", "Thi Nguyen", "wants to stay at her school"} {
		if !strings.Contains(out, want) {
			t.Errorf("case show lacks %q:\n%s", want, out)
		}
	}
	if _, err := as(t, ictg, "case", "show", id); err == nil || !strings.Contains(err.Error(), "purpose") {
		t.Fatalf("show without a purpose: %v", err)
	}
	out = mustCLI(t, sw, "case", "list", "--state", "cg_positive")
	if !strings.Contains(out, id) || strings.Contains(out, "Nguyen") {
		t.Fatalf("case list should list the case without the child's name:\n%s", out)
	}
	// The child's own record, in plain language, written to a private file.
	recordFile := filepath.Join(t.TempDir(), "record.html")
	mustCLI(t, ictg, "case", "record", id, "--out", recordFile)
	page, err := os.ReadFile(recordFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(recordFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("the child's record was written with mode %v", fi.Mode().Perm())
	}
	for _, want := range []string{"<html", "Thi", "wants to stay at her school"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the child's record lacks %q", want)
		}
	}
	text := mustCLI(t, ictg, "case", "record", id, "--format", "text")
	if !strings.Contains(text, "Thi") || strings.Contains(text, "<html") {
		t.Errorf("the text record:\n%.500s", text)
	}
	// The quarterly return: aggregates only.
	csv := mustCLI(t, region, "report", "quarterly", "--quarter", "2025-Q1")
	if !strings.Contains(csv, ",") || strings.Contains(csv, "Nguyen") || strings.Contains(csv, id) {
		t.Errorf("quarterly return:\n%s", csv)
	}
	if _, err := as(t, sw, "report", "quarterly", "--quarter", "2025-Q1"); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("a social worker's quarterly return: %v", err)
	}
	// The per-referral dataset: the NRM coordinator's alone, one row for the
	// one referral, no child identified.
	rows := mustCLI(t, coord, "report", "referrals", "--quarter", "2025-Q1")
	if n := strings.Count(rows, "\n2025-Q1,"); n != 1 || !strings.Contains(rows, "quarter,source,presenting_issue") || strings.Contains(rows, "Nguyen") || strings.Contains(rows, id) {
		t.Errorf("per-referral dataset:\n%s", rows)
	}
	if _, err := as(t, region, "report", "referrals", "--quarter", "2025-Q1"); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("a regional coordinator's per-referral dataset: %v", err)
	}

	// The advocate's read is on record with its purpose.
	es, err := n.store.AuditEntries(0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range es {
		found = found || (e.Actor == "g.ward" && e.Action == v1.ActionCaseRead && e.Purpose == "explain the decision to the child")
	}
	if !found {
		t.Fatal("the advocate's read is not in the audit log with its purpose")
	}
}
