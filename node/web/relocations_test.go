package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"nrmnet/node"
	v1 "nrmnet/schemas/v1"
)

const (
	offerID     v1.ID = "0123456789abcdef0123456789abcd01"
	requestID   v1.ID = "0123456789abcdef0123456789abcd02"
	completedID v1.ID = "0123456789abcdef0123456789abcd03"
)

// relocationCall is one decision the fake desk was asked for.
type relocationCall struct {
	Action string
	Who    Principal
	ID     v1.ID
	Reason string
}

// fakeRelocations is a RelocationDesk that records decisions and refuses
// what the node would: an auditor, and a decision on a finished hand-over.
type fakeRelocations struct {
	list  node.RelocationList
	calls []relocationCall
}

func (f *fakeRelocations) Relocations(_ context.Context, who Principal) (*node.RelocationList, error) {
	if who.Role == "auditor" {
		return nil, fmt.Errorf("%w: role auditor may not see relocations", node.ErrForbidden)
	}
	return &f.list, nil
}

func (f *fakeRelocations) decide(action string, who Principal, id v1.ID, reason string) (node.Relocation, error) {
	f.calls = append(f.calls, relocationCall{action, who, id, reason})
	switch id {
	case offerID, requestID:
		return node.Relocation{}, nil
	case completedID:
		return node.Relocation{}, fmt.Errorf("%w: relocation hand-over already finished", node.ErrNotAllowedNow)
	}
	return node.Relocation{}, fmt.Errorf("relocation %s: %w", id, node.ErrNotFound)
}

func (f *fakeRelocations) AcceptRelocation(_ context.Context, who Principal, id v1.ID) (node.Relocation, error) {
	return f.decide("accept", who, id, "")
}

func (f *fakeRelocations) RejectRelocation(_ context.Context, who Principal, id v1.ID, reason string) (node.Relocation, error) {
	return f.decide("reject", who, id, reason)
}

func (f *fakeRelocations) RevokeRelocation(_ context.Context, who Principal, id v1.ID, reason string) (node.Relocation, error) {
	return f.decide("revoke", who, id, reason)
}

func relocationFixture() node.RelocationList {
	req := func(id v1.ID, from, to v1.AuthorityCode) v1.RelocationRequest {
		return v1.RelocationRequest{ID: id, CaseRef: "CMD-3f9a0c1b2d4e5f60", Origin: from, Destination: to,
			RequestedAt: testNow.Add(-2 * time.Hour), Reason: v1.ReasonChildMoved, Urgency: v1.UrgencyHigh,
			ProtectionPlan: true, AgeBand: "13-15", Sex: v1.SexFemale, Exploitation: []v1.ExploitationType{v1.ExploitationCriminal},
			CountyLines: true, NRMState: v1.StateReceived, LegalBasis: v1.BasisSafeguardingChildren}
	}
	return node.RelocationList{
		Inbox: []node.Relocation{
			{Request: req(offerID, "CMD", "ISL"), Side: node.SideDestination, State: node.RelocationStateOffered, Acked: true, Updated: testNow.Add(-time.Hour)},
			{Request: req(completedID, "CMD", "ISL"), Side: node.SideDestination, State: node.RelocationStateCompleted, Acked: true, Updated: testNow.Add(-time.Hour),
				Decision: &v1.RelocationResponse{RequestID: completedID, Decision: v1.RelocationAccept, By: "ISL", At: testNow.Add(-time.Hour)}},
		},
		Outbox: []node.Relocation{
			{Request: req(requestID, "ISL", "HCK"), Side: node.SideOrigin, State: node.RelocationStateRequested, Stale: true, Updated: testNow.Add(-100 * time.Hour)},
		},
	}
}

// The page lists the inbox and the outbox with what each request says (no
// identity: there is none to show), offers accept and reject on an offer,
// revoke on a pending request, and no form on a finished hand-over; every
// form control has a label.
func TestRelocationsPageListsInboxAndOutbox(t *testing.T) {
	desk := &fakeRelocations{list: relocationFixture()}
	s := newTestServer(t, func(c *Config) { c.Auth, c.Relocations = testUsers, desk })
	res, body := getAs(t, s, "/relocations", signedIn(t, s))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /relocations: %d", res.StatusCode)
	}
	mustContain(t, body, "Inbox: offers to take a case (2)", "Outbox: our requests (1)",
		`data-relocation="`+string(offerID)+`" data-state="offered"`, `data-state="completed"`, `data-state="requested"`,
		`action="/relocations/`+string(offerID)+`/accept"`, `action="/relocations/`+string(offerID)+`/reject"`,
		`action="/relocations/`+string(requestID)+`/revoke"`,
		`<label for="reject-reason-`+string(offerID)+`">`, `id="reject-reason-`+string(offerID)+`"`,
		`<label for="revoke-reason-`+string(requestID)+`">`, `id="revoke-reason-`+string(requestID)+`"`,
		"Camden to Islington", "Islington to Hackney", "child moved", "13-15, female", "on a child protection plan",
		"criminal; county lines", "Received", "waiting too long", "Accepted by Islington",
		`<a href="/cases/CMD-3f9a0c1b2d4e5f60"><code>CMD-3f9a0c1b2d4e5f60</code></a> at Camden; now held here`,
		`<a href="/relocations" aria-current="page">Relocations</a>`)
	for _, absent := range []string{
		`action="/relocations/` + string(completedID),
		`action="/relocations/` + string(requestID) + `/accept"`,
		`action="/relocations/` + string(offerID) + `/revoke"`,
	} {
		if strings.Contains(body, absent) {
			t.Errorf("the page offers %s", absent)
		}
	}

	_, body = getAs(t, s, "/relocations?done=accepted&id="+string(offerID), signedIn(t, s))
	mustContain(t, body, `id="relocation-notice"`, string(offerID)+"</code> accepted")
	for _, q := range []string{"?done=<script>&id=" + string(offerID), "?done=accepted&id=<b>"} {
		_, body = getAs(t, s, "/relocations"+q, signedIn(t, s))
		if strings.Contains(body, "relocation-notice") || strings.Contains(body, "<script") || strings.Contains(body, "<b>") {
			t.Errorf("GET /relocations%s: a notice or the raw query reached the page", q)
		}
	}

	if res, _ := getAs(t, s, "/relocations", http.Header{"Cookie": {sessionFor(t, s, "nrmnet_auditor")}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("auditor: %d, want 403", res.StatusCode)
	}
	if res, _ := getAs(t, s, "/relocations", http.Header{}); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("not signed in: %d, want 401 (the sign-in form)", res.StatusCode)
	}
	empty := newTestServer(t, func(c *Config) { c.Auth, c.Relocations = testUsers, &fakeRelocations{} })
	_, body = getAs(t, empty, "/relocations", signedIn(t, empty))
	mustContain(t, body, "No offers.", "No requests.")
	off := newTestServer(t, func(c *Config) { c.Auth = testUsers })
	if res, _ := getAs(t, off, "/relocations", signedIn(t, off)); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("without a desk: %d, want 503", res.StatusCode)
	}
}

// The forms decide for the signed-in user and come back to the page with a
// notice; a rejection needs a reason; a cross-site post, a bad reason, an
// unknown action or ID never reach the node; the node's refusals are pages
// with the right status.
func TestRelocationDecisionForms(t *testing.T) {
	desk := &fakeRelocations{list: relocationFixture()}
	s := newTestServer(t, func(c *Config) { c.Auth, c.Relocations = testUsers, desk })
	post := func(path string, form url.Values, h http.Header) *http.Response {
		t.Helper()
		return postForm(t, s, path, form, h)
	}
	res := post("/relocations/"+string(offerID)+"/accept", nil, signedIn(t, s))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/relocations?done=accepted&id="+string(offerID) {
		t.Fatalf("accept: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	res = post("/relocations/"+string(offerID)+"/reject", url.Values{"reason": {"  no placement here  "}}, signedIn(t, s))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/relocations?done=rejected&id="+string(offerID) {
		t.Fatalf("reject: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	res = post("/relocations/"+string(requestID)+"/revoke", nil, signedIn(t, s))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/relocations?done=revoked&id="+string(requestID) {
		t.Fatalf("revoke: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	want := []relocationCall{
		{"accept", Principal{UserID: "isl.sw", Role: "social_worker"}, offerID, ""},
		{"reject", Principal{UserID: "isl.sw", Role: "social_worker"}, offerID, "no placement here"},
		{"revoke", Principal{UserID: "isl.sw", Role: "social_worker"}, requestID, ""},
	}
	if fmt.Sprint(desk.calls) != fmt.Sprint(want) {
		t.Fatalf("calls %+v, want %+v", desk.calls, want)
	}

	cross := signedIn(t, s)
	cross.Set("Sec-Fetch-Site", "cross-site")
	for _, tc := range []struct {
		name   string
		path   string
		form   url.Values
		header http.Header
		want   int
	}{
		{"cross-site", "/relocations/" + string(offerID) + "/accept", nil, cross, http.StatusForbidden},
		{"reject without a reason", "/relocations/" + string(offerID) + "/reject", url.Values{"reason": {"   "}}, signedIn(t, s), http.StatusBadRequest},
		{"reason too long", "/relocations/" + string(offerID) + "/reject", url.Values{"reason": {strings.Repeat("x", 1001)}}, signedIn(t, s), http.StatusBadRequest},
		{"reason with a control character", "/relocations/" + string(requestID) + "/revoke", url.Values{"reason": {"a\x07b"}}, signedIn(t, s), http.StatusBadRequest},
		{"unknown action", "/relocations/" + string(offerID) + "/approve", nil, signedIn(t, s), http.StatusNotFound},
		{"bad ID", "/relocations/not-an-id/accept", nil, signedIn(t, s), http.StatusNotFound},
	} {
		if res := post(tc.path, tc.form, tc.header); res.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, res.StatusCode, tc.want)
		}
	}
	if len(desk.calls) != len(want) {
		t.Fatalf("forms with problems reached the node: %+v", desk.calls[len(want):])
	}
	if res := post("/relocations/"+string(completedID)+"/accept", nil, signedIn(t, s)); res.StatusCode != http.StatusConflict {
		t.Errorf("accept a finished hand-over: %d, want 409", res.StatusCode)
	}
	if res := post("/relocations/0123456789abcdef0123456789abcdff/accept", nil, signedIn(t, s)); res.StatusCode != http.StatusNotFound {
		t.Errorf("accept an unknown hand-over: %d, want 404", res.StatusCode)
	}
}

// FuzzRelocationForms sends arbitrary decision forms and inbox queries: the
// answer is a page, never a 5xx, and input never comes back unescaped.
func FuzzRelocationForms(f *testing.F) {
	f.Add("POST", "/relocations/"+string(offerID)+"/accept", "")
	f.Add("POST", "/relocations/"+string(offerID)+"/reject", "reason=no+placement+here")
	f.Add("POST", "/relocations/"+string(requestID)+"/revoke", "reason=%00%ff<script>")
	f.Add("POST", "/relocations/..%2f/accept", "")
	f.Add("GET", "/relocations?done=revoked&id=<script>", "")
	desk := &fakeRelocations{list: relocationFixture()}
	cfg := DefaultConfig()
	cfg.Authority = "ISL"
	cfg.Region = fakeRegion{view: func(context.Context) (RegionView, error) { return regionFixture(), nil }}
	cfg.Relocations = desk
	cfg.DemoPrincipal = &Principal{UserID: "demo", Role: "social_worker"}
	cfg.Now = func() time.Time { return testNow }
	s, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, target, body string) {
		if method != http.MethodPost {
			method = http.MethodGet
		}
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(target, "/") {
			return
		}
		req := httptest.NewRequest(method, "/", strings.NewReader(body))
		req.URL, req.RequestURI = u, target
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d", method, target, rec.Code)
		}
		if strings.Contains(rec.Body.String(), "<script") {
			t.Fatalf("%s %s: a script tag reached the page", method, target)
		}
	})
}
