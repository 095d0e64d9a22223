package web

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"nrmnet/node"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// fakeReferrals is a ReferralDesk that records what it was asked and
// answers with refuse, when set.
type fakeReferrals struct {
	mu     sync.Mutex
	got    []node.NewReferral
	who    []Principal
	refuse error
}

func (f *fakeReferrals) CreateReferral(_ context.Context, who Principal, r node.NewReferral) (*node.CreatedReferral, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, r)
	f.who = append(f.who, who)
	if f.refuse != nil {
		return nil, f.refuse
	}
	c := &v1.Case{ID: "ISL-3f9a0c1b2d4e5f60", Identity: r.Identity, Referral: r.Referral}
	return &node.CreatedReferral{CaseRecord: node.CaseRecord{Case: c}}, nil
}

func (f *fakeReferrals) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.got)
}

func referralServer(t *testing.T, desk *fakeReferrals, logs *bytes.Buffer) *Server {
	t.Helper()
	return newTestServer(t, func(c *Config) {
		c.Auth = testUsers
		c.Referrals = desk
		if logs != nil {
			c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	})
}

// goodReferral is a complete form, with a canary-like name.
func goodReferral() url.Values {
	return url.Values{
		"given": {"Zq-Canary-Given"}, "family": {"Zq-Canary-Family"}, "dob": {"2011-04-09"},
		"sex": {"female"}, "nationality": {"alb"}, "fr_org": {"Islington Children's Services"},
		"fr_type": {"local_authority"}, "exploitation": {"criminal", "sexual"}, "county_lines": {"yes"},
		"location": {"uk"}, "presenting_issue": {"missing episodes"}, "source": {"police"},
		"risk": {"red"}, "lead_worker": {"isl.sw"},
	}
}

// The form labels every control, groups them in fieldsets, and defaults
// the lead worker to the signed-in user; the case list links to it.
func TestReferralFormLabelsEveryField(t *testing.T) {
	s := referralServer(t, &fakeReferrals{}, nil)
	res, body := getAs(t, s, "/cases/new", signedIn(t, s))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	ids := regexp.MustCompile(`<(?:input|select)[^>]*\bid="([^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(ids) < 15 {
		t.Fatalf("only %d form controls", len(ids))
	}
	for _, m := range ids {
		if !strings.Contains(body, `<label for="`+m[1]+`">`) {
			t.Errorf("control %s has no label", m[1])
		}
	}
	if strings.Contains(body, "<script") {
		t.Error("the form uses script")
	}
	mustContain(t, body, "<fieldset>", "<legend>The child</legend>", `id="exploitation-criminal"`,
		`id="county_lines"`, `name="lead_worker" type="text" maxlength="64" value="isl.sw"`, `action="/cases"`)

	for _, tc := range []struct {
		desk     ReferralDesk
		token    string
		wantLink bool
	}{
		{&fakeReferrals{}, "nrmnet_sw", true},
		{&fakeReferrals{}, "nrmnet_auditor", false},
		{nil, "nrmnet_sw", false},
	} {
		list := newTestServer(t, func(c *Config) {
			c.Auth = testUsers
			c.Referrals = tc.desk
			c.Cases = &fakeCases{list: func(storage.CaseQuery) []storage.CaseSummary { return nil }}
		})
		_, body := getAs(t, list, "/cases", http.Header{"Cookie": {sessionFor(t, list, tc.token)}})
		if got := strings.Contains(body, `<a href="/cases/new" id="new-referral">New referral</a>`); got != tc.wantLink {
			t.Errorf("%s, desk %v: link to the new-referral form shown %v, want %v", tc.token, tc.desk != nil, got, tc.wantLink)
		}
	}
}

// A good form creates the case through the desk, as the signed-in user,
// and sends the browser to the new case's page; the node's log line names
// the case, never the child.
func TestReferralCreatesAndRedirects(t *testing.T) {
	desk := &fakeReferrals{}
	var logs bytes.Buffer
	s := referralServer(t, desk, &logs)
	res := postForm(t, s, "/cases", goodReferral(), signedIn(t, s))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/cases/ISL-3f9a0c1b2d4e5f60" {
		t.Fatalf("status %d, location %q: %s", res.StatusCode, res.Header.Get("Location"), readBody(t, res))
	}
	if desk.calls() != 1 || desk.who[0].UserID != "isl.sw" {
		t.Fatalf("desk calls %d, who %+v", desk.calls(), desk.who)
	}
	r := desk.got[0]
	id := r.Identity
	if len(id.Names) != 1 || id.Names[0].Given != "Zq-Canary-Given" || id.Names[0].Family != "Zq-Canary-Family" || id.Names[0].Kind != v1.NameUsed {
		t.Errorf("names %+v", id.Names)
	}
	if id.DateOfBirth == nil || id.DateOfBirth.Date != "2011-04-09" || id.DateOfBirth.Estimated {
		t.Errorf("dob %+v", id.DateOfBirth)
	}
	if id.Sex != v1.SexFemale || len(id.Nationalities) != 1 || id.Nationalities[0] != "ALB" {
		t.Errorf("sex %q nationalities %v", id.Sex, id.Nationalities)
	}
	ref := r.Referral
	if ref.FirstResponderType != v1.ResponderLocalAuthority || !ref.CountyLines || len(ref.ExploitationTypes) != 2 ||
		ref.ExploitationLocation != v1.LocationUK || ref.Source != "police" || ref.PresentingIssue != "missing episodes" ||
		!ref.ReferredAt.Equal(testNow) {
		t.Errorf("referral %+v", ref)
	}
	if r.Risk != v1.RAGRed || r.LeadWorker != "isl.sw" {
		t.Errorf("risk %q lead %q", r.Risk, r.LeadWorker)
	}
	// What the page built is a referral the schema accepts.
	c := &v1.Case{ID: v1.NewCaseID("ISL"), ChildID: v1.NewID(), Revision: 1, State: v1.StateReceived, Responsible: "ISL",
		LeadWorker: r.LeadWorker, CreatedAt: testNow, UpdatedAt: testNow, Identity: r.Identity, Referral: r.Referral,
		Risk: []v1.RiskRating{{Rating: r.Risk, Stage: v1.RiskAtReferral, At: testNow, By: "isl.sw"}}}
	if err := c.Validate(); err != nil {
		t.Errorf("the page's referral does not validate: %v", err)
	}
	if strings.Contains(logs.String(), "Zq-Canary") || strings.Contains(logs.String(), "2011-04-09") {
		t.Errorf("the logs carry the child's identity:\n%s", logs.String())
	}

	// An estimated age becomes an estimated date of birth.
	f := goodReferral()
	f.Del("dob")
	f.Set("age", "15")
	if res := postForm(t, s, "/cases", f, signedIn(t, s)); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("with an age: status %d: %s", res.StatusCode, readBody(t, res))
	}
	if d := desk.got[1].Identity.DateOfBirth; d == nil || !d.Estimated || d.UncertaintyDays == 0 || !strings.HasPrefix(string(d.Date), "2011-") {
		t.Errorf("estimated dob %+v", d)
	}
}

// Bad input is refused, each problem named, before the node is called, and
// the form comes back with what was entered; nothing of it is logged.
func TestReferralBadInputRefusedBeforeTheNode(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(url.Values)
		want string
	}{
		{"no name", func(v url.Values) { v.Del("given"); v.Del("family") }, "given or family name"},
		{"no dob or age", func(v url.Values) { v.Del("dob") }, "date of birth or"},
		{"dob and age", func(v url.Values) { v.Set("age", "12") }, "not both"},
		{"bad dob", func(v url.Values) { v.Set("dob", "2011-02-30") }, "is not a date"},
		{"future dob", func(v url.Values) { v.Set("dob", "2030-01-01") }, "in the future"},
		{"bad age", func(v url.Values) { v.Del("dob"); v.Set("age", "-3") }, "estimated age"},
		{"bad sex", func(v url.Values) { v.Set("sex", "x") }, "sex"},
		{"bad nationality", func(v url.Values) { v.Set("nationality", "Albania") }, "three-letter code"},
		{"no first responder", func(v url.Values) { v.Del("fr_org") }, "first responder organisation"},
		{"bad responder type", func(v url.Values) { v.Set("fr_type", "<b>") }, "type of first responder"},
		{"no exploitation", func(v url.Values) { v.Del("exploitation"); v.Del("county_lines") }, "at least one type"},
		{"unknown exploitation", func(v url.Values) { v.Add("exploitation", "piracy") }, "not a type of exploitation"},
		{"county lines without criminal", func(v url.Values) { v.Set("exploitation", "sexual") }, "tick criminal"},
		{"bad location", func(v url.Values) { v.Set("location", "moon") }, "where the exploitation"},
		{"no presenting issue", func(v url.Values) { v.Del("presenting_issue") }, "presenting issue"},
		{"control characters", func(v url.Values) { v.Set("source", "po\x00lice") }, "control characters"},
		{"no risk", func(v url.Values) { v.Del("risk") }, "RAG rating"},
		{"bad lead worker", func(v url.Values) { v.Set("lead_worker", "two words") }, "lead worker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			desk := &fakeReferrals{}
			var logs bytes.Buffer
			s := referralServer(t, desk, &logs)
			f := goodReferral()
			tc.edit(f)
			res := postForm(t, s, "/cases", f, signedIn(t, s))
			body := readBody(t, res)
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d", res.StatusCode)
			}
			if desk.calls() != 0 {
				t.Error("the node was called with a bad referral")
			}
			mustContain(t, body, `id="referral-problems"`, tc.want)
			if f.Get("fr_org") != "" {
				mustContain(t, body, `value="Islington Children&#39;s Services"`)
			}
			if f.Get("given") != "" {
				mustContain(t, body, `value="Zq-Canary-Given"`)
			}
			if strings.Contains(logs.String(), "Zq-Canary") {
				t.Errorf("the logs carry the child's name:\n%s", logs.String())
			}
		})
	}
}

// A form from another site, a role that may not create cases, and a node
// that refuses each get the right answer.
func TestReferralRefusals(t *testing.T) {
	desk := &fakeReferrals{}
	s := referralServer(t, desk, nil)
	cross := http.Header{"Cookie": {sessionFor(t, s, "nrmnet_sw")}, "Sec-Fetch-Site": {"cross-site"}}
	if res := postForm(t, s, "/cases", goodReferral(), cross); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post: status %d", res.StatusCode)
	}
	auditor := as(t, s, "nrmnet_auditor")
	if res, body := getAs(t, s, "/cases/new", auditor); res.StatusCode != http.StatusForbidden || strings.Contains(body, "<form class=\"referral-form\"") {
		t.Errorf("auditor's form: status %d", res.StatusCode)
	}
	if res := postForm(t, s, "/cases", goodReferral(), auditor); res.StatusCode != http.StatusForbidden {
		t.Errorf("auditor's post: status %d", res.StatusCode)
	}
	if res, _ := getAs(t, s, "/cases/new", http.Header{}); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("signed out: status %d", res.StatusCode)
	}
	big := goodReferral()
	big.Set("source", strings.Repeat("x", maxFormBytes))
	if res := postForm(t, s, "/cases", big, signedIn(t, s)); res.StatusCode != http.StatusBadRequest {
		t.Errorf("oversized form: status %d", res.StatusCode)
	}
	if desk.calls() != 0 {
		t.Fatalf("the node was called %d times", desk.calls())
	}

	desk.refuse = fmt.Errorf("%w: lead_worker \"isl.gone\" is not a live user of this node", node.ErrInvalid)
	res := postForm(t, s, "/cases", goodReferral(), signedIn(t, s))
	body := readBody(t, res)
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("node refusal: status %d", res.StatusCode)
	}
	mustContain(t, body, "The node refused the referral", "is not a live user of this node", `value="Zq-Canary-Family"`)
	desk.refuse = fmt.Errorf("%w: create_case", node.ErrForbidden)
	if res := postForm(t, s, "/cases", goodReferral(), signedIn(t, s)); res.StatusCode != http.StatusForbidden {
		t.Errorf("node forbids: status %d", res.StatusCode)
	}
	desk.refuse = fmt.Errorf("store is closed")
	if res := postForm(t, s, "/cases", goodReferral(), signedIn(t, s)); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("node fails: status %d", res.StatusCode)
	}

	off := newTestServer(t, func(c *Config) { c.Auth = testUsers })
	if res, _ := getAs(t, off, "/cases/new", signedIn(t, off)); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("no desk: status %d", res.StatusCode)
	}
}

// FuzzReferralForm posts arbitrary bodies to the form: the answer is never
// a 5xx, request input never comes back unescaped, and the node is called
// only with a referral the schema accepts.
func FuzzReferralForm(f *testing.F) {
	f.Add(goodReferral().Encode())
	f.Add("given=%3Cscript%3E&dob=2011-04-09&age=3&sex=male")
	f.Add("exploitation=criminal&exploitation=criminal&county_lines=on&nationality=g%C3%9Fr")
	f.Add("given=%00&family=%ff%fe&dob=1899-12-31&lead_worker=%0a")
	desk := &fakeReferrals{}
	cfg := DefaultConfig()
	cfg.Authority = "ISL"
	cfg.Region = fakeRegion{view: func(context.Context) (RegionView, error) { return regionFixture(), nil }}
	cfg.Auth = testUsers
	cfg.Referrals = desk
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Now = func() time.Time { return testNow }
	s, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	cookie := sessionFor(f, s, "nrmnet_sw")
	f.Fuzz(func(t *testing.T, body string) {
		before := desk.calls()
		req := httptest.NewRequest(http.MethodPost, "/cases", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Cookie", cookie)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q", rec.Code, body)
		}
		if strings.Contains(rec.Body.String(), "<script") {
			t.Fatalf("input echoed unescaped for %q", body)
		}
		switch rec.Code {
		case http.StatusSeeOther:
			if desk.calls() != before+1 {
				t.Fatal("redirected without creating a case")
			}
			desk.mu.Lock()
			r := desk.got[len(desk.got)-1]
			desk.mu.Unlock()
			c := &v1.Case{ID: v1.NewCaseID("ISL"), ChildID: v1.NewID(), Revision: 1, State: v1.StateReceived, Responsible: "ISL",
				LeadWorker: "isl.sw", CreatedAt: testNow, UpdatedAt: testNow, Identity: r.Identity, Referral: r.Referral,
				Risk: []v1.RiskRating{{Rating: r.Risk, Stage: v1.RiskAtReferral, At: testNow, By: "isl.sw"}}}
			if err := c.Validate(); err != nil {
				t.Fatalf("the page passed an invalid referral for %q: %v", body, err)
			}
		case http.StatusBadRequest:
			if desk.calls() != before {
				t.Fatal("the node was called, then the form refused")
			}
		default:
			t.Fatalf("status %d for %q", rec.Code, body)
		}
	})
}

// nodeReferrals is the new-referral page's desk on a real node, as
// cmd/nrmnet wires it: the page's principal becomes the node's, and the
// gate is the node's own permission check.
type nodeReferrals struct{ n *node.Node }

func (d nodeReferrals) principal(who Principal) node.Principal {
	return node.Principal{ID: who.UserID, Role: node.Role(who.Role), Authority: d.n.Authority()}
}

func (d nodeReferrals) CreateReferral(ctx context.Context, who Principal, r node.NewReferral) (*node.CreatedReferral, error) {
	return d.n.CreateReferral(ctx, d.principal(who), r)
}

func (d nodeReferrals) MayCreateReferral(ctx context.Context, who Principal) error {
	return d.n.Authorize(ctx, d.principal(who), node.CanCreateCase, v1.ActionCaseCreate, "new case")
}

// A role that may not create cases is refused by the node, for the form and
// for a posted form, and each refusal is in the audit log with the action
// and the user, as the JSON API's is; an allowed role gets the form with
// nothing audited and creates its case. Over HTTP on loopback, with a real
// node and store.
func TestReferralRefusalIsAudited(t *testing.T) {
	dir := t.TempDir()
	sc := storage.DefaultConfig()
	sc.DataDir, sc.KeysDir = filepath.Join(dir, "data"), filepath.Join(dir, "keys")
	sc.Authority, sc.InMemory, sc.Logger = "ISL", true, testLogger(t)
	if err := storage.CreateKeys(sc.KeysDir); err != nil {
		t.Fatal(err)
	}
	store, err := storage.Open(sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	ctx := context.Background()
	// The social worker is a live user, so that the node takes them as the
	// lead worker.
	if _, _, err := store.CreateUser(ctx, storage.User{ID: "isl.sw", Name: "Test worker", Role: "social_worker", Authority: "ISL"},
		storage.Access{Actor: "node", Role: "node"}); err != nil {
		t.Fatal(err)
	}
	nc := node.DefaultConfig()
	nc.Store, nc.Authority, nc.Now, nc.Logger = store, "ISL", func() time.Time { return testNow }, testLogger(t)
	n, err := node.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, func(c *Config) {
		c.Auth = testUsers
		c.Referrals = nodeReferrals{n}
	})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(client.CloseIdleConnections)
	do := func(method, path string, form url.Values, header http.Header) (*http.Response, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, srv.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = header.Clone()
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res, readBody(t, res)
	}
	// newEntries returns the audit entries recorded since the last call.
	var seen int64
	newEntries := func() []v1.AuditEntry {
		t.Helper()
		cp, err := store.AuditCheckpoint()
		if err != nil {
			t.Fatal(err)
		}
		got, err := store.AuditEntries(seen, int(cp.Size-seen))
		if err != nil {
			t.Fatal(err)
		}
		seen = cp.Size
		return got
	}
	newEntries()

	auditor := as(t, s, "nrmnet_auditor")
	for _, tc := range []struct {
		method string
		path   string
		form   url.Values
	}{
		{http.MethodGet, "/cases/new", nil},
		{http.MethodPost, "/cases", goodReferral()},
	} {
		res, body := do(tc.method, tc.path, tc.form, auditor)
		if res.StatusCode != http.StatusForbidden || strings.Contains(body, `<form class="referral-form"`) {
			t.Errorf("auditor %s %s: status %d", tc.method, tc.path, res.StatusCode)
		}
		mustContain(t, body, "The refusal has been recorded.")
		got := newEntries()
		if len(got) != 1 {
			t.Fatalf("auditor %s %s: %d audit entries, want 1: %+v", tc.method, tc.path, len(got), got)
		}
		e := got[0]
		if e.Action != v1.ActionCaseCreate || e.Actor != "isl.auditor" || e.Role != "auditor" ||
			e.Outcome != v1.AuditDenied || e.Subject != "new case" || !strings.Contains(e.Reason, "create_case") {
			t.Errorf("auditor %s %s: audit entry %+v, want a denied case.create by isl.auditor", tc.method, tc.path, e)
		}
	}
	if c := store.CaseCount(); c != 0 {
		t.Fatalf("%d cases after the refusals", c)
	}

	// The social worker: the form, with nothing audited, then the case.
	sw := as(t, s, "nrmnet_sw")
	res, body := do(http.MethodGet, "/cases/new", nil, sw)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("social worker's form: status %d: %s", res.StatusCode, body)
	}
	mustContain(t, body, `<form class="referral-form"`)
	if got := newEntries(); len(got) != 0 {
		t.Errorf("the social worker's form was audited: %+v", got)
	}
	res, body = do(http.MethodPost, "/cases", goodReferral(), sw)
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/cases/ISL-") {
		t.Fatalf("social worker's referral: status %d, location %q: %s", res.StatusCode, res.Header.Get("Location"), body)
	}
	if c := store.CaseCount(); c != 1 {
		t.Errorf("%d cases after the social worker's referral, want 1", c)
	}
	for _, e := range newEntries() {
		if e.Outcome == v1.AuditDenied {
			t.Errorf("the social worker's referral recorded a refusal: %+v", e)
		}
	}
}
