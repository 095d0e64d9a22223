package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"nrmnet/node/matchkeys"
	"nrmnet/node/workflow"
	"nrmnet/schemas"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// Relocation hand-over (ARCHITECTURE.md flow 3). The federation runs the
// protocol (federation/rpc); the node decides who may ask for what and keeps
// the case:
//
//   - Relocations is what people do: request a move of one of this
//     authority's cases, see the inbox and outbox, accept or reject (the
//     destination only), revoke (the origin only, never after acceptance).
//   - CaseCustody is what the hand-over does to the case: export it on the
//     origin, mark it transferred out once the destination has it, install it
//     provisionally on the destination and make it live there once the
//     origin has let go.
//
// The two are separate because the federation service needs CaseCustody to
// start and Relocations needs the running service.

// CanRelocate: social workers and NRM coordinators request, accept, reject
// and revoke relocations and see the relocation inbox and outbox.
const CanRelocate = CanWorkCase

// RelocationSide says which end of a hand-over this authority is.
type RelocationSide string

// The two sides.
const (
	SideOrigin      RelocationSide = "origin"
	SideDestination RelocationSide = "destination"
)

// RelocationState is where a hand-over stands on this side; the states are
// those of federation/rpc (its DESIGN.md draws them).
type RelocationState string

// The states.
const (
	RelocationStateRequested RelocationState = "requested" // origin: waiting for the destination
	RelocationStateOffered   RelocationState = "offered"   // destination: waiting for a person here
	RelocationStateAccepted  RelocationState = "accepted"
	RelocationStateCaseSent  RelocationState = "case_sent" // origin
	RelocationStateReceived  RelocationState = "received"  // destination: held provisionally
	RelocationStateCompleted RelocationState = "completed"
	RelocationStateRejected  RelocationState = "rejected"
	RelocationStateRevoked   RelocationState = "revoked"
)

// caseStatus maps a hand-over state to the status recorded on the case.
func (s RelocationState) caseStatus() v1.RelocationStatus {
	switch s {
	case RelocationStateRequested, RelocationStateOffered:
		return v1.RelocationRequested
	case RelocationStateRejected:
		return v1.RelocationRejected
	case RelocationStateRevoked:
		return v1.RelocationRevoked
	default:
		return v1.RelocationAccepted
	}
}

// Relocation is one hand-over as this side records it. It holds the minimal
// request and the decisions, never the case.
type Relocation struct {
	Request v1.RelocationRequest
	Side    RelocationSide
	State   RelocationState
	// Acked says the other side has acknowledged what this side last owed it.
	Acked    bool
	Decision *v1.RelocationResponse
	// Failure says why delivery stopped for good; a person must look at it.
	Failure string
	Updated time.Time
	// Stale is set by the node on a request or offer that has waited
	// longer than RelocationsConfig.StaleAfter for the other side.
	Stale bool
}

// NeedsAttention reports whether a person should look at the hand-over: it
// is stale or its delivery failed.
func (r Relocation) NeedsAttention() bool { return r.Stale || r.Failure != "" }

// RelocationService runs the hand-over protocol with other authorities;
// the composition root adapts federation/rpc's *Relocations to it. Its
// errors wrap this package's sentinels: ErrNotFound (no such hand-over),
// ErrForbidden (the wrong side), ErrNotAllowedNow (accepted already,
// finished, wrong state), ErrConflict, ErrInvalid, ErrUnavailable.
type RelocationService interface {
	Request(ctx context.Context, actor string, req v1.RelocationRequest) (Relocation, error)
	Accept(ctx context.Context, actor string, id v1.ID) (Relocation, error)
	Reject(ctx context.Context, actor string, id v1.ID, reason string) (Relocation, error)
	Revoke(ctx context.Context, actor string, id v1.ID, reason string) (Relocation, error)
	Get(ctx context.Context, id v1.ID) (Relocation, error)
	List(ctx context.Context) ([]Relocation, error)
}

// RelocationStore is what the hand-over needs of the store; *storage.Store
// satisfies it.
type RelocationStore interface {
	Case(ctx context.Context, id v1.CaseID, who storage.Access) (*v1.Case, error)
	UpdateCase(ctx context.Context, c *v1.Case, who storage.Access) error
	Audit(ctx context.Context, e *v1.AuditEntry) error
	InstallRelocatedCase(ctx context.Context, c *v1.Case, who storage.Access) (bool, error)
	TransferOutCase(ctx context.Context, next, sent *v1.Case, who storage.Access) error
	RelocatedCopy(ctx context.Context, id v1.CaseID, who storage.Access) (*v1.Case, error)
	ForgetRelocatedCopy(ctx context.Context, id v1.CaseID) error
}

// maxCaseRetries bounds the retries of a hand-over write that lost a race
// with a person's change to the same case.
const maxCaseRetries = 5

// nodeActor is the actor of the hand-over's own writes.
const nodeActor = "node"

func handoverAccess(purpose string, basis v1.LegalBasis, peer v1.AuthorityCode) storage.Access {
	if basis == "" {
		basis = DefaultBasis
	}
	return storage.Access{Actor: nodeActor, Role: nodeActor, Purpose: purpose, LegalBasis: basis, Recipient: string(peer)}
}

// CaseCustodyConfig configures CaseCustody.
type CaseCustodyConfig struct {
	// Node is the authority's application (required).
	Node *Node
	// Store keeps the cases (required).
	Store RelocationStore
	// Logger receives logs (IDs and states, never case content); nil
	// discards.
	Logger *slog.Logger
}

// Validate reports every missing field.
func (c CaseCustodyConfig) Validate() error {
	var errs []error
	if c.Node == nil {
		errs = append(errs, fmt.Errorf("%w: CaseCustody: Node is required", ErrInvalidConfig))
	}
	if c.Store == nil {
		errs = append(errs, fmt.Errorf("%w: CaseCustody: Store is required", ErrInvalidConfig))
	}
	return errors.Join(errs...)
}

// CaseCustody is the node's side of a hand-over's effect on the case: the
// callbacks of the federation's relocation service (ExportCase and
// MarkTransferredOut on the origin, InstallCase and ActivateCase on the
// destination, Audit on both) and the observer that keeps the origin's case
// record of its relocations. It holds no mutable state.
type CaseCustody struct {
	n     *Node
	store RelocationStore
	log   *slog.Logger
}

// NewCaseCustody validates cfg and returns a CaseCustody.
func NewCaseCustody(cfg CaseCustodyConfig) (*CaseCustody, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &CaseCustody{n: cfg.Node, store: cfg.Store, log: log.With("component", "custody", "authority", string(cfg.Node.authority))}, nil
}

// Audit records a hand-over step in the audit log.
func (k *CaseCustody) Audit(ctx context.Context, e v1.AuditEntry) error {
	if e.Role == "" {
		e.Role = nodeActor
	}
	if err := k.store.Audit(ctx, &e); err != nil {
		return classify(err)
	}
	return nil
}

// ExportCase returns the case to send to a destination that accepted it:
// the live case while this authority holds it, and, once it is transferred
// out, the copy kept as it was sent (so a hand-over resumed after a crash
// sends the same case again). A case this authority is not responsible for
// is never exported.
func (k *CaseCustody) ExportCase(ctx context.Context, id v1.CaseID) (*v1.Case, error) {
	who := handoverAccess("relocation: send the accepted case", DefaultBasis, "")
	c, err := k.store.Case(ctx, id, who)
	if err != nil {
		return nil, classify(err)
	}
	if c.State == v1.StateTransferredOut {
		sent, err := k.store.RelocatedCopy(ctx, id, who)
		if err != nil {
			return nil, classify(err)
		}
		return sent, nil
	}
	if c.Responsible != k.n.authority {
		return nil, fmt.Errorf("%w: case %s is held for %s, not this authority's to send", ErrNotAllowedNow, id, c.Responsible)
	}
	return c, nil
}

// MarkTransferredOut makes the transfer_out event on the origin's case once
// the destination has confirmed it holds the case: the case stays here,
// transferred_out, with the relocation accepted, and the copy that was sent
// is kept for a resumed hand-over. It is idempotent.
func (k *CaseCustody) MarkTransferredOut(ctx context.Context, req v1.RelocationRequest) error {
	if req.Origin != k.n.authority {
		return fmt.Errorf("%w: relocation %s is from %s, not this authority", ErrInvalid, req.ID, req.Origin)
	}
	who := handoverAccess("relocation: transfer the case out", req.LegalBasis, req.Destination)
	var err error
	for range maxCaseRetries {
		var c *v1.Case
		if c, err = k.store.Case(ctx, req.CaseRef, who); err != nil {
			return classify(err)
		}
		if c.State == v1.StateTransferredOut {
			if rec, ok := relocationOf(c, req.ID); ok && rec.To == req.Destination && rec.Status == v1.RelocationAccepted {
				return nil // done before
			}
			return fmt.Errorf("%w: case %s was transferred out by another relocation", ErrNotAllowedNow, req.CaseRef)
		}
		ev := workflow.TransferOut{To: req.Destination, Request: req.ID, RequestedAt: req.RequestedAt}
		next, aerr := workflow.Apply(c, ev, k.n.now().UTC(), nodeActor, k.n.policy)
		if aerr != nil {
			return classify(aerr)
		}
		if verr := next.Validate(); verr != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, verr)
		}
		err = k.store.TransferOutCase(ctx, next, c, who)
		if err == nil {
			k.log.Info("case transferred out", "case", string(c.ID), "request", string(req.ID), "to", string(req.Destination))
			return nil
		}
		if !errors.Is(err, storage.ErrConflict) {
			return classify(err)
		}
	}
	return classify(err)
}

// InstallCase stores a case an origin sent after this authority accepted
// its relocation. The copy is provisional: its Responsible is still the
// origin until ActivateCase, so it is held and readable but not this
// authority's. A newer copy replaces it; a case this authority is
// responsible for is never replaced.
func (k *CaseCustody) InstallCase(ctx context.Context, req v1.RelocationRequest, c *v1.Case) error {
	switch {
	case req.Destination != k.n.authority:
		return fmt.Errorf("%w: relocation %s is to %s, not this authority", ErrInvalid, req.ID, req.Destination)
	case c == nil || c.ID != req.CaseRef:
		return fmt.Errorf("%w: the case received is not the case of relocation %s", ErrInvalid, req.ID)
	case c.Responsible != req.Origin:
		return fmt.Errorf("%w: the case received for relocation %s is held for %s, not the origin %s", ErrInvalid, req.ID, c.Responsible, req.Origin)
	case c.State == v1.StateTransferredOut || c.State == v1.StateClosed:
		return fmt.Errorf("%w: the case received for relocation %s is %s", ErrInvalid, req.ID, c.State)
	}
	if err := c.Validate(); err != nil {
		// The validator's text may quote case content: name only the class.
		return fmt.Errorf("%w: the case received for relocation %s does not validate", ErrInvalid, req.ID)
	}
	who := handoverAccess("relocation: hold the accepted case provisionally", req.LegalBasis, req.Origin)
	replaced, err := k.store.InstallRelocatedCase(ctx, c, who)
	if err != nil {
		return classify(err)
	}
	k.log.Info("relocated case held provisionally", "case", string(c.ID), "request", string(req.ID), "from", string(req.Origin), "replaced", replaced)
	return nil
}

// ActivateCase makes a provisionally held case this authority's: it becomes
// responsible, the relocation is recorded accepted at this moment (which
// starts the transfer-in conference clock for a child on a protection plan),
// and the lead worker is cleared (the origin's user IDs mean nothing here;
// a coordinator assigns one). It is idempotent.
func (k *CaseCustody) ActivateCase(ctx context.Context, req v1.RelocationRequest) error {
	if req.Destination != k.n.authority {
		return fmt.Errorf("%w: relocation %s is to %s, not this authority", ErrInvalid, req.ID, req.Destination)
	}
	who := handoverAccess("relocation: take responsibility for the case", req.LegalBasis, req.Origin)
	var err error
	for range maxCaseRetries {
		var c *v1.Case
		if c, err = k.store.Case(ctx, req.CaseRef, who); err != nil {
			return classify(err)
		}
		if c.Responsible == k.n.authority {
			if rec, ok := relocationOf(c, req.ID); ok && rec.Status == v1.RelocationAccepted && rec.ResolvedAt != nil {
				return nil // done before
			}
			return fmt.Errorf("%w: case %s is already this authority's, not by relocation %s", ErrConflict, req.CaseRef, req.ID)
		}
		if c.Responsible != req.Origin {
			return fmt.Errorf("%w: case %s is held for %s, not the origin %s", ErrConflict, req.CaseRef, c.Responsible, req.Origin)
		}
		now := k.n.now().UTC()
		c.Revision++
		c.UpdatedAt = now
		c.Responsible = k.n.authority
		c.LeadWorker = ""
		rec := v1.RelocationRecord{RequestID: req.ID, From: req.Origin, To: req.Destination,
			RequestedAt: req.RequestedAt.UTC(), Status: v1.RelocationAccepted, ResolvedAt: &now}
		if i := slices.IndexFunc(c.Relocations, func(r v1.RelocationRecord) bool { return r.RequestID == req.ID }); i >= 0 {
			c.Relocations[i] = rec
		} else {
			c.Relocations = append(c.Relocations, rec)
		}
		c.NextDeadline = nil
		if ds, derr := workflow.Deadlines(c, k.n.policy, k.n.cal, k.n.div); derr == nil {
			if d, ok := workflow.NextDeadline(ds); ok {
				due := d.Due
				c.NextDeadline = &due
			}
		} else {
			k.log.Warn("cannot compute deadlines", "case", string(c.ID), "err", derr)
		}
		if verr := c.Validate(); verr != nil {
			return fmt.Errorf("%w: the activated case of relocation %s does not validate", ErrInvalid, req.ID)
		}
		err = k.store.UpdateCase(ctx, c, who)
		if err == nil {
			k.log.Info("relocated case taken on", "case", string(c.ID), "request", string(req.ID), "from", string(req.Origin))
			return nil
		}
		if !errors.Is(err, storage.ErrConflict) {
			return classify(err)
		}
	}
	return classify(err)
}

// Observe keeps the origin's case record of its relocations in step with
// the hand-over: requested, accepted, rejected or revoked (completion is
// recorded by MarkTransferredOut). The composition root passes it every
// change the federation service reports, in order. A failure is logged:
// the hand-over record is the authority for the state, the case's record a
// copy for people and reports.
func (k *CaseCustody) Observe(ctx context.Context, r Relocation) {
	if r.Side != SideOrigin {
		return
	}
	req := r.Request
	if r.State == RelocationStateCompleted {
		if err := k.store.ForgetRelocatedCopy(ctx, req.CaseRef); err != nil {
			k.log.Warn("cannot drop the sent copy of a relocated case", "case", string(req.CaseRef), "request", string(req.ID), "err", err)
		}
		return
	}
	status := r.State.caseStatus()
	var resolved *time.Time
	if r.Decision != nil && status != v1.RelocationRequested {
		at := r.Decision.At.UTC()
		resolved = &at
	}
	who := handoverAccess("relocation: record the relocation on the case", req.LegalBasis, req.Destination)
	for range maxCaseRetries {
		c, err := k.store.Case(ctx, req.CaseRef, who)
		if err != nil {
			k.log.Warn("cannot record a relocation on its case", "case", string(req.CaseRef), "request", string(req.ID), "err", err)
			return
		}
		if c.State == v1.StateTransferredOut || c.State == v1.StateClosed || c.Responsible != k.n.authority {
			return
		}
		rec := v1.RelocationRecord{RequestID: req.ID, From: req.Origin, To: req.Destination,
			RequestedAt: req.RequestedAt.UTC(), Status: status, ResolvedAt: resolved}
		i := slices.IndexFunc(c.Relocations, func(x v1.RelocationRecord) bool { return x.RequestID == req.ID })
		switch {
		case i >= 0 && c.Relocations[i].Status == rec.Status:
			return
		case i >= 0:
			c.Relocations[i] = rec
		default:
			c.Relocations = append(c.Relocations, rec)
		}
		c.Revision++
		c.UpdatedAt = k.n.now().UTC()
		if err := c.Validate(); err != nil {
			k.log.Warn("relocation record does not validate", "case", string(req.CaseRef), "request", string(req.ID))
			return
		}
		err = k.store.UpdateCase(ctx, c, who)
		if err == nil {
			return
		}
		if !errors.Is(err, storage.ErrConflict) {
			k.log.Warn("cannot record a relocation on its case", "case", string(req.CaseRef), "request", string(req.ID), "err", err)
			return
		}
	}
}

func relocationOf(c *v1.Case, id v1.ID) (v1.RelocationRecord, bool) {
	for _, r := range c.Relocations {
		if r.RequestID == id {
			return r, true
		}
	}
	return v1.RelocationRecord{}, false
}

// DefaultStaleAfter is how long a request or offer may wait for the other
// side before the node shows it as needing attention.
const DefaultStaleAfter = 72 * time.Hour

// RelocationsConfig configures Relocations. Start from
// DefaultRelocationsConfig.
type RelocationsConfig struct {
	// Node is the authority's application (required).
	Node *Node
	// Store keeps the cases (required).
	Store RelocationStore
	// Service runs the hand-over with other authorities (required).
	Service RelocationService
	// StaleAfter: a request or offer older than this needs attention.
	StaleAfter time.Duration
	// Logger receives logs (IDs and states, never case content); nil
	// discards.
	Logger *slog.Logger
}

// DefaultRelocationsConfig returns a config with the defaults set.
func DefaultRelocationsConfig() RelocationsConfig {
	return RelocationsConfig{StaleAfter: DefaultStaleAfter}
}

// Validate reports every missing or invalid field.
func (c RelocationsConfig) Validate() error {
	var errs []error
	if c.Node == nil {
		errs = append(errs, fmt.Errorf("%w: Relocations: Node is required", ErrInvalidConfig))
	}
	if c.Store == nil {
		errs = append(errs, fmt.Errorf("%w: Relocations: Store is required", ErrInvalidConfig))
	}
	if c.Service == nil {
		errs = append(errs, fmt.Errorf("%w: Relocations: Service is required", ErrInvalidConfig))
	}
	if c.StaleAfter <= 0 {
		errs = append(errs, fmt.Errorf("%w: Relocations: StaleAfter is %v, want a positive duration", ErrInvalidConfig, c.StaleAfter))
	}
	return errors.Join(errs...)
}

// Relocations is what people do with relocations: request one, see the
// inbox and outbox, accept, reject and revoke. Every call is checked against
// the role table and the side this authority plays before the federation is
// asked; the federation audits each step with its legal basis. It holds no
// mutable state.
type Relocations struct {
	n     *Node
	store RelocationStore
	svc   RelocationService
	stale time.Duration
	log   *slog.Logger
}

// NewRelocations validates cfg and returns Relocations.
func NewRelocations(cfg RelocationsConfig) (*Relocations, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Relocations{n: cfg.Node, store: cfg.Store, svc: cfg.Service, stale: cfg.StaleAfter,
		log: log.With("component", "relocations", "authority", string(cfg.Node.authority))}, nil
}

// NewRelocation is a relocation a social worker or NRM coordinator asks
// for. The rest of the request (age band, sex, exploitation, NRM state,
// protection plan) is taken from the case, so nothing identifying can be
// typed into it.
type NewRelocation struct {
	Case        v1.CaseID
	Destination v1.AuthorityCode
	Reason      v1.RelocationReason
	// MoveDate is when the child moved or will move; optional, within a
	// year of today.
	MoveDate v1.Date
	Urgency  v1.Urgency
	// LegalBasis for sharing; empty means DefaultBasis.
	LegalBasis v1.LegalBasis
}

// Request asks the destination authority to take over one of this
// authority's cases. It reads the case (audited), builds the minimal
// request, and hands it to the federation, which records and audits it and
// offers it until the destination answers. This authority stays
// responsible until the destination has the case.
func (rl *Relocations) Request(ctx context.Context, who Principal, nr NewRelocation) (Relocation, error) {
	subject := string(nr.Case)
	if subject == "" {
		subject = "relocation"
	}
	if err := rl.n.require(ctx, who, CanRelocate, v1.ActionRelocationRequest, subject); err != nil {
		return Relocation{}, err
	}
	if err := checkCaseID(nr.Case); err != nil {
		return Relocation{}, err
	}
	ch := schemas.NewChecker()
	ch.Check(authority.Known(nr.Destination), "destination", "%.20q is not the code of a listed authority", nr.Destination)
	ch.Check(nr.Destination != rl.n.authority, "destination", "is this authority")
	ch.Check(nr.LegalBasis == "" || nr.LegalBasis.Valid(), "legal_basis", "%.40q is not a known legal basis", nr.LegalBasis)
	if err := ch.Err(); err != nil {
		return Relocation{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	basis := nr.LegalBasis
	if basis == "" {
		basis = DefaultBasis
	}
	c, err := rl.store.Case(ctx, nr.Case, who.access("relocation request to "+string(nr.Destination), basis))
	if err != nil {
		return Relocation{}, classify(err)
	}
	if c.Responsible != rl.n.authority || c.State == v1.StateTransferredOut || c.State == v1.StateClosed {
		return Relocation{}, fmt.Errorf("%w: case %s is %s and held for %s: only a live case of this authority can be relocated", ErrNotAllowedNow, c.ID, c.State, c.Responsible)
	}
	now := rl.n.now().UTC()
	age, sex := matchkeys.AlertFields(c.Identity, now)
	req := v1.RelocationRequest{
		ID: v1.NewID(), CaseRef: c.ID, Origin: rl.n.authority, Destination: nr.Destination,
		RequestedAt: now, Reason: nr.Reason, MoveDate: nr.MoveDate, Urgency: nr.Urgency,
		ProtectionPlan: c.Safeguarding.ProtectionPlan, LookedAfter: c.Safeguarding.LookedAfter,
		AgeBand: age, Sex: sex, Exploitation: slices.Clone(c.Referral.ExploitationTypes),
		CountyLines: c.Referral.CountyLines, NRMState: c.State, LegalBasis: basis,
	}
	if err := req.Validate(); err != nil {
		return Relocation{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	list, err := rl.svc.List(ctx)
	if err != nil {
		return Relocation{}, rl.serviceErr(err)
	}
	for _, h := range list {
		if h.Side == SideOrigin && h.Request.CaseRef == req.CaseRef && !h.State.final() {
			return Relocation{}, fmt.Errorf("%w: case %s already has relocation %s to %s (%s); revoke it or wait for its answer", ErrNotAllowedNow, req.CaseRef, h.Request.ID, h.Request.Destination, h.State)
		}
	}
	h, err := rl.svc.Request(ctx, who.ID, req)
	if err != nil {
		return Relocation{}, rl.serviceErr(err)
	}
	rl.log.Info("relocation requested", "case", string(c.ID), "request", string(req.ID), "to", string(req.Destination), "actor", who.ID)
	return rl.mark(h), nil
}

// RelocationList is this authority's relocations: the inbox (offers to
// take a case over, and those it took) and the outbox (its requests), each
// newest first. Stale and failed ones are marked for people to look at.
type RelocationList struct {
	Inbox  []Relocation
	Outbox []Relocation
}

// List returns the relocation inbox and outbox. They hold no identity.
func (rl *Relocations) List(ctx context.Context, who Principal) (*RelocationList, error) {
	if err := rl.n.require(ctx, who, CanRelocate, v1.ActionCaseList, "relocations"); err != nil {
		return nil, err
	}
	all, err := rl.svc.List(ctx)
	if err != nil {
		return nil, rl.serviceErr(err)
	}
	out := &RelocationList{Inbox: []Relocation{}, Outbox: []Relocation{}}
	for _, h := range all {
		h = rl.mark(h)
		if h.Side == SideDestination {
			out.Inbox = append(out.Inbox, h)
		} else {
			out.Outbox = append(out.Outbox, h)
		}
	}
	newest := func(a, b Relocation) int { return b.Updated.Compare(a.Updated) }
	slices.SortStableFunc(out.Inbox, newest)
	slices.SortStableFunc(out.Outbox, newest)
	return out, nil
}

// Accept accepts an offered relocation: only the destination may. The case
// arrives afterwards; this authority becomes responsible only once the
// origin has transferred it out.
func (rl *Relocations) Accept(ctx context.Context, who Principal, id v1.ID) (Relocation, error) {
	if _, err := rl.decidable(ctx, who, id, v1.ActionRelocationAccept, SideDestination, "accept"); err != nil {
		return Relocation{}, err
	}
	h, err := rl.svc.Accept(ctx, who.ID, id)
	if err != nil {
		return Relocation{}, rl.serviceErr(err)
	}
	rl.log.Info("relocation accepted", "request", string(id), "actor", who.ID)
	return rl.mark(h), nil
}

// Reject rejects an offered relocation, with the reason (required; no
// personal data): only the destination may. The rejection is always
// reported to the origin.
func (rl *Relocations) Reject(ctx context.Context, who Principal, id v1.ID, reason string) (Relocation, error) {
	if _, err := rl.decidable(ctx, who, id, v1.ActionRelocationReject, SideDestination, "reject"); err != nil {
		return Relocation{}, err
	}
	if err := checkRelocationReason(reason, true); err != nil {
		return Relocation{}, err
	}
	h, err := rl.svc.Reject(ctx, who.ID, id, reason)
	if err != nil {
		return Relocation{}, rl.serviceErr(err)
	}
	rl.log.Info("relocation rejected", "request", string(id), "actor", who.ID)
	return rl.mark(h), nil
}

// Revoke withdraws a relocation this authority requested: only the origin
// may, and never once the destination's acceptance is recorded.
func (rl *Relocations) Revoke(ctx context.Context, who Principal, id v1.ID, reason string) (Relocation, error) {
	h, err := rl.decidable(ctx, who, id, v1.ActionRelocationRevoke, SideOrigin, "revoke")
	if err != nil {
		return Relocation{}, err
	}
	if err := checkRelocationReason(reason, false); err != nil {
		return Relocation{}, err
	}
	switch h.State {
	case RelocationStateRequested:
	case RelocationStateAccepted, RelocationStateCaseSent, RelocationStateCompleted:
		return Relocation{}, fmt.Errorf("%w: relocation %s has been accepted by %s; an accepted relocation cannot be revoked", ErrNotAllowedNow, id, h.Request.Destination)
	default:
		return Relocation{}, fmt.Errorf("%w: relocation %s is %s already", ErrNotAllowedNow, id, h.State)
	}
	h, err = rl.svc.Revoke(ctx, who.ID, id, reason)
	if err != nil {
		return Relocation{}, rl.serviceErr(err)
	}
	rl.log.Info("relocation revoked", "request", string(id), "actor", who.ID)
	return rl.mark(h), nil
}

// decidable checks the role, then that this authority is the side that may
// take the decision on hand-over id; a wrong side is refused and audited.
func (rl *Relocations) decidable(ctx context.Context, who Principal, id v1.ID, action v1.AuditAction, side RelocationSide, verb string) (Relocation, error) {
	if err := rl.n.require(ctx, who, CanRelocate, action, string(id)); err != nil {
		return Relocation{}, err
	}
	if !id.Valid() {
		return Relocation{}, fmt.Errorf("%w: relocation id %.40q is not an ID", ErrInvalid, id)
	}
	h, err := rl.svc.Get(ctx, id)
	if err != nil {
		return Relocation{}, rl.serviceErr(err)
	}
	if h.Side != side {
		return Relocation{}, rl.n.deny(ctx, who, action, string(id),
			fmt.Sprintf("only the %s authority may %s a relocation; this authority is its %s", side, verb, h.Side))
	}
	return h, nil
}

func checkRelocationReason(reason string, required bool) error {
	ch := schemas.NewChecker()
	ch.Text("reason", reason, required, v1.MaxShortText*5, true)
	if err := ch.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// mark sets Stale on a request or offer that has waited too long.
func (rl *Relocations) mark(h Relocation) Relocation {
	waiting := h.State == RelocationStateRequested || h.State == RelocationStateOffered
	h.Stale = waiting && rl.n.now().Sub(h.Updated) > rl.stale
	return h
}

// serviceErr keeps an error that wraps a node sentinel and treats any
// other as the federation being unavailable.
func (rl *Relocations) serviceErr(err error) error {
	for _, s := range []error{ErrInvalid, ErrForbidden, ErrNotFound, ErrConflict, ErrNotAllowedNow, ErrUnavailable} {
		if errors.Is(err, s) {
			return err
		}
	}
	rl.log.Warn("relocation service failed", "err", err)
	return fmt.Errorf("%w: the relocation service failed: %w", ErrUnavailable, err)
}

func (s RelocationState) final() bool {
	switch s {
	case RelocationStateCompleted, RelocationStateRejected, RelocationStateRevoked:
		return true
	}
	return false
}
