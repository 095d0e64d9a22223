package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"nrmnet/consensus"
	"nrmnet/consensus/panel"
	"nrmnet/node/workflow"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// PanelService is what the node needs of one combined panel's Raft group;
// *consensus.Panel satisfies it.
type PanelService interface {
	Propose(ctx context.Context, cmd []byte) (consensus.Result, error)
	CommandApplied(ctx context.Context, id v1.ID) (index uint64, applied bool, err error)
	Sync(ctx context.Context) error
	Status(ctx context.Context) (consensus.Status, error)
}

// PanelState is what the node reads of one panel's replicated state on this
// member; *panel.FSM satisfies it. Reads that must be current follow
// PanelService.Sync.
type PanelState interface {
	Case(ref v1.CaseID) (panel.PanelCase, error)
	CommandResult(id v1.ID) (panel.Result, error)
	DecisionsSince(since uint64) ([]panel.ConcludedDecision, error)
}

// PanelsConfig configures the node's part in its combined panels.
type PanelsConfig struct {
	// Node is the authority's application whose cases concluded decisions
	// update (required).
	Node *Node
	// RetryInterval is how often decisions that could not be recorded on the
	// lead authority's case because of a passing failure (the store was
	// unavailable) are tried again. Default 30s. A decision the case's
	// workflow refuses is not retried on this interval: see Panels.
	RetryInterval time.Duration
	// ResolvePause is the pause between attempts to resolve an ambiguous
	// proposal by its command ID. Default 200ms.
	ResolvePause time.Duration
	// Logger receives messages (never case content); nil means the node's.
	Logger *slog.Logger
}

// DefaultPanelsConfig returns the defaults; the caller sets Node.
func DefaultPanelsConfig() PanelsConfig {
	return PanelsConfig{RetryInterval: 30 * time.Second, ResolvePause: 200 * time.Millisecond}
}

// Validate reports every missing or invalid field.
func (c PanelsConfig) Validate() error {
	var errs []error
	if c.Node == nil {
		errs = append(errs, fmt.Errorf("%w: PanelsConfig.Node is required", ErrInvalidConfig))
	}
	if c.RetryInterval <= 0 {
		errs = append(errs, fmt.Errorf("%w: RetryInterval is %v, want a positive duration", ErrInvalidConfig, c.RetryInterval))
	}
	if c.ResolvePause <= 0 {
		errs = append(errs, fmt.Errorf("%w: ResolvePause is %v, want a positive duration", ErrInvalidConfig, c.ResolvePause))
	}
	return errors.Join(errs...)
}

// Panels is the node as a member of its combined panels: it turns what
// people do at a panel into panel commands, proposes them to the panel's Raft
// group, and records on the lead authority's case each concluded decision,
// the panel's reconsideration of it and its SCA assurance.
//
// Decisions reach it from the panel state machine's observers (on raft's FSM
// goroutine, which must not block): a concluded decision (Observer), and a
// decision whose reconsideration was requested or whose assurance was
// recorded (ChangeObserver). A catch-up read (DecisionsSince, then the case
// from the panel's state) does the same when a panel is attached and after a
// snapshot is restored. All of them only queue work; one goroutine (run)
// moves cases, idempotently by decision ID: it compares what the panel holds
// about the decision with what the case records of it and applies only the
// workflow events missing, so a decision or change seen twice is recorded
// once.
//
// A failure that may pass (the store unavailable) is retried every
// RetryInterval. A refusal by the case's workflow (the case is not in a state
// to take the decision, a time rule, an invalid record) is not: it is logged
// once at Error, counted in PanelStatus.Refused with its reason, and tried
// again only at the next catch-up (restart, snapshot, Reconcile, or
// ReconcilePanel, which an operator asks for once the case is corrected) or
// when the panel reports another change to the decision.
type Panels struct {
	node   *Node
	cfg    PanelsConfig
	log    *slog.Logger
	panels sync.Map // v1.PanelID -> *attachedPanel

	jobs chan panelJob
	mu   sync.Mutex // guards pending and closed
	// pending are decisions not yet (fully) recorded on their case, by
	// decision ID, with the reason; owned by run, read by Status under mu.
	pending map[v1.ID]pendingDecision
	closed  bool
	stop    chan struct{}
	done    chan struct{}
}

type attachedPanel struct {
	svc   PanelService
	state PanelState
}

// panelJob is one piece of work for run: a decision to record, with its
// reconsideration and assurance as the panel holds them, or a catch-up of a
// whole panel (decision is nil).
type panelJob struct {
	panel    v1.PanelID
	decision *panel.Decision
}

type pendingDecision struct {
	panel  v1.PanelID
	d      panel.Decision
	reason string
	// refused: the case's workflow refused it; not retried on the interval.
	refused bool
}

// jobQueue bounds the queue between the observer and run. The observer
// never blocks on it: a decision that finds it full is picked up by the
// next catch-up, which is scheduled instead.
const jobQueue = 1024

// NewPanels validates cfg and starts the goroutine that records concluded
// decisions. Close stops it.
func NewPanels(cfg PanelsConfig) (*Panels, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Panels{node: cfg.Node, cfg: cfg, log: cfg.Logger, jobs: make(chan panelJob, jobQueue),
		pending: map[v1.ID]pendingDecision{}, stop: make(chan struct{}), done: make(chan struct{})}
	if p.log == nil {
		p.log = cfg.Node.log
	}
	p.log = p.log.With("component", "panels")
	go p.run()
	return p, nil
}

// Observer returns the function to set as the panel state machine's
// observer (panel.Config.Observer) for panel id. It only queues the decision.
func (p *Panels) Observer(id v1.PanelID) func(panel.ConcludedDecision) {
	return func(d panel.ConcludedDecision) {
		if d.Record.LeadAuthority != p.node.authority {
			return // another authority's child: its node records it
		}
		p.enqueue(panelJob{panel: id, decision: &panel.Decision{Index: d.Index, Record: d.Record}})
	}
}

// ChangeObserver returns the function to set as the panel state machine's
// change observer (panel.Config.ChangeObserver) for panel id: a decision's
// reconsideration was requested or its assurance recorded. It only queues
// the decision as it now stands.
func (p *Panels) ChangeObserver(id v1.PanelID) func(panel.DecisionChange) {
	return func(c panel.DecisionChange) {
		if c.Decision.Record.LeadAuthority != p.node.authority {
			return
		}
		d := c.Decision
		p.enqueue(panelJob{panel: id, decision: &d})
	}
}

// Reconcile schedules a catch-up of panel id: every decision it holds is
// checked against the lead authority's cases. Call it after the panel's state
// was restored from a snapshot (the observer does not see those decisions).
func (p *Panels) Reconcile(id v1.PanelID) { p.enqueue(panelJob{panel: id}) }

func (p *Panels) enqueue(j panelJob) {
	select {
	case p.jobs <- j:
	default:
		// Full: a catch-up covers every decision. If even that cannot be
		// queued, the periodic retry of run does it.
		p.log.Warn("panel decision queue full; a catch-up will record the decision", "panel", string(j.panel))
		select {
		case p.jobs <- panelJob{panel: j.panel}:
		default:
		}
	}
}

// Attach makes panel id usable by the node and schedules a catch-up, so
// decisions concluded while the node was down are recorded.
func (p *Panels) Attach(id v1.PanelID, svc PanelService, state PanelState) error {
	if !id.Valid() {
		return fmt.Errorf("%w: panel id %.40q is not valid", ErrInvalid, id)
	}
	if svc == nil || state == nil {
		return fmt.Errorf("%w: panel %s needs both a service and a state", ErrInvalid, id)
	}
	if _, loaded := p.panels.LoadOrStore(id, &attachedPanel{svc: svc, state: state}); loaded {
		return fmt.Errorf("%w: panel %s is attached already", ErrExists, id)
	}
	p.Reconcile(id)
	return nil
}

// Detach removes panel id (before its Raft group and state are closed).
func (p *Panels) Detach(id v1.PanelID) { p.panels.Delete(id) }

// PanelIDs lists the attached panels, sorted.
func (p *Panels) PanelIDs() []v1.PanelID {
	var ids []v1.PanelID
	p.panels.Range(func(k, _ any) bool { ids = append(ids, k.(v1.PanelID)); return true })
	slices.Sort(ids)
	return ids
}

// Close stops recording decisions; work in progress finishes first. It is
// idempotent. Detach or close the panels before the node's store.
func (p *Panels) Close() error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.stop)
	}
	p.mu.Unlock()
	<-p.done
	return nil
}

func (p *Panels) run() {
	defer close(p.done)
	tick := time.NewTicker(p.cfg.RetryInterval)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case j := <-p.jobs:
			if j.decision != nil {
				p.record(j.panel, *j.decision)
			} else {
				p.catchUp(j.panel)
			}
		case <-tick.C:
			p.mu.Lock()
			retry := make([]pendingDecision, 0, len(p.pending))
			for _, pd := range p.pending {
				if !pd.refused {
					retry = append(retry, pd)
				}
			}
			p.mu.Unlock()
			for _, pd := range retry {
				p.record(pd.panel, pd.d)
			}
		}
	}
}

// catchUp records every decision of panel id that concerns this authority,
// with its reconsideration and assurance as the panel's state now holds
// them. Recording is idempotent, so reading from the start costs reads only.
func (p *Panels) catchUp(id v1.PanelID) {
	ap, ok := p.attached(id)
	if !ok {
		return
	}
	ds, err := ap.state.DecisionsSince(0)
	if err != nil {
		p.log.Error("cannot read the panel's decisions", "panel", string(id), "error", err)
		return
	}
	for _, cd := range ds {
		if cd.Record.LeadAuthority == p.node.authority {
			p.record(id, panel.Decision{Index: cd.Index, Record: cd.Record})
		}
	}
}

// current returns decision d as the panel's state on this member holds it
// now, with its reconsideration and assurance: a queued job may be older
// than the state, and the case must never be moved back to an older status.
// If the state cannot be read, d as it was queued.
func (p *Panels) current(id v1.PanelID, d panel.Decision) panel.Decision {
	ap, ok := p.attached(id)
	if !ok {
		return d
	}
	pc, err := ap.state.Case(d.Record.CaseRef)
	if err != nil {
		p.log.Warn("cannot read the panel case; recording the decision as last seen", "panel", string(id),
			"decision", string(d.Record.ID), "case", string(d.Record.CaseRef), "error", err)
		return d
	}
	if now, ok := pc.Decision(d.Record.ID); ok {
		return now
	}
	return d
}

// panelActor is how the node itself appears in the case store and audit
// log when it records a panel's decision.
func panelActor(id v1.PanelID) storage.Access {
	return storage.Access{Actor: "node", Role: "panel:" + string(id),
		Purpose: "record the combined panel's decision", LegalBasis: DefaultBasis}
}

// maxRecordAttempts bounds the retries of a decision on a revision conflict.
const maxRecordAttempts = 5

// maxRecordSteps bounds the workflow events one decision brings to its case:
// the decision, a reconsideration (requested and accepted) and assurance
// (submitted, answered, resubmitted, answered).
const maxRecordSteps = 8

// refusal reports whether err is the case's workflow (or the case record)
// refusing the change, which trying again unchanged will not mend.
func refusal(err error) bool {
	return errors.Is(err, ErrNotAllowedNow) || errors.Is(err, ErrInvalid) ||
		errors.Is(err, ErrForbidden) || errors.Is(err, ErrGone)
}

// record puts one concluded decision, and what the panel holds of its
// reconsideration and assurance, on the lead authority's case, once.
func (p *Panels) record(id v1.PanelID, d panel.Decision) {
	d = p.current(id, d)
	err := p.recordOnce(id, d)
	for i := 1; errors.Is(err, ErrConflict) && i < maxRecordAttempts; i++ {
		err = p.recordOnce(id, d)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		delete(p.pending, d.Record.ID)
		return
	}
	prev, seen := p.pending[d.Record.ID]
	pd := pendingDecision{panel: id, d: d, reason: err.Error(), refused: refusal(err)}
	switch {
	case pd.refused && (!seen || !prev.refused || prev.reason != pd.reason):
		p.log.Error("the case's workflow refused the panel's decision; it is not retried until the next catch-up (restart, snapshot, reconcile) or another change to the decision at the panel",
			"panel", string(id), "decision", string(d.Record.ID), "case", string(d.Record.CaseRef), "error", err)
	case !pd.refused && !seen:
		p.log.Warn("panel decision not yet recorded on the case; will retry", "panel", string(id),
			"decision", string(d.Record.ID), "case", string(d.Record.CaseRef), "error", err)
	}
	p.pending[d.Record.ID] = pd
}

// recordOnce brings the case up to date with the decision one workflow event
// at a time: each step compares the case with the panel's decision and
// applies the first event missing, so it is idempotent and resumes where an
// interrupted run stopped.
func (p *Panels) recordOnce(id v1.PanelID, d panel.Decision) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := p.node
	who := panelActor(id)
	c, err := n.store.Case(ctx, d.Record.CaseRef, who)
	if err != nil {
		return classify(err)
	}
	for range maxRecordSteps {
		now := n.now().UTC()
		ev, at, err := nextPanelEvent(id, c, d, now)
		if err != nil {
			return err
		}
		if ev == nil {
			return nil // the case records everything the panel holds
		}
		next, err := workflow.Apply(c, ev, at, "panel:"+string(id), n.policy)
		if err != nil {
			return fmt.Errorf("recording panel decision %s on case %s: %w", d.Record.ID, c.ID, classify(err))
		}
		if err := next.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if err := n.store.UpdateCase(ctx, next, who); err != nil {
			return classify(err)
		}
		p.log.Info("panel decision recorded on the case", "panel", string(id), "decision", string(d.Record.ID),
			"case", string(c.ID), "event", string(ev.Kind()), "state", string(next.State), "revision", next.Revision)
		c = next
	}
	return fmt.Errorf("%w: panel decision %s needs more than %d workflow events on case %s", ErrInvalid, d.Record.ID, maxRecordSteps, c.ID)
}

// nextPanelEvent returns the first workflow event the case is missing of
// what the panel holds about decision d, and the time to record it at; nil
// when the case is up to date. In order: the decision itself; then its
// reconsideration and its assurance, the one the panel recorded first first.
func nextPanelEvent(id v1.PanelID, c *v1.Case, d panel.Decision, now time.Time) (workflow.Event, time.Time, error) {
	if !slices.ContainsFunc(c.Decisions, func(x v1.NRMDecision) bool { return x.PanelDecisionID == d.Record.ID }) {
		ev, err := decisionEvent(id, d.Record)
		return ev, now, err
	}
	recon, reconAt, err := reconsiderationEvent(id, c, d, now)
	if err != nil {
		return nil, time.Time{}, err
	}
	if recon != nil && (d.Assurance == nil || !d.Assurance.SubmittedAt.Before(d.Reconsideration.At)) {
		return recon, reconAt, nil
	}
	if ev, at := assuranceEvent(c, d, now); ev != nil {
		return ev, at, nil
	}
	return recon, reconAt, nil
}

// eventTime is when to record an event the panel made at t: t itself where
// the case allows (not before its last change, not after now), else the
// nearest time that is.
func eventTime(c *v1.Case, t, now time.Time) time.Time {
	switch {
	case t.IsZero() || t.After(now):
		t = now
	case t.Before(c.UpdatedAt):
		t = c.UpdatedAt
	}
	return t.UTC()
}

// panelDecisionAt returns the index of the case's last decision entry that
// records panel decision d, or -1.
func panelDecisionAt(c *v1.Case, d v1.ID) int {
	for i := len(c.Decisions) - 1; i >= 0; i-- {
		if c.Decisions[i].PanelDecisionID == d {
			return i
		}
	}
	return -1
}

// reconsiderationOf returns the case's last reconsideration of panel
// decision d (its link, Reconsideration.Decision, points at an entry that
// records d), or nil.
func reconsiderationOf(c *v1.Case, d v1.ID) *v1.Reconsideration {
	for i := len(c.Reconsiderations) - 1; i >= 0; i-- {
		r := &c.Reconsiderations[i]
		if r.Decision != nil && *r.Decision >= 0 && *r.Decision < len(c.Decisions) && c.Decisions[*r.Decision].PanelDecisionID == d {
			return r
		}
	}
	return nil
}

// reconsiderationEvent returns the event that records the panel's
// reconsideration of d on the case, or nil. A request the panel applied
// reopens the stage at once, so on the case it is a request accepted: the
// panel then decides the stage afresh, and that decision is recorded in turn.
func reconsiderationEvent(id v1.PanelID, c *v1.Case, d panel.Decision, now time.Time) (workflow.Event, time.Time, error) {
	pr := d.Reconsideration
	if pr == nil {
		return nil, time.Time{}, nil
	}
	at := eventTime(c, pr.At, now)
	if r := reconsiderationOf(c, d.Record.ID); r != nil {
		switch r.Outcome {
		case v1.ReconsiderationPending:
			stage := "reasonable grounds"
			if r.Stage == v1.StageCG {
				stage = "conclusive grounds"
			}
			return workflow.DecideReconsideration{Accepted: true, Reasons: fmt.Sprintf(
				"Combined panel %s reconsiders its decision: the request was made within the panel's reconsideration window, and the panel makes the %s decision afresh.",
				id, stage)}, at, nil
		case v1.ReconsiderationRefused:
			return nil, time.Time{}, fmt.Errorf("%w: combined panel %s is reconsidering its decision %s, but case %s records that reconsideration as refused: "+
				"correct the case record or withdraw the request at the panel", ErrNotAllowedNow, id, d.Record.ID, c.ID)
		}
		return nil, time.Time{}, nil // accepted: recorded
	}
	i := panelDecisionAt(c, d.Record.ID)
	if i != len(c.Decisions)-1 {
		return nil, time.Time{}, fmt.Errorf("%w: combined panel %s is reconsidering its decision %s, but case %s has a later decision: "+
			"only the latest decision can be reconsidered on the case", ErrNotAllowedNow, id, d.Record.ID, c.ID)
	}
	grounds := v1.GroundsNewEvidence
	if pr.Grounds == panel.GroundsNotInLineWithGuidance {
		grounds = v1.GroundsNotInLineGuidance
	}
	return workflow.RequestReconsideration{Stage: c.Decisions[i].Stage, Grounds: grounds}, at, nil
}

// assuranceEvent returns the event that moves the case's assurance towards
// the status the panel holds for d, or nil: when it is there already, when
// the case is past it (assurance never goes back), or when d is no longer
// the decision the case's assurance is about (a later decision, or d was
// reconsidered on the case).
func assuranceEvent(c *v1.Case, d panel.Decision, now time.Time) (workflow.Event, time.Time) {
	pa := d.Assurance
	if pa == nil || panelDecisionAt(c, d.Record.ID) != len(c.Decisions)-1 || reconsiderationOf(c, d.Record.ID) != nil {
		return nil, time.Time{}
	}
	var cur v1.AssuranceStatus // "" : not submitted
	switch c.State {
	case v1.StateAssuranceSubmitted:
		cur = v1.AssuranceSubmitted
	case v1.StateAssuranceQueried:
		cur = v1.AssuranceQueried
	case v1.StateAssured:
		cur = v1.AssuranceAssured
	case v1.StatePostExitReview, v1.StateClosed, v1.StateTransferredOut:
		if c.Assurance != nil && c.Assurance.Status == v1.AssuranceAssured {
			cur = v1.AssuranceAssured
		}
	}
	submit := func() (workflow.Event, time.Time) {
		return workflow.SubmitAssurance{}, eventTime(c, pa.SubmittedAt, now)
	}
	answer := func() (workflow.Event, time.Time) {
		at := now
		if pa.ResolvedAt != nil {
			at = *pa.ResolvedAt
		}
		return workflow.RecordAssurance{Assured: pa.Status == v1.AssuranceAssured, Query: pa.Query}, eventTime(c, at, now)
	}
	switch cur {
	case "":
		return submit()
	case v1.AssuranceSubmitted:
		if pa.Status != v1.AssuranceSubmitted {
			return answer()
		}
	case v1.AssuranceQueried:
		// Another query, or an assurance, follows a resubmission the case
		// has not seen.
		if pa.Status == v1.AssuranceSubmitted || pa.Status == v1.AssuranceAssured ||
			(c.Assurance != nil && c.Assurance.Query != pa.Query) {
			return submit()
		}
	}
	return nil, time.Time{}
}

// decisionEvent turns a panel's decision record into the workflow event that
// records it on the case: one stage, or RG and CG made at one meeting.
func decisionEvent(id v1.PanelID, r v1.PanelDecision) (workflow.Event, error) {
	by := "combined panel " + string(id)
	switch len(r.Outcomes) {
	case 1:
		o := r.Outcomes[0]
		return workflow.RecordDecision{Stage: o.Stage, Outcome: o.Outcome, Reasons: r.Reasons, ChildViews: r.ChildViews,
			PanelDecisionID: r.ID, DecidedAt: r.DecidedAt, DecidedBy: by}, nil
	case 2:
		var rg, cg v1.StageOutcome
		for _, o := range r.Outcomes {
			switch o.Stage {
			case v1.StageRG:
				rg = o
			case v1.StageCG:
				cg = o
			}
		}
		if rg.Stage == "" || cg.Stage == "" {
			return nil, fmt.Errorf("%w: decision %s has two outcomes but not one reasonable and one conclusive grounds", ErrInvalid, r.ID)
		}
		if rg.Outcome != v1.OutcomePositive {
			// A conclusive grounds decision follows only a positive
			// reasonable grounds one: the case records the negative RG
			// decision; the CG outcome voted with it has no effect.
			return workflow.RecordDecision{Stage: v1.StageRG, Outcome: rg.Outcome, Reasons: r.Reasons, ChildViews: r.ChildViews,
				PanelDecisionID: r.ID, DecidedAt: r.DecidedAt, DecidedBy: by}, nil
		}
		return workflow.RecordDecisions{CGOutcome: cg.Outcome, RGReasons: r.Reasons, CGReasons: r.Reasons,
			ChildViews: r.ChildViews, PanelDecisionID: r.ID, DecidedAt: r.DecidedAt, DecidedBy: by}, nil
	}
	return nil, fmt.Errorf("%w: decision %s has %d outcomes", ErrInvalid, r.ID, len(r.Outcomes))
}

func (p *Panels) attached(id v1.PanelID) (*attachedPanel, bool) {
	v, ok := p.panels.Load(id)
	if !ok {
		return nil, false
	}
	return v.(*attachedPanel), true
}

func (p *Panels) panel(id v1.PanelID) (*attachedPanel, error) {
	if !id.Valid() {
		return nil, fmt.Errorf("%w: panel id %.40q is not valid", ErrInvalid, id)
	}
	ap, ok := p.attached(id)
	if !ok {
		return nil, fmt.Errorf("%w: this node is not a member of panel %s", ErrNotFound, id)
	}
	return ap, nil
}
