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
	"nrmnet/storage"
)

// FuzzPages sends arbitrary paths, queries and sign-in forms to the pages:
// whatever arrives, the answer is a page (never a 5xx), and request input
// never comes back unescaped.
func FuzzPages(f *testing.F) {
	for _, seed := range []struct{ method, target, body string }{
		{"GET", "/cases?view=all&worker=isl.sw.001", ""},
		{"GET", "/cases?view=<script>alert(1)</script>", ""},
		{"GET", "/cases?after=%ff%fe&view=deadlines", ""},
		{"GET", "/federation?x=1", ""},
		{"GET", "/signin?next=//evil.example", ""},
		{"POST", "/signin", "token=nrmnet_sw&next=%2Fcases"},
		{"POST", "/signin", "token=<b>x</b>&next=javascript:alert(1)"},
		{"POST", "/signout", ""},
		{"GET", "/static/../web.go", ""},
		{"GET", "/cases/ISL-3f9a0c1b2d4e5f60?purpose=prepare+for+panel", ""},
		{"GET", "/cases/ISL-3f9a0c1b2d4e5f60?purpose=%00%ff", ""},
		{"POST", "/cases/ISL-3f9a0c1b2d4e5f60/alerts", "type=missing&urgency=high&contact=duty_desk&target=CMD"},
		{"POST", "/cases/ISL-3f9a0c1b2d4e5f60/alerts", "type=<script>&target=ZZZ&target=CMD&purpose=%00"},
		{"POST", "/cases/ISL-3f9a0c1b2d4e5f60/lead-worker", "revision=3&lead_worker=isl.sw2&purpose=allocate"},
		{"POST", "/cases/ISL-3f9a0c1b2d4e5f60/lead-worker", "revision=-1&lead_worker=<script>&purpose=%00"},
		{"GET", "/cases/ISL-3f9a0c1b2d4e5f60?purpose=x&allocated=1", ""},
		{"GET", "/alerts?raised=<script>", ""},
		{"GET", "/tasks?show=all&resolved=0123456789abcdef0123456789abcdef", ""},
		{"POST", "/tasks/0123456789abcdef0123456789abcdef/resolve", "resolution=same_child&reason=seen+at+school"},
		{"POST", "/tasks/..%2f/resolve", "resolution=<b>&reason="},
	} {
		f.Add(seed.method, seed.target, seed.body)
	}
	cases := &fakeCases{list: func(q storage.CaseQuery) []storage.CaseSummary {
		return []storage.CaseSummary{{ID: "ISL-1", State: "rg_pending", Responsible: "ISL", LeadWorker: q.LeadWorker}}
	}}
	cfg := DefaultConfig()
	cfg.Authority = "ISL"
	cfg.Region = fakeRegion{view: func(context.Context) (RegionView, error) { return regionFixture(), nil }}
	cfg.Cases = cases
	cfg.CaseFiles = &fakeCaseFiles{}
	cfg.Allocator = &fakeAllocator{}
	cfg.Alerts = &fakeDesk{
		raise: func(_ Principal, r node.NewAlert) (*node.RaisedAlert, error) {
			return &node.RaisedAlert{Alert: v1.CrossBorderAlert{ID: v1.NewID()}, Case: r.Case}, nil
		},
		resolve: func(Principal, v1.ID, string, string) (storage.MatchTask, error) {
			return storage.MatchTask{}, fmt.Errorf("%w: already resolved", node.ErrNotAllowedNow)
		},
		tasks: []storage.MatchTask{{ID: "0123456789abcdef0123456789abcdef", Case: testCase, Issuer: "CMD"}},
	}
	cfg.DemoPrincipal = &Principal{UserID: "demo", Role: "social_worker"}
	cfg.Auth = testUsers
	cfg.Now = func() time.Time { return testNow }
	s, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, target, body string) {
		if method != http.MethodGet && method != http.MethodPost {
			method = http.MethodGet
		}
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(target, "/") {
			return
		}
		req := httptest.NewRequest(method, "/", strings.NewReader(body))
		req.URL, req.RequestURI = u, target
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
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
