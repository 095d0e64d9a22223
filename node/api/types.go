package api

import (
	"time"

	"nrmnet/node"
	"nrmnet/node/workflow"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// The JSON the API speaks. Field names are snake_case and stable; times
// are RFC 3339 in UTC; enumerations use the values of schemas/v1. The
// OpenAPI document (schemas/openapi) describes every one of these types.

type personName struct {
	Kind     v1.NameKind `json:"kind"`
	Given    string      `json:"given,omitempty"`
	Family   string      `json:"family,omitempty"`
	Original string      `json:"original,omitempty"`
}

type dateOfBirth struct {
	Date            v1.Date `json:"date"`
	Estimated       bool    `json:"estimated,omitempty"`
	UncertaintyDays int     `json:"uncertainty_days,omitempty"`
	Basis           string  `json:"basis,omitempty"`
}

type childIdentity struct {
	Names             []personName `json:"names"`
	DateOfBirth       *dateOfBirth `json:"date_of_birth,omitempty"`
	Sex               v1.Sex       `json:"sex"`
	Nationalities     []string     `json:"nationalities,omitempty"`
	Languages         []string     `json:"languages,omitempty"`
	InterpreterNeeded bool         `json:"interpreter_needed,omitempty"`
	AgeDisputed       bool         `json:"age_disputed,omitempty"`
}

type referral struct {
	ReferredAt           time.Time               `json:"referred_at"`
	FirstResponderOrg    string                  `json:"first_responder_org"`
	FirstResponderType   v1.FirstResponderType   `json:"first_responder_type"`
	ExploitationTypes    []v1.ExploitationType   `json:"exploitation_types"`
	CountyLines          bool                    `json:"county_lines,omitempty"`
	ExploitationLocation v1.ExploitationLocation `json:"exploitation_location"`
	Source               string                  `json:"source"`
	PresentingIssue      string                  `json:"presenting_issue"`
	ICTGReferred         bool                    `json:"ictg_referred,omitempty"`
}

type safeguarding struct {
	Section17       bool       `json:"section_17,omitempty"`
	Section47       bool       `json:"section_47,omitempty"`
	StrategyMeeting *time.Time `json:"strategy_meeting,omitempty"`
	ProtectionPlan  bool       `json:"protection_plan,omitempty"`
	LookedAfter     bool       `json:"looked_after,omitempty"`
}

type advocate struct {
	Kind         v1.AdvocateKind `json:"kind"`
	Name         string          `json:"name"`
	Organisation string          `json:"organisation,omitempty"`
	AssignedAt   time.Time       `json:"assigned_at"`
}

// createCaseRequest is the body of POST /v1/cases.
type createCaseRequest struct {
	ChildID      v1.ID         `json:"child_id,omitempty"`
	LeadWorker   string        `json:"lead_worker,omitempty"`
	Identity     childIdentity `json:"identity"`
	Referral     referral      `json:"referral"`
	Safeguarding safeguarding  `json:"safeguarding"`
	Risk         v1.RAG        `json:"risk"`
	RiskReason   string        `json:"risk_reason,omitempty"`
	Advocate     *advocate     `json:"advocate,omitempty"`
}

func (r *createCaseRequest) toNode() node.NewReferral {
	out := node.NewReferral{
		ChildID: r.ChildID, LeadWorker: r.LeadWorker, Risk: r.Risk, RiskReason: r.RiskReason,
		Identity: v1.ChildIdentity{Sex: r.Identity.Sex, Nationalities: r.Identity.Nationalities,
			Languages: r.Identity.Languages, InterpreterNeeded: r.Identity.InterpreterNeeded, AgeDisputed: r.Identity.AgeDisputed},
		Referral: v1.Referral{
			ReferredAt: r.Referral.ReferredAt.UTC(), FirstResponderOrg: r.Referral.FirstResponderOrg,
			FirstResponderType: r.Referral.FirstResponderType, ExploitationTypes: r.Referral.ExploitationTypes,
			CountyLines: r.Referral.CountyLines, ExploitationLocation: r.Referral.ExploitationLocation,
			Source: r.Referral.Source, PresentingIssue: r.Referral.PresentingIssue, ICTGReferred: r.Referral.ICTGReferred,
		},
		Safeguarding: r.Safeguarding.toV1(),
	}
	for _, n := range r.Identity.Names {
		out.Identity.Names = append(out.Identity.Names, v1.PersonName(n))
	}
	if d := r.Identity.DateOfBirth; d != nil {
		out.Identity.DateOfBirth = &v1.DateOfBirth{Date: d.Date, Estimated: d.Estimated, UncertaintyDays: d.UncertaintyDays, Basis: d.Basis}
	}
	if a := r.Advocate; a != nil {
		out.Advocate = &v1.Advocate{Kind: a.Kind, Name: a.Name, Organisation: a.Organisation, AssignedAt: a.AssignedAt.UTC()}
	}
	return out
}

func (s safeguarding) toV1() v1.Safeguarding {
	out := v1.Safeguarding{Section17: s.Section17, Section47: s.Section47, ProtectionPlan: s.ProtectionPlan, LookedAfter: s.LookedAfter}
	if s.StrategyMeeting != nil {
		t := s.StrategyMeeting.UTC()
		out.StrategyMeeting = &t
	}
	return out
}

type riskRating struct {
	Rating v1.RAG       `json:"rating"`
	Stage  v1.RiskStage `json:"stage"`
	At     time.Time    `json:"at"`
	By     string       `json:"by"`
	Reason string       `json:"reason,omitempty"`
}

type childView struct {
	RecordedAt    time.Time `json:"recorded_at"`
	RecordedBy    string    `json:"recorded_by"`
	Views         string    `json:"views"`
	HowConsidered string    `json:"how_considered,omitempty"`
}

type decision struct {
	Stage           v1.DecisionStage `json:"stage"`
	Outcome         v1.Outcome       `json:"outcome"`
	DecidedAt       time.Time        `json:"decided_at"`
	PanelDecisionID v1.ID            `json:"panel_decision_id,omitempty"`
	Reasons         string           `json:"reasons"`
	TestApplied     string           `json:"test_applied"`
	ChildViews      string           `json:"child_views,omitempty"`
	DecidedBy       string           `json:"decided_by,omitempty"`
}

type reconsideration struct {
	Stage       v1.DecisionStage          `json:"stage"`
	RequestedAt time.Time                 `json:"requested_at"`
	RequestedBy string                    `json:"requested_by"`
	Grounds     v1.ReconsiderationGrounds `json:"grounds"`
	Outcome     v1.ReconsiderationOutcome `json:"outcome"`
	DecidedAt   *time.Time                `json:"decided_at,omitempty"`
	Reasons     string                    `json:"reasons,omitempty"`
	DecidedBy   string                    `json:"decided_by,omitempty"`
}

type assurance struct {
	Status      v1.AssuranceStatus `json:"status"`
	SubmittedAt time.Time          `json:"submitted_at"`
	ResolvedAt  *time.Time         `json:"resolved_at,omitempty"`
	Query       string             `json:"query,omitempty"`
	History     []assuranceStep    `json:"history,omitempty"`
}

type postExitReview struct {
	Month   int        `json:"month"`
	DueAt   time.Time  `json:"due_at"`
	HeldAt  *time.Time `json:"held_at,omitempty"`
	Outcome string     `json:"outcome,omitempty"`
}

type relocation struct {
	RequestID    v1.ID               `json:"request_id"`
	From         v1.AuthorityCode    `json:"from"`
	To           v1.AuthorityCode    `json:"to"`
	RequestedAt  time.Time           `json:"requested_at"`
	Status       v1.RelocationStatus `json:"status"`
	ResolvedAt   *time.Time          `json:"resolved_at,omitempty"`
	ConferenceAt *time.Time          `json:"conference_at,omitempty"`
}

type assuranceStep struct {
	Status v1.AssuranceStatus `json:"status"`
	At     time.Time          `json:"at"`
	By     string             `json:"by"`
	Query  string             `json:"query,omitempty"`
}

type scopeAssessment struct {
	AgeAtReferral    *int            `json:"age_at_referral,omitempty"`
	DaysToEighteenth *int            `json:"days_to_eighteenth,omitempty"`
	AgeDisputed      bool            `json:"age_disputed,omitempty"`
	Uncertain        bool            `json:"uncertain,omitempty"`
	Outcome          v1.ScopeOutcome `json:"outcome"`
	Reason           string          `json:"reason"`
	AssessedAt       time.Time       `json:"assessed_at"`
	AssessedBy       string          `json:"assessed_by"`
}

type closure struct {
	Reason   v1.ClosureReason `json:"reason"`
	Note     string           `json:"note,omitempty"`
	ClosedAt time.Time        `json:"closed_at"`
	ClosedBy string           `json:"closed_by"`
}

// caseBody is a whole case, as GET /v1/cases/{id} returns it.
type caseBody struct {
	ID                v1.CaseID         `json:"id"`
	ChildID           v1.ID             `json:"child_id"`
	Revision          uint64            `json:"revision"`
	State             v1.CaseState      `json:"state"`
	Responsible       v1.AuthorityCode  `json:"responsible"`
	LeadWorker        string            `json:"lead_worker,omitempty"`
	CreatedAt         time.Time         `json:"created_at"`
	UpdatedAt         time.Time         `json:"updated_at"`
	NextDeadline      *time.Time        `json:"next_deadline,omitempty"`
	Identity          childIdentity     `json:"identity"`
	Referral          referral          `json:"referral"`
	Safeguarding      safeguarding      `json:"safeguarding"`
	Risk              []riskRating      `json:"risk"`
	Advocate          *advocate         `json:"advocate,omitempty"`
	WishesAndFeelings []childView       `json:"wishes_and_feelings"`
	Decisions         []decision        `json:"decisions"`
	Reconsiderations  []reconsideration `json:"reconsiderations"`
	Assurance         *assurance        `json:"assurance,omitempty"`
	PostExitReviews   []postExitReview  `json:"post_exit_reviews"`
	Relocations       []relocation      `json:"relocations"`
	Scope             *scopeAssessment  `json:"scope,omitempty"`
	Closure           *closure          `json:"closure,omitempty"`
}

func caseOf(c *v1.Case) caseBody {
	b := caseBody{
		ID: c.ID, ChildID: c.ChildID, Revision: c.Revision, State: c.State, Responsible: c.Responsible,
		LeadWorker: c.LeadWorker, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, NextDeadline: c.NextDeadline,
		Identity: childIdentity{Sex: c.Identity.Sex, Nationalities: c.Identity.Nationalities, Languages: c.Identity.Languages,
			InterpreterNeeded: c.Identity.InterpreterNeeded, AgeDisputed: c.Identity.AgeDisputed, Names: []personName{}},
		Referral: referral{
			ReferredAt: c.Referral.ReferredAt, FirstResponderOrg: c.Referral.FirstResponderOrg,
			FirstResponderType: c.Referral.FirstResponderType, ExploitationTypes: c.Referral.ExploitationTypes,
			CountyLines: c.Referral.CountyLines, ExploitationLocation: c.Referral.ExploitationLocation,
			Source: c.Referral.Source, PresentingIssue: c.Referral.PresentingIssue, ICTGReferred: c.Referral.ICTGReferred,
		},
		Safeguarding: safeguarding{Section17: c.Safeguarding.Section17, Section47: c.Safeguarding.Section47,
			StrategyMeeting: c.Safeguarding.StrategyMeeting, ProtectionPlan: c.Safeguarding.ProtectionPlan, LookedAfter: c.Safeguarding.LookedAfter},
		Risk: []riskRating{}, WishesAndFeelings: []childView{}, Decisions: []decision{},
		Reconsiderations: []reconsideration{}, PostExitReviews: []postExitReview{}, Relocations: []relocation{},
	}
	for _, n := range c.Identity.Names {
		b.Identity.Names = append(b.Identity.Names, personName(n))
	}
	if d := c.Identity.DateOfBirth; d != nil {
		b.Identity.DateOfBirth = &dateOfBirth{Date: d.Date, Estimated: d.Estimated, UncertaintyDays: d.UncertaintyDays, Basis: d.Basis}
	}
	if a := c.Advocate; a != nil {
		b.Advocate = &advocate{Kind: a.Kind, Name: a.Name, Organisation: a.Organisation, AssignedAt: a.AssignedAt}
	}
	for _, r := range c.Risk {
		b.Risk = append(b.Risk, riskRating(r))
	}
	for _, v := range c.WishesAndFeelings {
		b.WishesAndFeelings = append(b.WishesAndFeelings, childView(v))
	}
	for _, d := range c.Decisions {
		b.Decisions = append(b.Decisions, decision{Stage: d.Stage, Outcome: d.Outcome, DecidedAt: d.DecidedAt,
			PanelDecisionID: d.PanelDecisionID, Reasons: d.Reasons, TestApplied: d.TestApplied,
			ChildViews: d.ChildViews, DecidedBy: d.DecidedBy})
	}
	for _, r := range c.Reconsiderations {
		b.Reconsiderations = append(b.Reconsiderations, reconsideration{Stage: r.Stage, RequestedAt: r.RequestedAt,
			RequestedBy: r.RequestedBy, Grounds: r.Grounds, Outcome: r.Outcome, DecidedAt: r.DecidedAt,
			Reasons: r.Reasons, DecidedBy: r.DecidedBy})
	}
	if a := c.Assurance; a != nil {
		b.Assurance = &assurance{Status: a.Status, SubmittedAt: a.SubmittedAt, ResolvedAt: a.ResolvedAt, Query: a.Query}
		for _, h := range a.History {
			b.Assurance.History = append(b.Assurance.History, assuranceStep{Status: h.Status, At: h.At, By: h.By, Query: h.Query})
		}
	}
	if sc := c.Scope; sc != nil {
		b.Scope = &scopeAssessment{AgeAtReferral: sc.AgeAtReferral, DaysToEighteenth: sc.DaysToEighteenth,
			AgeDisputed: sc.AgeDisputed, Uncertain: sc.Uncertain, Outcome: sc.Outcome, Reason: sc.Reason,
			AssessedAt: sc.AssessedAt, AssessedBy: sc.AssessedBy}
	}
	if cl := c.Closure; cl != nil {
		b.Closure = &closure{Reason: cl.Reason, Note: cl.Note, ClosedAt: cl.ClosedAt, ClosedBy: cl.ClosedBy}
	}
	for _, r := range c.PostExitReviews {
		b.PostExitReviews = append(b.PostExitReviews, postExitReview(r))
	}
	for _, r := range c.Relocations {
		b.Relocations = append(b.Relocations, relocation{RequestID: r.RequestID, From: r.From, To: r.To,
			RequestedAt: r.RequestedAt, Status: r.Status, ResolvedAt: r.ResolvedAt, ConferenceAt: r.ConferenceAt})
	}
	return b
}

type deadline struct {
	Kind  workflow.DeadlineKind `json:"kind"`
	Name  string                `json:"name"`
	Due   time.Time             `json:"due"`
	Met   bool                  `json:"met"`
	MetAt *time.Time            `json:"met_at,omitempty"`
}

// caseResponse is a case with its deadlines and the events allowed now.
type caseResponse struct {
	Case          caseBody             `json:"case"`
	Deadlines     []deadline           `json:"deadlines"`
	AllowedEvents []workflow.EventKind `json:"allowed_events"`
}

func caseResponseOf(rec *node.CaseRecord) caseResponse {
	out := caseResponse{Case: caseOf(rec.Case), Deadlines: []deadline{}, AllowedEvents: rec.Allowed}
	if out.AllowedEvents == nil {
		out.AllowedEvents = []workflow.EventKind{}
	}
	for _, d := range rec.Deadlines {
		dl := deadline{Kind: d.Kind, Name: d.Name, Due: d.Due, Met: d.Met}
		if d.Met && !d.MetAt.IsZero() {
			t := d.MetAt
			dl.MetAt = &t
		}
		out.Deadlines = append(out.Deadlines, dl)
	}
	return out
}

type scopeResult struct {
	InScope          bool    `json:"in_scope"`
	AgeDisputed      bool    `json:"age_disputed"`
	NeedsAssessment  bool    `json:"needs_assessment"`
	Uncertain        bool    `json:"uncertain"`
	Eighteenth       v1.Date `json:"eighteenth_birthday,omitempty"`
	DaysToEighteenth int     `json:"days_to_eighteenth"`
	Reason           string  `json:"reason"`
}

// createCaseResponse is the answer to POST /v1/cases.
type createCaseResponse struct {
	caseResponse
	Scope scopeResult `json:"scope"`
}

type caseSummary struct {
	ID           v1.CaseID        `json:"id"`
	ChildID      v1.ID            `json:"child_id"`
	State        v1.CaseState     `json:"state"`
	Responsible  v1.AuthorityCode `json:"responsible"`
	LeadWorker   string           `json:"lead_worker,omitempty"`
	NextDeadline *time.Time       `json:"next_deadline,omitempty"`
	Revision     uint64           `json:"revision"`
}

type caseList struct {
	Cases []caseSummary `json:"cases"`
	Next  string        `json:"next,omitempty"`
}

func caseListOf(l *node.CaseList) caseList {
	out := caseList{Cases: []caseSummary{}, Next: l.Next}
	for _, s := range l.Cases {
		out.Cases = append(out.Cases, caseSummary(s))
	}
	return out
}

// eventRequest is the body of POST /v1/cases/{id}/events. Data holds the
// event's fields, decoded strictly by the event's type.
type eventRequest struct {
	Revision uint64             `json:"revision"`
	Type     workflow.EventKind `json:"type"`
	Data     rawJSON            `json:"data,omitempty"`
}

// viewsRequest is the body of POST /v1/cases/{id}/views.
type viewsRequest struct {
	Revision      uint64 `json:"revision,omitempty"`
	Views         string `json:"views"`
	HowConsidered string `json:"how_considered,omitempty"`
}

type caseDue struct {
	Case      v1.CaseID        `json:"case"`
	State     v1.CaseState     `json:"state"`
	Worker    string           `json:"worker,omitempty"`
	Authority v1.AuthorityCode `json:"authority"`
	Due       time.Time        `json:"due"`
}

type dueCounts struct {
	Overdue int `json:"overdue"`
	DueSoon int `json:"due_soon"`
}

type dueReport struct {
	At            time.Time                      `json:"at"`
	WithinSeconds int64                          `json:"due_soon_within_seconds"`
	CountsOnly    bool                           `json:"counts_only"`
	Overdue       []caseDue                      `json:"overdue,omitempty"`
	DueSoon       []caseDue                      `json:"due_soon,omitempty"`
	ByWorker      map[string]dueCounts           `json:"by_worker,omitempty"`
	ByAuthority   map[v1.AuthorityCode]dueCounts `json:"by_authority"`
}

func dueReportOf(r *node.DueReport) dueReport {
	out := dueReport{At: r.At, WithinSeconds: int64(r.Within / time.Second), CountsOnly: r.CountsOnly,
		ByAuthority: map[v1.AuthorityCode]dueCounts{}}
	if !r.CountsOnly {
		out.Overdue, out.DueSoon, out.ByWorker = []caseDue{}, []caseDue{}, map[string]dueCounts{}
	}
	for _, d := range r.Overdue {
		out.Overdue = append(out.Overdue, caseDue(d))
	}
	for _, d := range r.DueSoon {
		out.DueSoon = append(out.DueSoon, caseDue(d))
	}
	for w, c := range r.ByWorker {
		out.ByWorker[w] = dueCounts(c)
	}
	for a, c := range r.ByAuthority {
		out.ByAuthority[a] = dueCounts(c)
	}
	return out
}

// userBody is a user as the API shows it (never a token hash).
type userBody struct {
	ID        string           `json:"id"`
	Name      string           `json:"name"`
	Role      string           `json:"role"`
	Authority v1.AuthorityCode `json:"authority"`
	CreatedAt time.Time        `json:"created_at"`
	CreatedBy string           `json:"created_by"`
	RevokedAt *time.Time       `json:"revoked_at,omitempty"`
	RevokedBy string           `json:"revoked_by,omitempty"`
}

func userOf(u storage.User) userBody { return userBody(u) }

// createUserRequest is the body of POST /v1/users.
type createUserRequest struct {
	ID   string    `json:"id"`
	Name string    `json:"name"`
	Role node.Role `json:"role"`
}

type createUserResponse struct {
	User userBody `json:"user"`
	// Token is shown this once; only its hash is stored.
	Token string `json:"token"`
}

type userList struct {
	Users []userBody `json:"users"`
}

type userResponse struct {
	User userBody `json:"user"`
}

type whoami struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	Role         node.Role         `json:"role"`
	Authority    v1.AuthorityCode  `json:"authority"`
	Capabilities []node.Capability `json:"capabilities"`
}

type checkpoint struct {
	Origin string `json:"origin"`
	Size   int64  `json:"size"`
	Root   string `json:"root"` // base64, as in a signed note
}

type auditEntry struct {
	Index      int64            `json:"index"`
	At         time.Time        `json:"at"`
	Authority  v1.AuthorityCode `json:"authority"`
	Actor      string           `json:"actor"`
	Role       string           `json:"role,omitempty"`
	Action     v1.AuditAction   `json:"action"`
	Subject    string           `json:"subject,omitempty"`
	Recipient  string           `json:"recipient,omitempty"`
	Purpose    string           `json:"purpose,omitempty"`
	LegalBasis v1.LegalBasis    `json:"legal_basis,omitempty"`
	Outcome    v1.AuditOutcome  `json:"outcome"`
	Reason     string           `json:"reason,omitempty"`
}

type auditEntries struct {
	Entries []auditEntry `json:"entries"`
}

// errorBody is every error the API returns.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
