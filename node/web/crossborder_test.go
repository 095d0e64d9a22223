package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"nrmnet/node"
	"nrmnet/node/workflow"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

const testCase v1.CaseID = "ISL-3f9a0c1b2d4e5f60"

// fakeCaseFiles is a CaseReader that records the purposes it was given and
// refuses what the node would refuse.
type fakeCaseFiles struct {
	purposes []string
}

func (f *fakeCaseFiles) Case(_ context.Context, who Principal, id v1.CaseID, purpose string) (*node.CaseRecord, error) {
	f.purposes = append(f.purposes, purpose)
	switch {
	case purpose == "":
		return nil, node.ErrNoPurpose
	case who.Role == "auditor":
		return nil, fmt.Errorf("%w: role auditor may not read cases", node.ErrForbidden)
	case id != testCase:
		return nil, fmt.Errorf("case %s: %w", id, node.ErrNotFound)
	}
	return testRecord(), nil
}

// testRecord is a case whose identity and free text hold canaries, which
// the case page must never show.
func testRecord() *node.CaseRecord {
	c := &v1.Case{
		ID: testCase, State: v1.CaseState("rg_pending"), Responsible: "ISL", LeadWorker: "isl.sw", Revision: 3,
		CreatedAt: testNow.Add(-72 * time.Hour), UpdatedAt: testNow.Add(-time.Hour),
		Identity: v1.ChildIdentity{Names: []v1.PersonName{{Given: "Canaryqx", Family: "Wexfordian"}}},
		Referral: v1.Referral{ReferredAt: testNow.Add(-96 * time.Hour), FirstResponderType: "local_authority", PresentingIssue: "canary issue zq"},
		Risk:     []v1.RiskRating{{Rating: "amber", Stage: "referral", At: testNow.Add(-72 * time.Hour), By: "isl.sw", Reason: "canary reason zq"}},
	}
	return &node.CaseRecord{Case: c, Deadlines: []workflow.Deadline{
		{Name: "MASH triage", Due: testNow.Add(-48 * time.Hour), Met: true, MetAt: testNow.Add(-50 * time.Hour)},
		{Name: "reasonable grounds decision", Due: testNow.Add(-2 * time.Hour)},
		{Name: "strategy discussion", Due: testNow.Add(24 * time.Hour)},
	}}
}

// fakeDesk is an AlertDesk with function fields.
type fakeDesk struct {
	raise   func(who Principal, r node.NewAlert) (*node.RaisedAlert, error)
	resolve func(who Principal, id v1.ID, res, reason string) (storage.MatchTask, error)
	tasks   []storage.MatchTask
	list    node.AlertList
}

func (f *fakeDesk) RaiseAlert(_ context.Context, who Principal, r node.NewAlert) (*node.RaisedAlert, error) {
	return f.raise(who, r)
}

func (f *fakeDesk) Alerts(context.Context, Principal, int) (*node.AlertList, error) {
	return &f.list, nil
}

func (f *fakeDesk) Tasks(_ context.Context, _ Principal, openOnly bool, _ int) ([]storage.MatchTask, error) {
	var out []storage.MatchTask
	for _, t := range f.tasks {
		if !openOnly || t.Open() {
			out = append(out, t)
		}
	}
	return out, nil
}

func (f *fakeDesk) ResolveTask(_ context.Context, who Principal, id v1.ID, res, reason string) (storage.MatchTask, error) {
	return f.resolve(who, id, res, reason)
}

// signedIn is the header of a same-origin request from a browser signed in
// to s as the social worker.
func signedIn(t testing.TB, s *Server) http.Header {
	t.Helper()
	return as(t, s, "nrmnet_sw")
}

func getAs(t *testing.T, h http.Handler, target string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, target, nil)
	req.Header = header.Clone()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result(), rec.Body.String()
}

func readBody(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The case page asks why before it reads, reads with that purpose, shows
// the clocks in words and the timeline, and never the child's identity or
// free text.
func TestCasePageAsksForPurposeAndShowsClocks(t *testing.T) {
	files := &fakeCaseFiles{}
	s := newTestServer(t, func(c *Config) { c.Auth, c.CaseFiles, c.Alerts = testUsers, files, &fakeDesk{} })

	res, body := getAs(t, s, "/cases/"+string(testCase), signedIn(t, s))
	if res.StatusCode != http.StatusOK || len(files.purposes) != 0 {
		t.Fatalf("without a purpose: %d, read %d times", res.StatusCode, len(files.purposes))
	}
	mustContain(t, body, `<label for="purpose">`, `name="purpose"`, "recorded in the audit log")

	res, body = getAs(t, s, "/cases/"+string(testCase)+"?purpose="+url.QueryEscape("prepare for strategy meeting"), signedIn(t, s))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("with a purpose: %d", res.StatusCode)
	}
	if len(files.purposes) != 1 || files.purposes[0] != "prepare for strategy meeting" {
		t.Errorf("purposes given to the node: %q", files.purposes)
	}
	mustContain(t, body, "RG pending", `data-clock="met"`, `data-clock="overdue"`, "overdue by 2 hours",
		`data-clock="due-soon"`, "due in 24 hours", "Risk rated AMBER (referral)", "Referred (local authority)",
		`<label for="alert-type">`, `<legend>Authorities to alert</legend>`, `id="target-CMD"`, `id="target-HCK"`)
	if strings.Contains(body, `id="target-ISL"`) {
		t.Error("the form offers to alert this node's own authority")
	}
	for _, canary := range []string{"Canaryqx", "Wexfordian", "canary issue", "canary reason"} {
		if strings.Contains(body, canary) {
			t.Errorf("the case page shows %q", canary)
		}
	}

	for _, tc := range []struct {
		target string
		header http.Header
		want   int
	}{
		{"/cases/ISL-0000000000000000?purpose=x", signedIn(t, s), http.StatusNotFound},
		{"/cases/not-a-case?purpose=x", signedIn(t, s), http.StatusNotFound},
		{"/cases/" + string(testCase) + "?purpose=" + strings.Repeat("a", 201), signedIn(t, s), http.StatusBadRequest},
		{"/cases/" + string(testCase) + "?purpose=%07bell", signedIn(t, s), http.StatusBadRequest},
		{"/cases/" + string(testCase) + "?purpose=x", http.Header{"Cookie": {sessionFor(t, s, "nrmnet_auditor")}}, http.StatusForbidden},
		{"/cases/" + string(testCase) + "?purpose=x", http.Header{}, http.StatusUnauthorized},
	} {
		if res, _ := getAs(t, s, tc.target, tc.header); res.StatusCode != tc.want {
			t.Errorf("GET %s: %d, want %d", tc.target, res.StatusCode, tc.want)
		}
	}
}

// The alert form raises an alert with what was chosen, for the signed-in
// user, and refuses a cross-site post and a form with problems without
// calling the node.
func TestRaiseAlertForm(t *testing.T) {
	var got []node.NewAlert
	var by []Principal
	desk := &fakeDesk{raise: func(who Principal, r node.NewAlert) (*node.RaisedAlert, error) {
		got, by = append(got, r), append(by, who)
		if r.Urgency == v1.UrgencyStandard {
			return nil, fmt.Errorf("%w: targets: not on the roster", node.ErrInvalid)
		}
		return &node.RaisedAlert{Alert: v1.CrossBorderAlert{ID: "0123456789abcdef0123456789abcdef"}, Case: r.Case}, nil
	}}
	s := newTestServer(t, func(c *Config) { c.Auth, c.CaseFiles, c.Alerts = testUsers, &fakeCaseFiles{}, desk })
	target := "/cases/" + string(testCase) + "/alerts"
	good := url.Values{"type": {"missing"}, "urgency": {"immediate"}, "contact": {"duty_desk"}, "target": {"CMD", "HCK"}, "purpose": {"raise an alert"}}

	res := postForm(t, s, target, good, signedIn(t, s))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/alerts?raised=0123456789abcdef0123456789abcdef" {
		t.Fatalf("good form: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if len(got) != 1 || got[0].Case != testCase || got[0].Type != v1.AlertMissing || got[0].Urgency != v1.UrgencyImmediate ||
		got[0].Contact != v1.ContactDutyDesk || fmt.Sprint(got[0].TargetAuthorities) != "[CMD HCK]" || by[0].UserID != "isl.sw" {
		t.Fatalf("raised %+v by %+v", got, by)
	}

	cross := signedIn(t, s)
	cross.Set("Sec-Fetch-Site", "cross-site")
	if res := postForm(t, s, target, good, cross); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post: %d", res.StatusCode)
	}
	noTargets := url.Values{"type": {"missing"}, "urgency": {"high"}, "contact": {"duty_desk"}}
	unknown := url.Values{"type": {"<b>x</b>"}, "urgency": {"high"}, "contact": {"duty_desk"}, "target": {"ZZZ"}}
	for _, f := range []url.Values{noTargets, unknown} {
		res := postForm(t, s, target, f, signedIn(t, s))
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("form %v: %d", f, res.StatusCode)
		}
	}
	if len(got) != 1 {
		t.Errorf("the node was asked %d times; forms with problems must not reach it", len(got))
	}
	// A refusal by the node comes back on the form, with the choices kept.
	refused := url.Values{"type": {"missing"}, "urgency": {"standard"}, "contact": {"duty_desk"}, "target": {"CMD"}}
	res = postForm(t, s, target, refused, signedIn(t, s))
	body := readBody(t, res)
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("refused: %d", res.StatusCode)
	}
	mustContain(t, body, `role="alert"`, "not on the roster", `id="target-CMD" name="target" value="CMD" checked`, `value="standard" selected`)
}

// The alerts page lists what was received, with its matching, and what was
// raised, with who has not yet acknowledged it; the tasks page lists open
// tasks with a labelled resolve form, and resolving needs a decision and a
// reason.
func TestAlertsAndTasksPages(t *testing.T) {
	alertID := v1.ID("0123456789abcdef0123456789abcdef")
	taskID := v1.ID("fedcba9876543210fedcba9876543210")
	desk := &fakeDesk{
		list: node.AlertList{
			Received: []storage.ReceivedAlert{{Alert: v1.CrossBorderAlert{ID: alertID, Issuer: "CMD", Type: v1.AlertCountyLines,
				Urgency: v1.UrgencyHigh, AgeBand: v1.Age13To15, Sex: v1.SexMale, Contact: v1.ContactDutyDesk},
				ReceivedAt: testNow, Via: "gossip", MatchedAt: testNow, Tasks: 1}},
			Raised: []node.RaisedAlert{{Alert: v1.CrossBorderAlert{ID: "11111111111111111111111111111111", Type: v1.AlertMissing,
				TargetAuthorities: []v1.AuthorityCode{"CMD", "HCK"}, ExpiresAt: testNow.Add(time.Hour)}, Case: testCase,
				Acked: []v1.AuthorityCode{"CMD"}, Pending: []v1.AuthorityCode{"HCK"}}},
		},
		tasks: []storage.MatchTask{{ID: taskID, Alert: alertID, Issuer: "CMD", Case: testCase, Strength: "name_and_date_of_birth", RaisedAt: testNow}},
	}
	var resolved []string
	desk.resolve = func(who Principal, id v1.ID, res, reason string) (storage.MatchTask, error) {
		resolved = append(resolved, fmt.Sprint(who.UserID, id, res, reason))
		return storage.MatchTask{}, nil
	}
	s := newTestServer(t, func(c *Config) { c.Auth, c.CaseFiles, c.Alerts = testUsers, &fakeCaseFiles{}, desk })

	res, body := getAs(t, s, "/alerts", signedIn(t, s))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("alerts: %d", res.StatusCode)
	}
	mustContain(t, body, string(alertID), "Camden", "county lines", "13 15", "1 possible match", "Hackney", `href="/cases/`+string(testCase)+`"`)

	res, body = getAs(t, s, "/tasks", signedIn(t, s))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("tasks: %d", res.StatusCode)
	}
	mustContain(t, body, `<label for="resolution-`+string(taskID)+`">`, `<label for="reason-`+string(taskID)+`">`,
		`action="/tasks/`+string(taskID)+`/resolve"`, "name and date of birth")

	target := "/tasks/" + string(taskID) + "/resolve"
	for _, f := range []url.Values{
		{"resolution": {"same_child"}},
		{"resolution": {"shared"}, "reason": {"x"}},
		{"resolution": {"same_child"}, "reason": {strings.Repeat("r", storage.MaxTaskReason+1)}},
	} {
		if res := postForm(t, s, target, f, signedIn(t, s)); res.StatusCode != http.StatusBadRequest {
			t.Errorf("resolve %v: %d", f, res.StatusCode)
		}
	}
	cross := signedIn(t, s)
	cross.Set("Sec-Fetch-Site", "cross-site")
	good := url.Values{"resolution": {"not_same_child"}, "reason": {"different date of birth on file"}}
	if res := postForm(t, s, target, good, cross); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site resolve: %d", res.StatusCode)
	}
	if len(resolved) != 0 {
		t.Fatalf("refused forms reached the node: %q", resolved)
	}
	res = postForm(t, s, target, good, signedIn(t, s))
	if res.StatusCode != http.StatusSeeOther || len(resolved) != 1 || resolved[0] != "isl.sw"+string(taskID)+"not_same_childdifferent date of birth on file" {
		t.Errorf("resolve: %d, node saw %q", res.StatusCode, resolved)
	}
}

// Without the cross-border sources the pages say they are unavailable.
func TestCrossBorderPagesUnavailable(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.Auth = testUsers })
	for _, p := range []string{"/alerts", "/tasks", "/cases/" + string(testCase) + "?purpose=x"} {
		if res, _ := getAs(t, s, p, signedIn(t, s)); res.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s: %d", p, res.StatusCode)
		}
	}
}

// fakeAllocator is an Allocator that refuses what the node would refuse.
type fakeAllocator struct {
	calls []string // "who case revision worker"
}

func (f *fakeAllocator) AssignLeadWorker(_ context.Context, who Principal, id v1.CaseID, revision uint64, worker string) (*node.CaseRecord, error) {
	f.calls = append(f.calls, fmt.Sprintf("%s %s %d %s", who.UserID, id, revision, worker))
	switch {
	case who.Role != "nrm_coordinator":
		return nil, fmt.Errorf("%w: role %s may not allocate", node.ErrForbidden, who.Role)
	case revision != 3:
		return nil, fmt.Errorf("%w: case %s is at revision 3", node.ErrConflict, id)
	case worker == "isl.chair":
		return nil, fmt.Errorf("%w: lead_worker isl.chair is a panel_chair; a lead worker is a social worker or NRM coordinator", node.ErrInvalid)
	}
	rec := testRecord()
	rec.Case.LeadWorker, rec.Case.Revision = worker, 4
	return rec, nil
}

// The allocation form shows on the case page for an NRM coordinator only,
// allocates from the revision the page showed and comes back to the case
// saying so; a worker the node refuses, or a case changed since, comes back
// with the reason; a cross-site post never reaches the node.
func TestAllocateForm(t *testing.T) {
	alloc := &fakeAllocator{}
	s := newTestServer(t, func(c *Config) {
		c.Auth, c.CaseFiles, c.Alerts, c.Allocator = testUsers, &fakeCaseFiles{}, &fakeDesk{}, alloc
	})
	coord := as(t, s, "nrmnet_coord")
	page := "/cases/" + string(testCase) + "?purpose=" + url.QueryEscape("allocate")
	_, body := getAs(t, s, page, coord)
	mustContain(t, body, `action="/cases/`+string(testCase)+`/lead-worker"`, `name="revision" value="3"`, `<label for="lead-worker">`)
	if _, body := getAs(t, s, page, signedIn(t, s)); strings.Contains(body, "/lead-worker") {
		t.Error("a social worker is offered the allocation form")
	}

	target := "/cases/" + string(testCase) + "/lead-worker"
	res := postForm(t, s, target, url.Values{"purpose": {"allocate"}, "revision": {"3"}, "lead_worker": {" isl.sw2 "}}, coord)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/cases/"+string(testCase)+"?allocated=1&purpose=allocate" {
		t.Fatalf("allocating: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if len(alloc.calls) != 1 || alloc.calls[0] != "isl.coord "+string(testCase)+" 3 isl.sw2" {
		t.Fatalf("calls %q", alloc.calls)
	}
	_, body = getAs(t, s, res.Header.Get("Location"), coord)
	mustContain(t, body, `id="allocate-done"`)

	for _, tc := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"revision": {"3"}, "lead_worker": {"isl.chair"}}, "a lead worker is a social worker or NRM coordinator"},
		{url.Values{"revision": {"2"}, "lead_worker": {"isl.sw2"}}, "Someone changed the case since you opened it"},
		{url.Values{"lead_worker": {"isl.sw2"}}, "which revision"},
		{url.Values{"revision": {"3"}, "lead_worker": {strings.Repeat("x", 65)}}, "longer than 64"},
	} {
		res := postForm(t, s, target, tc.form, coord)
		body := readBody(t, res)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="allocate-problem"`) || !strings.Contains(body, tc.want) {
			t.Errorf("form %v: %d, want 400 saying %q", tc.form, res.StatusCode, tc.want)
		}
	}
	calls := len(alloc.calls)
	if res := postForm(t, s, target, url.Values{"revision": {"3"}, "lead_worker": {"isl.sw2"}}, signedIn(t, s)); res.StatusCode != http.StatusForbidden {
		t.Errorf("a social worker allocating: %d", res.StatusCode)
	}
	cross := as(t, s, "nrmnet_coord")
	cross.Set("Sec-Fetch-Site", "cross-site")
	if res := postForm(t, s, target, url.Values{"revision": {"3"}, "lead_worker": {"isl.sw2"}}, cross); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post: %d", res.StatusCode)
	}
	if len(alloc.calls) != calls+1 {
		t.Errorf("the cross-site post reached the node: %q", alloc.calls)
	}
}
