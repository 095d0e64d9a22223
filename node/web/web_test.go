package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// fakeRegion is a RegionStatus with a function field.
type fakeRegion struct {
	view func(ctx context.Context) (RegionView, error)
}

func (f fakeRegion) RegionView(ctx context.Context) (RegionView, error) { return f.view(ctx) }

// fakeCases is a CaseLister that records what it was asked.
type fakeCases struct {
	list  func(q storage.CaseQuery) []storage.CaseSummary
	asked []storage.CaseQuery
	who   []storage.Access
}

func (f *fakeCases) ListCases(_ context.Context, q storage.CaseQuery, who storage.Access) ([]storage.CaseSummary, error) {
	f.asked, f.who = append(f.asked, q), append(f.who, who)
	if who.Purpose == "" {
		return nil, storage.ErrNoPurpose
	}
	return f.list(q), nil
}

type authFunc func(token string) (Principal, error)

func (f authFunc) Authenticate(token string) (Principal, error) { return f(token) }

// testUsers is an Authenticator of three users.
var testUsers = authFunc(func(token string) (Principal, error) {
	switch token {
	case "nrmnet_sw":
		return Principal{UserID: "isl.sw", Role: "social_worker"}, nil
	case "nrmnet_coord":
		return Principal{UserID: "isl.coord", Role: "nrm_coordinator"}, nil
	case "nrmnet_auditor":
		return Principal{UserID: "isl.auditor", Role: "auditor"}, nil
	}
	return Principal{}, ErrNotSignedIn
})

var testNow = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func regionFixture() RegionView {
	seen := testNow.Add(-3 * time.Minute)
	return RegionView{
		Region: "London", Self: "ISL", RosterSerial: 4, RosterExpires: testNow.Add(90 * 24 * time.Hour),
		Source: "direct connections",
		Authorities: []AuthorityStatus{
			{Code: "CMD", Name: "Camden", Roles: []string{"authority"}, Panels: []string{"islington-camden"}, Up: true, LastSeen: testNow},
			{Code: "HCK", Name: "Hackney", Roles: []string{"authority", "witness"}, Up: false, LastSeen: seen},
			{Code: "ISL", Name: "Islington", Roles: []string{"authority"}, Panels: []string{"islington-camden"}, Self: true, Up: true, LastSeen: testNow,
				Report: &NodeReport{At: testNow, Version: "v0.1.0", Peers: 1, OutboxDepth: 2, Cases: 30, Overdue: 7, AuditSize: 91, AuditRoot: "ab12cd34"}},
		},
		Panels: []PanelStatus{{ID: "islington-camden", Members: []authority.Code{"CMD", "ISL"}, MembersUp: 2}},
	}
}

func newTestServer(t *testing.T, mod func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Authority = "ISL"
	cfg.Version = "v0.1.0"
	cfg.Region = fakeRegion{view: func(context.Context) (RegionView, error) { return regionFixture(), nil }}
	cfg.Logger = testLogger(t)
	cfg.Now = func() time.Time { return testNow }
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func get(t *testing.T, h http.Handler, target string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func mustContain(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func TestFederationViewShowsEveryAuthorityAndRefreshes(t *testing.T) {
	s := newTestServer(t, nil)
	res, body := get(t, s, "/federation")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	mustContain(t, body,
		`<html lang="en-GB">`,
		`<meta http-equiv="refresh" content="5">`,
		`<main id="main"`, `<nav aria-label="Main">`, `href="#main"`,
		`<strong>2 of 3</strong> authorities up`,
		`data-authority="CMD" data-status="up"`,
		`data-authority="HCK" data-status="down"`,
		`data-authority="ISL" data-status="up"`,
		"✕ Down", "3 minutes ago", "(ISL, this node)",
		"91 entries, root <code>ab12cd34</code>",
		`<strong class="overdue">7</strong>`,
		"No status report yet", "Roster serial 4",
		`data-panel="islington-camden"`, "Camden, Islington", "fewer than 3",
		`aria-current="page">Federation`,
	)
	if strings.Contains(body, "<script") || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Error("the page loads a script or an external resource")
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
}

// A member whose audit log is inconsistent gets a notice that says what to
// do: where the evidence is and how to accept a confirmed restore.
func TestFederationViewSaysWhatToDoAboutAnInconsistentLog(t *testing.T) {
	if _, body := get(t, newTestServer(t, nil), "/federation"); strings.Contains(body, `id="audit-conflict"`) {
		t.Fatal("the notice shows with every log consistent")
	}
	s := newTestServer(t, func(c *Config) {
		c.Region = fakeRegion{view: func(context.Context) (RegionView, error) {
			v := regionFixture()
			for i := range v.Authorities {
				if v.Authorities[i].Code == "CMD" {
					v.Authorities[i].Report = &NodeReport{At: testNow, Version: "v0.1.0", Cases: -1, AuditSize: 12, AuditRoot: "cd34",
						AuditInconsistent: true, AuditProblem: "not provably an extension of the verified checkpoint"}
				}
			}
			return v, nil
		}}
	})
	_, body := get(t, s, "/federation")
	mustContain(t, body, `id="audit-conflict"`, "<strong>Camden</strong>", "nrmnet federation conflicts", "nrmnet federation accept-history",
		`data-audit="inconsistent"`)
}

func TestFederationViewUnavailable(t *testing.T) {
	s := newTestServer(t, func(c *Config) {
		c.Region = fakeRegion{view: func(context.Context) (RegionView, error) { return RegionView{}, errors.New("host closed") }}
	})
	res, body := get(t, s, "/federation")
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d", res.StatusCode)
	}
	mustContain(t, body, "Federation view unavailable")
	if strings.Contains(body, "host closed") {
		t.Error("an internal error reached the page")
	}
}

func deadline(d time.Duration) *time.Time { t := testNow.Add(d); return &t }

func TestCaseListClocksAndAudit(t *testing.T) {
	cases := &fakeCases{list: func(q storage.CaseQuery) []storage.CaseSummary {
		return []storage.CaseSummary{
			{ID: "ISL-1", State: v1.StateRGPending, Responsible: "ISL", LeadWorker: "sw-isl-01", NextDeadline: deadline(-72 * time.Hour)},
			{ID: "ISL-2", State: v1.StateCGPending, Responsible: "ISL", LeadWorker: "sw-isl-02", NextDeadline: deadline(5 * time.Hour)},
			{ID: "ISL-3", State: v1.StateRecoveryPeriod, Responsible: "ISL", LeadWorker: "sw-isl-01", NextDeadline: deadline(20 * 24 * time.Hour)},
		}
	}}
	s := newTestServer(t, func(c *Config) {
		c.Cases = cases
		c.DemoPrincipal = &Principal{UserID: "devnet-worker", Role: "social_worker"}
	})
	res, body := get(t, s, "/cases?worker=sw-isl-01")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d\n%s", res.StatusCode, body)
	}
	mustContain(t, body,
		`data-case="ISL-1" data-clock="overdue"`, "overdue by 3 days",
		`data-case="ISL-2" data-clock="due-soon"`, "due in 5 hours",
		`data-case="ISL-3" data-clock="on-time"`, "due in 20 days",
		"RG pending", "CG pending", "Recovery period",
		`<strong class="overdue">1 overdue</strong>, 1 due soon`,
		`<label for="worker">`, `id="worker"`, `value="sw-isl-01"`,
		"Demonstration network",
	)
	if len(cases.asked) != 1 {
		t.Fatalf("%d list calls", len(cases.asked))
	}
	q, who := cases.asked[0], cases.who[0]
	if q.LeadWorker != "sw-isl-01" || q.DueBefore.IsZero() || q.Limit != DefaultConfig().CaseListLimit+1 {
		t.Errorf("query %+v", q)
	}
	if who.Actor != "devnet-worker" || who.Role != "social_worker" || who.Purpose == "" {
		t.Errorf("access %+v", who)
	}
}

func TestCaseListPages(t *testing.T) {
	cases := &fakeCases{list: func(q storage.CaseQuery) []storage.CaseSummary {
		var out []storage.CaseSummary
		for i := range q.Limit {
			out = append(out, storage.CaseSummary{ID: v1.CaseID("ISL-" + string(rune('a'+i))), State: v1.StateClosed, Responsible: "ISL"})
		}
		return out
	}}
	s := newTestServer(t, func(c *Config) {
		c.Cases = cases
		c.CaseListLimit = 3
		c.DemoPrincipal = &Principal{UserID: "u", Role: "social_worker"}
	})
	_, body := get(t, s, "/cases?view=all")
	if n := strings.Count(body, "data-case="); n != 3 {
		t.Errorf("%d rows, want 3", n)
	}
	next := storage.CaseSummary{ID: "ISL-c"}.Cursor()
	mustContain(t, body, "Next page", "after="+url.QueryEscape(next), "nothing due")
	if !cases.asked[0].DueBefore.IsZero() {
		t.Error("the all-cases view filtered by deadline")
	}
	get(t, s, "/cases?view=all&after="+url.QueryEscape(next))
	if got := cases.asked[1].Cursor; got != next {
		t.Errorf("cursor %q, want %q", got, next)
	}
}

func TestCaseListRefusals(t *testing.T) {
	cases := &fakeCases{list: func(storage.CaseQuery) []storage.CaseSummary { return nil }}
	t.Run("no sign-in configured", func(t *testing.T) {
		s := newTestServer(t, func(c *Config) { c.Cases = cases })
		res, body := get(t, s, "/cases")
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d", res.StatusCode)
		}
		mustContain(t, body, "Sign-in not available")
	})
	t.Run("not signed in", func(t *testing.T) {
		s := newTestServer(t, func(c *Config) {
			c.Cases = cases
			c.Auth = testUsers
		})
		res, body := get(t, s, "/cases?view=all")
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d", res.StatusCode)
		}
		mustContain(t, body, `<form class="signin" method="post" action="/signin">`, `<label for="token">`,
			`name="next" value="/cases?view=all"`)
		if strings.Contains(body, "Demonstration network") {
			t.Error("demo banner shown on a node with sign-in and no demo user")
		}
	})
	for _, tc := range []struct{ name, target, want string }{
		{"unknown view", "/cases?view=%3Cscript%3E", "&lt;script&gt;"},
		{"worker too long", "/cases?worker=" + strings.Repeat("x", 65), "at most 64"},
		{"worker with control", "/cases?worker=a%00b", "printable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, func(c *Config) {
				c.Cases = cases
				c.DemoPrincipal = &Principal{UserID: "u", Role: "social_worker"}
			})
			res, body := get(t, s, tc.target)
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d", res.StatusCode)
			}
			mustContain(t, body, tc.want)
			if strings.Contains(body, "<script>") {
				t.Error("input echoed unescaped")
			}
		})
	}
	if len(cases.asked) != 0 {
		t.Errorf("refused requests reached the store %d times", len(cases.asked))
	}
}

func TestStaticAndNotFound(t *testing.T) {
	s := newTestServer(t, nil)
	res, body := get(t, s, "/static/style.css")
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Type"), "text/css") || !strings.Contains(body, ".badge.down") {
		t.Fatalf("stylesheet: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	res, body = get(t, s, "/nowhere")
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d", res.StatusCode)
	}
	mustContain(t, body, "Page not found", `<html lang="en-GB">`)
	res, body = get(t, s, "/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("home: %d", res.StatusCode)
	}
	mustContain(t, body, "Islington node", `href="/federation"`, `href="/cases"`)
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	c.Authority = "XXQ"
	c.RefreshInterval = 0
	c.CaseListLimit = 0
	c.DemoPrincipal = &Principal{}
	err := c.Validate()
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("err %v", err)
	}
	for _, field := range []string{"authority", "region", "refresh_interval", "case_list_limit", "demo_principal"} {
		if !strings.Contains(err.Error(), field+":") {
			t.Errorf("error does not name %s: %v", field, err)
		}
	}
	if _, err := New(c); !errors.Is(err, ErrConfig) {
		t.Errorf("New accepted an invalid config: %v", err)
	}
}

func TestSpanAndStateLabel(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Second: "1 second", 90 * time.Second: "1 minute", 3 * time.Hour: "3 hours",
		47 * time.Hour: "47 hours", 49 * time.Hour: "2 days",
	} {
		if got := span(d); got != want {
			t.Errorf("span(%s) = %q, want %q", d, got, want)
		}
	}
	for s, want := range map[v1.CaseState]string{
		v1.StateReferredToSCA: "Referred to SCA", v1.StateCGPositive: "CG positive", v1.StateClosed: "Closed",
	} {
		if got := stateLabel(s); got != want {
			t.Errorf("stateLabel(%s) = %q, want %q", s, got, want)
		}
	}
}

func postForm(t *testing.T, h http.Handler, target string, form url.Values, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestSignInFlow(t *testing.T) {
	cases := &fakeCases{list: func(storage.CaseQuery) []storage.CaseSummary {
		return []storage.CaseSummary{{ID: "ISL-1", State: v1.StateRGPending, Responsible: "ISL"}}
	}}
	s := newTestServer(t, func(c *Config) {
		c.Cases = cases
		c.Auth = testUsers
	})

	// A wrong token: the form again, with the problem announced, no cookie.
	res := postForm(t, s, "/signin", url.Values{"token": {"nrmnet_wrong"}, "next": {"/cases"}}, nil)
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusUnauthorized || len(res.Cookies()) != 0 {
		t.Fatalf("wrong token: %d, cookies %v", res.StatusCode, res.Cookies())
	}
	mustContain(t, string(body), `role="alert"`, "not the token of a current user")

	// A cross-site post is refused before the token is looked at.
	for _, h := range []http.Header{
		{"Origin": {"https://evil.example"}},
		{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"http://example.com"}},
		{"Sec-Fetch-Site": {"same-site"}},
	} {
		res = postForm(t, s, "/signin", url.Values{"token": {"nrmnet_sw"}}, h)
		if res.StatusCode != http.StatusForbidden || len(res.Cookies()) != 0 {
			t.Fatalf("cross-site sign-in %v: %d", h, res.StatusCode)
		}
	}

	// The right token: a strict, HttpOnly session cookie (holding a session
	// ID, never the token) and back to the page.
	res = postForm(t, s, "/signin", url.Values{"token": {"nrmnet_sw"}, "next": {"/cases?view=all"}}, http.Header{"Origin": {"http://example.com"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/cases?view=all" {
		t.Fatalf("sign-in: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	cookies := res.Cookies()
	if len(cookies) != 1 || cookies[0].Name != sessionCookie || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode ||
		strings.Contains(cookies[0].Value, "nrmnet_sw") || cookies[0].MaxAge != int(DefaultConfig().SessionLifetime/time.Second) {
		t.Fatalf("cookie %+v", cookies)
	}
	req := httptest.NewRequest(http.MethodGet, "/cases", nil)
	req.AddCookie(cookies[0])
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("signed-in case list: %d", rec.Code)
	}
	mustContain(t, rec.Body.String(), "Signed in as <strong>isl.sw</strong>", `action="/signout"`, `data-case="ISL-1"`)
	if who := cases.who[len(cases.who)-1]; who.Actor != "isl.sw" || who.Role != "social_worker" {
		t.Errorf("listed as %+v", who)
	}

	// A redirect after sign-in never leaves the site.
	for _, next := range []string{"//evil.example/x", "https://evil.example", "/\\evil.example", ""} {
		if got := safeNext(next); got != "/cases" {
			t.Errorf("safeNext(%q) = %q", next, got)
		}
	}

	// Sign-out clears the cookie and ends the session.
	res = postForm(t, s, "/signout", nil, http.Header{"Cookie": {cookies[0].Name + "=" + cookies[0].Value}})
	if c := res.Cookies(); res.StatusCode != http.StatusSeeOther || len(c) != 1 || c[0].MaxAge >= 0 {
		t.Fatalf("sign-out: %d %+v", res.StatusCode, c)
	}
	if res, _ := getAs(t, s, "/cases", http.Header{"Cookie": {cookies[0].Name + "=" + cookies[0].Value}}); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after sign-out: %d", res.StatusCode)
	}
}

func TestCaseListForbiddenRole(t *testing.T) {
	refused := &fakeCases{list: func(storage.CaseQuery) []storage.CaseSummary { return nil }}
	s := newTestServer(t, func(c *Config) {
		c.Auth = testUsers
		c.Cases = forbidAuditors{refused}
	})
	req := httptest.NewRequest(http.MethodGet, "/cases", nil)
	req.Header.Set("Authorization", "Bearer nrmnet_auditor")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("auditor's case list: %d", rec.Code)
	}
	mustContain(t, rec.Body.String(), "Your role (auditor) may not see case lists")
}

// forbidAuditors refuses the auditor role as the node's role table does.
type forbidAuditors struct{ *fakeCases }

func (f forbidAuditors) ListCases(ctx context.Context, q storage.CaseQuery, who storage.Access) ([]storage.CaseSummary, error) {
	if who.Role == "auditor" {
		return nil, fmt.Errorf("list cases: %w", ErrForbidden)
	}
	return f.fakeCases.ListCases(ctx, q, who)
}
