package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"nrmnet/node"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// storeState is what a refused write must leave unchanged.
type storeState struct {
	cases    int
	revision uint64
	users    int
}

func (tn *testNode) state(c caseBody) storeState {
	tn.t.Helper()
	users, err := tn.store.Users()
	if err != nil {
		tn.t.Fatal(err)
	}
	return storeState{cases: tn.store.CaseCount(), revision: currentRevision(tn, c.ID), users: len(users)}
}

// checkNoWrites fails if the audit log since from records any change: only
// reads (the node reads a case before refusing a change to it, and the
// test's own reads) and refused writes may be there.
func (tn *testNode) checkNoWrites(from int64) {
	tn.t.Helper()
	for _, e := range tn.auditSince(from) {
		if e.Action == v1.ActionCaseRead || e.Outcome != v1.AuditAllowed {
			continue
		}
		tn.t.Errorf("audit log records a change: %+v", e)
	}
}

// TestHostileBodiesChangeNothing sends malformed, oversize and hostile
// bodies to every write route: each gets a clear 4xx JSON error naming the
// problem, and the store (cases, revisions, users, audit log) is unchanged.
func TestHostileBodiesChangeNothing(t *testing.T) {
	tn := newTestNode(t, true)
	c := tn.createCase()
	if _, _, err := tn.store.CreateUser(context.Background(), storage.User{ID: "target", Name: "T", Role: "social_worker", Authority: testAuthority}, storage.Access{Actor: "node"}); err != nil {
		t.Fatal(err)
	}
	task := tn.openTask(c.ID)
	big := `{"views": "` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	type attempt struct {
		name   string
		body   string
		ctype  string // "" means application/json
		status int
		code   string
		names  string // the message must contain this
	}
	generic := []attempt{
		{"empty", "", "", 400, "invalid_json", "empty"},
		{"not json", "hello", "", 400, "invalid_json", "not valid JSON"},
		{"truncated", `{"revision": 1, "type": "rate`, "", 400, "invalid_json", ""},
		{"array", `[1,2,3]`, "", 400, "invalid_json", "object"},
		{"two objects", `{} {}`, "", 400, "invalid_json", "more than one"},
		{"trailing garbage", `{}x`, "", 400, "invalid_json", ""},
		{"deep nesting", deep, "", 400, "invalid_json", "nested"},
		{"oversize", big, "", 413, codeBodyTooLarge, "limit"},
		{"wrong content type", `{}`, "text/plain", 415, codeUnsupportedMedia, "application/json"},
		{"nul bytes", "{\"a\x00\": 1}", "", 400, "invalid_json", ""},
	}
	routes := []struct {
		path     string
		role     node.Role
		specific []attempt
	}{
		{"/v1/cases", node.RoleSocialWorker, []attempt{
			{"unknown field", `{"identity": {"names": [], "sex": "male", "shoe_size": 9}}`, "", 400, "unknown_field", "shoe_size"},
			{"duplicate field", `{"risk": "green", "risk": "red"}`, "", 400, "duplicate_field", "risk"},
			{"nested duplicate", `{"identity": {"sex": "male", "sex": "female"}}`, "", 400, "duplicate_field", "identity.sex"},
			{"wrong type", `{"risk": 3}`, "", 400, "invalid_field", "risk"},
			{"bad time", `{"referral": {"referred_at": "yesterday"}}`, "", 400, "invalid_field", "RFC 3339"},
			{"invalid referral", `{"identity": {"names": [{"kind": "used", "given": "A"}], "sex": "male"}, "risk": "red", "referral": {}}`, "", 422, "invalid", "referral.referred_at"},
			{"control characters", `{"identity": {"names": [{"kind": "used", "given": "A\u0007"}], "sex": "male"}, "risk": "red"}`, "", 422, "invalid", "identity.names[0].given"},
			{"script in a name", `{"identity": {"names": [{"kind": "used", "given": "<script>"}], "sex": "nope"}, "risk": "red"}`, "", 422, "invalid", "identity.sex"},
		}},
		{"/v1/cases/" + string(c.ID) + "/events", node.RoleNRMCoordinator, []attempt{
			{"no revision", `{"type": "start_scope_check"}`, "", 400, "invalid_field", "revision"},
			{"no type", `{"revision": 1}`, "", 400, "invalid_field", "type"},
			{"unknown type", `{"revision": 1, "type": "delete_everything"}`, "", 400, "invalid_field", "delete_everything"},
			{"transfer out", `{"revision": 1, "type": "transfer_out", "data": {"to": "CMD"}}`, "", 400, "invalid_field", "transfer_out"},
			{"unknown data field", `{"revision": 1, "type": "rate_risk", "data": {"rating": "red", "colour": "red"}}`, "", 400, "unknown_field", "colour"},
			{"data for no-data event", `{"revision": 1, "type": "start_scope_check", "data": {"x": 1}}`, "", 400, "unknown_field", "x"},
			{"missing required", `{"revision": 1, "type": "record_scope", "data": {"reason": "r"}}`, "", 400, "invalid_field", "in_scope"},
			{"negative revision", `{"revision": -1, "type": "start_scope_check"}`, "", 400, "invalid_field", "revision"},
			{"huge revision", `{"revision": 1e30, "type": "start_scope_check"}`, "", 400, "invalid_field", "revision"},
			{"invalid event", `{"revision": 1, "type": "rate_risk", "data": {"rating": "purple", "stage": "review"}}`, "", 422, "invalid", "purple"},
			{"stale revision", `{"revision": 7, "type": "start_scope_check"}`, "", 409, "revision_conflict", "revision"},
		}},
		{"/v1/cases/" + string(c.ID) + "/views", node.RoleAdvocate, []attempt{
			{"no views", `{"how_considered": "x"}`, "", 400, "invalid_field", "views"},
			{"unknown field", `{"views": "v", "author": "me"}`, "", 400, "unknown_field", "author"},
			{"views too long", `{"views": "` + strings.Repeat("y", 20001) + `"}`, "", 422, "invalid", "views"},
		}},
		{"/v1/users", node.RoleAdministrator, []attempt{
			{"unknown role", `{"id": "x", "name": "X", "role": "root"}`, "", 422, "invalid", "root"},
			{"bad id", `{"id": "../etc", "name": "X", "role": "auditor"}`, "", 422, "invalid", "user id"},
			{"taken id", `{"id": "target", "name": "X", "role": "auditor"}`, "", 409, "already_exists", "target"},
			{"extra field", `{"id": "x", "name": "X", "role": "auditor", "token": "mine"}`, "", 400, "unknown_field", "token"},
		}},
		{"/v1/cases/" + string(c.ID) + "/alerts", node.RoleSocialWorker, []attempt{
			{"a name smuggled in", `{"type": "missing", "urgency": "high", "contact": "duty_desk", "target_authorities": ["CMD"], "name": "Amira"}`, "", 400, "unknown_field", "name"},
			{"a date of birth smuggled in", `{"type": "missing", "urgency": "high", "contact": "duty_desk", "national": true, "date_of_birth": "2010-01-01"}`, "", 400, "unknown_field", "date_of_birth"},
			{"lifetime too long", `{"type": "missing", "urgency": "high", "contact": "duty_desk", "national": true, "lifetime_hours": 100000}`, "", 400, "invalid_field", "lifetime_hours"},
			{"targets not a list", `{"type": "missing", "urgency": "high", "contact": "duty_desk", "target_authorities": "CMD"}`, "", 400, "invalid_field", "target_authorities"},
			{"no targets", `{"type": "missing", "urgency": "high", "contact": "duty_desk"}`, "", 422, "invalid", "targets"},
			{"unknown type", `{"type": "kidnap", "urgency": "high", "contact": "duty_desk", "national": true}`, "", 422, "invalid", "type"},
			{"own authority", `{"type": "missing", "urgency": "high", "contact": "duty_desk", "target_authorities": ["ISL"]}`, "", 422, "invalid", "targets"},
			{"unknown region", `{"type": "missing", "urgency": "high", "contact": "duty_desk", "target_regions": ["Atlantis"]}`, "", 422, "invalid", "regions"},
			{"unknown authority", `{"type": "missing", "urgency": "high", "contact": "duty_desk", "target_authorities": ["ZZZ"]}`, "", 422, "invalid", "targets"},
		}},
		{"/v1/tasks/" + string(task.ID) + "/resolve", node.RoleSocialWorker, []attempt{
			{"unknown resolution", `{"resolution": "share_everything", "reason": "x"}`, "", 400, "invalid_field", "resolution"},
			{"no reason", `{"resolution": "same_child"}`, "", 400, "invalid_field", "reason"},
			{"extra field", `{"resolution": "same_child", "reason": "x", "share": true}`, "", 400, "unknown_field", "share"},
			{"reason too long", `{"resolution": "same_child", "reason": "` + strings.Repeat("r", 501) + `"}`, "", 422, "invalid", "reason"},
		}},
		{"/v1/users/target/revoke", node.RoleAdministrator, []attempt{
			{"body with fields", `{"reason": "left"}`, "", 400, "unknown_field", "reason"},
		}},
		{"/v1/federation/members/CMD/accept-audit-history", node.RoleAdministrator, []attempt{
			{"no reason", `{}`, "", 422, "invalid", "reason"},
			{"reason not text", `{"reason": 7}`, "", 400, "invalid_field", "reason"},
			{"extra field", `{"reason": "r", "trust_forever": true}`, "", 400, "unknown_field", "trust_forever"},
			{"reason too long", `{"reason": "` + strings.Repeat("r", 201) + `"}`, "", 422, "invalid", "reason"},
		}},
	}
	for _, rt := range routes {
		all := append(slices.Clone(generic), rt.specific...)
		for _, a := range all {
			if strings.HasSuffix(rt.path, "/revoke") && a.name == "empty" {
				continue // an empty body is the normal call
			}
			t.Run(rt.path+"/"+a.name, func(t *testing.T) {
				tn.t = t
				before := tn.state(c)
				from := tn.auditSize()
				headers := []string{}
				if a.ctype != "" {
					headers = append(headers, "Content-Type", a.ctype)
				}
				r := tn.do(rt.role, "POST", rt.path, a.body, headers...)
				if r.status != a.status || r.errorCode() != a.code {
					t.Fatalf("status %d code %q (%s), want %d %q", r.status, r.errorCode(), truncateBody(r.body), a.status, a.code)
				}
				if !strings.Contains(string(r.body), a.names) {
					t.Fatalf("message %s does not name %q", truncateBody(r.body), a.names)
				}
				if after := tn.state(c); after != before {
					t.Fatalf("store changed: %+v -> %+v", before, after)
				}
				tn.checkNoWrites(from)
			})
		}
	}
	tn.t = t
	if r := tn.do(node.RoleAdministrator, "POST", "/v1/users/target/revoke", ""); r.status != http.StatusOK {
		t.Fatalf("a plain revoke after all that: %d %s", r.status, r.body)
	}
}

func truncateBody(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}
