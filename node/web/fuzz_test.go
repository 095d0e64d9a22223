package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

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
