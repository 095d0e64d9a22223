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
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// The federation route joins the role matrix (TestEveryRouteEveryRole).
func init() {
	routeCases = append(routeCases,
		routeCase{"POST", "/v1/federation/members/{authority}/accept-audit-history", node.CanTrustMembers, 200, func(*testNode, caseBody) (string, any, []string) {
			return "/v1/federation/members/CMD/accept-audit-history", map[string]any{"reason": "CMD restored from its 1 Dec backup; confirmed by phone with its NRM coordinator"}, nil
		}},
		routeCase{"GET", "/v1/federation/conflicts", node.CanSeeCheckpoint, 200, func(*testNode, caseBody) (string, any, []string) {
			return "/v1/federation/conflicts", nil, nil
		}},
	)
}

// fakeMembers is the federation's checkpoint checking as the API tests see
// it: Camden and Hackney are on the roster, and accepting is remembered.
type fakeMembers struct {
	mu       sync.Mutex
	accepted []v1.AuthorityCode
}

func (f *fakeMembers) AcceptAuditHistory(_ context.Context, m v1.AuthorityCode) error {
	if m != "CMD" && m != "HCK" {
		return fmt.Errorf("%w: %s is not a member of this region's roster in force", node.ErrInvalid, m)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accepted = append(f.accepted, m)
	return nil
}

func (f *fakeMembers) list() []v1.AuthorityCode {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]v1.AuthorityCode(nil), f.accepted...)
}

// TestAcceptAuditHistoryRoute: an administrator accepts a member's new
// audit history with a reason, which is audited with the outcome; no
// reason, this node's own authority, an unknown code or an authority not on
// the roster is a 422 that names the problem, and nothing is accepted.
func TestAcceptAuditHistoryRoute(t *testing.T) {
	tn := newTestNode(t, false)
	fm := tn.members
	path := func(m string) string { return "/v1/federation/members/" + m + "/accept-audit-history" }
	before := tn.auditSize()
	r := tn.do(node.RoleAdministrator, "POST", path("HCK"), map[string]any{"reason": "restored from backup; confirmed with HCK's IT"})
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"accepted":true`) {
		t.Fatalf("accept: %d %s", r.status, r.body)
	}
	if got := fm.list(); len(got) != 1 || got[0] != "HCK" {
		t.Fatalf("accepted %v", got)
	}
	es := tn.auditSince(before)
	if len(es) != 1 || es[0].Action != v1.ActionFederationAcceptHistory || es[0].Outcome != v1.AuditAllowed ||
		es[0].Recipient != "HCK" || !strings.Contains(es[0].Purpose, "confirmed with HCK's IT") || es[0].Actor != tn.ids[node.RoleAdministrator] {
		t.Fatalf("audited as %+v", es)
	}
	for _, tc := range []struct {
		member string
		body   any
		want   string
	}{
		{"CMD", map[string]any{}, "reason"},
		{"CMD", map[string]any{"reason": strings.Repeat("x", 201)}, "reason"},
		{string(testAuthority), map[string]any{"reason": "r"}, "own authority"},
		{"XXX", map[string]any{"reason": "r"}, "not a known authority code"},
		{"KEN", map[string]any{"reason": "r"}, "not a member of this region's roster"},
	} {
		r := tn.do(node.RoleAdministrator, "POST", path(tc.member), tc.body)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("%s %v: %d %s; want 422 saying %q", tc.member, tc.body, r.status, r.body, tc.want)
		}
	}
	if r := tn.do(node.RoleAdministrator, "POST", path("CMD"), `{"reason": "r", "force": true}`); r.status != http.StatusBadRequest {
		t.Errorf("unknown field: %d %s", r.status, r.body)
	}
	if got := fm.list(); len(got) != 1 {
		t.Errorf("refusals accepted %v", got)
	}
	// KEN's refusal by the federation is audited as failed.
	var failed int
	for _, e := range tn.auditSince(before) {
		if e.Action == v1.ActionFederationAcceptHistory && e.Outcome == v1.AuditFailed && e.Recipient == "KEN" {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d failed acceptances audited for KEN; want 1", failed)
	}
}

func FuzzDecodeAcceptHistory(f *testing.F) {
	f.Add([]byte(`{"reason":"restored from the 1 December backup; confirmed by phone"}`))
	f.Add([]byte(`{"reason":"r","force":true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := decodeAcceptHistory(b)
		checkDecodeErr(t, b, err)
	})
}

// TestCheckpointConflictsRoute: the evidence the node kept is listed with
// both heartbeats, newest first, to an auditor.
func TestCheckpointConflictsRoute(t *testing.T) {
	tn := newTestNode(t, false)
	r := tn.do(node.RoleAuditor, "GET", "/v1/federation/conflicts", nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"conflicts":[]`) {
		t.Fatalf("no conflicts: %d %s", r.status, r.body)
	}
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	for i, code := range []v1.AuthorityCode{"CMD", "HCK"} {
		e := storage.ConflictEvidence{Authority: code, At: at.Add(time.Duration(i) * time.Hour), Reason: "smaller than before",
			PreviousSize: 10, GotSize: 4, Reference: []byte("reference heartbeat"), Heartbeat: []byte("contradicting heartbeat")}
		if err := tn.store.PutConflictEvidence(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	r = tn.do(node.RoleAuditor, "GET", "/v1/federation/conflicts", nil)
	var got conflictsResponse
	r.decode(t, &got)
	if len(got.Conflicts) != 2 || got.Conflicts[0].Authority != "HCK" || string(got.Conflicts[0].Heartbeat) != "contradicting heartbeat" ||
		string(got.Conflicts[1].Reference) != "reference heartbeat" || got.Conflicts[1].PreviousSize != 10 {
		t.Fatalf("conflicts: %+v", got.Conflicts)
	}
}
