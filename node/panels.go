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
	// lead authority's case (the store was unavailable, or the case was not
	// in a state to take them) are tried again. Default 30s.
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
// group, and records each concluded decision on the lead authority's case.
//
// Decisions reach it from the panel state machine's observer (on raft's FSM
// goroutine, which must not block) and from a catch-up read (DecisionsSince)
// when a panel is attached and after a snapshot is restored. Both only queue
// work; one goroutine (run) records decisions on cases, idempotently by
// decision ID, so a decision seen twice is recorded once.
type Panels struct {
	node   *Node
	cfg    PanelsConfig
	log    *slog.Logger
	panels sync.Map // v1.PanelID -> *attachedPanel

	jobs chan panelJob
	mu   sync.Mutex // guards pending and closed
	// pending are decisions not yet recorded on their case, by decision ID,
	// with the reason; owned by run, read by Status under mu.
	pending map[v1.ID]pendingDecision
	closed  bool
	stop    chan struct{}
	done    chan struct{}
}

type attachedPanel struct {
	svc   PanelService
	state PanelState
}

// panelJob is one piece of work for run: a decision to record, or a
// catch-up of a whole panel (decision is nil).
type panelJob struct {
	panel    v1.PanelID
	decision *panel.ConcludedDecision
}

type pendingDecision struct {
	panel  v1.PanelID
	d      panel.ConcludedDecision
	reason string
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
				retry = append(retry, pd)
			}
			p.mu.Unlock()
			for _, pd := range retry {
				p.record(pd.panel, pd.d)
			}
		}
	}
}

// catchUp records every decision of panel id that concerns this authority.
// Recording is idempotent, so reading from the start costs reads only.
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
	for _, d := range ds {
		if d.Record.LeadAuthority == p.node.authority {
			p.record(id, d)
		}
	}
}

// panelActor is how the node itself appears in the case store and audit
// log when it records a panel's decision.
func panelActor(id v1.PanelID) storage.Access {
	return storage.Access{Actor: "node", Role: "panel:" + string(id),
		Purpose: "record the combined panel's decision", LegalBasis: DefaultBasis}
}

// maxRecordAttempts bounds the retries of a decision on a revision conflict.
const maxRecordAttempts = 5

// record puts one concluded decision on the lead authority's case, once.
func (p *Panels) record(id v1.PanelID, d panel.ConcludedDecision) {
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
	if _, seen := p.pending[d.Record.ID]; !seen {
		p.log.Warn("panel decision not yet recorded on the case; will retry", "panel", string(id),
			"decision", string(d.Record.ID), "case", string(d.Record.CaseRef), "error", err)
	}
	p.pending[d.Record.ID] = pendingDecision{panel: id, d: d, reason: err.Error()}
}

func (p *Panels) recordOnce(id v1.PanelID, d panel.ConcludedDecision) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := p.node
	who := panelActor(id)
	c, err := n.store.Case(ctx, d.Record.CaseRef, who)
	if err != nil {
		return classify(err)
	}
	if slices.ContainsFunc(c.Decisions, func(x v1.NRMDecision) bool { return x.PanelDecisionID == d.Record.ID }) {
		return nil // recorded before
	}
	ev, err := decisionEvent(id, d.Record)
	if err != nil {
		return err
	}
	next, err := workflow.Apply(c, ev, n.now().UTC(), "panel:"+string(id), n.policy)
	if err != nil {
		return classify(err)
	}
	if err := next.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := n.store.UpdateCase(ctx, next, who); err != nil {
		return classify(err)
	}
	p.log.Info("panel decision recorded on the case", "panel", string(id), "decision", string(d.Record.ID),
		"case", string(c.ID), "state", string(next.State), "revision", next.Revision)
	return nil
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
		var cg v1.StageOutcome
		for _, o := range r.Outcomes {
			if o.Stage == v1.StageCG {
				cg = o
			}
		}
		if cg.Stage == "" {
			return nil, fmt.Errorf("%w: decision %s has two outcomes but no conclusive grounds one", ErrInvalid, r.ID)
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
