package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"nrmnet/node"
	"nrmnet/node/workflow"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// CaseReader is what the case page reads: one case through the node's
// audited read, for the purpose the user states on the page.
type CaseReader interface {
	Case(ctx context.Context, who Principal, id v1.CaseID, purpose string) (*node.CaseRecord, error)
}

// Allocator is what the case page's allocation form calls: the node's
// assign_lead_worker event, from the revision the page showed, behind the
// node's role table (an NRM coordinator, and a worker who is a live social
// worker or coordinator of the node). Errors match node's sentinels.
type Allocator interface {
	AssignLeadWorker(ctx context.Context, who Principal, id v1.CaseID, revision uint64, worker string) (*node.CaseRecord, error)
}

// AlertDesk is what the alert and match task pages call: the node's
// cross-border work, behind its role table. Errors match node's sentinels
// (node.ErrForbidden, node.ErrInvalid, node.ErrNotFound, ...).
type AlertDesk interface {
	RaiseAlert(ctx context.Context, who Principal, r node.NewAlert) (*node.RaisedAlert, error)
	Alerts(ctx context.Context, who Principal, limit int) (*node.AlertList, error)
	Tasks(ctx context.Context, who Principal, openOnly bool, limit int) ([]storage.MatchTask, error)
	ResolveTask(ctx context.Context, who Principal, id v1.ID, resolution, reason string) (storage.MatchTask, error)
}

// Limits on what the pages' forms accept.
const (
	maxPurposeLen = 200
	maxFormBytes  = 8 << 10
	listLimit     = 200
)

// casePage is the case page's data. It shows the case's state, clocks and
// timeline: dates, kinds and who, never the child's identity or free text.
type casePage struct {
	ID       v1.CaseID
	Purpose  string
	Record   *node.CaseRecord
	Timeline []timelineEntry
	Clocks   []clockRow
	Alert    alertForm
	// Allocate is the allocation form, shown to a role that may allocate
	// when the node takes allocations.
	Allocate *allocateForm
}

// allocateForm is the form that gives a case its lead worker.
type allocateForm struct {
	Worker  string // what was typed, when the form comes back
	Problem string
	Done    bool // the page follows a successful allocation
}

type timelineEntry struct {
	At   time.Time
	What string
	By   string
}

type clockRow struct {
	workflow.Deadline
	Status string // "met", "overdue", "due-soon", "on-time"
}

// alertForm is the raise-an-alert form, with what was chosen and what was
// wrong when it comes back.
type alertForm struct {
	Types     []option
	Urgencies []option
	Contacts  []option
	Targets   []targetOption
	Type      string
	Urgency   string
	Contact   string
	Problem   string
}

type option struct{ Value, Label string }

type targetOption struct {
	Code    authority.Code
	Name    string
	Checked bool
}

var (
	alertTypes = []option{
		{string(v1.AlertMissing), "Missing: a child known to us is missing"},
		{string(v1.AlertMayBeInArea), "May be in your area"},
		{string(v1.AlertRiskOfMovement), "At risk of being moved"},
		{string(v1.AlertCountyLines), "Moved by a county lines operation"},
	}
	urgencies = []option{
		{string(v1.UrgencyImmediate), "Immediate"},
		{string(v1.UrgencyHigh), "High"},
		{string(v1.UrgencyStandard), "Standard"},
	}
	contactRoutes = []option{
		{string(v1.ContactDutyDesk), "Our duty desk"},
		{string(v1.ContactOutOfHours), "Our out-of-hours team"},
		{string(v1.ContactNRMCoordinator), "Our NRM coordinator"},
	}
	resolutions = []option{
		{storage.TaskSameChild, "Likely the same child: contact the issuer by its route"},
		{storage.TaskNotSameChild, "Reviewed: a different child"},
		{storage.TaskNoActionTaken, "Reviewed: no action needed"},
	}
)

func (s *Server) caseID(w http.ResponseWriter, r *http.Request) (v1.CaseID, bool) {
	id := v1.CaseID(r.PathValue("id"))
	if !id.Valid() {
		s.problem(w, r, http.StatusNotFound, "Case not found", fmt.Sprintf("%q is not a case number.", clip(string(id))))
		return "", false
	}
	return id, true
}

// casePage shows one case. The node reads a case only for a stated purpose,
// so without one the page asks for it first.
func (s *Server) caseView(w http.ResponseWriter, r *http.Request) {
	who, ok := s.principal(w, r)
	if !ok {
		return
	}
	if s.cfg.CaseFiles == nil {
		s.problem(w, r, http.StatusServiceUnavailable, "Case pages unavailable", "This node does not serve case pages.")
		return
	}
	id, ok := s.caseID(w, r)
	if !ok {
		return
	}
	purpose := strings.TrimSpace(r.URL.Query().Get("purpose"))
	p := casePage{ID: id, Purpose: purpose}
	if r.URL.Query().Get("allocated") == "1" {
		p.Allocate = &allocateForm{Done: true}
	}
	if purpose == "" {
		s.render(w, r, http.StatusOK, "case", layoutData{Title: "Case " + string(id), Current: "cases", Page: p})
		return
	}
	if msg := checkText(purpose, maxPurposeLen); msg != "" {
		s.problem(w, r, http.StatusBadRequest, "Purpose not valid", "The purpose "+msg+".")
		return
	}
	s.showCase(w, r, who, p, http.StatusOK)
}

// showCase reads the case for p.Purpose and renders it with the alert form.
func (s *Server) showCase(w http.ResponseWriter, r *http.Request, who Principal, p casePage, status int) {
	rec, err := s.cfg.CaseFiles.Case(r.Context(), who, p.ID, p.Purpose)
	if err != nil {
		s.nodeProblem(w, r, who, err, "case "+string(p.ID))
		return
	}
	p.Record = rec
	p.Timeline = timeline(rec.Case)
	switch {
	case s.cfg.Allocator == nil || !node.Role(who.Role).Can(node.CanAllocate):
		p.Allocate = nil // the form only for a role that may allocate
	case p.Allocate == nil:
		p.Allocate = &allocateForm{}
	}
	now := s.cfg.Now()
	for _, d := range rec.Deadlines {
		row := clockRow{Deadline: d, Status: "on-time"}
		switch left := d.Due.Sub(now); {
		case d.Met:
			row.Status = "met"
		case left < 0:
			row.Status = "overdue"
		case left <= s.cfg.DueSoon:
			row.Status = "due-soon"
		}
		p.Clocks = append(p.Clocks, row)
	}
	p.Alert.Types, p.Alert.Urgencies, p.Alert.Contacts = alertTypes, urgencies, contactRoutes
	if p.Alert.Urgency == "" {
		p.Alert.Urgency = string(v1.UrgencyHigh)
	}
	if p.Alert.Contact == "" {
		p.Alert.Contact = string(v1.ContactDutyDesk)
	}
	chosen := map[authority.Code]bool{}
	for _, t := range p.Alert.Targets {
		chosen[t.Code] = t.Checked
	}
	p.Alert.Targets = nil
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if v, err := s.cfg.Region.RegionView(ctx); err == nil {
		for _, a := range v.Authorities {
			if a.Code != s.cfg.Authority {
				p.Alert.Targets = append(p.Alert.Targets, targetOption{Code: a.Code, Name: a.Name, Checked: chosen[a.Code]})
			}
		}
	}
	s.render(w, r, status, "case", layoutData{Title: "Case " + string(p.ID), Current: "cases", Page: p})
}

// timeline lists what happened on a case, oldest first: dates, kinds and
// who, never free text or identity.
func timeline(c *v1.Case) []timelineEntry {
	var out []timelineEntry
	add := func(at time.Time, what, by string) {
		if !at.IsZero() {
			out = append(out, timelineEntry{At: at, What: what, By: by})
		}
	}
	add(c.Referral.ReferredAt, "Referred ("+words(string(c.Referral.FirstResponderType))+")", "")
	add(c.CreatedAt, "Case opened on this node", "")
	for _, rr := range c.Risk {
		add(rr.At, fmt.Sprintf("Risk rated %s (%s)", strings.ToUpper(string(rr.Rating)), words(string(rr.Stage))), rr.By)
	}
	if c.Scope != nil {
		add(c.Scope.AssessedAt, "Scope assessed", c.Scope.AssessedBy)
	}
	for _, v := range c.WishesAndFeelings {
		add(v.RecordedAt, "Child's wishes and feelings recorded", v.RecordedBy)
	}
	for _, d := range c.Decisions {
		add(d.DecidedAt, fmt.Sprintf("%s decision: %s", strings.ToUpper(string(d.Stage)), words(string(d.Outcome))), d.DecidedBy)
	}
	for _, rc := range c.Relocations {
		add(rc.RequestedAt, fmt.Sprintf("Relocation from %s to %s requested (%s)", authorityName(rc.From), authorityName(rc.To), words(string(rc.Status))), "")
	}
	if c.Closure != nil {
		add(c.Closure.ClosedAt, "Closed ("+words(string(c.Closure.Reason))+")", c.Closure.ClosedBy)
	}
	slices.SortStableFunc(out, func(a, b timelineEntry) int { return a.At.Compare(b.At) })
	return out
}

// words turns a code such as "rg_pending" into "rg pending".
func words(s string) string { return strings.ReplaceAll(s, "_", " ") }

// checkText says what is wrong with a short line of text, or "".
func checkText(s string, max int) string {
	if len([]rune(s)) > max {
		return fmt.Sprintf("is longer than %d characters", max)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }) {
		return "holds control characters"
	}
	return ""
}

// caseFormText is what caseForm says of one form of the case page.
type caseFormText struct {
	Refused, Unavailable, Invalid string // problem titles
	Form                          string // "alert form"
	Missing                       string // why the node does not take it
	Purpose                       string // the purpose when the form gives none
}

var (
	alertFormText = caseFormText{
		Refused: "Alert refused", Unavailable: "Alerts unavailable", Invalid: "Alert not valid",
		Form: "alert form", Missing: "This node is not federated, so it cannot send alerts.", Purpose: "raise a cross-border alert",
	}
	allocateFormText = caseFormText{
		Refused: "Allocation refused", Unavailable: "Allocation unavailable", Invalid: "Allocation not valid",
		Form: "allocation form", Missing: "This node does not take allocations from its pages.", Purpose: "allocate the case",
	}
)

// caseForm reads a form posted from a case page: signed in, same origin,
// the node takes it (available), a case number, a form within the size
// limit. It returns the case page for the form's purpose (or t.Purpose) and
// the form's values, or answers the request itself and returns false.
func (s *Server) caseForm(w http.ResponseWriter, r *http.Request, t caseFormText, available bool) (Principal, casePage, url.Values, bool) {
	who, ok := s.principal(w, r)
	if !ok {
		return Principal{}, casePage{}, nil, false
	}
	if !sameOrigin(r) {
		s.problem(w, r, http.StatusForbidden, t.Refused, "The "+t.Form+" was sent from another site.")
		return Principal{}, casePage{}, nil, false
	}
	if !available || s.cfg.CaseFiles == nil {
		s.problem(w, r, http.StatusServiceUnavailable, t.Unavailable, t.Missing)
		return Principal{}, casePage{}, nil, false
	}
	id, ok := s.caseID(w, r)
	if !ok {
		return Principal{}, casePage{}, nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.problem(w, r, http.StatusBadRequest, t.Invalid, "The form could not be read.")
		return Principal{}, casePage{}, nil, false
	}
	p := casePage{ID: id, Purpose: strings.TrimSpace(r.PostForm.Get("purpose"))}
	if p.Purpose == "" || checkText(p.Purpose, maxPurposeLen) != "" {
		p.Purpose = t.Purpose
	}
	return who, p, r.PostForm, true
}

// allocate takes the allocation form from a case page: the lead worker's
// user ID, from the revision the page showed. A refusal the user can act on
// (no such worker, the case changed since) comes back on the case page.
func (s *Server) allocate(w http.ResponseWriter, r *http.Request) {
	who, p, f, ok := s.caseForm(w, r, allocateFormText, s.cfg.Allocator != nil)
	if !ok {
		return
	}
	id := p.ID
	worker := strings.TrimSpace(f.Get("lead_worker"))
	form := &allocateForm{Worker: worker}
	revision, err := strconv.ParseUint(f.Get("revision"), 10, 64)
	switch {
	case err != nil || revision == 0:
		form.Problem = "The form did not say which revision of the case it was made from: open the case again."
	case checkText(worker, maxWorkerLen) != "":
		form.Problem = "The user ID " + checkText(worker, maxWorkerLen) + "."
	}
	if form.Problem == "" {
		rec, err := s.cfg.Allocator.AssignLeadWorker(r.Context(), who, id, revision, worker)
		if err == nil {
			s.log.Info("case allocated from the case page", "case", string(id), "user", who.UserID, "revision", rec.Case.Revision)
			http.Redirect(w, r, "/cases/"+string(id)+"?allocated=1&purpose="+url.QueryEscape(p.Purpose), http.StatusSeeOther)
			return
		}
		switch {
		case errors.Is(err, node.ErrInvalid):
			form.Problem = "The node refused the allocation: " + clip200(err.Error())
		case errors.Is(err, node.ErrConflict):
			form.Problem = "Someone changed the case since you opened it. Check the case below and allocate it again."
		default:
			s.nodeProblem(w, r, who, err, "case "+string(id))
			return
		}
	}
	p.Allocate = form
	s.showCase(w, r, who, p, http.StatusBadRequest)
}

// raiseAlert takes the alert form from a case page.
func (s *Server) raiseAlert(w http.ResponseWriter, r *http.Request) {
	who, p, f, ok := s.caseForm(w, r, alertFormText, s.cfg.Alerts != nil)
	if !ok {
		return
	}
	id := p.ID
	p.Alert.Type, p.Alert.Urgency, p.Alert.Contact = f.Get("type"), f.Get("urgency"), f.Get("contact")
	na := node.NewAlert{Case: id, Type: v1.AlertType(p.Alert.Type), Urgency: v1.Urgency(p.Alert.Urgency), Contact: v1.ContactRoute(p.Alert.Contact)}
	var problems []string
	if !hasOption(alertTypes, p.Alert.Type) {
		problems = append(problems, "Choose what the alert says.")
	}
	if !hasOption(urgencies, p.Alert.Urgency) {
		problems = append(problems, "Choose how urgent it is.")
	}
	if !hasOption(contactRoutes, p.Alert.Contact) {
		problems = append(problems, "Choose how the receiving authority should contact you.")
	}
	targets := f["target"]
	if len(targets) == 0 {
		problems = append(problems, "Choose at least one authority to alert.")
	}
	if len(targets) > 64 {
		problems = append(problems, "Choose at most 64 authorities.")
		targets = nil
	}
	for _, t := range targets {
		c := authority.Code(t)
		if !authority.Known(c) {
			problems = append(problems, fmt.Sprintf("%q is not an authority.", clip(t)))
			continue
		}
		na.TargetAuthorities = append(na.TargetAuthorities, c)
		p.Alert.Targets = append(p.Alert.Targets, targetOption{Code: c, Checked: true})
	}
	if len(problems) == 0 {
		raised, err := s.cfg.Alerts.RaiseAlert(r.Context(), who, na)
		if err == nil {
			s.log.Info("alert raised from the case page", "alert", string(raised.Alert.ID), "user", who.UserID)
			http.Redirect(w, r, "/alerts?raised="+string(raised.Alert.ID), http.StatusSeeOther)
			return
		}
		if !errors.Is(err, node.ErrInvalid) {
			s.nodeProblem(w, r, who, err, "the alert")
			return
		}
		problems = append(problems, "The node refused the alert: "+clip200(err.Error()))
	}
	p.Alert.Problem = strings.Join(problems, " ")
	s.showCase(w, r, who, p, http.StatusBadRequest)
}

func hasOption(opts []option, v string) bool {
	return slices.ContainsFunc(opts, func(o option) bool { return o.Value == v })
}

func clip200(s string) string {
	if r := []rune(s); len(r) > 200 {
		return string(r[:200]) + "…"
	}
	return s
}

// nodeProblem answers a refusal or failure from the node in words.
func (s *Server) nodeProblem(w http.ResponseWriter, r *http.Request, who Principal, err error, what string) {
	switch {
	case errors.Is(err, node.ErrForbidden):
		s.problem(w, r, http.StatusForbidden, "Not available to your role", fmt.Sprintf("Your role (%s) may not do this with %s. The refusal has been recorded.", who.Role, what))
	case errors.Is(err, node.ErrNotFound), errors.Is(err, node.ErrGone):
		s.problem(w, r, http.StatusNotFound, "Not found", fmt.Sprintf("This node holds no %s.", what))
	case errors.Is(err, node.ErrInvalid), errors.Is(err, node.ErrNoPurpose):
		s.problem(w, r, http.StatusBadRequest, "Request not valid", clip200(err.Error()))
	case errors.Is(err, node.ErrNotAllowedNow), errors.Is(err, node.ErrConflict), errors.Is(err, node.ErrExists):
		s.problem(w, r, http.StatusConflict, "Not possible now", clip200(err.Error()))
	default:
		s.log.Warn("node request failed", "what", what, "err", err)
		s.problem(w, r, http.StatusServiceUnavailable, "Unavailable", "The node could not do this just now. Try again; if it persists, tell the node's operator.")
	}
}

// alertsPage is the alerts list's data.
type alertsPage struct {
	List   *node.AlertList
	Raised v1.ID // the alert just raised, if any
}

func (s *Server) alerts(w http.ResponseWriter, r *http.Request) {
	who, ok := s.principal(w, r)
	if !ok {
		return
	}
	if s.cfg.Alerts == nil {
		s.problem(w, r, http.StatusServiceUnavailable, "Alerts unavailable", "This node is not federated, so it has no alerts.")
		return
	}
	list, err := s.cfg.Alerts.Alerts(r.Context(), who, listLimit)
	if err != nil {
		s.nodeProblem(w, r, who, err, "alerts")
		return
	}
	p := alertsPage{List: list}
	if id := v1.ID(r.URL.Query().Get("raised")); id.Valid() {
		p.Raised = id
	}
	s.render(w, r, http.StatusOK, "alerts", layoutData{Title: s.name + " alerts", Current: "alerts", Page: p})
}

// tasksPage is the match task list's data.
type tasksPage struct {
	All         bool
	Tasks       []storage.MatchTask
	Resolutions []option
	Resolved    v1.ID
}

func (s *Server) tasks(w http.ResponseWriter, r *http.Request) {
	who, ok := s.principal(w, r)
	if !ok {
		return
	}
	if s.cfg.Alerts == nil {
		s.problem(w, r, http.StatusServiceUnavailable, "Match tasks unavailable", "This node is not federated, so it has no match tasks.")
		return
	}
	p := tasksPage{Resolutions: resolutions}
	switch r.URL.Query().Get("show") {
	case "", "open":
	case "all":
		p.All = true
	default:
		s.problem(w, r, http.StatusBadRequest, "Unknown list", "Choose open or all.")
		return
	}
	ts, err := s.cfg.Alerts.Tasks(r.Context(), who, !p.All, listLimit)
	if err != nil {
		s.nodeProblem(w, r, who, err, "match tasks")
		return
	}
	p.Tasks = ts
	if id := v1.ID(r.URL.Query().Get("resolved")); id.Valid() {
		p.Resolved = id
	}
	s.render(w, r, http.StatusOK, "tasks", layoutData{Title: s.name + " match tasks", Current: "tasks", Page: p})
}

func (s *Server) resolveTask(w http.ResponseWriter, r *http.Request) {
	who, ok := s.principal(w, r)
	if !ok {
		return
	}
	if !sameOrigin(r) {
		s.problem(w, r, http.StatusForbidden, "Resolution refused", "The form was sent from another site.")
		return
	}
	if s.cfg.Alerts == nil {
		s.problem(w, r, http.StatusServiceUnavailable, "Match tasks unavailable", "This node is not federated, so it has no match tasks.")
		return
	}
	id := v1.ID(r.PathValue("id"))
	if !id.Valid() {
		s.problem(w, r, http.StatusNotFound, "Task not found", fmt.Sprintf("%q is not a task number.", clip(string(id))))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.problem(w, r, http.StatusBadRequest, "Resolution not valid", "The form could not be read.")
		return
	}
	res, reason := r.PostForm.Get("resolution"), strings.TrimSpace(r.PostForm.Get("reason"))
	if !hasOption(resolutions, res) {
		s.problem(w, r, http.StatusBadRequest, "Resolution not valid", "Choose what you decided about the possible match.")
		return
	}
	if reason == "" {
		s.problem(w, r, http.StatusBadRequest, "Resolution not valid", "Give a reason for your decision; it stays on this node.")
		return
	}
	if msg := checkText(reason, storage.MaxTaskReason); msg != "" {
		s.problem(w, r, http.StatusBadRequest, "Resolution not valid", "The reason "+msg+".")
		return
	}
	if _, err := s.cfg.Alerts.ResolveTask(r.Context(), who, id, res, reason); err != nil {
		s.nodeProblem(w, r, who, err, "match task "+string(id))
		return
	}
	http.Redirect(w, r, "/tasks?resolved="+string(id)+"&show=all", http.StatusSeeOther)
}

// taskField makes a form control's id unique per task.
func taskField(id v1.ID, name string) string { return name + "-" + string(id) }

// count writes "1 alert" or "3 alerts".
func count(n int, unit string) string { return plural(n, unit) }
