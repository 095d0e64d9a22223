package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"nrmnet/node"
	"nrmnet/node/report"
	"nrmnet/schemas/openapi"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
	"nrmnet/storage/auditlog"
)

// Node is what the API needs of the authority's application; *node.Node
// satisfies it.
type Node interface {
	Authenticate(token string) (node.Principal, error)
	CreateReferral(ctx context.Context, who node.Principal, r node.NewReferral) (*node.CreatedReferral, error)
	Case(ctx context.Context, who node.Principal, id v1.CaseID, why node.Read) (*node.CaseRecord, error)
	Apply(ctx context.Context, who node.Principal, ch node.Change) (*node.CaseRecord, error)
	RecordChildViews(ctx context.Context, who node.Principal, v node.ChildViews) (*node.CaseRecord, error)
	ListCases(ctx context.Context, who node.Principal, f node.CaseFilter, why node.Read) (*node.CaseList, error)
	Overdue(ctx context.Context, who node.Principal, worker string) (*node.DueReport, error)
	AddUser(ctx context.Context, who node.Principal, u node.NewUser) (storage.User, string, error)
	Users(ctx context.Context, who node.Principal) ([]storage.User, error)
	RevokeUser(ctx context.Context, who node.Principal, id string) (storage.User, error)
	AuditCheckpoint(ctx context.Context, who node.Principal) (auditlog.Checkpoint, error)
	AuditEntries(ctx context.Context, who node.Principal, from int64, limit int) ([]v1.AuditEntry, error)
	QuarterlyReturn(ctx context.Context, who node.Principal, q report.Quarter) (*report.Return, error)
	ReferralDataset(ctx context.Context, who node.Principal, q report.Quarter) ([]report.ReferralRow, error)
	ChildRecord(ctx context.Context, who node.Principal, id v1.CaseID, why node.Read, format node.ChildRecordFormat) ([]byte, error)
	AcceptMemberAuditHistory(ctx context.Context, who node.Principal, member v1.AuthorityCode, reason string,
		accept func(context.Context, v1.AuthorityCode) error) error
	CheckpointConflicts(ctx context.Context, who node.Principal) ([]storage.ConflictEvidence, error)
}

// Headers of the API.
const (
	// HeaderPurpose says why a case is read (required to read a case).
	HeaderPurpose = "Nrmnet-Purpose"
	// HeaderLegalBasis names the legal basis of a read (optional).
	HeaderLegalBasis = "Nrmnet-Legal-Basis"
)

// DefaultMaxBodyBytes is the default limit on a request body.
const DefaultMaxBodyBytes = 256 << 10

// Config is the configuration of a Server. Start from DefaultConfig.
type Config struct {
	// Node is the authority's application (required).
	Node Node
	// Alerts is the node's cross-border work (alerts and match tasks); nil
	// when the node is not federated, and its routes then answer 503.
	Alerts Alerts
	// Relocations is the node's relocation hand-over; nil when the node is
	// not federated, and its routes then answer 503.
	Relocations Relocations
	// Panels is the node's combined panels; nil when it sits on none, and
	// the panel routes then answer 503.
	Panels Panels
	// Federation checks the region's audit checkpoints; nil when the node
	// is not federated, and accepting a member's history then answers 503.
	Federation MemberHistory
	// MaxBodyBytes is the largest request body accepted; a larger one gets
	// 413 and is not read further. Default 256 KiB: a case is at most a few
	// tens of KiB of text.
	MaxBodyBytes int64
	// Logger receives one line per request (method, route, status, user,
	// duration; never a body, a query or a header value); nil discards.
	Logger *slog.Logger
}

// DefaultConfig returns a Config with every field but Node set.
func DefaultConfig() Config { return Config{MaxBodyBytes: DefaultMaxBodyBytes} }

// ErrInvalidConfig: Config.Validate failed.
var ErrInvalidConfig = errors.New("invalid api config")

// Validate reports every missing or invalid field.
func (c Config) Validate() error {
	var errs []error
	if c.Node == nil {
		errs = append(errs, fmt.Errorf("%w: Node is required", ErrInvalidConfig))
	}
	if c.MaxBodyBytes < 1<<10 || c.MaxBodyBytes > 64<<20 {
		errs = append(errs, fmt.Errorf("%w: MaxBodyBytes is %d, want 1 KiB to 64 MiB", ErrInvalidConfig, c.MaxBodyBytes))
	}
	return errors.Join(errs...)
}

// handler serves one route for an authenticated user (who is the zero
// Principal on a public route).
type handler func(w http.ResponseWriter, r *http.Request, who node.Principal) error

// route is one registered route; Path uses OpenAPI's {param} form, which
// is also net/http's pattern syntax.
type route struct {
	Method string
	Path   string
	Public bool // no token needed
	h      handler
}

// Server is the API. It is an http.Handler; the caller owns the
// http.Server (timeouts, TLS, shutdown).
type Server struct {
	node    Node
	alerts  Alerts
	panels  Panels
	log     *slog.Logger
	maxBody int64
	mux     *http.ServeMux
	routes  []route

	// relocations is the relocation hand-over, or nil.
	relocations Relocations
	// federation is the audit-checkpoint checking, or nil.
	federation MemberHistory
}

// New validates cfg and returns a Server with every route registered.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{node: cfg.Node, alerts: cfg.Alerts, log: cfg.Logger, maxBody: cfg.MaxBodyBytes, mux: http.NewServeMux()}
	s.relocations = cfg.Relocations
	s.federation = cfg.Federation
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.log = s.log.With("component", "api")
	s.panels = cfg.Panels
	s.routes = []route{
		{Method: "GET", Path: "/v1/openapi", Public: true, h: s.openAPI},
		{Method: "GET", Path: "/v1/whoami", h: s.whoami},
		{Method: "POST", Path: "/v1/cases", h: s.createCase},
		{Method: "GET", Path: "/v1/cases", h: s.listCases},
		{Method: "GET", Path: "/v1/cases/{id}", h: s.readCase},
		{Method: "POST", Path: "/v1/cases/{id}/events", h: s.applyEvent},
		{Method: "POST", Path: "/v1/cases/{id}/views", h: s.recordViews},
		{Method: "GET", Path: "/v1/cases/{id}/child-record", h: s.childRecord},
		{Method: "GET", Path: "/v1/overdue", h: s.overdue},
		{Method: "POST", Path: "/v1/cases/{id}/alerts", h: s.raiseAlert},
		{Method: "GET", Path: "/v1/alerts", h: s.listAlerts},
		{Method: "GET", Path: "/v1/tasks", h: s.listTasks},
		{Method: "POST", Path: "/v1/tasks/{id}/resolve", h: s.resolveTask},
		{Method: "GET", Path: "/v1/users", h: s.listUsers},
		{Method: "POST", Path: "/v1/users", h: s.createUser},
		{Method: "POST", Path: "/v1/users/{id}/revoke", h: s.revokeUser},
		{Method: "GET", Path: "/v1/audit/checkpoint", h: s.checkpoint},
		{Method: "GET", Path: "/v1/audit/entries", h: s.auditEntries},
		{Method: "GET", Path: "/v1/reports/quarterly", h: s.quarterly},
		{Method: "GET", Path: "/v1/reports/referrals", h: s.referrals},
	}
	s.routes = append(s.routes, s.panelRoutes()...)
	s.routes = append(s.routes, s.relocationRoutes()...)
	s.routes = append(s.routes, s.federationRoutes()...)
	methods := map[string][]string{}
	var paths []string
	for _, rt := range s.routes {
		s.mux.Handle(rt.Method+" "+rt.Path, s.wrap(rt))
		if methods[rt.Path] == nil {
			paths = append(paths, rt.Path)
		}
		methods[rt.Path] = append(methods[rt.Path], rt.Method)
	}
	// Any other method on a known path: 405 in JSON, with Allow.
	for _, p := range paths {
		allow := strings.Join(methods[p], ", ")
		s.mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s; use %s", r.Method, p, allow))
		})
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, codeNoRoute, "no such route; the routes are listed in /v1/openapi")
	})
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.mux.ServeHTTP(w, r)
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// wrap authenticates, runs the handler, turns its error into a JSON error,
// recovers a panic, and logs the request.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w := &statusWriter{ResponseWriter: rw}
		var who node.Principal
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("handler panicked", "route", rt.Method+" "+rt.Path, "panic", fmt.Sprint(p))
				if w.status == 0 {
					writeError(w, http.StatusInternalServerError, "internal", "internal error; the node's log has the details")
				}
			}
			s.log.Info("request", "method", r.Method, "route", rt.Path, "status", w.status, "user", who.ID,
				"took", time.Since(start).Round(time.Microsecond))
		}()
		if !rt.Public {
			var err error
			if who, err = s.authenticate(r); err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="nrmnet"`)
				s.fail(w, err)
				return
			}
		}
		if err := rt.h(w, r, who); err != nil {
			s.fail(w, err)
		}
	})
}

func (s *Server) authenticate(r *http.Request) (node.Principal, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" {
		return node.Principal{}, fmt.Errorf("%w: send Authorization: Bearer <token> (an administrator issues tokens with `nrmnet user add`)", node.ErrUnauthenticated)
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return node.Principal{}, fmt.Errorf("%w: the Authorization header must be \"Bearer <token>\"", node.ErrUnauthenticated)
	}
	return s.node.Authenticate(strings.TrimSpace(token))
}

// fail writes err as a JSON error. An error the API does not expect is
// logged, and the client gets a message that leaks nothing.
func (s *Server) fail(w http.ResponseWriter, err error) {
	code, name := status(err)
	msg := err.Error()
	if code == http.StatusInternalServerError {
		s.log.Error("request failed", "err", err)
		msg = "internal error; the node's log has the details"
	}
	writeError(w, code, name, msg)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Code: code, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client went away; nothing to do
}

// readBody reads a JSON request body of at most maxBody bytes.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, &apiError{http.StatusUnsupportedMediaType, codeUnsupportedMedia,
				fmt.Sprintf("Content-Type %.60q is not application/json", ct)}
		}
	} else if r.ContentLength != 0 {
		return nil, &apiError{http.StatusUnsupportedMediaType, codeUnsupportedMedia, "send Content-Type: application/json"}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, &apiError{http.StatusRequestEntityTooLarge, codeBodyTooLarge,
			fmt.Sprintf("the request body is larger than the limit of %d bytes", s.maxBody)}
	}
	if err != nil {
		return nil, badBody("invalid_json", "the request body could not be read: %v", err)
	}
	return b, nil
}

// apiError is an error the API makes itself, with its status and code.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

// query returns r's query parameters after refusing any not in allowed and
// any given twice.
func query(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, &apiError{http.StatusBadRequest, codeInvalidQuery, "the query string is malformed: " + err.Error()}
	}
	for k, vs := range q {
		if !slices.Contains(allowed, k) {
			msg := fmt.Sprintf("unknown query parameter %.40q", k)
			if len(allowed) > 0 {
				msg += "; this route takes " + strings.Join(allowed, ", ")
			} else {
				msg += "; this route takes none"
			}
			return nil, &apiError{http.StatusBadRequest, codeInvalidQuery, msg}
		}
		if len(vs) > 1 {
			return nil, &apiError{http.StatusBadRequest, codeInvalidQuery, fmt.Sprintf("query parameter %s is given %d times", k, len(vs))}
		}
	}
	return q, nil
}

func intParam(q url.Values, name string, def, min, max int64) (int64, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < min || n > max {
		return 0, &apiError{http.StatusBadRequest, codeInvalidQuery, fmt.Sprintf("query parameter %s must be a whole number from %d to %d", name, min, max)}
	}
	return n, nil
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request, _ node.Principal) error {
	if _, err := query(r); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openapi.Spec)
	return nil
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	if _, err := query(r); err != nil {
		return err
	}
	caps := who.Role.Capabilities()
	if caps == nil {
		caps = []node.Capability{}
	}
	writeJSON(w, http.StatusOK, whoami{ID: who.ID, Name: who.Name, Role: who.Role, Authority: who.Authority, Capabilities: caps})
	return nil
}

func (s *Server) checkpoint(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	if _, err := query(r); err != nil {
		return err
	}
	cp, err := s.node.AuditCheckpoint(r.Context(), who)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, checkpoint{Origin: cp.Origin, Size: cp.Size, Root: base64.StdEncoding.EncodeToString(cp.Root[:])})
	return nil
}

func (s *Server) auditEntries(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	q, err := query(r, "from", "limit")
	if err != nil {
		return err
	}
	from, err := intParam(q, "from", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := intParam(q, "limit", 100, 1, node.MaxAuditPage)
	if err != nil {
		return err
	}
	es, err := s.node.AuditEntries(r.Context(), who, from, int(limit))
	if err != nil {
		return err
	}
	out := auditEntries{Entries: []auditEntry{}}
	for i, e := range es {
		out.Entries = append(out.Entries, auditEntry{Index: from + int64(i), At: e.At, Authority: e.Authority, Actor: e.Actor,
			Role: e.Role, Action: e.Action, Subject: e.Subject, Recipient: e.Recipient, Purpose: e.Purpose,
			LegalBasis: e.LegalBasis, Outcome: e.Outcome, Reason: e.Reason})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
