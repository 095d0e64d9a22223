package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"nrmnet/consensus"
	"nrmnet/consensus/transport/transporttest"
	"nrmnet/node"
	"nrmnet/node/workflow"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

const apiPanel = "islington-solo"

// panelTestNode is a testNode whose API also serves a combined panel: a
// one-member Raft group on a real libp2p loopback host, on disk.
func newPanelTestNode(t *testing.T) *testNode {
	t.Helper()
	tn := newTestNode(t, true)
	pc := node.DefaultPanelsConfig()
	pc.Node, pc.Logger = tn.node, testLogger(t)
	panels, err := node.NewPanels(pc)
	if err != nil {
		t.Fatal(err)
	}
	net := transporttest.NewNetwork(t)
	h := net.AddHost()
	cc := consensus.DefaultConfig()
	cc.Timeouts = consensus.Timeouts{Heartbeat: 300 * time.Millisecond, Election: 300 * time.Millisecond,
		LeaderLease: 150 * time.Millisecond, Commit: 5 * time.Millisecond, RPC: 2 * time.Second, Forward: 5 * time.Second}
	key := make([]byte, 32)
	copy(key, "api-panel-test-key-0123456789abc")
	ph, err := node.StartPanel(panels, node.PanelHostConfig{Panel: apiPanel, Host: h, Members: []consensus.Member{{ID: h.ID()}},
		Dir: filepath.Join(t.TempDir(), "panel"), EncryptionKey: key, Consensus: &cc, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ph.Close(); err != nil {
			t.Errorf("close panel: %v", err)
		}
		_ = panels.Close()
	})
	select {
	case <-ph.Panel().Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("panel has no leader")
	}
	ac := DefaultConfig()
	ac.Node, ac.Panels, ac.Logger = tn.node, panels, testLogger(t)
	a, err := New(ac)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	pt := *tn
	pt.api, pt.srv = a, srv
	// Voting partners beyond the one panel member of newTestNode.
	for _, id := range []string{"police", "health"} {
		_, tok, err := tn.store.CreateUser(context.Background(), storage.User{ID: id, Name: "Test " + id, Role: string(node.RolePanelMember), Authority: testAuthority},
			storage.Access{Actor: "node", Role: "node"})
		if err != nil {
			t.Fatal(err)
		}
		pt.tokens[node.Role("as-"+id)] = tok
	}
	return &pt
}

// rgPending takes the case to RG pending so a decision can be recorded.
func (tn *testNode) rgPending(c caseBody) {
	tn.t.Helper()
	ctx := context.Background()
	sw := node.Principal{ID: tn.ids[node.RoleSocialWorker], Role: node.RoleSocialWorker, Authority: testAuthority}
	rev := currentRevision(tn, c.ID)
	for _, ev := range []workflow.Event{workflow.StartScopeCheck{}, workflow.RecordScope{InScope: true, Reason: "in scope"}} {
		rec, err := tn.node.Apply(ctx, sw, node.Change{Case: c.ID, Revision: rev, Event: ev})
		if err != nil {
			tn.t.Fatalf("apply %s: %v", ev.Kind(), err)
		}
		rev = rec.Case.Revision
	}
}

func attendanceBody() []map[string]any {
	return []map[string]any{
		{"member": "chair", "capacity": "adviser", "chair": true},
		{"member": "member", "capacity": "local_authority", "authority": "ISL"},
		{"member": "police", "capacity": "police"},
		{"member": "health", "capacity": "health"},
		{"member": "ictg", "capacity": "ictg"},
	}
}

// The whole decision over HTTP: open, meet, hear the child, propose, vote,
// conclude; the panel case shows the decision and the authority's case
// records it through the workflow.
func TestPanelDecisionOverHTTP(t *testing.T) {
	tn := newPanelTestNode(t)
	c := tn.createCase()
	tn.rgPending(c)
	base := "/v1/panels/" + apiPanel + "/cases"
	var out panelOutcome
	r := tn.do(node.RoleSocialWorker, "POST", base, map[string]any{"case": c.ID})
	if r.status != 201 {
		t.Fatalf("open: %d %s", r.status, r.body)
	}
	ref := base + "/" + string(c.ID)
	r = tn.do(node.RolePanelChair, "POST", ref+"/meetings", map[string]any{"held_at": start.Add(-time.Hour), "attendance": attendanceBody()})
	if r.status != 200 {
		t.Fatalf("meeting: %d %s", r.status, r.body)
	}
	r.decode(t, &out)
	meeting := out.Subject
	if r = tn.do(node.RoleAdvocate, "POST", ref+"/views", map[string]any{"views": "I want to stay with my foster carer."}); r.status != 200 {
		t.Fatalf("views: %d %s", r.status, r.body)
	}
	r = tn.do(node.RolePanelChair, "POST", ref+"/proposals", map[string]any{"meeting": meeting, "stages": []string{"reasonable_grounds"}})
	if r.status != 200 {
		t.Fatalf("propose: %d %s", r.status, r.body)
	}
	r.decode(t, &out)
	proposal := out.Subject
	// The advocate carries the child's voice and has no vote.
	vote := map[string]any{"proposal": proposal, "stage": "reasonable_grounds", "choice": "positive"}
	if r = tn.do(node.RoleAdvocate, "POST", ref+"/votes", vote); r.status != 403 {
		t.Fatalf("advocate's vote: %d %s", r.status, r.body)
	}
	for _, who := range []node.Role{node.RolePanelMember, "as-police", "as-health"} {
		if r = tn.do(who, "POST", ref+"/votes", vote); r.status != 200 {
			t.Fatalf("vote by %s: %d %s", who, r.status, r.body)
		}
	}
	// A rule's refusal is 409 with the rule's code, and changes nothing.
	if r = tn.do(node.RolePanelMember, "POST", ref+"/votes", vote); r.status != 409 || !strings.Contains(string(r.body), "already_voted") {
		t.Fatalf("second vote: %d %s", r.status, r.body)
	}
	r = tn.do(node.RolePanelChair, "POST", ref+"/conclusions", map[string]any{"proposal": proposal,
		"reasons": "Consistent police and health accounts.", "child_views_considered": "The placement was kept as the child asked."})
	if r.status != 200 {
		t.Fatalf("conclude: %d %s", r.status, r.body)
	}
	r = tn.do(node.RolePanelMember, "GET", ref, nil)
	if r.status != 200 {
		t.Fatalf("read panel case: %d %s", r.status, r.body)
	}
	var pc panelCaseResponse
	r.decode(t, &pc)
	if len(pc.Decisions) != 1 || pc.Decisions[0].ID != proposal || pc.RG.Status != "positive" || len(pc.Decisions[0].Votes) != 3 {
		t.Fatalf("panel case: %+v", pc)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		cs, err := tn.store.Case(context.Background(), c.ID, storage.Access{Actor: "test", Role: "test", Purpose: "check", LegalBasis: node.DefaultBasis})
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(cs.Decisions, func(d v1.NRMDecision) bool { return d.PanelDecisionID == proposal }) {
			if cs.State != v1.StateRGPositive {
				t.Fatalf("case state %s", cs.State)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the decision never reached the case")
		}
		time.Sleep(50 * time.Millisecond)
	}
	r = tn.do(node.RoleRegionalCoordinator, "GET", "/v1/panels/"+apiPanel+"/status", nil)
	var st panelStatusResponse
	r.decode(t, &st)
	if r.status != 200 || st.State != "Leader" || st.Unrecorded != 0 {
		t.Fatalf("status: %d %s", r.status, r.body)
	}
	r = tn.do(node.RolePanelChair, "GET", "/v1/panels/"+apiPanel+"/commands/"+string(out.Command), nil)
	if r.status != 200 {
		t.Fatalf("command: %d %s", r.status, r.body)
	}
}

// panelRouteRoles is the role × route table of the panel routes: which
// node roles may use each. Everyone else gets 403, audited.
var panelRouteRoles = []struct {
	method, path string
	roles        []node.Role
	body         func(meeting, proposal string) any
}{
	{"POST", "/v1/panels/{panel}/cases", []node.Role{node.RoleSocialWorker, node.RoleNRMCoordinator}, nil},
	{"GET", "/v1/panels/{panel}/cases/{ref}", []node.Role{node.RoleSocialWorker, node.RoleNRMCoordinator, node.RolePanelChair, node.RolePanelMember, node.RoleAdvocate}, nil},
	{"POST", "/v1/panels/{panel}/cases/{ref}/meetings", []node.Role{node.RolePanelChair, node.RoleNRMCoordinator}, func(string, string) any {
		return map[string]any{"held_at": start.Add(-time.Hour), "attendance": attendanceBody()}
	}},
	{"POST", "/v1/panels/{panel}/cases/{ref}/views", []node.Role{node.RoleSocialWorker, node.RoleAdvocate, node.RolePanelChair}, func(string, string) any {
		return map[string]any{"views": "I would like to be asked first."}
	}},
	{"POST", "/v1/panels/{panel}/cases/{ref}/proposals", []node.Role{node.RolePanelChair}, func(m, _ string) any {
		return map[string]any{"meeting": m, "stages": []string{"reasonable_grounds"}}
	}},
	{"POST", "/v1/panels/{panel}/cases/{ref}/votes", []node.Role{node.RolePanelMember, node.RolePanelChair}, func(_, p string) any {
		return map[string]any{"proposal": p, "stage": "reasonable_grounds", "choice": "abstain"}
	}},
	{"POST", "/v1/panels/{panel}/cases/{ref}/conclusions", []node.Role{node.RolePanelChair}, func(_, p string) any {
		return map[string]any{"proposal": p, "reasons": "r", "child_views_considered": "c"}
	}},
	{"POST", "/v1/panels/{panel}/cases/{ref}/reconsiderations", []node.Role{node.RoleSocialWorker, node.RoleNRMCoordinator, node.RoleAdvocate}, func(_, p string) any {
		return map[string]any{"decision": p, "grounds": "new_evidence", "detail": "d"}
	}},
	{"POST", "/v1/panels/{panel}/cases/{ref}/assurance", []node.Role{node.RoleNRMCoordinator}, func(_, p string) any {
		return map[string]any{"decision": p, "status": "submitted"}
	}},
	{"POST", "/v1/panels/{panel}/cases/{ref}/close", []node.Role{node.RoleSocialWorker, node.RoleNRMCoordinator}, func(string, string) any {
		return map[string]any{"reason": "withdrawn"}
	}},
	{"GET", "/v1/panels/{panel}/commands/{command}", []node.Role{node.RoleSocialWorker, node.RoleNRMCoordinator, node.RolePanelChair, node.RolePanelMember, node.RoleAdvocate}, nil},
	{"GET", "/v1/panels/{panel}/status", []node.Role{node.RoleNRMCoordinator, node.RolePanelChair, node.RolePanelMember, node.RoleRegionalCoordinator, node.RoleAdministrator}, nil},
	{"POST", "/v1/panels/{panel}/members", []node.Role{node.RoleAdministrator}, func(string, string) any {
		return map[string]any{"peer": "12D3KooWHHzSeKaY8xuZVzkLbKFfvNgPPeKhFBGrMbNzbm5akpqu"}
	}},
	{"POST", "/v1/panels/{panel}/members/{peer}/remove", []node.Role{node.RoleAdministrator}, nil},
	{"POST", "/v1/panels/{panel}/reconcile", []node.Role{node.RoleNRMCoordinator, node.RoleAdministrator}, nil},
}

// Every panel route for every role: refused roles get 403 forbidden and one
// denied audit entry, and the panel does not move; allowed roles are not
// refused for their role (the panel's rules may still refuse what they ask).
func TestPanelRoutesEveryRole(t *testing.T) {
	tn := newPanelTestNode(t)
	c := tn.createCase()
	tn.rgPending(c)
	covered := map[string]bool{}
	for _, rr := range panelRouteRoles {
		covered[rr.method+" "+rr.path] = true
	}
	for _, rt := range tn.api.routes {
		if strings.HasPrefix(rt.Path, "/v1/panels/") && !covered[rt.Method+" "+rt.Path] {
			t.Errorf("panel route %s %s is not in the role table", rt.Method, rt.Path)
		}
	}
	meeting, proposal := string(v1.NewID()), string(v1.NewID())
	ph := tn.api.panels.(*node.Panels)
	for _, rr := range panelRouteRoles {
		for _, role := range node.Roles {
			t.Run(rr.method+" "+rr.path+"/"+string(role), func(t *testing.T) {
				tn.t = t
				path := strings.NewReplacer("{panel}", apiPanel, "{ref}", string(c.ID), "{command}", string(v1.NewID()),
					"{peer}", "12D3KooWHHzSeKaY8xuZVzkLbKFfvNgPPeKhFBGrMbNzbm5akpqu").Replace(rr.path)
				var body any
				if rr.body != nil {
					body = rr.body(meeting, proposal)
				} else if rr.path == "/v1/panels/{panel}/cases" {
					body = map[string]any{"case": c.ID}
				}
				before := tn.auditSize()
				st := panelApplied(t, ph)
				r := tn.do(role, rr.method, path, body)
				if slices.Contains(rr.roles, role) {
					if r.status == http.StatusForbidden || r.status >= 500 && r.status != 503 {
						t.Fatalf("allowed role: status %d %s", r.status, r.body)
					}
					return
				}
				if r.status != http.StatusForbidden || r.errorCode() != "forbidden" {
					t.Fatalf("refused: status %d %s, want 403 forbidden", r.status, r.body)
				}
				es := tn.auditSince(before)
				if len(es) != 1 || es[0].Outcome != v1.AuditDenied || es[0].Actor != tn.ids[role] {
					t.Fatalf("refusal audited as %+v, want one denied entry", es)
				}
				if got := panelApplied(t, ph); got != st {
					t.Fatalf("a refused request moved the panel from %d to %d", st, got)
				}
			})
		}
	}
}

func panelApplied(t *testing.T, p *node.Panels) uint64 {
	t.Helper()
	st, err := p.PanelStatus(context.Background(), node.Principal{ID: "admin", Role: node.RoleAdministrator, Authority: testAuthority}, apiPanel)
	if err != nil {
		t.Fatal(err)
	}
	return st.Raft.AppliedIndex
}

// Hostile bodies on the panel routes are refused with a clear error, and
// nothing reaches the panel or the store.
func TestPanelHostileBodies(t *testing.T) {
	tn := newPanelTestNode(t)
	c := tn.createCase()
	ref := "/v1/panels/" + apiPanel + "/cases/" + string(c.ID)
	ph := tn.api.panels.(*node.Panels)
	attempts := []struct {
		name, path string
		role       node.Role
		body       string
		status     int
		names      string
	}{
		{"unknown field", ref + "/views", node.RoleAdvocate, `{"views":"x","extra":1}`, 400, "extra"},
		{"field twice", ref + "/views", node.RoleAdvocate, `{"views":"x","views":"y"}`, 400, "views"},
		{"wrong type", ref + "/votes", node.RolePanelMember, `{"proposal":1,"stage":"reasonable_grounds","choice":"positive"}`, 400, "proposal"},
		{"no held_at", ref + "/meetings", node.RolePanelChair, `{"attendance":[]}`, 400, "held_at"},
		{"bad time", ref + "/meetings", node.RolePanelChair, `{"held_at":"yesterday","attendance":[]}`, 400, "rfc 3339"},
		{"bad stage", ref + "/proposals", node.RolePanelChair, `{"meeting":"` + string(v1.NewID()) + `","stages":["guess"]}`, 422, "stage"},
		{"bad panel id", "/v1/panels/..%2Fetc/cases/" + string(c.ID) + "/views", node.RoleAdvocate, `{"views":"x"}`, 422, "panel"},
		{"bad case ref", "/v1/panels/" + apiPanel + "/cases/nope/views", node.RoleAdvocate, `{"views":"x"}`, 422, "case"},
		{"bad peer", "/v1/panels/" + apiPanel + "/members", node.RoleAdministrator, `{"peer":"not-a-peer"}`, 400, "peer"},
		{"deep", ref + "/views", node.RoleAdvocate, strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40), 400, "nested"},
		{"control chars", ref + "/views", node.RoleAdvocate, "{\"views\":\"a\\u0000b\"}", 422, "views"},
		{"unknown panel", "/v1/panels/no-such-panel/cases/" + string(c.ID) + "/views", node.RoleAdvocate, `{"views":"x"}`, 404, "no-such-panel"},
	}
	for _, a := range attempts {
		t.Run(a.name, func(t *testing.T) {
			tn.t = t
			before := panelApplied(t, ph)
			r := tn.do(a.role, "POST", a.path, a.body)
			if r.status != a.status || !strings.Contains(strings.ToLower(string(r.body)), a.names) {
				t.Fatalf("status %d %s, want %d naming %q", r.status, r.body, a.status, a.names)
			}
			if got := panelApplied(t, ph); got != before {
				t.Fatalf("the panel moved from %d to %d", before, got)
			}
		})
	}
}

// POST /v1/panels/{panel}/reconcile queues a catch-up and answers 202 with
// where to see the outcome, audited; its body is empty or {}, and anything
// else is refused with a clear error before anything is queued or audited
// as done. An unknown panel is 404, a malformed one 422.
func TestPanelReconcileOverHTTP(t *testing.T) {
	tn := newPanelTestNode(t)
	path := "/v1/panels/" + apiPanel + "/reconcile"
	for _, body := range []any{nil, "{}", " { } "} {
		before := tn.auditSize()
		r := tn.do(node.RoleNRMCoordinator, "POST", path, body)
		var got panelReconcileResponse
		r.decode(t, &got)
		if r.status != http.StatusAccepted || got.Panel != apiPanel || !got.Queued || got.Status != "/v1/panels/"+apiPanel+"/status" ||
			!strings.Contains(got.Message, "queued") {
			t.Fatalf("body %v: status %d %s, want 202 queued", body, r.status, r.body)
		}
		es := tn.auditSince(before)
		if len(es) == 0 || es[0].Outcome != v1.AuditAllowed || es[0].Actor != tn.ids[node.RoleNRMCoordinator] ||
			es[0].Subject != "panel:"+apiPanel || !strings.Contains(es[0].Purpose, "reconcile") {
			t.Fatalf("body %v: audited as %+v", body, es)
		}
	}
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	for _, a := range []struct {
		name, path, body, ctype string
		status                  int
		code, names             string
	}{
		{"a field", path, `{"force": true}`, "", 400, "unknown_field", "force"},
		{"not json", path, "hello", "", 400, "invalid_json", "not valid JSON"},
		{"array", path, "[]", "", 400, "invalid_json", "object"},
		{"null", path, "null", "", 400, "invalid_json", "empty JSON object"},
		{"two objects", path, "{} {}", "", 400, "invalid_json", "more than one"},
		{"deep nesting", path, deep, "", 400, "invalid_json", "nested"},
		{"oversize", path, `{"a": "` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`, "", 413, codeBodyTooLarge, "limit"},
		{"wrong content type", path, "{}", "text/plain", 415, codeUnsupportedMedia, "application/json"},
		{"query", path + "?force=1", "", "", 400, "invalid_query", "force"},
		{"unknown panel", "/v1/panels/no-such-panel/reconcile", "", "", 404, "not_found", "no-such-panel"},
		{"bad panel id", "/v1/panels/..%2Fetc/reconcile", "", "", 422, "invalid", "panel"},
	} {
		t.Run(a.name, func(t *testing.T) {
			tn.t = t
			from := tn.auditSize()
			headers := []string{}
			if a.ctype != "" {
				headers = append(headers, "Content-Type", a.ctype)
			}
			var body any
			if a.body != "" {
				body = a.body
			}
			r := tn.do(node.RoleAdministrator, "POST", a.path, body, headers...)
			if r.status != a.status || r.errorCode() != a.code || !strings.Contains(string(r.body), a.names) {
				t.Fatalf("status %d code %q (%s), want %d %q naming %q", r.status, r.errorCode(), truncateBody(r.body), a.status, a.code, a.names)
			}
			tn.checkNoWrites(from)
		})
	}
}
