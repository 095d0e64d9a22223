package web

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// sessionFor signs in to s with token through the sign-in form, as a
// browser does, and returns the Cookie header value that carries the new
// session.
func sessionFor(t testing.TB, s http.Handler, token string) string {
	t.Helper()
	c := signInCookie(t, s, token)
	return c.Name + "=" + c.Value
}

// signInCookie posts the sign-in form to h with token and returns the
// session cookie it sets.
func signInCookie(t testing.TB, h http.Handler, token string) *http.Cookie {
	t.Helper()
	form := url.Values{"token": {token}, "next": {"/cases"}}
	req := httptest.NewRequest(http.MethodPost, "/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("sign-in with %s: status %d", token, rec.Code)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == sessionCookie {
			return c
		}
	}
	t.Fatalf("sign-in with %s set no %s cookie", token, sessionCookie)
	return nil
}

// fakeClock is a clock a test moves by hand; the server may read it from
// another goroutine.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// revocableUsers is an Authenticator whose users an administrator can
// revoke while sessions are open.
type revocableUsers struct {
	mu      sync.Mutex
	revoked map[string]bool
}

func (u *revocableUsers) Authenticate(token string) (Principal, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.revoked[token] {
		return Principal{}, fmt.Errorf("user revoked: %w", ErrNotSignedIn)
	}
	return testUsers(token)
}

func (u *revocableUsers) revoke(token string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.revoked[token] = true
}

// sessionServer is a server with sign-in, a case list, and clock as its
// clock.
func sessionServer(t *testing.T, clock *fakeClock, mod func(*Config)) *Server {
	t.Helper()
	return newTestServer(t, func(c *Config) {
		c.Auth = testUsers
		c.Cases = &fakeCases{list: func(storage.CaseQuery) []storage.CaseSummary {
			return []storage.CaseSummary{{ID: "ISL-1", State: v1.StateRGPending, Responsible: "ISL"}}
		}}
		c.Now = clock.Now
		if mod != nil {
			mod(c)
		}
	})
}

// caseListWith asks s for the case list with the Cookie header cookie and
// says whether it came back signed in (200 with the user named) or as the
// sign-in form (401).
func caseListWith(t *testing.T, s http.Handler, cookie string) bool {
	t.Helper()
	res, body := getAs(t, s, "/cases", http.Header{"Cookie": {cookie}})
	switch {
	case res.StatusCode == http.StatusOK && strings.Contains(body, "Signed in as <strong>isl.sw</strong>"):
		return true
	case res.StatusCode == http.StatusUnauthorized && strings.Contains(body, `action="/signin"`):
		return false
	}
	t.Fatalf("case list: status %d, neither signed in nor the sign-in form", res.StatusCode)
	return false
}

// Signing in through the form over real HTTP gives the browser a cookie
// that holds a fresh random session ID, never the token, with the
// session's lifetime as its Max-Age; the pages then work with it.
func TestSignInOverHTTPGivesSessionNotToken(t *testing.T) {
	for _, tls := range []bool{false, true} {
		clock := &fakeClock{now: testNow}
		s := sessionServer(t, clock, nil)
		var ts *httptest.Server
		if tls {
			ts = httptest.NewTLSServer(s)
		} else {
			ts = httptest.NewServer(s)
		}
		t.Cleanup(ts.Close)
		cl := ts.Client()
		cl.Timeout = 10 * time.Second
		cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

		signIn := func() *http.Cookie {
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/signin", strings.NewReader(url.Values{"token": {"nrmnet_sw"}, "next": {"/cases?view=all"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			res, err := cl.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/cases?view=all" {
				t.Fatalf("tls %v: sign-in %d to %q", tls, res.StatusCode, res.Header.Get("Location"))
			}
			for _, h := range res.Header.Values("Set-Cookie") {
				if strings.Contains(h, "nrmnet_sw") {
					t.Fatalf("tls %v: the token went back to the browser: %s", tls, h)
				}
			}
			if strings.Contains(string(body), "nrmnet_sw") {
				t.Fatalf("tls %v: the token is in the response body", tls)
			}
			cs := res.Cookies()
			if len(cs) != 1 {
				t.Fatalf("tls %v: cookies %+v", tls, cs)
			}
			return cs[0]
		}
		c := signIn()
		raw, err := base64.RawURLEncoding.DecodeString(c.Value)
		if c.Name != "nrmnet_session" || err != nil || len(raw) != 32 || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode ||
			c.Path != "/" || c.MaxAge != int((8*time.Hour)/time.Second) || c.Secure != tls {
			t.Fatalf("tls %v: cookie %+v (decode err %v, %d bytes)", tls, c, err, len(raw))
		}
		if again := signIn(); again.Value == c.Value {
			t.Fatalf("tls %v: two sign-ins got the same session ID", tls)
		}

		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/cases", nil)
		req.AddCookie(c)
		res, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("tls %v: case list with the session: %d", tls, res.StatusCode)
		}
		mustContain(t, string(body), "Signed in as <strong>isl.sw</strong>", `data-case="ISL-1"`, `action="/signout"`)
	}
}

// The cookie of earlier versions, which held the token itself, signs no one
// in any more and is cleared; nor does a token put in the session cookie,
// nor an ID the server never gave.
func TestTokenInCookieIsNotASignIn(t *testing.T) {
	clock := &fakeClock{now: testNow}
	s := sessionServer(t, clock, nil)
	forged := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	for _, cookie := range []string{
		"nrmnet_token=nrmnet_sw",
		"nrmnet_session=nrmnet_sw",
		"nrmnet_session=" + forged,
		"nrmnet_session=",
	} {
		if caseListWith(t, s, cookie) {
			t.Errorf("%s signed in", cookie)
		}
	}
	res, _ := getAs(t, s, "/cases", http.Header{"Cookie": {"nrmnet_token=nrmnet_sw"}})
	cleared := false
	for _, c := range res.Cookies() {
		cleared = cleared || (c.Name == "nrmnet_token" && c.Value == "" && c.MaxAge < 0)
	}
	if !cleared {
		t.Errorf("the old token cookie was not cleared: %v", res.Header.Values("Set-Cookie"))
	}
	// API-style clients still send the token as a bearer header.
	if res, _ := getAs(t, s, "/cases", http.Header{"Authorization": {"Bearer nrmnet_sw"}}); res.StatusCode != http.StatusOK {
		t.Errorf("bearer header: %d", res.StatusCode)
	}
}

// A session not used for longer than the idle timeout ends, however young.
func TestSessionIdleExpiry(t *testing.T) {
	clock := &fakeClock{now: testNow}
	s := sessionServer(t, clock, nil)
	cookie := sessionFor(t, s, "nrmnet_sw")
	clock.Advance(29 * time.Minute)
	if !caseListWith(t, s, cookie) {
		t.Fatal("refused after 29 minutes idle")
	}
	clock.Advance(30 * time.Minute) // idle for exactly the timeout: still live
	if !caseListWith(t, s, cookie) {
		t.Fatal("refused after exactly 30 minutes idle")
	}
	clock.Advance(30*time.Minute + time.Second)
	if caseListWith(t, s, cookie) {
		t.Fatal("a session idle for 30 minutes and a second still works")
	}
	if n := s.sessions.len(); n != 0 {
		t.Errorf("the expired session is still held (%d sessions)", n)
	}
	clock.Advance(-time.Hour) // even if the clock steps back, it stays ended
	if caseListWith(t, s, cookie) {
		t.Fatal("an ended session came back")
	}
}

// A session in constant use still ends at its absolute lifetime.
func TestSessionAbsoluteExpiry(t *testing.T) {
	clock := &fakeClock{now: testNow}
	s := sessionServer(t, clock, nil)
	cookie := sessionFor(t, s, "nrmnet_sw")
	for elapsed := 20 * time.Minute; elapsed <= 8*time.Hour; elapsed += 20 * time.Minute {
		clock.Advance(20 * time.Minute)
		if !caseListWith(t, s, cookie) {
			t.Fatalf("refused %s after sign-in", elapsed)
		}
	}
	clock.Advance(time.Second)
	if caseListWith(t, s, cookie) {
		t.Fatal("a session 8 hours and a second old still works")
	}

	// Shorter durations from the config apply.
	s = sessionServer(t, clock, func(c *Config) { c.SessionLifetime, c.SessionIdleTimeout = time.Hour, 10*time.Minute })
	cookie = sessionFor(t, s, "nrmnet_sw")
	clock.Advance(10*time.Minute + time.Second)
	if caseListWith(t, s, cookie) {
		t.Fatal("the configured idle timeout did not apply")
	}
	c := signInCookie(t, s, "nrmnet_sw")
	if c.MaxAge != 3600 {
		t.Errorf("cookie Max-Age %d, want the configured lifetime", c.MaxAge)
	}
}

// Signing out ends the session on the server: the cookie it had, copied
// before, no longer signs anyone in.
func TestSignOutEndsSessionOnServer(t *testing.T) {
	clock := &fakeClock{now: testNow}
	s := sessionServer(t, clock, nil)
	cookie := sessionFor(t, s, "nrmnet_sw")
	other := sessionFor(t, s, "nrmnet_sw") // the same user in another browser
	if !caseListWith(t, s, cookie) {
		t.Fatal("not signed in")
	}
	res := postForm(t, s, "/signout", nil, http.Header{"Cookie": {cookie}, "Sec-Fetch-Site": {"same-origin"}})
	if c := res.Cookies(); res.StatusCode != http.StatusSeeOther || len(c) != 1 || c[0].Name != sessionCookie || c[0].MaxAge >= 0 {
		t.Fatalf("sign-out: %d %+v", res.StatusCode, c)
	}
	if caseListWith(t, s, cookie) {
		t.Fatal("the copied cookie still works after sign-out")
	}
	if !caseListWith(t, s, other) {
		t.Error("signing out one browser ended another's session")
	}
	// A cross-site sign-out is refused and ends nothing.
	res = postForm(t, s, "/signout", nil, http.Header{"Cookie": {other}, "Sec-Fetch-Site": {"cross-site"}})
	if res.StatusCode != http.StatusForbidden || !caseListWith(t, s, other) {
		t.Errorf("cross-site sign-out: %d", res.StatusCode)
	}
	// Signing in again replaces the browser's session with a new one.
	req := httptest.NewRequest(http.MethodPost, "/signin", strings.NewReader(url.Values{"token": {"nrmnet_sw"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Cookie", other)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther || caseListWith(t, s, other) {
		t.Errorf("re-sign-in: %d, and the old session still works", rec.Code)
	}
}

// A user the administrator revokes is cut at once, mid-session, and the
// session ends.
func TestRevokedUserSessionStops(t *testing.T) {
	clock := &fakeClock{now: testNow}
	users := &revocableUsers{revoked: map[string]bool{}}
	s := sessionServer(t, clock, func(c *Config) { c.Auth = users })
	cookie := sessionFor(t, s, "nrmnet_sw")
	if !caseListWith(t, s, cookie) {
		t.Fatal("not signed in")
	}
	users.revoke("nrmnet_sw")
	if caseListWith(t, s, cookie) {
		t.Fatal("a revoked user's session still works")
	}
	if n := s.sessions.len(); n != 0 {
		t.Errorf("the revoked user's session is still held (%d sessions)", n)
	}
}

// The store holds at most MaxSessions: a sign-in beyond it ends the least
// recently used; expired sessions are swept out by a later sign-in.
func TestSessionStoreBound(t *testing.T) {
	clock := &fakeClock{now: testNow}
	var logs bytes.Buffer
	s := sessionServer(t, clock, func(c *Config) {
		c.MaxSessions = 3
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	var cookies []string
	for range 3 {
		clock.Advance(time.Second)
		cookies = append(cookies, sessionFor(t, s, "nrmnet_sw"))
	}
	clock.Advance(time.Second)
	if !caseListWith(t, s, cookies[0]) { // the first is now the most recently used
		t.Fatal("first session refused")
	}
	clock.Advance(time.Second)
	cookies = append(cookies, sessionFor(t, s, "nrmnet_sw"))
	clock.Advance(time.Second)
	cookies = append(cookies, sessionFor(t, s, "nrmnet_sw"))
	if n := s.sessions.len(); n != 3 {
		t.Fatalf("%d sessions held, want at most 3", n)
	}
	for i, want := range []bool{true, false, false, true, true} {
		if got := caseListWith(t, s, cookies[i]); got != want {
			t.Errorf("session %d live %v, want %v", i, got, want)
		}
	}
	if !strings.Contains(logs.String(), "session store full") {
		t.Errorf("evictions were not logged:\n%s", logs.String())
	}

	// All idle past the timeout: the next sign-in sweeps them out.
	clock.Advance(31 * time.Minute)
	sessionFor(t, s, "nrmnet_sw")
	if n := s.sessions.len(); n != 1 {
		t.Errorf("%d sessions held after the sweep, want 1", n)
	}
}

// At the default bound of 10,000 sessions, the 10,001st ends the oldest.
func TestSessionStoreDefaultBound(t *testing.T) {
	c := DefaultConfig()
	st := newSessionStore(c.SessionLifetime, c.SessionIdleTimeout, c.MaxSessions, false)
	now := testNow
	var first, second string
	for i := range c.MaxSessions + 1 {
		now = now.Add(time.Millisecond)
		id, _, evicted, err := st.create("nrmnet_sw", now)
		if err != nil {
			t.Fatal(err)
		}
		switch i {
		case 0:
			first = id
		case 1:
			second = id
		case c.MaxSessions:
			if evicted != 1 {
				t.Errorf("the sign-in over the bound evicted %d", evicted)
			}
		default:
			if evicted != 0 {
				t.Fatalf("sign-in %d evicted %d below the bound", i, evicted)
			}
		}
	}
	if st.len() != 10_000 {
		t.Errorf("%d sessions held", st.len())
	}
	if _, ok := st.use(first, now); ok {
		t.Error("the oldest session survived")
	}
	if _, ok := st.use(second, now); !ok {
		t.Error("the second oldest was dropped too")
	}
}

// Neither a token nor a session ID ever reaches the logs.
func TestSessionLogsHoldNoSecrets(t *testing.T) {
	clock := &fakeClock{now: testNow}
	var logs bytes.Buffer
	users := &revocableUsers{revoked: map[string]bool{}}
	s := sessionServer(t, clock, func(c *Config) {
		c.Auth = users
		c.MaxSessions = 2
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	var ids []string
	for range 3 { // the third evicts the first
		clock.Advance(time.Second)
		ids = append(ids, sessionFor(t, s, "nrmnet_sw"))
	}
	ids = append(ids, sessionFor(t, s, "nrmnet_auditor"))
	postForm(t, s, "/signin", url.Values{"token": {"nrmnet_wrong_token"}}, nil)
	caseListWith(t, s, ids[2])
	postForm(t, s, "/signout", nil, http.Header{"Cookie": {ids[2]}})
	clock.Advance(time.Hour)
	caseListWith(t, s, ids[3])
	sessionFor(t, s, "nrmnet_sw")
	users.revoke("nrmnet_sw")
	getAs(t, s, "/cases", http.Header{"Authorization": {"Bearer nrmnet_sw"}})

	out := logs.String()
	if !strings.Contains(out, "signed in") {
		t.Fatalf("nothing was logged:\n%s", out)
	}
	for _, secret := range append([]string{"nrmnet_sw", "nrmnet_auditor", "nrmnet_wrong_token"}, ids...) {
		secret = strings.TrimPrefix(secret, sessionCookie+"=")
		if strings.Contains(out, secret) {
			t.Errorf("the logs hold %q:\n%s", secret, out)
		}
	}
}

// Session durations and the bound are checked.
func TestSessionConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mod   func(*Config)
		field string
	}{
		{"lifetime zero", func(c *Config) { c.SessionLifetime = 0 }, "session_lifetime"},
		{"lifetime too long", func(c *Config) { c.SessionLifetime = 30 * 24 * time.Hour }, "session_lifetime"},
		{"idle zero", func(c *Config) { c.SessionIdleTimeout = 0 }, "session_idle_timeout"},
		{"idle beyond lifetime", func(c *Config) { c.SessionIdleTimeout = 9 * time.Hour }, "session_idle_timeout"},
		{"no sessions", func(c *Config) { c.MaxSessions = 0 }, "max_sessions"},
	} {
		c := DefaultConfig()
		c.Authority = "ISL"
		c.Region = fakeRegion{}
		tc.mod(&c)
		err := c.Validate()
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.field+":") {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	c := DefaultConfig()
	c.Authority, c.Region = "ISL", fakeRegion{}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// FuzzSessionCookie sends arbitrary session cookies: none is ever a 5xx,
// and only the ID the server gave signs anyone in (as the cookie parser reads
// the header, which drops surrounding quotes).
func FuzzSessionCookie(f *testing.F) {
	f.Add("nrmnet_sw")
	f.Add("")
	f.Add(strings.Repeat("A", 43))
	f.Add("%00%ff;nrmnet_session=x")
	clock := &fakeClock{now: testNow}
	cfg := DefaultConfig()
	cfg.Authority = "ISL"
	cfg.Region = fakeRegion{}
	cfg.Auth = testUsers
	cfg.Cases = &fakeCases{list: func(storage.CaseQuery) []storage.CaseSummary { return nil }}
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Now = clock.Now
	s, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	issued := signInCookie(f, s, "nrmnet_sw").Value
	f.Add(issued)
	f.Add(`"` + issued + `"`)
	f.Fuzz(func(t *testing.T, value string) {
		req := httptest.NewRequest(http.MethodGet, "/cases", nil)
		req.Header.Set("Cookie", sessionCookie+"="+value)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q", rec.Code, value)
		}
		c, err := req.Cookie(sessionCookie)
		if signed, want := rec.Code == http.StatusOK, err == nil && c.Value == issued; signed != want {
			t.Fatalf("cookie %q: signed in %v", value, signed)
		}
	})
}

// TestSecureCookiesBehindAProxy: with SecureCookies set, a sign-in over
// plain HTTP (TLS ended at a reverse proxy) still gets a Secure cookie, and
// so does the cookie that ends the session; without it, it does not.
func TestSecureCookiesBehindAProxy(t *testing.T) {
	for _, secure := range []bool{false, true} {
		s := sessionServer(t, &fakeClock{now: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}, func(c *Config) { c.SecureCookies = secure })
		c := signInCookie(t, s, "nrmnet_sw")
		if c.Secure != secure {
			t.Errorf("SecureCookies %v: the session cookie's Secure is %v", secure, c.Secure)
		}
		req := httptest.NewRequest(http.MethodPost, "/signout", nil)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.AddCookie(c)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		cleared := false
		for _, out := range rec.Result().Cookies() {
			if out.Name == sessionCookie {
				cleared = true
				if out.Secure != secure {
					t.Errorf("SecureCookies %v: the sign-out cookie's Secure is %v", secure, out.Secure)
				}
			}
		}
		if !cleared {
			t.Errorf("SecureCookies %v: sign-out (status %d) did not clear the session cookie", secure, rec.Code)
		}
	}
}
