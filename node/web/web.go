package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	_ "time/tzdata" // the pages show UK time; a scratch image has no zoneinfo

	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrConfig: the Config is invalid.
	ErrConfig = errors.New("invalid web config")
	// ErrNotSignedIn: the request carries no valid sign-in. An
	// Authenticator returns it (wrapped) for an unknown or revoked token.
	ErrNotSignedIn = errors.New("not signed in")
	// ErrForbidden: the signed-in user's role may not do this. A CaseLister
	// returns it (wrapped) after recording the refusal.
	ErrForbidden = errors.New("not allowed for this role")
)

// CaseLister is what the worker's case list reads: the store's summary
// index, which holds no identifying field. Every call is audited by the
// store with the Access given.
type CaseLister interface {
	ListCases(ctx context.Context, q storage.CaseQuery, who storage.Access) ([]storage.CaseSummary, error)
}

// Authenticator checks a user's bearer token (the node's users). It
// returns an error matching ErrNotSignedIn for a token that is not a live
// user's.
type Authenticator interface {
	Authenticate(token string) (Principal, error)
}

// Principal is a signed-in user.
type Principal struct {
	UserID string // e.g. "sw-islington-07"
	Role   string // e.g. "social_worker", "coordinator"
}

// Config configures a Server. Start from DefaultConfig.
type Config struct {
	// Authority is the node's authority.
	Authority authority.Code
	// Version is the node's software version, shown in the footer.
	Version string

	// Region feeds the coordinator view. Required.
	Region RegionStatus
	// Cases feeds the worker's case list; nil shows the page as unavailable.
	Cases CaseLister
	// CaseFiles reads one case for the case page; nil shows it as
	// unavailable.
	CaseFiles CaseReader
	// Allocator takes the case page's allocation form; nil hides it.
	Allocator Allocator
	// Alerts raises and lists cross-border alerts and match tasks; nil
	// (a node that is not federated) shows those pages as unavailable.
	Alerts AlertDesk
	// Relocations lists the relocation inbox and outbox and takes their
	// decisions; nil (a node that is not federated) shows the page as
	// unavailable.
	Relocations RelocationDesk
	// Referrals takes new referrals from the new-referral page; nil shows
	// that page as unavailable.
	Referrals ReferralDesk
	// Panels shows the combined panels this node sits on, their cases'
	// meetings, votes and decisions, and takes votes and conclusions; nil
	// shows those pages as unavailable.
	Panels PanelDesk
	// Auth checks the tokens users sign in with. When nil there is no
	// sign-in, and the case list is refused unless DemoPrincipal is set.
	Auth Authenticator
	// DemoPrincipal, for a demonstration network only, is the user a
	// request that is not signed in acts as. Pages then carry a banner
	// saying so.
	DemoPrincipal *Principal

	// RefreshInterval is how often the coordinator view reloads itself.
	RefreshInterval time.Duration
	// DueSoon is how far ahead a deadline is marked "due soon".
	DueSoon time.Duration
	// CaseListLimit is the most cases one page of the case list shows.
	CaseListLimit int
	// Location is the time zone pages show times in.
	Location *time.Location

	// SessionLifetime is how long a sign-in to the pages lasts at most,
	// however busy; the session cookie's Max-Age is the same.
	SessionLifetime time.Duration
	// SessionIdleTimeout ends a sign-in that has not been used for this
	// long. At most SessionLifetime.
	SessionIdleTimeout time.Duration
	// MaxSessions bounds the sign-ins held in memory; at the bound a new
	// one ends the least recently used.
	MaxSessions int
	// SecureCookies marks the session cookie Secure even when this server
	// sees plain HTTP: set it when users reach the pages over HTTPS through
	// a reverse proxy, so a browser never sends the cookie unencrypted.
	// Without it the cookie is Secure only when this server serves TLS.
	SecureCookies bool

	// Logger receives the server's logs (never case content); nil means
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig returns a Config with everything but the authority and the
// sources filled in.
func DefaultConfig() Config {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		loc = time.UTC
	}
	return Config{
		Version:         "dev",
		RefreshInterval: 5 * time.Second,
		DueSoon:         48 * time.Hour,
		CaseListLimit:   100,
		Location:        loc,

		SessionLifetime:    8 * time.Hour,
		SessionIdleTimeout: 30 * time.Minute,
		MaxSessions:        10_000,
	}
}

// Validate checks the configuration and names every problem.
func (c *Config) Validate() error {
	var errs []error
	if !authority.Known(c.Authority) {
		errs = append(errs, fmt.Errorf("authority: %q is not the code of a listed authority", c.Authority))
	}
	if c.Region == nil {
		errs = append(errs, errors.New("region: a RegionStatus is required"))
	}
	if c.RefreshInterval < time.Second {
		errs = append(errs, fmt.Errorf("refresh_interval: %s is below 1s", c.RefreshInterval))
	}
	if c.DueSoon <= 0 {
		errs = append(errs, fmt.Errorf("due_soon: %s must be positive", c.DueSoon))
	}
	if c.CaseListLimit < 1 || c.CaseListLimit > storage.MaxListLimit {
		errs = append(errs, fmt.Errorf("case_list_limit: %d is not between 1 and %d", c.CaseListLimit, storage.MaxListLimit))
	}
	if c.Location == nil {
		errs = append(errs, errors.New("location: is required"))
	}
	if c.SessionLifetime < time.Minute || c.SessionLifetime > 7*24*time.Hour {
		errs = append(errs, fmt.Errorf("session_lifetime: %s is not between 1m and 168h", c.SessionLifetime))
	}
	if c.SessionIdleTimeout < time.Minute || c.SessionIdleTimeout > c.SessionLifetime {
		errs = append(errs, fmt.Errorf("session_idle_timeout: %s is not between 1m and the session lifetime (%s)", c.SessionIdleTimeout, c.SessionLifetime))
	}
	if c.MaxSessions < 1 || c.MaxSessions > maxMaxSessions {
		errs = append(errs, fmt.Errorf("max_sessions: %d is not between 1 and %d", c.MaxSessions, maxMaxSessions))
	}
	if c.DemoPrincipal != nil && (c.DemoPrincipal.UserID == "" || c.DemoPrincipal.Role == "") {
		errs = append(errs, errors.New("demo_principal: needs a user ID and a role"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// maxMaxSessions is the most sessions a node may be configured to hold
// (each is a few hundred bytes).
const maxMaxSessions = 1_000_000

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Server serves the pages. It is an http.Handler for the paths "/",
// "/federation", "/cases", "/cases/new" (the new-referral form, posted to
// "/cases"), "/cases/{id}" (and its alert form), "/alerts",
// "/tasks" (and their resolve forms), "/relocations" (and its decision
// forms) and "/static/".
type Server struct {
	cfg      Config
	log      *slog.Logger
	pages    map[string]*template.Template
	mux      *http.ServeMux
	name     string
	sessions *sessionStore
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg: cfg, log: cfg.Logger.With("component", "web"), pages: map[string]*template.Template{},
		sessions: newSessionStore(cfg.SessionLifetime, cfg.SessionIdleTimeout, cfg.MaxSessions, cfg.SecureCookies),
	}
	a, _ := authority.Lookup(cfg.Authority)
	s.name = a.Name
	funcs := template.FuncMap{
		"when":      s.formatTime,
		"ago":       s.ago,
		"clock":     s.clock,
		"state":     stateLabel,
		"join":      strings.Join,
		"codes":     joinCodes,
		"authName":  authorityName,
		"words":     words,
		"count":     count,
		"taskField": taskField,
		"ptr":       func(t time.Time) *time.Time { return &t },
	}
	for _, page := range []string{"home", "federation", "cases", "case", "alerts", "tasks", "relocations", "panels", "panels-case", "problem", "signin", "referral"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+page+".html")
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", page, err)
		}
		s.pages[page] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("web: static files: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /federation", s.federation)
	mux.HandleFunc("GET /cases", s.cases)
	mux.HandleFunc("GET /cases/{id}", s.caseView)
	mux.HandleFunc("POST /cases/{id}/alerts", s.raiseAlert)
	mux.HandleFunc("POST /cases/{id}/lead-worker", s.allocate)
	mux.HandleFunc("GET /alerts", s.alerts)
	mux.HandleFunc("GET /tasks", s.tasks)
	mux.HandleFunc("POST /tasks/{id}/resolve", s.resolveTask)
	s.referralRoutes(mux)
	s.relocationRoutes(mux)
	s.panelRoutes(mux)
	mux.HandleFunc("GET /signin", s.signInForm)
	mux.HandleFunc("POST /signin", s.signIn)
	mux.HandleFunc("POST /signout", s.signOut)
	files := http.FileServerFS(static)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The file server answers 500 to a name fs.FS cannot hold (e.g.
		// invalid UTF-8); such a name is simply not here.
		if name := r.URL.Path; name == "" || !fs.ValidPath(name) {
			s.problem(w, r, http.StatusNotFound, "Page not found", "There is no page at this address.")
			return
		}
		files.ServeHTTP(w, r)
	})))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.problem(w, r, http.StatusNotFound, "Page not found", "There is no page at this address.")
	})
	s.mux = mux
	return s, nil
}

// ServeHTTP serves the pages with headers that keep them self-contained:
// nothing may load from elsewhere, nothing may frame them, and nothing is
// cached (a case list is not to be left in a shared machine's cache). A
// browser still holding the cookie earlier versions kept the user's token
// in is told to drop it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if _, err := r.Cookie(legacyTokenCookie); err == nil {
		http.SetCookie(w, s.sessions.expiredCookie(r, legacyTokenCookie))
	}
	s.mux.ServeHTTP(w, r)
}

// layoutData is what every page's layout needs.
type layoutData struct {
	Title     string
	Authority authority.Code
	Name      string
	Version   string
	Current   string // nav item of this page
	Refresh   int    // seconds; 0 for none
	Demo      bool
	SignIn    bool       // the node has sign-in
	User      *Principal // the signed-in user, if any
	Now       time.Time
	Page      any
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, d layoutData) {
	d.Authority, d.Name, d.Version = s.cfg.Authority, s.name, s.cfg.Version
	d.SignIn = s.cfg.Auth != nil
	if p, ok := s.signedIn(r); ok {
		d.User = &p
	} else {
		d.Demo = s.cfg.DemoPrincipal != nil
	}
	d.Now = s.cfg.Now()
	var buf bytes.Buffer
	if err := s.pages[page].Execute(&buf, d); err != nil {
		s.log.Error("render page", "page", page, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

func (s *Server) problem(w http.ResponseWriter, r *http.Request, status int, title, detail string) {
	s.render(w, r, status, "problem", layoutData{Title: title, Page: detail})
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "home", layoutData{Title: s.name + " node", Current: "home"})
}

// federationPage is the coordinator view's data.
type federationPage struct {
	View    RegionView
	Up      int
	Refresh time.Duration
}

func (s *Server) federation(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	v, err := s.cfg.Region.RegionView(ctx)
	if err != nil {
		s.log.Warn("region view", "err", err)
		s.problem(w, r, http.StatusServiceUnavailable, "Federation view unavailable", "This node cannot say how the region stands just now. It will retry when the page is reloaded.")
		return
	}
	p := federationPage{View: v, Refresh: s.cfg.RefreshInterval}
	for _, a := range v.Authorities {
		if a.Up {
			p.Up++
		}
	}
	s.render(w, r, http.StatusOK, "federation", layoutData{
		Title:   v.Region + " federation",
		Current: "federation",
		Refresh: int(s.cfg.RefreshInterval / time.Second),
		Page:    p,
	})
}

// casesPage is the worker's case list data.
type casesPage struct {
	View       string // "deadlines" or "all"
	Worker     string
	Rows       []caseRow
	Overdue    int
	DueSoon    int
	More       bool
	NextCursor string
	Actor      Principal
	CanRefer   bool // the new-referral form is open to Actor
}

type caseRow struct {
	storage.CaseSummary
	Status string // "overdue", "due-soon", "on-time", "none"
}

func (p casesPage) NextURL() string {
	q := url.Values{"view": {p.View}, "after": {p.NextCursor}}
	if p.Worker != "" {
		q.Set("worker", p.Worker)
	}
	return "/cases?" + q.Encode()
}

// maxWorkerLen bounds the worker filter, a user ID.
const maxWorkerLen = 64

func (s *Server) cases(w http.ResponseWriter, r *http.Request) {
	who, ok := s.principal(w, r)
	if !ok {
		return
	}
	if s.cfg.Cases == nil {
		s.problem(w, r, http.StatusServiceUnavailable, "Case list unavailable", "This node does not hold cases.")
		return
	}
	q := r.URL.Query()
	view := q.Get("view")
	switch view {
	case "", "deadlines":
		view = "deadlines"
	case "all":
	default:
		s.problem(w, r, http.StatusBadRequest, "Unknown list", fmt.Sprintf("The list %q does not exist: choose deadlines or all.", clip(view)))
		return
	}
	worker := strings.TrimSpace(q.Get("worker"))
	if len(worker) > maxWorkerLen || strings.ContainsFunc(worker, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		s.problem(w, r, http.StatusBadRequest, "Lead worker not valid", fmt.Sprintf("A lead worker is a user ID of at most %d printable characters.", maxWorkerLen))
		return
	}
	now := s.cfg.Now()
	cq := storage.CaseQuery{LeadWorker: worker, Limit: s.cfg.CaseListLimit + 1, Cursor: q.Get("after")}
	if view == "deadlines" {
		// Every case with an open deadline, earliest first.
		cq.DueBefore = now.Add(100 * 365 * 24 * time.Hour)
	}
	list, err := s.cfg.Cases.ListCases(r.Context(), cq, storage.Access{
		Actor: who.UserID, Role: who.Role, Purpose: "worker case list (" + view + ")",
	})
	if errors.Is(err, ErrForbidden) {
		s.problem(w, r, http.StatusForbidden, "Not available to your role", fmt.Sprintf("Your role (%s) may not see case lists. The refusal has been recorded.", who.Role))
		return
	}
	if err != nil {
		s.log.Warn("list cases", "err", err, "view", view)
		s.problem(w, r, http.StatusServiceUnavailable, "Case list unavailable", "The case list could not be read. Try again; if it persists, tell the node's operator.")
		return
	}
	p := casesPage{View: view, Worker: worker, Actor: who, CanRefer: s.cfg.Referrals != nil && mayCreateCases(who)}
	if len(list) > s.cfg.CaseListLimit {
		list = list[:s.cfg.CaseListLimit]
		p.More, p.NextCursor = true, list[len(list)-1].Cursor()
	}
	for _, c := range list {
		row := caseRow{CaseSummary: c, Status: "none"}
		if c.NextDeadline != nil {
			switch d := c.NextDeadline.Sub(now); {
			case d < 0:
				row.Status = "overdue"
				p.Overdue++
			case d <= s.cfg.DueSoon:
				row.Status = "due-soon"
				p.DueSoon++
			default:
				row.Status = "on-time"
			}
		}
		p.Rows = append(p.Rows, row)
	}
	s.render(w, r, http.StatusOK, "cases", layoutData{Title: s.name + " cases", Current: "cases", Page: p})
}

// principal returns who is asking, or answers the request itself: the
// signed-in user, else the demo user, else a sign-in form.
func (s *Server) principal(w http.ResponseWriter, r *http.Request) (Principal, bool) {
	if p, ok := s.signedIn(r); ok {
		return p, true
	}
	if s.cfg.DemoPrincipal != nil {
		return *s.cfg.DemoPrincipal, true
	}
	if s.cfg.Auth == nil {
		s.problem(w, r, http.StatusForbidden, "Sign-in not available", "Case pages need a signed-in user, and this node has no sign-in configured.")
		return Principal{}, false
	}
	s.render(w, r, http.StatusUnauthorized, "signin", layoutData{Title: "Sign in", Current: "signin", Page: signInPage{Next: r.URL.RequestURI()}})
	return Principal{}, false
}

// signedIn returns the signed-in user: the user of the live session the
// session cookie names or, without that cookie, of the token in an
// Authorization: Bearer header (for API-style clients). The session's token
// is checked again on every request, so a user the administrator revokes
// is cut at once; a session whose token is no longer a live user's ends.
func (s *Server) signedIn(r *http.Request) (Principal, bool) {
	if s.cfg.Auth == nil {
		return Principal{}, false
	}
	token, sessionID := "", ""
	if c, err := r.Cookie(sessionCookie); err == nil {
		sessionID = c.Value
		var ok bool
		if token, ok = s.sessions.use(sessionID, s.cfg.Now()); !ok {
			return Principal{}, false
		}
	} else if h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = h
	}
	if token == "" || len(token) > maxTokenLen {
		return Principal{}, false
	}
	p, err := s.cfg.Auth.Authenticate(token)
	if err != nil {
		if errors.Is(err, ErrNotSignedIn) {
			if sessionID != "" {
				s.sessions.end(sessionID)
			}
		} else {
			s.log.Warn("sign-in check failed", "err", err)
		}
		return Principal{}, false
	}
	return p, true
}

// maxTokenLen bounds what is taken for a token; real ones are 50 bytes.
const maxTokenLen = 256

// signInPage is the sign-in form's data.
type signInPage struct {
	Next    string
	Problem string
}

func (s *Server) signInForm(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Auth == nil {
		s.problem(w, r, http.StatusNotFound, "Sign-in not available", "This node has no sign-in configured.")
		return
	}
	s.render(w, r, http.StatusOK, "signin", layoutData{Title: "Sign in", Current: "signin", Page: signInPage{Next: safeNext(r.URL.Query().Get("next"))}})
}

// signIn checks the token from the form and, if it is a live user's, starts
// a session on the server for it, gives the browser only the session's ID
// in the session cookie, and goes on to the page asked for. A session the
// browser already had ends: a sign-in always gets a new ID.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Auth == nil {
		s.problem(w, r, http.StatusNotFound, "Sign-in not available", "This node has no sign-in configured.")
		return
	}
	if !sameOrigin(r) {
		s.problem(w, r, http.StatusForbidden, "Sign-in refused", "The sign-in form was sent from another site.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		s.problem(w, r, http.StatusBadRequest, "Sign-in not valid", "The form could not be read.")
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	token := strings.TrimSpace(r.PostForm.Get("token"))
	var p Principal
	err := ErrNotSignedIn
	if token != "" && len(token) <= maxTokenLen {
		p, err = s.cfg.Auth.Authenticate(token)
	}
	if err != nil {
		if !errors.Is(err, ErrNotSignedIn) {
			s.log.Warn("sign-in check failed", "err", err)
		}
		s.render(w, r, http.StatusUnauthorized, "signin", layoutData{Title: "Sign in", Current: "signin", Page: signInPage{
			Next: next, Problem: "That token is not the token of a current user of this node. Check it and try again, or ask your administrator.",
		}})
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.end(c.Value)
	}
	id, swept, evicted, err := s.sessions.create(token, s.cfg.Now())
	if err != nil {
		s.log.Error("start a session", "err", err)
		s.problem(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "The node could not start a session. Try again; if it persists, tell the node's operator.")
		return
	}
	if swept > 0 {
		s.log.Debug("expired sessions swept", "count", swept)
	}
	if evicted > 0 {
		s.log.Warn("session store full: least recently used sessions ended", "count", evicted, "max_sessions", s.cfg.MaxSessions)
	}
	http.SetCookie(w, s.sessions.cookieFor(r, id))
	s.log.Info("signed in", "user", p.UserID, "role", p.Role)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signOut ends the browser's session on the server and clears its cookie:
// a copy of the cookie taken before is then worth nothing.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		s.problem(w, r, http.StatusForbidden, "Sign-out refused", "The sign-out form was sent from another site.")
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.end(c.Value)
	}
	http.SetCookie(w, s.sessions.expiredCookie(r, sessionCookie))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// sameOrigin refuses a form posted from another site. Current browsers say
// where a request comes from in Sec-Fetch-Site; others send Origin with a
// POST, which must then name this host. A request with neither is not a
// browser's cross-site form (and the session cookie is SameSite=Strict).
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin" || site == "none"
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// safeNext keeps a redirect after sign-in on this site: a path, never
// another host.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/cases"
	}
	return next
}

func (s *Server) formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.In(s.cfg.Location).Format("2 Jan 2006 15:04")
}

func (s *Server) ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := s.cfg.Now().Sub(t)
	if d < 2*time.Second {
		return "just now"
	}
	return span(d) + " ago"
}

// clock says how a deadline stands: "overdue by 3 days" or "due in 4 hours".
func (s *Server) clock(t *time.Time) string {
	if t == nil {
		return "nothing due"
	}
	d := t.Sub(s.cfg.Now())
	if d < 0 {
		return "overdue by " + span(-d)
	}
	return "due in " + span(d)
}

// span writes a duration the way people say it, to its largest unit.
func span(d time.Duration) string {
	switch {
	case d < time.Minute:
		return plural(int(d/time.Second), "second")
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour")
	default:
		return plural(int(d/(24*time.Hour)), "day")
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	if strings.HasSuffix(unit, "ch") || strings.HasSuffix(unit, "sh") || strings.HasSuffix(unit, "s") || strings.HasSuffix(unit, "x") {
		return fmt.Sprintf("%d %ses", n, unit) // "2 possible matches"
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// stateLabel says a case state in words: "rg_pending" is "RG pending".
func stateLabel(s v1.CaseState) string {
	words := strings.Split(string(s), "_")
	for i, w := range words {
		switch w {
		case "rg", "cg", "sca":
			words[i] = strings.ToUpper(w)
		}
	}
	out := strings.Join(words, " ")
	if out == "" {
		return ""
	}
	return strings.ToUpper(out[:1]) + out[1:]
}

func joinCodes(cs []authority.Code) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = authorityName(c)
	}
	return strings.Join(s, ", ")
}

func authorityName(c authority.Code) string {
	if a, ok := authority.Lookup(c); ok {
		return a.Name
	}
	return string(c)
}

// clip keeps quoted request input short on a page.
func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
