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
	// ErrNotSignedIn: the request carries no valid sign-in. Principals
	// return it (wrapped) for an anonymous or expired request.
	ErrNotSignedIn = errors.New("not signed in")
)

// CaseLister is what the worker's case list reads: the store's summary
// index, which holds no identifying field. Every call is audited by the
// store with the Access given.
type CaseLister interface {
	ListCases(ctx context.Context, q storage.CaseQuery, who storage.Access) ([]storage.CaseSummary, error)
}

// Principals says who is making a request, from its sign-in (the node's
// users). It returns an error matching ErrNotSignedIn when there is none.
type Principals interface {
	Principal(r *http.Request) (Principal, error)
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
	// Principals identifies signed-in users. When nil the case list is
	// refused, unless DemoPrincipal is set.
	Principals Principals
	// DemoPrincipal, for a demonstration network only, is the user every
	// request to the case list acts as when Principals is nil. Pages then
	// carry a banner saying there is no sign-in.
	DemoPrincipal *Principal

	// RefreshInterval is how often the coordinator view reloads itself.
	RefreshInterval time.Duration
	// DueSoon is how far ahead a deadline is marked "due soon".
	DueSoon time.Duration
	// CaseListLimit is the most cases one page of the case list shows.
	CaseListLimit int
	// Location is the time zone pages show times in.
	Location *time.Location

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
	if c.DemoPrincipal != nil && (c.DemoPrincipal.UserID == "" || c.DemoPrincipal.Role == "") {
		errs = append(errs, errors.New("demo_principal: needs a user ID and a role"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Server serves the pages. It is an http.Handler for the paths "/",
// "/federation", "/cases" and "/static/".
type Server struct {
	cfg   Config
	log   *slog.Logger
	pages map[string]*template.Template
	mux   *http.ServeMux
	name  string
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
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "web"), pages: map[string]*template.Template{}}
	a, _ := authority.Lookup(cfg.Authority)
	s.name = a.Name
	funcs := template.FuncMap{
		"when":     s.formatTime,
		"ago":      s.ago,
		"clock":    s.clock,
		"state":    stateLabel,
		"join":     strings.Join,
		"codes":    joinCodes,
		"authName": authorityName,
	}
	for _, page := range []string{"home", "federation", "cases", "problem"} {
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
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.problem(w, r, http.StatusNotFound, "Page not found", "There is no page at this address.")
	})
	s.mux = mux
	return s, nil
}

// ServeHTTP serves the pages with headers that keep them self-contained:
// nothing may load from elsewhere, nothing may frame them, and nothing is
// cached (a case list is not to be left in a shared machine's cache).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
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
	Now       time.Time
	Page      any
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, d layoutData) {
	d.Authority, d.Name, d.Version = s.cfg.Authority, s.name, s.cfg.Version
	d.Demo = s.cfg.Principals == nil && s.cfg.DemoPrincipal != nil
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
	if err != nil {
		s.log.Warn("list cases", "err", err, "view", view)
		s.problem(w, r, http.StatusServiceUnavailable, "Case list unavailable", "The case list could not be read. Try again; if it persists, tell the node's operator.")
		return
	}
	p := casesPage{View: view, Worker: worker, Actor: who}
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

// principal returns who is asking, or answers the request itself.
func (s *Server) principal(w http.ResponseWriter, r *http.Request) (Principal, bool) {
	if s.cfg.Principals == nil {
		if s.cfg.DemoPrincipal != nil {
			return *s.cfg.DemoPrincipal, true
		}
		s.problem(w, r, http.StatusForbidden, "Sign-in not available", "Case pages need a signed-in user, and this node has no sign-in configured yet.")
		return Principal{}, false
	}
	p, err := s.cfg.Principals.Principal(r)
	if err != nil {
		if !errors.Is(err, ErrNotSignedIn) {
			s.log.Warn("sign-in check failed", "err", err)
		}
		s.problem(w, r, http.StatusUnauthorized, "Please sign in", "Case pages need a signed-in user.")
		return Principal{}, false
	}
	return p, true
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
