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

// The relocation routes join the role matrix (TestEveryRouteEveryRole).
func init() {
	routeCases = append(routeCases,
		routeCase{"POST", "/v1/cases/{id}/relocations", node.CanRelocate, 201, func(tn *testNode, _ caseBody) (string, any, []string) {
			c := tn.createCase() // one open relocation per case: a fresh case per call
			return "/v1/cases/" + string(c.ID) + "/relocations", map[string]any{"destination": "CMD", "reason": "child_moved", "urgency": "high"}, nil
		}},
		routeCase{"GET", "/v1/relocations", node.CanRelocate, 200, func(*testNode, caseBody) (string, any, []string) {
			return "/v1/relocations", nil, nil
		}},
		routeCase{"POST", "/v1/relocations/{id}/accept", node.CanRelocate, 200, func(tn *testNode, _ caseBody) (string, any, []string) {
			return "/v1/relocations/" + string(fakeOf(tn).offer("CMD")) + "/accept", nil, nil
		}},
		routeCase{"POST", "/v1/relocations/{id}/reject", node.CanRelocate, 200, func(tn *testNode, _ caseBody) (string, any, []string) {
			return "/v1/relocations/" + string(fakeOf(tn).offer("CMD")) + "/reject", map[string]any{"reason": "not our area"}, nil
		}},
		routeCase{"POST", "/v1/relocations/{id}/revoke", node.CanRelocate, 200, func(tn *testNode, c caseBody) (string, any, []string) {
			return "/v1/relocations/" + string(fakeOf(tn).requested(c.ID, "CMD")) + "/revoke", nil, nil
		}},
	)
}

// fakeHandovers is the federation's relocation service as the API tests
// see it: the hand-over records of this side, with the rules of who may
// decide what. The real service is exercised between two whole nodes in
// package node (TestRelocationBetweenTwoNodes).
type fakeHandovers struct {
	mu sync.Mutex
	hs map[v1.ID]node.Relocation
}

// fakes maps a test node to its fake service.
var fakes sync.Map // *node.Node -> *fakeHandovers

func fakeOf(tn *testNode) *fakeHandovers {
	f, ok := fakes.Load(tn.node)
	if !ok {
		tn.t.Fatal("the test node has no relocation service")
	}
	return f.(*fakeHandovers)
}

// newTestRelocations returns the node's relocation desk on a fake service.
func newTestRelocations(t testing.TB, n *node.Node, s *storage.Store) *node.Relocations {
	f := &fakeHandovers{hs: map[v1.ID]node.Relocation{}}
	fakes.Store(n, f)
	t.Cleanup(func() { fakes.Delete(n) })
	cfg := node.DefaultRelocationsConfig()
	cfg.Node, cfg.Store, cfg.Service, cfg.Logger = n, s, f, testLogger(t)
	rl, err := node.NewRelocations(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rl
}

func fakeRequest(c v1.CaseID, origin, dest v1.AuthorityCode) v1.RelocationRequest {
	return v1.RelocationRequest{ID: v1.NewID(), CaseRef: c, Origin: origin, Destination: dest,
		RequestedAt: time.Now().UTC(), Reason: v1.ReasonChildMoved, Urgency: v1.UrgencyHigh,
		AgeBand: v1.Age13To15, Sex: v1.SexFemale, NRMState: v1.StateReceived, LegalBasis: v1.BasisSafeguardingChildren}
}

// offer records an offer from origin to this authority and returns its ID.
func (f *fakeHandovers) offer(origin v1.AuthorityCode) v1.ID {
	req := fakeRequest(v1.NewCaseID(origin), origin, testAuthority)
	f.put(node.Relocation{Request: req, Side: node.SideDestination, State: node.RelocationStateOffered, Updated: time.Now()})
	return req.ID
}

// requested records a request from this authority and returns its ID.
func (f *fakeHandovers) requested(c v1.CaseID, dest v1.AuthorityCode) v1.ID {
	req := fakeRequest(c, testAuthority, dest)
	f.put(node.Relocation{Request: req, Side: node.SideOrigin, State: node.RelocationStateRequested, Updated: time.Now()})
	return req.ID
}

func (f *fakeHandovers) put(h node.Relocation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hs[h.Request.ID] = h
}

func (f *fakeHandovers) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.hs)
}

func (f *fakeHandovers) Request(_ context.Context, _ string, req v1.RelocationRequest) (node.Relocation, error) {
	if err := req.Validate(); err != nil {
		return node.Relocation{}, fmt.Errorf("%w: %w", node.ErrInvalid, err)
	}
	h := node.Relocation{Request: req, Side: node.SideOrigin, State: node.RelocationStateRequested, Updated: time.Now()}
	f.put(h)
	return h, nil
}

func (f *fakeHandovers) decide(id v1.ID, side node.RelocationSide, d v1.RelocationDecision, reason string, next node.RelocationState) (node.Relocation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.hs[id]
	switch {
	case !ok:
		return node.Relocation{}, fmt.Errorf("%w: no hand-over %s", node.ErrNotFound, id)
	case h.Side != side:
		return node.Relocation{}, fmt.Errorf("%w: wrong side", node.ErrForbidden)
	case h.State != node.RelocationStateOffered && h.State != node.RelocationStateRequested:
		return node.Relocation{}, fmt.Errorf("%w: hand-over is %s", node.ErrNotAllowedNow, h.State)
	}
	h.State, h.Updated = next, time.Now()
	h.Decision = &v1.RelocationResponse{RequestID: id, Decision: d, By: testAuthority, At: time.Now().UTC(), Reason: reason}
	f.hs[id] = h
	return h, nil
}

func (f *fakeHandovers) Accept(_ context.Context, _ string, id v1.ID) (node.Relocation, error) {
	return f.decide(id, node.SideDestination, v1.RelocationAccept, "", node.RelocationStateAccepted)
}

func (f *fakeHandovers) Reject(_ context.Context, _ string, id v1.ID, reason string) (node.Relocation, error) {
	return f.decide(id, node.SideDestination, v1.RelocationReject, reason, node.RelocationStateRejected)
}

func (f *fakeHandovers) Revoke(_ context.Context, _ string, id v1.ID, reason string) (node.Relocation, error) {
	return f.decide(id, node.SideOrigin, v1.RelocationRevoke, reason, node.RelocationStateRevoked)
}

func (f *fakeHandovers) Get(_ context.Context, id v1.ID) (node.Relocation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.hs[id]
	if !ok {
		return node.Relocation{}, fmt.Errorf("%w: no hand-over %s", node.ErrNotFound, id)
	}
	return h, nil
}

func (f *fakeHandovers) List(context.Context) ([]node.Relocation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]node.Relocation, 0, len(f.hs))
	for _, h := range f.hs {
		out = append(out, h)
	}
	return out, nil
}

// A request over HTTP builds the minimal request from the case; the list
// shows it in the outbox; the origin cannot accept its own request, and a
// request accepted by the destination cannot be revoked.
func TestRelocationRoutes(t *testing.T) {
	tn := newTestNode(t, false)
	c := tn.createCase()
	r := tn.do(node.RoleSocialWorker, "POST", "/v1/cases/"+string(c.ID)+"/relocations",
		map[string]any{"destination": "CMD", "reason": "placement", "urgency": "standard"})
	if r.status != http.StatusCreated {
		t.Fatalf("request: %d %s", r.status, r.body)
	}
	var got relocationView
	r.decode(t, &got)
	if got.Case != c.ID || got.Origin != testAuthority || got.Destination != "CMD" || got.Side != node.SideOrigin ||
		got.State != node.RelocationStateRequested || got.AgeBand == "" || got.LegalBasis != v1.BasisSafeguardingChildren {
		t.Fatalf("request view: %+v", got)
	}
	// A second request for the same case is refused while the first is open.
	r = tn.do(node.RoleSocialWorker, "POST", "/v1/cases/"+string(c.ID)+"/relocations",
		map[string]any{"destination": "HCK", "reason": "placement", "urgency": "standard"})
	if r.status != http.StatusConflict || r.errorCode() != "not_allowed_now" {
		t.Fatalf("second request: %d %s", r.status, r.body)
	}

	r = tn.do(node.RoleNRMCoordinator, "GET", "/v1/relocations", nil)
	var list relocationsResponse
	r.decode(t, &list)
	if r.status != 200 || len(list.Outbox) != 1 || list.Outbox[0].ID != got.ID || len(list.Inbox) != 0 {
		t.Fatalf("list: %d %+v", r.status, list)
	}

	// Only the destination accepts or rejects; only the origin revokes.
	before := tn.auditSize()
	r = tn.do(node.RoleSocialWorker, "POST", "/v1/relocations/"+string(got.ID)+"/accept", nil)
	if r.status != http.StatusForbidden || !strings.Contains(string(r.body), "destination") {
		t.Fatalf("origin accepts: %d %s", r.status, r.body)
	}
	if es := tn.auditSince(before); len(es) != 1 || es[0].Outcome != v1.AuditDenied || es[0].Action != v1.ActionRelocationAccept {
		t.Fatalf("refusal audited as %+v", es)
	}
	offer := fakeOf(tn).offer("CMD")
	if r = tn.do(node.RoleSocialWorker, "POST", "/v1/relocations/"+string(offer)+"/revoke", nil); r.status != http.StatusForbidden {
		t.Fatalf("destination revokes: %d %s", r.status, r.body)
	}
	if r = tn.do(node.RoleSocialWorker, "POST", "/v1/relocations/"+string(offer)+"/reject", map[string]any{}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("reject without a reason: %d %s", r.status, r.body)
	}
	if r = tn.do(node.RoleSocialWorker, "POST", "/v1/relocations/"+string(v1.NewID())+"/accept", nil); r.status != http.StatusNotFound {
		t.Fatalf("accept unknown: %d %s", r.status, r.body)
	}

	// Accepted on the far side: revoking is refused.
	f := fakeOf(tn)
	h, _ := f.Get(context.Background(), got.ID)
	h.State = node.RelocationStateAccepted
	f.put(h)
	r = tn.do(node.RoleNRMCoordinator, "POST", "/v1/relocations/"+string(got.ID)+"/revoke", map[string]any{"reason": "changed plan"})
	if r.status != http.StatusConflict || !strings.Contains(string(r.body), "cannot be revoked") {
		t.Fatalf("revoke after accept: %d %s", r.status, r.body)
	}
	if h, _ := f.Get(context.Background(), got.ID); h.State != node.RelocationStateAccepted {
		t.Fatalf("a refused revoke changed the hand-over: %s", h.State)
	}

	// A stale offer and a failed hand-over are marked for people.
	old := fakeOf(tn).offer("HCK")
	h, _ = f.Get(context.Background(), old)
	h.Updated = tn.clock.Now().Add(-2 * node.DefaultStaleAfter)
	f.put(h)
	r = tn.do(node.RoleNRMCoordinator, "GET", "/v1/relocations", nil)
	r.decode(t, &list)
	for _, v := range list.Inbox {
		if (v.ID == old) != v.NeedsAttention || (v.ID == old) != v.Stale {
			t.Fatalf("inbox item %s: stale %v needs_attention %v", v.ID, v.Stale, v.NeedsAttention)
		}
	}
}

// Hostile bodies on the relocation routes get a clear 4xx naming the
// problem, and change neither the store nor the hand-overs.
func TestRelocationHostileBodies(t *testing.T) {
	tn := newTestNode(t, true)
	c := tn.createCase()
	f := fakeOf(tn)
	offer := f.offer("CMD")
	req := f.requested(c.ID, "HCK")
	type attempt struct {
		name, path, body string
		status           int
		code, names      string
	}
	reloc := "/v1/cases/" + string(c.ID) + "/relocations"
	attempts := []attempt{
		{"not json", reloc, "hello", 400, "invalid_json", "not valid JSON"},
		{"two objects", reloc, `{} {}`, 400, "invalid_json", "more than one"},
		{"a name smuggled in", reloc, `{"destination": "CMD", "reason": "child_moved", "urgency": "high", "name": "Amira"}`, 400, "unknown_field", "name"},
		{"a date of birth smuggled in", reloc, `{"destination": "CMD", "reason": "child_moved", "urgency": "high", "dob": "2010-01-01"}`, 400, "unknown_field", "dob"},
		{"duplicate destination", reloc, `{"destination": "CMD", "destination": "HCK", "reason": "child_moved", "urgency": "high"}`, 400, "duplicate_field", "destination"},
		{"wrong type", reloc, `{"destination": 7, "reason": "child_moved", "urgency": "high"}`, 400, "invalid_field", "destination"},
		{"unknown authority", reloc, `{"destination": "ZZZ", "reason": "child_moved", "urgency": "high"}`, 422, "invalid", "destination"},
		{"own authority", reloc, `{"destination": "ISL", "reason": "child_moved", "urgency": "high"}`, 422, "invalid", "destination"},
		{"unknown reason", reloc, `{"destination": "CMD", "reason": "whim", "urgency": "high"}`, 422, "invalid", "reason"},
		{"move date as a date of birth", reloc, `{"destination": "CMD", "reason": "child_moved", "urgency": "high", "move_date": "2010-01-01"}`, 422, "invalid", "move_date"},
		{"bad legal basis", reloc, `{"destination": "CMD", "reason": "child_moved", "urgency": "high", "legal_basis": "because"}`, 422, "invalid", "legal_basis"},
		{"bad case id", "/v1/cases/..%2Fetc/relocations", `{"destination": "CMD", "reason": "child_moved", "urgency": "high"}`, 422, "invalid", "case id"},
		{"accept with fields", "/v1/relocations/" + string(offer) + "/accept", `{"conditions": "none"}`, 400, "unknown_field", "conditions"},
		{"reject too long", "/v1/relocations/" + string(offer) + "/reject", `{"reason": "` + strings.Repeat("r", 5*v1.MaxShortText+1) + `"}`, 422, "invalid", "reason"},
		{"reject control characters", "/v1/relocations/" + string(offer) + "/reject", `{"reason": "no\u0007"}`, 422, "invalid", "reason"},
		{"reject extra field", "/v1/relocations/" + string(offer) + "/reject", `{"reason": "x", "share": true}`, 400, "unknown_field", "share"},
		{"revoke reason not text", "/v1/relocations/" + string(req) + "/revoke", `{"reason": ["x"]}`, 400, "invalid_field", "reason"},
		{"bad relocation id", "/v1/relocations/not-an-id/accept", ``, 422, "invalid", "relocation id"},
		{"oversize", "/v1/relocations/" + string(offer) + "/reject", `{"reason": "` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`, 413, codeBodyTooLarge, "limit"},
	}
	for _, a := range attempts {
		t.Run(a.name, func(t *testing.T) {
			tn.t = t
			before := tn.state(c)
			handovers := f.count()
			from := tn.auditSize()
			r := tn.do(node.RoleSocialWorker, "POST", a.path, a.body)
			if r.status != a.status || r.errorCode() != a.code {
				t.Fatalf("status %d code %q (%s), want %d %q", r.status, r.errorCode(), truncateBody(r.body), a.status, a.code)
			}
			if !strings.Contains(string(r.body), a.names) {
				t.Fatalf("message %s does not name %q", truncateBody(r.body), a.names)
			}
			if after := tn.state(c); after != before {
				t.Fatalf("store changed: %+v -> %+v", before, after)
			}
			if f.count() != handovers {
				t.Fatal("a hand-over was recorded")
			}
			for _, id := range []v1.ID{offer, req} {
				if h, _ := f.Get(context.Background(), id); h.Decision != nil {
					t.Fatalf("hand-over %s was decided", id)
				}
			}
			tn.checkNoWrites(from)
		})
	}
}

// Without a relocation service the routes answer 503.
func TestRelocationRoutesOffWithoutFederation(t *testing.T) {
	s, err := New(Config{Node: &node.Node{}, MaxBodyBytes: DefaultMaxBodyBytes})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.relocationsOrUnavailable(); err == nil {
		t.Fatal("no error without a relocation service")
	} else if code, _ := status(err); code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", code)
	}
}
