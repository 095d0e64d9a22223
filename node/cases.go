package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"nrmnet/node/workflow"
	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// DefaultBasis is the legal basis recorded for case work when the caller
// gives none: DPA 2018 Schedule 1 paragraph 18, safeguarding of children.
const DefaultBasis = v1.BasisSafeguardingChildren

// maxClockSkew is how far in the future a referral time may be, to allow
// for clocks that differ a little.
const maxClockSkew = 5 * time.Minute

// NewReferral is a referral as a first responder or social worker records
// it. The node gives the case its ID, state, revision and times.
type NewReferral struct {
	// ChildID is the child's ID if the child already has a case here; empty
	// for a child new to the node.
	ChildID v1.ID
	// LeadWorker is the user ID of the child's lead social worker: a live
	// social worker or NRM coordinator. Empty means the referrer, when the
	// referrer is one.
	LeadWorker   string
	Identity     v1.ChildIdentity
	Referral     v1.Referral
	Safeguarding v1.Safeguarding
	// Risk is the RAG rating at referral (required: it starts the MASH
	// triage clock).
	Risk       v1.RAG
	RiskReason string
	Advocate   *v1.Advocate
}

// CreatedReferral is a stored new case, its deadlines, and what the scope
// rule says of the child.
type CreatedReferral struct {
	CaseRecord
	Scope workflow.ScopeResult
}

// CreateReferral validates a referral, runs the scope rule, and stores the
// new case (state received, revision 1) with its audit entry in one
// transaction. The scope result is advice for the scope check: an
// age-disputed child, or one out of scope, is referred to the SCA by the
// record_scope event.
func (n *Node) CreateReferral(ctx context.Context, who Principal, r NewReferral) (*CreatedReferral, error) {
	if err := n.require(ctx, who, CanCreateCase, v1.ActionCaseCreate, "new case"); err != nil {
		return nil, err
	}
	now := n.now().UTC()
	lead := r.LeadWorker
	if lead == "" && (who.Role == RoleSocialWorker || who.Role == RoleNRMCoordinator) {
		lead = who.ID
	}
	if err := n.checkLeadWorker(lead); err != nil {
		return nil, err
	}
	child := r.ChildID
	if child == "" {
		child = v1.NewID()
	}
	ch := schemas.NewChecker()
	ch.Check(r.Referral.ReferredAt.IsZero() || !r.Referral.ReferredAt.After(now.Add(maxClockSkew)), "referral.referred_at", "is in the future")
	ch.Check(r.Risk != "", "risk", "is required: the RAG rating at referral starts the triage clock (red, amber or green)")
	if err := ch.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	referred := r.Referral.ReferredAt.UTC()
	c := &v1.Case{
		ID: v1.NewCaseID(n.authority), ChildID: child, Revision: 1, State: v1.StateReceived,
		Responsible: n.authority, LeadWorker: lead, CreatedAt: now, UpdatedAt: now,
		Identity: r.Identity, Referral: r.Referral, Safeguarding: r.Safeguarding, Advocate: r.Advocate,
		Risk: []v1.RiskRating{{Rating: r.Risk, Stage: v1.RiskAtReferral, At: referred, By: who.ID, Reason: r.RiskReason}},
	}
	c.Referral.ReferredAt = referred
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	ds, err := workflow.Deadlines(c, n.policy, n.cal, n.div)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if d, ok := workflow.NextDeadline(ds); ok {
		due := d.Due
		c.NextDeadline = &due
	}
	scope := workflow.CheckScope(c.Identity, referred, n.policy)
	if err := n.store.CreateCase(ctx, c, who.access("new referral", DefaultBasis)); err != nil {
		return nil, classify(err)
	}
	n.log.Info("referral created", "case", string(c.ID), "actor", who.ID)
	return &CreatedReferral{CaseRecord: *n.record(c), Scope: scope}, nil
}

// checkLeadWorker requires lead to be empty or a live user who can be a
// lead social worker.
func (n *Node) checkLeadWorker(lead string) error {
	if lead == "" {
		return nil
	}
	u, err := n.store.User(lead)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && u.Revoked()) {
		return fmt.Errorf("%w: lead_worker %.64q is not a live user of this node", ErrInvalid, lead)
	}
	if err != nil {
		return classify(err)
	}
	if r := Role(u.Role); r != RoleSocialWorker && r != RoleNRMCoordinator {
		return fmt.Errorf("%w: lead_worker %s is a %s; a lead worker is a social worker or NRM coordinator", ErrInvalid, lead, r)
	}
	return nil
}

// Read says why a case is read.
type Read struct {
	// Purpose is why, in words (required), e.g. "prepare for panel".
	Purpose string
	// Basis is the legal basis; empty means DefaultBasis.
	Basis v1.LegalBasis
}

func (r Read) basis() v1.LegalBasis {
	if r.Basis == "" {
		return DefaultBasis
	}
	return r.Basis
}

// CaseRecord is a case as read, with its deadlines and what may happen next.
type CaseRecord struct {
	Case      *v1.Case
	Deadlines []workflow.Deadline
	// Allowed lists the events the transition table allows now.
	Allowed []workflow.EventKind
}

// Case reads a case for who, recording who, why and the legal basis in the
// audit log before the case is returned.
func (n *Node) Case(ctx context.Context, who Principal, id v1.CaseID, why Read) (*CaseRecord, error) {
	if err := checkCaseID(id); err != nil {
		return nil, err
	}
	if err := n.require(ctx, who, CanReadCase, v1.ActionCaseRead, string(id)); err != nil {
		return nil, err
	}
	if err := checkRead(why); err != nil {
		return nil, err
	}
	c, err := n.store.Case(ctx, id, who.access(why.Purpose, why.basis()))
	if err != nil {
		return nil, classify(err)
	}
	return n.record(c), nil
}

func (n *Node) record(c *v1.Case) *CaseRecord {
	rec := &CaseRecord{Case: c, Allowed: workflow.Allowed(c.State, n.policy)}
	if ds, err := workflow.Deadlines(c, n.policy, n.cal, n.div); err == nil {
		rec.Deadlines = ds
	} else {
		n.log.Warn("cannot compute deadlines", "case", string(c.ID), "err", err)
	}
	return rec
}

func checkCaseID(id v1.CaseID) error {
	if !id.Valid() {
		return fmt.Errorf("%w: case id %.40q is not an authority code, a dash and 16 lower-case hex digits", ErrInvalid, id)
	}
	return nil
}

func checkRead(why Read) error {
	if why.Purpose == "" {
		return fmt.Errorf("%w: say why you are reading the case (for example \"prepare for panel\")", ErrNoPurpose)
	}
	ch := schemas.NewChecker()
	ch.Text("purpose", why.Purpose, true, 5*v1.MaxShortText, false)
	ch.Check(why.Basis == "" || why.Basis.Valid(), "basis", "%.40q is not a known legal basis", why.Basis)
	if err := ch.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// Change is an event on a case, made from a revision the caller has seen.
type Change struct {
	Case v1.CaseID
	// Revision is the revision of the case the change was made from. If the
	// case has moved on since, the change is refused with ErrConflict.
	Revision uint64
	Event    workflow.Event
}

// Apply applies a workflow event to a case: it checks the role, reads the
// case (audited), refuses a stale revision, applies the NRM rules and
// stores the new revision. The store checks the revision again inside its
// transaction, so of two concurrent changes from one revision exactly one
// is stored and the other gets ErrConflict. Nothing is stored on a refusal.
func (n *Node) Apply(ctx context.Context, who Principal, ch Change) (*CaseRecord, error) {
	if err := checkCaseID(ch.Case); err != nil {
		return nil, err
	}
	if ch.Event == nil {
		return nil, fmt.Errorf("%w: no event", ErrInvalid)
	}
	k := ch.Event.Kind()
	if err := n.require(ctx, who, eventCapability(k), v1.ActionCaseUpdate, string(ch.Case)); err != nil {
		return nil, err
	}
	if ch.Revision == 0 {
		return nil, fmt.Errorf("%w: revision is required: send the revision of the case you are changing", ErrInvalid)
	}
	if a, ok := ch.Event.(workflow.AssignLeadWorker); ok {
		// The workflow knows no users: the node checks that the worker is
		// one of its own, live, and a social worker or NRM coordinator.
		if err := n.checkLeadWorker(a.Worker); err != nil {
			return nil, err
		}
	}
	c, err := n.store.Case(ctx, ch.Case, who.access("apply event "+string(k), DefaultBasis))
	if err != nil {
		return nil, classify(err)
	}
	if c.Revision != ch.Revision {
		return nil, fmt.Errorf("%w: case %s is at revision %d, the change was made from revision %d: reload the case and make the change again", ErrConflict, c.ID, c.Revision, ch.Revision)
	}
	if isDecision(k) && who.Role == RolePanelChair && c.LeadWorker == who.ID {
		return nil, n.deny(ctx, who, v1.ActionCaseUpdate, string(c.ID), "the panel chair may not be the child's lead social worker")
	}
	next, err := workflow.Apply(c, ch.Event, n.now().UTC(), who.ID, n.policy)
	if err != nil {
		return nil, classify(err)
	}
	if err := next.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := n.store.UpdateCase(ctx, next, who.access("event "+string(k), DefaultBasis)); err != nil {
		return nil, classify(err)
	}
	n.log.Info("case changed", "case", string(next.ID), "event", string(k), "state", string(next.State), "revision", next.Revision, "actor", who.ID)
	return n.record(next), nil
}

// ChildViews is the child's wishes and feelings, as recorded by the person
// who heard them.
type ChildViews struct {
	Case v1.CaseID
	// Revision is the revision the views were added to, or 0 for the
	// latest: views are only ever added, so adding them to a newer revision
	// loses nothing.
	Revision      uint64
	Views         string
	HowConsidered string
}

// maxViewRetries bounds the retries of RecordChildViews on a revision
// conflict when no revision is given.
const maxViewRetries = 5

// RecordChildViews adds the child's wishes and feelings to a case. With no
// revision it adds them to the latest, retrying a few times if another
// change lands first; with a revision it behaves like Apply.
func (n *Node) RecordChildViews(ctx context.Context, who Principal, v ChildViews) (*CaseRecord, error) {
	ev := workflow.RecordChildViews{Views: v.Views, HowConsidered: v.HowConsidered}
	if err := checkCaseID(v.Case); err != nil {
		return nil, err
	}
	if err := n.require(ctx, who, CanRecordViews, v1.ActionCaseUpdate, string(v.Case)); err != nil {
		return nil, err
	}
	ch := schemas.NewChecker()
	ch.Text("views", v.Views, true, v1.MaxLongText, true)
	ch.Text("how_considered", v.HowConsidered, false, v1.MaxLongText, true)
	if err := ch.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if v.Revision != 0 {
		return n.Apply(ctx, who, Change{Case: v.Case, Revision: v.Revision, Event: ev})
	}
	var err error
	for range maxViewRetries {
		var c *v1.Case
		c, err = n.store.Case(ctx, v.Case, who.access("record the child's views", DefaultBasis))
		if err != nil {
			return nil, classify(err)
		}
		var rec *CaseRecord
		rec, err = n.Apply(ctx, who, Change{Case: v.Case, Revision: c.Revision, Event: ev})
		if !errors.Is(err, ErrConflict) {
			return rec, err
		}
	}
	return nil, err
}

// CaseFilter selects cases for ListCases. Zero fields do not filter.
type CaseFilter struct {
	State      v1.CaseState
	LeadWorker string
	Limit      int    // 0 means storage.DefaultListLimit; at most storage.MaxListLimit
	Cursor     string // from CaseList.Next
}

// CaseList is one page of case summaries.
type CaseList struct {
	Cases []storage.CaseSummary
	// Next continues the list; empty at the end.
	Next string
}

// ListCases lists case summaries (no identity, nothing decrypted). The list
// is audited with its filters.
func (n *Node) ListCases(ctx context.Context, who Principal, f CaseFilter, why Read) (*CaseList, error) {
	if err := n.require(ctx, who, CanListCases, v1.ActionCaseList, "cases"); err != nil {
		return nil, err
	}
	if why.Purpose == "" {
		why.Purpose = "case list"
	}
	if err := checkRead(why); err != nil {
		return nil, err
	}
	if f.Limit < 0 || f.Limit > storage.MaxListLimit {
		return nil, fmt.Errorf("%w: limit %d is out of range 0 to %d", ErrInvalid, f.Limit, storage.MaxListLimit)
	}
	limit := f.Limit
	if limit == 0 {
		limit = storage.DefaultListLimit
	}
	limit = min(limit, storage.MaxListLimit-1) // one more is asked for, to know if there is a next page
	q := storage.CaseQuery{State: f.State, LeadWorker: f.LeadWorker, Limit: limit + 1, Cursor: f.Cursor}
	list, err := n.store.ListCases(ctx, q, who.access(why.Purpose, why.basis()))
	if err != nil {
		return nil, classify(err)
	}
	out := &CaseList{Cases: list}
	if len(list) > limit {
		out.Cases = list[:limit]
		out.Next = list[limit-1].Cursor()
	}
	return out, nil
}
