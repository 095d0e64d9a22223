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

	"nrmnet/consensus/panel"
	"nrmnet/node"
	v1 "nrmnet/schemas/v1"
)

const (
	testPanel    v1.PanelID = "islington-camden"
	testPanelRef v1.CaseID  = "ISL-3f9a0c1b2d4e5f60"
	proposalID   v1.ID      = "0123456789abcdef0123456789abcd11"
	meetingID    v1.ID      = "0123456789abcdef0123456789abcd12"
)

// panelCall is one command the fake panel desk was given.
type panelCall struct {
	Who  Principal
	Vote *panel.CastVote
	End  *panel.ConcludeDecision
}

// fakePanels is a PanelDesk over one panel case; it refuses an auditor as
// the node does, and answers a vote on an unknown proposal as the panel's
// rules would (applied, but rejected).
type fakePanels struct {
	pc    panel.PanelCase
	calls []panelCall
}

func (f *fakePanels) Panels(_ context.Context, who Principal) ([]PanelSummary, error) {
	if who.Role == "auditor" {
		return nil, fmt.Errorf("%w: role auditor may not list panel cases", node.ErrForbidden)
	}
	lag := uint64(3)
	return []PanelSummary{{ID: testPanel, Cases: []v1.CaseID{testPanelRef}, Status: &PanelRaftStatus{State: "Follower", Leader: "CMD", Term: 4, Lag: &lag}}}, nil
}

func (f *fakePanels) PanelCase(_ context.Context, who Principal, id v1.PanelID, ref v1.CaseID) (panel.PanelCase, error) {
	if who.Role == "auditor" {
		return panel.PanelCase{}, fmt.Errorf("%w: role auditor may not read a panel case", node.ErrForbidden)
	}
	if id != testPanel || ref != testPanelRef {
		return panel.PanelCase{}, fmt.Errorf("%w: panel %s holds no case %s", node.ErrNotFound, id, ref)
	}
	return f.pc, nil
}

func (f *fakePanels) outcome(p v1.ID) node.PanelOutcome {
	if p != proposalID {
		return node.PanelOutcome{Code: "unknown_proposal", Message: "proposal " + string(p) + " is not on the case"}
	}
	return node.PanelOutcome{Code: panel.CodeAccepted, Command: v1.NewID()}
}

func (f *fakePanels) CastPanelVote(_ context.Context, who Principal, _ v1.PanelID, _ v1.CaseID, v panel.CastVote) (node.PanelOutcome, error) {
	f.calls = append(f.calls, panelCall{Who: who, Vote: &v})
	return f.outcome(v.Proposal), nil
}

func (f *fakePanels) ConcludePanelDecision(_ context.Context, who Principal, _ v1.PanelID, _ v1.CaseID, c panel.ConcludeDecision) (node.PanelOutcome, error) {
	f.calls = append(f.calls, panelCall{Who: who, End: &c})
	return f.outcome(c.Proposal), nil
}

func panelCaseFixture() panel.PanelCase {
	held := testNow.Add(-time.Hour)
	return panel.PanelCase{
		Panel: testPanel, Case: testPanelRef, Lead: "ISL", LeadSocialWorker: "isl.sw", Touches: []v1.AuthorityCode{"CMD"},
		OpenedAt: held.Add(-time.Hour), RG: panel.StageState{Status: panel.StagePending}, CG: panel.StageState{Status: panel.StagePending},
		Meetings: []panel.Meeting{{ID: meetingID, HeldAt: held, Attendance: []v1.Attendee{
			{MemberID: "cmd.chair", Capacity: v1.CapacityAdviser, Chair: true},
			{MemberID: "isl.member", Capacity: v1.CapacityLocalAuthority, Authority: "ISL"},
			{MemberID: "cmd.member", Capacity: v1.CapacityLocalAuthority, Authority: "CMD"},
			{MemberID: "cmd.police", Capacity: v1.CapacityPolice},
			{MemberID: "isl.advocate", Capacity: v1.CapacityAdvocate},
		}}},
		ChildViews: []panel.ChildViews{{At: held, Authority: "ISL", RecordedBy: panel.Actor{PersonID: "isl.advocate", Role: panel.RoleGuardian}, Views: "Wants to stay at <b>school</b>."}},
		Proposals: []panel.Proposal{{ID: proposalID, Meeting: meetingID, Stages: []v1.DecisionStage{v1.StageRG}, ProposedAt: held,
			Status: panel.ProposalOpen, Votes: []v1.Vote{{MemberID: "cmd.member", Stage: v1.StageRG, Choice: v1.VotePositive}}}},
	}
}

var panelUsers = authFunc(func(token string) (Principal, error) {
	switch token {
	case "chair":
		return Principal{UserID: "cmd.chair", Role: "panel_chair"}, nil
	case "member":
		return Principal{UserID: "isl.member", Role: "panel_member"}, nil
	}
	return testUsers(token)
})

// as is the header of a same-origin request from a browser signed in to s
// with token.
func as(t testing.TB, s *Server, token string) http.Header {
	t.Helper()
	return http.Header{"Cookie": {sessionFor(t, s, token)}, "Sec-Fetch-Site": {"same-origin"}}
}

// The meeting page shows attendance, the child's views (escaped), votes and
// who is still to vote; a voting member who has not voted gets the vote
// form, the chair the conclude form, a social worker neither; every control
// is labelled.
func TestPanelCasePageShowsMeetingAndForms(t *testing.T) {
	desk := &fakePanels{pc: panelCaseFixture()}
	s := newTestServer(t, func(c *Config) { c.Auth, c.Panels = panelUsers, desk })
	page := "/panels/" + string(testPanel) + "/cases/" + string(testPanelRef)

	res, body := getAs(t, s, page, as(t, s, "member"))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", page, res.StatusCode)
	}
	mustContain(t, body, "cmd.chair (chair)", "cmd.police", "Islington (where the child lives)",
		"Wants to stay at &lt;b&gt;school&lt;/b&gt;.", "Still to vote: isl.member, cmd.police.",
		`action="/panels/islington-camden/cases/ISL-3f9a0c1b2d4e5f60/vote"`,
		`<label for="choice-`+string(proposalID)+`">`, `id="choice-`+string(proposalID)+`"`,
		`<label for="stage-`+string(proposalID)+`">`, "No decision concluded yet.",
		`<a href="/panels" aria-current="page">Panels</a>`)
	if strings.Contains(body, "/conclude") {
		t.Error("a panel member is offered the conclude form")
	}
	_, body = getAs(t, s, page, as(t, s, "chair"))
	mustContain(t, body, `action="/panels/islington-camden/cases/ISL-3f9a0c1b2d4e5f60/conclude"`,
		`<label for="reasons-`+string(proposalID)+`">`, `<label for="views-considered-`+string(proposalID)+`">`)
	if strings.Contains(body, "/vote\"") {
		t.Error("the chair, not a voting member, is offered the vote form")
	}
	_, body = getAs(t, s, page, signedIn(t, s))
	if strings.Contains(body, "<form class=\"decide\"") {
		t.Error("a social worker is offered a panel form")
	}
	if res, _ := getAs(t, s, page, as(t, s, "nrmnet_auditor")); res.StatusCode != http.StatusForbidden {
		t.Errorf("auditor: %d, want 403", res.StatusCode)
	}
	if res, _ := getAs(t, s, "/panels/islington-camden/cases/not-a-case", as(t, s, "member")); res.StatusCode != http.StatusNotFound {
		t.Errorf("bad case reference: %d, want 404", res.StatusCode)
	}
	res, body = getAs(t, s, "/panels", as(t, s, "member"))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /panels: %d", res.StatusCode)
	}
	mustContain(t, body, `href="`+page+`"`, "Follower, term 4", "Camden", "3 log entries")
	off := newTestServer(t, func(c *Config) { c.Auth = panelUsers })
	if res, _ := getAs(t, off, page, as(t, off, "member")); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("without panels: %d, want 503", res.StatusCode)
	}
}

// The forms: a cross-site post, an unknown stage or choice, and a conclusion
// without reasons are refused before the node is asked; good ones reach the
// node as the signed-in user and redirect to the page with a notice; a
// command the panel's rules reject is shown as a refusal.
func TestPanelFormsCheckedThenSent(t *testing.T) {
	desk := &fakePanels{pc: panelCaseFixture()}
	s := newTestServer(t, func(c *Config) { c.Auth, c.Panels = panelUsers, desk })
	base := "/panels/" + string(testPanel) + "/cases/" + string(testPanelRef)
	vote := url.Values{"proposal": {string(proposalID)}, "stage": {string(v1.StageRG)}, "choice": {"positive"}}

	cross := as(t, s, "member")
	cross.Set("Sec-Fetch-Site", "cross-site")
	if res := postForm(t, s, base+"/vote", vote, cross); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site vote: %d, want 403", res.StatusCode)
	}
	for name, f := range map[string]url.Values{
		"stage":    {"proposal": {string(proposalID)}, "stage": {"both"}, "choice": {"positive"}},
		"choice":   {"proposal": {string(proposalID)}, "stage": {string(v1.StageRG)}, "choice": {"yes"}},
		"proposal": {"proposal": {"../x"}, "stage": {string(v1.StageRG)}, "choice": {"positive"}},
	} {
		if res := postForm(t, s, base+"/vote", f, as(t, s, "member")); res.StatusCode != http.StatusBadRequest {
			t.Errorf("vote with a bad %s: %d, want 400", name, res.StatusCode)
		}
	}
	noReasons := url.Values{"proposal": {string(proposalID)}, "reasons": {"  "}, "views_considered": {"x"}}
	if res := postForm(t, s, base+"/conclude", noReasons, as(t, s, "chair")); res.StatusCode != http.StatusBadRequest {
		t.Errorf("conclusion without reasons: %d, want 400", res.StatusCode)
	}
	if len(desk.calls) != 0 {
		t.Fatalf("refused forms reached the node: %+v", desk.calls)
	}

	res := postForm(t, s, base+"/vote", vote, as(t, s, "member"))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != base+"?done=vote" {
		t.Fatalf("vote: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	end := url.Values{"proposal": {string(proposalID)}, "reasons": {"Police evidence."}, "views_considered": {"Her wish to stay at school."}}
	if res := postForm(t, s, base+"/conclude", end, as(t, s, "chair")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("conclude: %d", res.StatusCode)
	}
	if len(desk.calls) != 2 || desk.calls[0].Who.UserID != "isl.member" || desk.calls[0].Vote.Choice != v1.VotePositive ||
		desk.calls[1].Who.UserID != "cmd.chair" || desk.calls[1].End.Reasons != "Police evidence." || desk.calls[1].End.ChildViewsConsidered != "Her wish to stay at school." {
		t.Fatalf("calls: %+v", desk.calls)
	}
	_, body := getAs(t, s, base+"?done=conclude", as(t, s, "chair"))
	mustContain(t, body, `id="panel-notice"`, "The decision is concluded.")

	other := url.Values{"proposal": {"0123456789abcdef0123456789abcdff"}, "stage": {string(v1.StageRG)}, "choice": {"negative"}}
	res = postForm(t, s, base+"/vote", other, as(t, s, "member"))
	if res.StatusCode != http.StatusConflict || !strings.Contains(readBody(t, res), "is not on the case") {
		t.Errorf("rejected vote: %d", res.StatusCode)
	}
}

func FuzzPanelForms(f *testing.F) {
	base := "/panels/" + string(testPanel) + "/cases/" + string(testPanelRef)
	f.Add("POST", base+"/vote", "proposal="+string(proposalID)+"&stage=reasonable_grounds&choice=positive")
	f.Add("POST", base+"/conclude", "proposal="+string(proposalID)+"&reasons=r&views_considered=%00%ff<script>")
	f.Add("POST", "/panels/..%2f/cases/x/vote", "")
	f.Add("GET", base+"?done=<script>", "")
	desk := &fakePanels{pc: panelCaseFixture()}
	cfg := DefaultConfig()
	cfg.Authority = "ISL"
	cfg.Region = fakeRegion{view: func(context.Context) (RegionView, error) { return regionFixture(), nil }}
	cfg.Panels = desk
	cfg.DemoPrincipal = &Principal{UserID: "cmd.chair", Role: "panel_chair"}
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
		desk.calls = desk.calls[:0]
	})
}
