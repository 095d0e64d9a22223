package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"nrmnet/node"
	"nrmnet/node/report"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// routeCase says how to exercise one route for the role matrix.
type routeCase struct {
	method, path string
	cap          node.Capability // "" means any authenticated user
	ok           int             // status when allowed
	// req returns the concrete path, body and headers for one call.
	req func(tn *testNode, c caseBody) (string, any, []string)
}

func currentRevision(tn *testNode, id v1.CaseID) uint64 {
	tn.t.Helper()
	c, err := tn.store.Case(context.Background(), id, storage.Access{Actor: "test", Purpose: "test setup"})
	if err != nil {
		tn.t.Fatal(err)
	}
	return c.Revision
}

var userSeq int

var routeCases = []routeCase{
	{"GET", "/v1/openapi", "", 200, func(*testNode, caseBody) (string, any, []string) { return "/v1/openapi", nil, nil }},
	{"GET", "/v1/whoami", "", 200, func(*testNode, caseBody) (string, any, []string) { return "/v1/whoami", nil, nil }},
	{"POST", "/v1/cases", node.CanCreateCase, 201, func(tn *testNode, _ caseBody) (string, any, []string) {
		return "/v1/cases", tn.referralBody(), nil
	}},
	{"GET", "/v1/cases", node.CanListCases, 200, func(*testNode, caseBody) (string, any, []string) { return "/v1/cases?limit=5", nil, nil }},
	{"GET", "/v1/cases/{id}", node.CanReadCase, 200, func(_ *testNode, c caseBody) (string, any, []string) {
		return "/v1/cases/" + string(c.ID), nil, []string{purpose, "role matrix test"}
	}},
	{"POST", "/v1/cases/{id}/events", node.CanSafeguard, 200, func(tn *testNode, c caseBody) (string, any, []string) {
		return "/v1/cases/" + string(c.ID) + "/events", map[string]any{"revision": currentRevision(tn, c.ID), "type": "rate_risk",
			"data": map[string]any{"rating": "red", "stage": "review", "reason": "went missing again"}}, nil
	}},
	{"POST", "/v1/cases/{id}/views", node.CanRecordViews, 200, func(_ *testNode, c caseBody) (string, any, []string) {
		return "/v1/cases/" + string(c.ID) + "/views", map[string]any{"views": "She wants to keep going to college."}, nil
	}},
	{"GET", "/v1/cases/{id}/child-record", node.CanReadChildRecord, 200, func(_ *testNode, c caseBody) (string, any, []string) {
		return "/v1/cases/" + string(c.ID) + "/child-record?format=text", nil, nil
	}},
	{"GET", "/v1/reports/quarterly", node.CanReadReports, 200, func(*testNode, caseBody) (string, any, []string) {
		return "/v1/reports/quarterly?quarter=2025-Q1", nil, nil
	}},
	{"GET", "/v1/reports/referrals", node.CanReadReferralData, 200, func(*testNode, caseBody) (string, any, []string) {
		return "/v1/reports/referrals?quarter=2025-Q1", nil, nil
	}},
	{"POST", "/v1/cases/{id}/alerts", node.CanRaiseAlert, 201, func(_ *testNode, c caseBody) (string, any, []string) {
		return "/v1/cases/" + string(c.ID) + "/alerts", map[string]any{"type": "missing", "urgency": "high",
			"target_authorities": []string{"CMD"}, "contact": "duty_desk"}, nil
	}},
	{"GET", "/v1/alerts", node.CanRaiseAlert, 200, func(*testNode, caseBody) (string, any, []string) { return "/v1/alerts?limit=5", nil, nil }},
	{"GET", "/v1/tasks", node.CanReviewMatches, 200, func(*testNode, caseBody) (string, any, []string) { return "/v1/tasks?status=all", nil, nil }},
	{"POST", "/v1/tasks/{id}/resolve", node.CanReviewMatches, 200, func(tn *testNode, c caseBody) (string, any, []string) {
		return "/v1/tasks/" + string(tn.openTask(c.ID).ID) + "/resolve", map[string]any{"resolution": "not_same_child", "reason": "different date of birth"}, nil
	}},
	{"GET", "/v1/overdue", node.CanSeeCounts, 200, func(*testNode, caseBody) (string, any, []string) { return "/v1/overdue", nil, nil }},
	{"GET", "/v1/users", node.CanManageUsers, 200, func(*testNode, caseBody) (string, any, []string) { return "/v1/users", nil, nil }},
	{"POST", "/v1/users", node.CanManageUsers, 201, func(*testNode, caseBody) (string, any, []string) {
		userSeq++
		return "/v1/users", map[string]any{"id": fmt.Sprintf("new%d", userSeq), "name": "New Person", "role": "panel_member"}, nil
	}},
	{"POST", "/v1/users/{id}/revoke", node.CanManageUsers, 200, func(tn *testNode, _ caseBody) (string, any, []string) {
		userSeq++
		id := fmt.Sprintf("leaver%d", userSeq)
		if _, _, err := tn.store.CreateUser(context.Background(), storage.User{ID: id, Name: "Leaver", Role: "social_worker", Authority: testAuthority}, storage.Access{Actor: "node"}); err != nil {
			tn.t.Fatal(err)
		}
		return "/v1/users/" + id + "/revoke", nil, nil
	}},
	{"GET", "/v1/audit/checkpoint", node.CanSeeCheckpoint, 200, func(*testNode, caseBody) (string, any, []string) {
		return "/v1/audit/checkpoint", nil, nil
	}},
	{"GET", "/v1/audit/entries", node.CanReadAudit, 200, func(*testNode, caseBody) (string, any, []string) {
		return "/v1/audit/entries?from=0&limit=5", nil, nil
	}},
}

// TestEveryRouteEveryRole: over a real HTTP server on loopback, each role
// gets exactly what it may on every route; the others get 403 with an
// audit entry recording the refusal.
func TestEveryRouteEveryRole(t *testing.T) {
	tn := newTestNode(t, false)
	c := tn.createCase()
	covered := map[string]bool{}
	for _, rc := range routeCases {
		covered[rc.method+" "+rc.path] = true
		for _, role := range node.Roles {
			t.Run(rc.method+" "+rc.path+"/"+string(role), func(t *testing.T) {
				tn.t = t
				path, body, headers := rc.req(tn, c)
				before := tn.auditSize()
				r := tn.do(role, rc.method, path, body, headers...)
				allowed := rc.cap == "" || role.Can(rc.cap)
				if allowed {
					if r.status != rc.ok {
						t.Fatalf("allowed: status %d, want %d: %s", r.status, rc.ok, r.body)
					}
					return
				}
				if r.status != http.StatusForbidden || r.errorCode() != "forbidden" {
					t.Fatalf("refused: status %d %s, want 403 forbidden", r.status, r.body)
				}
				es := tn.auditSince(before)
				if len(es) != 1 || es[0].Outcome != v1.AuditDenied || es[0].Actor != tn.ids[role] || es[0].Role != string(role) {
					t.Fatalf("refusal audited as %+v, want one denied entry by %s", es, tn.ids[role])
				}
			})
		}
	}
	for _, pr := range panelRouteRoles { // TestPanelRoutesEveryRole runs these
		covered[pr.method+" "+pr.path] = true
	}
	for _, rt := range tn.api.routes {
		if !covered[rt.Method+" "+rt.Path] {
			t.Errorf("route %s %s is not in the role matrix", rt.Method, rt.Path)
		}
	}
}

func TestUnauthenticated(t *testing.T) {
	tn := newTestNode(t, false)
	revoked, tok, err := tn.store.CreateUser(context.Background(), storage.User{ID: "gone", Name: "Gone", Role: "social_worker", Authority: testAuthority}, storage.Access{Actor: "node"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.store.RevokeUser(context.Background(), revoked.ID, storage.Access{Actor: "node"}); err != nil {
		t.Fatal(err)
	}
	for name, auth := range map[string]string{
		"none":    "",
		"basic":   "Basic YWRtaW46YWRtaW4=",
		"unknown": "Bearer nrmnet_" + strings.Repeat("A", 43),
		"garbage": "Bearer not-a-token",
		"revoked": "Bearer " + tok,
	} {
		t.Run(name, func(t *testing.T) {
			tn.t = t
			r := tn.do("", "GET", "/v1/whoami", nil, "Authorization", auth)
			if r.status != http.StatusUnauthorized || r.errorCode() != "unauthenticated" || r.header.Get("WWW-Authenticate") == "" {
				t.Fatalf("status %d %s %v, want 401 unauthenticated with WWW-Authenticate", r.status, r.body, r.header)
			}
		})
	}
	tn.t = t
	if r := tn.do("", "GET", "/v1/openapi", nil); r.status != 200 || !strings.Contains(string(r.body), "openapi: 3") {
		t.Fatalf("openapi: %d", r.status)
	}
}

func TestReadCaseRecordsPurposeAndBasis(t *testing.T) {
	tn := newTestNode(t, true)
	c := tn.createCase()
	r := tn.do(node.RolePanelMember, "GET", "/v1/cases/"+string(c.ID), nil)
	if r.status != http.StatusBadRequest || r.errorCode() != "purpose_required" {
		t.Fatalf("no purpose: %d %s", r.status, r.body)
	}
	r = tn.do(node.RolePanelMember, "GET", "/v1/cases/"+string(c.ID), nil, purpose, "prepare for panel", HeaderLegalBasis, "nonsense")
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "basis") {
		t.Fatalf("bad basis: %d %s", r.status, r.body)
	}
	before := tn.auditSize()
	r = tn.do(node.RolePanelMember, "GET", "/v1/cases/"+string(c.ID), nil, purpose, "prepare for panel", HeaderLegalBasis, "ukgdpr-6-1-e")
	if r.status != http.StatusOK {
		t.Fatalf("read: %d %s", r.status, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("a case was served cacheable: Cache-Control %q", r.header.Get("Cache-Control"))
	}
	var got caseResponse
	r.decode(t, &got)
	if got.Case.ID != c.ID || got.Case.Identity.Names[0].Family != "Nguyen" || len(got.Deadlines) != 2 || len(got.AllowedEvents) == 0 {
		t.Fatalf("read %+v", got)
	}
	es := tn.auditSince(before)
	if len(es) != 1 || es[0].Action != v1.ActionCaseRead || es[0].Actor != "member" || es[0].Purpose != "prepare for panel" || es[0].LegalBasis != v1.BasisPublicTask {
		t.Fatalf("read audited as %+v", es)
	}
	if r := tn.do(node.RolePanelMember, "GET", "/v1/cases/ISL-0000000000000000", nil, purpose, "p"); r.status != 404 || r.errorCode() != "not_found" {
		t.Fatalf("missing case: %d %s", r.status, r.body)
	}
	if r := tn.do(node.RolePanelMember, "GET", "/v1/cases/not-a-case", nil, purpose, "p"); r.status != 422 || r.errorCode() != "invalid" {
		t.Fatalf("bad case id: %d %s", r.status, r.body)
	}
}

func TestStaleRevisionIs409(t *testing.T) {
	tn := newTestNode(t, false)
	c := tn.createCase()
	path := "/v1/cases/" + string(c.ID) + "/events"
	tn.clock.Advance(time.Hour)
	r := tn.do(node.RoleSocialWorker, "POST", path, map[string]any{"revision": 1, "type": "start_scope_check"})
	if r.status != 200 {
		t.Fatalf("first change: %d %s", r.status, r.body)
	}
	r = tn.do(node.RoleSocialWorker, "POST", path, map[string]any{"revision": 1, "type": "rate_risk", "data": map[string]any{"rating": "red", "stage": "review"}})
	if r.status != http.StatusConflict || r.errorCode() != "revision_conflict" {
		t.Fatalf("stale change: %d %s", r.status, r.body)
	}
	r = tn.do(node.RoleNRMCoordinator, "POST", path, map[string]any{"revision": 2, "type": "record_cg_decision",
		"data": map[string]any{"outcome": "positive", "reasons": "r", "child_views": "v"}})
	if r.status != http.StatusConflict || r.errorCode() != "not_allowed_now" || !strings.Contains(string(r.body), "allowed now") {
		t.Fatalf("illegal transition: %d %s", r.status, r.body)
	}
}

func TestMethodNotAllowedAndNoRoute(t *testing.T) {
	tn := newTestNode(t, false)
	r := tn.do(node.RoleSocialWorker, "DELETE", "/v1/cases", nil)
	if r.status != http.StatusMethodNotAllowed || r.errorCode() != codeMethodNotAllowed || r.header.Get("Allow") != "POST, GET" {
		t.Fatalf("DELETE /v1/cases: %d %s Allow=%q", r.status, r.body, r.header.Get("Allow"))
	}
	r = tn.do(node.RoleSocialWorker, "GET", "/v1/nothing", nil)
	if r.status != http.StatusNotFound || r.errorCode() != codeNoRoute {
		t.Fatalf("GET /v1/nothing: %d %s", r.status, r.body)
	}
	r = tn.do(node.RoleSocialWorker, "GET", "/v1/cases?colour=red", nil)
	if r.status != http.StatusBadRequest || r.errorCode() != codeInvalidQuery || !strings.Contains(string(r.body), "colour") {
		t.Fatalf("unknown query parameter: %d %s", r.status, r.body)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "Node") || !strings.Contains(err.Error(), "MaxBodyBytes") {
		t.Fatalf("New(Config{}) = %v", err)
	}
}

func TestQuarterlyReturnAndChildRecord(t *testing.T) {
	tn := newTestNode(t, false)
	c := tn.createCase()
	r := tn.do(node.RoleRegionalCoordinator, "GET", "/v1/reports/quarterly?quarter=2025-Q1&format=csv", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("quarterly csv: %d %s", r.status, r.body)
	}
	for _, leak := range []string{"Nguyen", "Thi", string(c.ID), string(c.ChildID), "nail bar"} {
		if strings.Contains(string(r.body), leak) {
			t.Fatalf("the quarterly return holds %q:\n%s", leak, r.body)
		}
	}
	if r := tn.do(node.RoleNRMCoordinator, "GET", "/v1/reports/quarterly?quarter=2025-Q9", nil); r.status != 400 || r.errorCode() != codeInvalidQuery {
		t.Fatalf("bad quarter: %d %s", r.status, r.body)
	}
	// The per-referral dataset: the NRM coordinator's, one row per referral,
	// no child identified; never the regional coordinator's.
	quarter := report.QuarterOf(c.Referral.ReferredAt).String()
	r = tn.do(node.RoleNRMCoordinator, "GET", "/v1/reports/referrals?quarter="+quarter+"&format=csv", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("referrals csv: %d %s", r.status, r.body)
	}
	if lines := strings.Count(strings.TrimSpace(string(r.body)), "\n"); lines != 1 {
		t.Fatalf("referrals csv for one referral has %d data lines:\n%s", lines, r.body)
	}
	for _, leak := range []string{"Nguyen", "Thi", string(c.ID), string(c.ChildID), "nail bar"} {
		if strings.Contains(string(r.body), leak) {
			t.Fatalf("the referral dataset holds %q:\n%s", leak, r.body)
		}
	}
	if r := tn.do(node.RoleRegionalCoordinator, "GET", "/v1/reports/referrals?quarter="+quarter, nil); r.status != 403 {
		t.Fatalf("regional coordinator read the referral dataset: %d %s", r.status, r.body)
	}
	if r := tn.do(node.RoleNRMCoordinator, "GET", "/v1/reports/referrals?quarter="+quarter+"&format=xml", nil); r.status != 400 || r.errorCode() != codeInvalidQuery {
		t.Fatalf("bad format: %d %s", r.status, r.body)
	}
	r = tn.do(node.RoleAdvocate, "GET", "/v1/cases/"+string(c.ID)+"/child-record", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.body), "Thi") {
		t.Fatalf("child record: %d %.300s", r.status, r.body)
	}
	es := tn.auditSince(0)
	last := es[len(es)-1]
	if last.Actor != "ictg" || last.Action != v1.ActionCaseRead || last.Purpose != "the child's own record" {
		t.Fatalf("child record read audited as %+v", last)
	}
}

// TestConcurrentChangesOverHTTP: clients racing changes made from one
// revision: exactly one is stored, the others get 409 revision_conflict.
func TestConcurrentChangesOverHTTP(t *testing.T) {
	tn := newTestNode(t, true)
	c := tn.createCase()
	const clients = 6
	statuses := make([]int, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"revision": 1, "type": "rate_risk", "data": {"rating": "red", "stage": "review", "reason": "client %d"}}`, i)
			req, _ := http.NewRequest("POST", tn.srv.URL+"/v1/cases/"+string(c.ID)+"/events", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tn.tokens[node.RoleSocialWorker])
			req.Header.Set("Content-Type", "application/json")
			resp, err := tn.srv.Client().Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	ok := 0
	for i, st := range statuses {
		switch {
		case errs[i] != nil:
			t.Fatalf("client %d: %v", i, errs[i])
		case st == http.StatusOK:
			ok++
		case st != http.StatusConflict:
			t.Errorf("client %d: status %d, want 200 or 409", i, st)
		}
	}
	if ok != 1 {
		t.Fatalf("%d clients' changes stored from revision 1, want exactly 1 (statuses %v)", ok, statuses)
	}
	if rev := currentRevision(tn, c.ID); rev != 2 {
		t.Fatalf("case at revision %d, want 2", rev)
	}
}

// TestAssignLeadWorkerOverAPI: assign_lead_worker on the events route takes
// a user ID of the node; only an NRM coordinator may send it, and a user
// who cannot be a lead worker is a 422 that names why, the case unchanged.
func TestAssignLeadWorkerOverAPI(t *testing.T) {
	tn := newTestNode(t, false)
	c := tn.createCase()
	path := "/v1/cases/" + string(c.ID) + "/events"
	assign := func(role node.Role, rev uint64, worker string) response {
		return tn.do(role, "POST", path, map[string]any{"revision": rev, "type": "assign_lead_worker", "data": map[string]any{"lead_worker": worker}})
	}
	rev := currentRevision(tn, c.ID)
	if r := assign(node.RoleSocialWorker, rev, tn.ids[node.RoleSocialWorker]); r.status != http.StatusForbidden {
		t.Fatalf("social worker allocating: %d %s", r.status, r.body)
	}
	r := assign(node.RoleNRMCoordinator, rev, tn.ids[node.RolePanelChair])
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "a lead worker is a social worker or NRM coordinator") {
		t.Fatalf("allocating to the panel chair: %d %s", r.status, r.body)
	}
	if r := tn.do(node.RoleNRMCoordinator, "POST", path, map[string]any{"revision": rev, "type": "assign_lead_worker", "data": map[string]any{"worker": "x"}}); r.status != http.StatusBadRequest {
		t.Fatalf("unknown field in data: %d %s", r.status, r.body)
	}
	if got := currentRevision(tn, c.ID); got != rev {
		t.Fatalf("refusals moved the case from revision %d to %d", rev, got)
	}
	r = assign(node.RoleNRMCoordinator, rev, tn.ids[node.RoleNRMCoordinator])
	if r.status != http.StatusOK {
		t.Fatalf("allocating: %d %s", r.status, r.body)
	}
	var got caseResponse
	r.decode(t, &got)
	if got.Case.LeadWorker != tn.ids[node.RoleNRMCoordinator] || got.Case.Revision != rev+1 {
		t.Fatalf("after allocating: lead %q revision %d", got.Case.LeadWorker, got.Case.Revision)
	}
}
