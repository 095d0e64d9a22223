package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/consensus"
	"nrmnet/consensus/panel"
	"nrmnet/node/workflow"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// PanelOutcome is what the panel decided about one command: accepted, or
// rejected by the rules with a stable code. Command is its ID (ask the panel
// about it again with PanelCommand); Subject is the ID of what it created
// (a meeting or a proposal, whose ID is also the decision's), if any.
type PanelOutcome struct {
	Command   v1.ID
	Subject   v1.ID
	Index     uint64
	Code      panel.Code
	Message   string
	Duplicate bool
}

// Accepted reports whether the panel applied the command.
func (o PanelOutcome) Accepted() bool { return o.Code == panel.CodeAccepted }

// Who may do what at a panel, by the user's role at this node. The panel's
// rules check the role again (every member applies the same verdict) and
// check the person against the meeting's attendance; these tables refuse
// early, audited, what the rules would refuse anyway.
var (
	panelOpenRoles       = []Role{RoleSocialWorker, RoleNRMCoordinator}
	panelMeetingRoles    = []Role{RolePanelChair, RoleNRMCoordinator}
	panelViewsRoles      = []Role{RoleSocialWorker, RoleAdvocate, RolePanelChair}
	panelProposeRoles    = []Role{RolePanelChair}
	panelVoteRoles       = []Role{RolePanelMember, RolePanelChair} // never the advocate or ICTG: no vote
	panelConcludeRoles   = []Role{RolePanelChair}
	panelReconsiderRoles = []Role{RoleSocialWorker, RoleNRMCoordinator, RoleAdvocate}
	panelAssuranceRoles  = []Role{RoleNRMCoordinator}
	panelCloseRoles      = []Role{RoleSocialWorker, RoleNRMCoordinator}
	panelReadRoles       = []Role{RoleSocialWorker, RoleNRMCoordinator, RolePanelChair, RolePanelMember, RoleAdvocate}
	panelStatusRoles     = []Role{RoleNRMCoordinator, RolePanelChair, RolePanelMember, RoleRegionalCoordinator, RoleAdministrator}
	panelMembershipRoles = []Role{RoleAdministrator}
	// panelReconcileRoles may ask the node to try again to record a panel's
	// decisions on this authority's cases (ReconcilePanel). The NRM
	// coordinator follows the authority's NRM cases and is who corrects a
	// case that refused a decision; the administrator runs the node and
	// could restart it to the same effect. Reconciling changes no decision
	// and shows no case content, but it moves cases through their workflow,
	// so the roles that may only watch the panel's status (chair, members,
	// regional coordinator) may not.
	panelReconcileRoles = []Role{RoleNRMCoordinator, RoleAdministrator}
)

// panelRole is the role a user of this node acts in at a panel.
func panelRole(r Role) (panel.Role, bool) {
	switch r {
	case RoleSocialWorker:
		return panel.RoleSocialWorker, true
	case RoleNRMCoordinator:
		return panel.RoleNRMCoordinator, true
	case RolePanelChair:
		return panel.RoleChair, true
	case RolePanelMember:
		return panel.RolePanelMember, true
	case RoleAdvocate:
		return panel.RoleGuardian, true
	}
	return "", false
}

// requireRole refuses, audited, a user whose role is not in allowed.
func (p *Panels) requireRole(ctx context.Context, who Principal, allowed []Role, what string, action v1.AuditAction, subject string) error {
	if slices.Contains(allowed, who.Role) {
		return nil
	}
	return p.node.deny(ctx, who, action, subject, fmt.Sprintf("role %s may not %s", who.Role, what))
}

// PanelCaseOpening puts one of this authority's cases before a panel.
type PanelCaseOpening struct {
	Case v1.CaseID
	// LeadSocialWorker is the person ID of the child's lead social worker
	// (the panel refuses them as chair); empty means the case's lead worker.
	LeadSocialWorker string
	// Touches are the other authorities the case touches.
	Touches []v1.AuthorityCode
}

// OpenPanelCase puts a case of this authority (the lead authority, where the
// child lives) before a panel. The case must be held here; the panel gets
// only its reference, the lead social worker and the authorities it touches.
func (p *Panels) OpenPanelCase(ctx context.Context, who Principal, id v1.PanelID, o PanelCaseOpening) (PanelOutcome, error) {
	if err := checkCaseID(o.Case); err != nil {
		return PanelOutcome{}, err
	}
	if err := p.requireRole(ctx, who, panelOpenRoles, "open a panel case", v1.ActionCaseUpdate, string(o.Case)); err != nil {
		return PanelOutcome{}, err
	}
	if o.Case.Authority() != p.node.authority {
		return PanelOutcome{}, fmt.Errorf("%w: case %s is %s's; only the lead authority opens a panel case", ErrForbidden, o.Case, o.Case.Authority())
	}
	if _, err := p.panel(id); err != nil {
		return PanelOutcome{}, err
	}
	c, err := p.node.store.Case(ctx, o.Case, who.access("open a panel case on "+string(id), DefaultBasis))
	if err != nil {
		return PanelOutcome{}, classify(err)
	}
	if c.Responsible != p.node.authority {
		return PanelOutcome{}, fmt.Errorf("%w: case %s is now %s's responsibility", ErrForbidden, o.Case, c.Responsible)
	}
	if err := openableAtPanel(c); err != nil {
		return PanelOutcome{}, err
	}
	lead := o.LeadSocialWorker
	if lead == "" {
		lead = c.LeadWorker
	}
	rules := panel.DefaultRuleset()
	rules.CombinedStages = p.node.policy.AllowSameMeeting
	return p.submit(ctx, who, id, o.Case, panelOpenRoles, "", &panel.OpenCase{
		Lead: p.node.authority, LeadSocialWorker: lead, Touches: o.Touches, Rules: rules})
}

// openableAtPanel refuses a case whose workflow could not take the panel's
// first decision: a panel case starts at reasonable grounds, so the case
// must be awaiting its reasonable grounds decision (or reconsidering one).
// Opening it anyway would only show up when the decision could not be
// recorded on the case.
func openableAtPanel(c *v1.Case) error {
	switch c.State {
	case v1.StateRGPending:
		return nil
	case v1.StateReconsiderationAccepted:
		if n := len(c.Reconsiderations); n > 0 && c.Reconsiderations[n-1].Stage == v1.StageRG {
			return nil
		}
	}
	var need string
	switch c.State {
	case v1.StateReceived, v1.StateScopeCheck:
		need = "record the scope decision first (the case must be in scope for a devolved decision)"
	case v1.StateReferredToSCA:
		need = "the case was referred to the Single Competent Authority, which decides it"
	case v1.StateClosed, v1.StateTransferredOut:
		need = "the case is no longer open at this authority"
	default:
		need = "the case has a reasonable grounds decision already; a panel case starts at reasonable grounds, " +
			"so put it to the panel only after an accepted reconsideration of that decision"
	}
	return fmt.Errorf("%w: case %s is %s; a panel case can be opened only for a case awaiting its reasonable grounds decision (%s): %s",
		ErrNotAllowedNow, c.ID, c.State, v1.StateRGPending, need)
}

// decisionFits refuses a proposal whose decision the lead authority's case
// could not record now (a conclusive grounds decision while the case still
// awaits reasonable grounds, say). It is checked on the lead authority's
// node only, where the case is held; elsewhere the check is left to the
// recording. Only the workflow's transition table is consulted: time rules
// (the recovery period) apply to the decision's time, which is not known yet.
func (p *Panels) decisionFits(ctx context.Context, id v1.PanelID, ref v1.CaseID, stages []v1.DecisionStage) error {
	if ref.Authority() != p.node.authority {
		return nil
	}
	c, err := p.node.store.Case(ctx, ref, storage.Access{Actor: "node", Role: "panel:" + string(id),
		Purpose: "check the case can take the proposed panel decision", LegalBasis: DefaultBasis})
	if err != nil || c.Responsible != p.node.authority {
		return nil // not held here: nothing to check against
	}
	var ev workflow.Event
	switch {
	case len(stages) == 2:
		ev = workflow.RecordDecisions{CGOutcome: v1.OutcomePositive, RGReasons: "check", CGReasons: "check", ChildViews: "check"}
	case len(stages) == 1:
		ev = workflow.RecordDecision{Stage: stages[0], Outcome: v1.OutcomePositive, Reasons: "check", ChildViews: "check"}
	default:
		return nil // the panel's rules refuse it
	}
	at := p.node.now().UTC()
	if at.Before(c.UpdatedAt) {
		at = c.UpdatedAt
	}
	_, err = workflow.Apply(c, ev, at, "panel:"+string(id), p.node.policy)
	if errors.Is(err, workflow.ErrIllegalTransition) {
		return fmt.Errorf("%w: the panel's decision could not be recorded on case %s: %w", ErrNotAllowedNow, ref, err)
	}
	return nil
}

// PanelMeeting is a panel meeting as its chair records it.
type PanelMeeting struct {
	// Meeting is the meeting's ID; empty means a new one.
	Meeting    v1.ID
	HeldAt     time.Time
	Attendance []v1.Attendee
}

// RecordPanelMeeting records a meeting of the panel on a case and who
// attended in which capacity.
func (p *Panels) RecordPanelMeeting(ctx context.Context, who Principal, id v1.PanelID, ref v1.CaseID, m PanelMeeting) (PanelOutcome, error) {
	if m.Meeting == "" {
		m.Meeting = v1.NewID()
	}
	if !m.HeldAt.IsZero() && m.HeldAt.After(p.node.now().Add(maxClockSkew)) {
		return PanelOutcome{}, fmt.Errorf("%w: held_at is in the future", ErrInvalid)
	}
	return p.submit(ctx, who, id, ref, panelMeetingRoles, m.Meeting, &panel.RecordMeeting{
		Meeting: m.Meeting, HeldAt: m.HeldAt.UTC(), Attendance: m.Attendance})
}

// RecordPanelChildViews records the child's wishes and feelings for the
// panel, as the person who heard them expresses them.
func (p *Panels) RecordPanelChildViews(ctx context.Context, who Principal, id v1.PanelID, ref v1.CaseID, views string) (PanelOutcome, error) {
	return p.submit(ctx, who, id, ref, panelViewsRoles, "", &panel.RecordChildViews{Views: views})
}

// PanelProposal puts a stage, or RG and CG together, to the vote.
type PanelProposal struct {
	// Proposal is its ID (and the decision's, once concluded); empty means
	// a new one.
	Proposal v1.ID
	Meeting  v1.ID
	Stages   []v1.DecisionStage
}

// ProposePanelDecision puts a decision to the vote at a recorded meeting.
func (p *Panels) ProposePanelDecision(ctx context.Context, who Principal, id v1.PanelID, ref v1.CaseID, pr PanelProposal) (PanelOutcome, error) {
	if pr.Proposal == "" {
		pr.Proposal = v1.NewID()
	}
	if err := checkCaseID(ref); err != nil {
		return PanelOutcome{}, err
	}
	if err := p.requireRole(ctx, who, panelProposeRoles, string(panel.OpPropose)+" at a panel", v1.ActionCaseUpdate, string(ref)); err != nil {
		return PanelOutcome{}, err
	}
	if err := p.decisionFits(ctx, id, ref, pr.Stages); err != nil {
		return PanelOutcome{}, err
	}
	return p.submit(ctx, who, id, ref, panelProposeRoles, pr.Proposal, &panel.ProposeDecision{
		Proposal: pr.Proposal, Meeting: pr.Meeting, Stages: pr.Stages})
}

// CastPanelVote records the acting member's vote on one proposed stage.
func (p *Panels) CastPanelVote(ctx context.Context, who Principal, id v1.PanelID, ref v1.CaseID, v panel.CastVote) (PanelOutcome, error) {
	return p.submit(ctx, who, id, ref, panelVoteRoles, v.Proposal, &v)
}

// ConcludePanelDecision closes the vote on a proposal with the reasons and
// how the child's views were taken into account. The decision that results
// is recorded on the lead authority's case by that authority's node.
func (p *Panels) ConcludePanelDecision(ctx context.Context, who Principal, id v1.PanelID, ref v1.CaseID, c panel.ConcludeDecision) (PanelOutcome, error) {
	return p.submit(ctx, who, id, ref, panelConcludeRoles, c.Proposal, &c)
}

// RequestPanelReconsideration asks the panel to reconsider a negative
// decision.
func (p *Panels) RequestPanelReconsideration(ctx context.Context, who Principal, id v1.PanelID, ref v1.CaseID, r panel.RequestReconsideration) (PanelOutcome, error) {
	return p.submit(ctx, who, id, ref, panelReconsiderRoles, r.Decision, &r)
}

// RecordPanelAssurance records the SCA's assurance status of a decision.
func (p *Panels) RecordPanelAssurance(ctx context.Context, who Principal, id v1.PanelID, ref v1.CaseID, a panel.RecordAssurance) (PanelOutcome, error) {
	return p.submit(ctx, who, id, ref, panelAssuranceRoles, a.Decision, &a)
}

// ClosePanelCase closes the panel case.
func (p *Panels) ClosePanelCase(ctx context.Context, who Principal, id v1.PanelID, ref v1.CaseID, reason panel.CloseReason) (PanelOutcome, error) {
	return p.submit(ctx, who, id, ref, panelCloseRoles, "", &panel.CloseCase{Reason: reason})
}

// submit checks the role, builds the command (a fresh command ID, the
// acting person and role, the node's clock), proposes it and returns the
// panel's verdict. An ambiguous outcome is resolved by the command ID: the
// command is proposed again under the same ID, which the panel applies at most
// once, until an answer comes or ctx ends. Nothing is ever reported lost that
// may have been applied: an unresolved outcome is ErrUnavailable naming the
// command ID, which PanelCommand answers later.
func (p *Panels) submit(ctx context.Context, who Principal, id v1.PanelID, ref v1.CaseID, allowed []Role, subject v1.ID, body panel.Body) (PanelOutcome, error) {
	if err := checkCaseID(ref); err != nil {
		return PanelOutcome{}, err
	}
	what := string(body.Op()) + " at a panel"
	if err := p.requireRole(ctx, who, allowed, what, v1.ActionCaseUpdate, string(ref)); err != nil {
		return PanelOutcome{}, err
	}
	role, _ := panelRole(who.Role) // every role in the tables maps
	ap, err := p.panel(id)
	if err != nil {
		return PanelOutcome{}, err
	}
	cmd := panel.NewCommand(panel.Header{ID: v1.NewID(), Panel: id, Case: ref, Authority: p.node.authority,
		Actor: panel.Actor{PersonID: who.ID, Role: role}, At: p.node.now().UTC()}, body)
	data, err := panel.Encode(cmd)
	if err != nil {
		return PanelOutcome{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	res, err := p.proposeResolved(ctx, ap, cmd.ID, data)
	if err != nil {
		return PanelOutcome{Command: cmd.ID}, err
	}
	out := PanelOutcome{Command: cmd.ID, Subject: subject, Index: res.Index, Code: res.Code, Message: res.Message, Duplicate: res.Duplicate}
	p.auditCommand(ctx, who, id, ref, cmd.Op, out)
	if !res.Accepted() {
		return out, fmt.Errorf("%w: the panel's rules refused %s (%s): %s", ErrNotAllowedNow, cmd.Op, res.Code, res.Message)
	}
	return out, nil
}

// proposeResolved proposes data and returns the panel's result for it.
func (p *Panels) proposeResolved(ctx context.Context, ap *attachedPanel, cmdID v1.ID, data []byte) (panel.Result, error) {
	for {
		r, err := ap.svc.Propose(ctx, data)
		switch {
		case err == nil && r.Response != nil:
			if res, derr := panel.DecodeResult(r.Response); derr == nil && res.Command == cmdID {
				return res, nil
			}
			return p.resultOf(ctx, ap, cmdID)
		case err == nil, errors.Is(err, consensus.ErrRejected):
			return p.resultOf(ctx, ap, cmdID)
		case !errors.Is(err, consensus.ErrAmbiguous):
			return panel.Result{}, fmt.Errorf("%w: the panel did not apply command %s: %w", ErrUnavailable, cmdID, err)
		}
		// Ambiguous: ask by ID; if not applied, propose again under the
		// same ID (applied at most once).
		p.log.Info("panel proposal outcome unknown; resolving by command ID", "command", string(cmdID))
		for {
			_, applied, aerr := ap.svc.CommandApplied(ctx, cmdID)
			if aerr == nil && applied {
				return p.resultOf(ctx, ap, cmdID)
			}
			if aerr == nil {
				break // not applied (yet): propose again
			}
			if ctx.Err() != nil {
				return panel.Result{}, fmt.Errorf("%w: the outcome of command %s is not known yet; ask the panel about it again: %w", ErrUnavailable, cmdID, aerr)
			}
			if !sleepCtx(ctx, p.cfg.ResolvePause) {
				break
			}
		}
		if ctx.Err() != nil {
			return panel.Result{}, fmt.Errorf("%w: the outcome of command %s is not known yet; ask the panel about it again: %w", ErrUnavailable, cmdID, ctx.Err())
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// resultOf reads the verdict on an applied command from this member's state.
func (p *Panels) resultOf(ctx context.Context, ap *attachedPanel, cmdID v1.ID) (panel.Result, error) {
	res, err := ap.state.CommandResult(cmdID)
	if errors.Is(err, panel.ErrNotFound) {
		if serr := ap.svc.Sync(ctx); serr != nil {
			return panel.Result{}, fmt.Errorf("%w: command %s was applied but this member has not caught up: %w", ErrUnavailable, cmdID, serr)
		}
		res, err = ap.state.CommandResult(cmdID)
	}
	if err != nil {
		return panel.Result{}, fmt.Errorf("%w: reading the result of command %s: %w", ErrUnavailable, cmdID, err)
	}
	return res, nil
}

// auditCommand records what a person did at a panel and the verdict: the
// operation and code only, never content.
func (p *Panels) auditCommand(ctx context.Context, who Principal, id v1.PanelID, ref v1.CaseID, op panel.Op, out PanelOutcome) {
	e := &v1.AuditEntry{At: p.node.now().UTC(), Authority: p.node.authority, Actor: who.ID, Role: string(who.Role),
		Action: v1.ActionCaseUpdate, Subject: string(ref), Recipient: "panel:" + string(id),
		Purpose: "panel " + string(op), LegalBasis: DefaultBasis, Outcome: v1.AuditAllowed}
	if !out.Accepted() {
		e.Outcome, e.Reason = v1.AuditDenied, "panel rules: "+string(out.Code)
	}
	if op == panel.OpConclude && out.Accepted() {
		e.Action = v1.ActionDecisionRecord
	}
	if err := p.node.store.Audit(ctx, e); err != nil {
		p.log.Error("could not audit a panel command", "command", string(out.Command), "error", err)
	}
}

// PanelCommand answers what became of a command (after ErrUnavailable with
// an unknown outcome): its verdict, or ErrNotFound if the panel never applied
// it (a current answer: the node first catches up with the panel).
func (p *Panels) PanelCommand(ctx context.Context, who Principal, id v1.PanelID, cmdID v1.ID) (PanelOutcome, error) {
	if err := p.requireRole(ctx, who, panelReadRoles, "read a panel command", v1.ActionCaseRead, string(cmdID)); err != nil {
		return PanelOutcome{}, err
	}
	if !cmdID.Valid() {
		return PanelOutcome{}, fmt.Errorf("%w: command id %.40q is not valid", ErrInvalid, cmdID)
	}
	ap, err := p.panel(id)
	if err != nil {
		return PanelOutcome{}, err
	}
	if _, applied, err := ap.svc.CommandApplied(ctx, cmdID); err != nil {
		return PanelOutcome{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	} else if !applied {
		return PanelOutcome{}, fmt.Errorf("%w: panel %s has not applied command %s", ErrNotFound, id, cmdID)
	}
	res, err := p.resultOf(ctx, ap, cmdID)
	if err != nil {
		return PanelOutcome{}, err
	}
	return PanelOutcome{Command: cmdID, Index: res.Index, Code: res.Code, Message: res.Message}, nil
}

// PanelCase returns everything the panel holds about a case, as current as
// the panel's leader: meetings, the child's views, proposals and votes,
// decisions. The read is audited.
func (p *Panels) PanelCase(ctx context.Context, who Principal, id v1.PanelID, ref v1.CaseID) (panel.PanelCase, error) {
	if err := checkCaseID(ref); err != nil {
		return panel.PanelCase{}, err
	}
	if err := p.requireRole(ctx, who, panelReadRoles, "read a panel case", v1.ActionCaseRead, string(ref)); err != nil {
		return panel.PanelCase{}, err
	}
	ap, err := p.panel(id)
	if err != nil {
		return panel.PanelCase{}, err
	}
	if err := ap.svc.Sync(ctx); err != nil {
		return panel.PanelCase{}, fmt.Errorf("%w: panel %s cannot give a current read: %w", ErrUnavailable, id, err)
	}
	pc, err := ap.state.Case(ref)
	if errors.Is(err, panel.ErrNotFound) {
		return panel.PanelCase{}, fmt.Errorf("%w: panel %s holds no case %s", ErrNotFound, id, ref)
	}
	if err != nil {
		return panel.PanelCase{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	e := &v1.AuditEntry{At: p.node.now().UTC(), Authority: p.node.authority, Actor: who.ID, Role: string(who.Role),
		Action: v1.ActionCaseRead, Subject: string(ref), Recipient: "panel:" + string(id),
		Purpose: "read the panel case", LegalBasis: DefaultBasis, Outcome: v1.AuditAllowed}
	if err := p.node.store.Audit(ctx, e); err != nil {
		return panel.PanelCase{}, classify(err)
	}
	return pc, nil
}

// PanelStatus is this node's view of one panel: its Raft state and the
// decisions not yet recorded on this authority's cases. No case content.
type PanelStatus struct {
	Raft consensus.Status
	// Unrecorded counts concluded decisions for this authority's cases that
	// are not (fully) on the case yet: the decision, or its reconsideration
	// or assurance. See the log for the reason.
	Unrecorded int
	// Refused counts those of Unrecorded that the case's workflow refused;
	// they are not retried until the next catch-up (see Panels). Problems
	// says why, for each.
	Refused  int
	Problems []PanelProblem
}

// PanelProblem is a decision the node could not record on its case: the
// decision and case references and the reason (states and IDs only).
type PanelProblem struct {
	Decision v1.ID
	Case     v1.CaseID
	Reason   string
	Refused  bool
}

// PanelStatus reports the panel's Raft state as this node sees it.
func (p *Panels) PanelStatus(ctx context.Context, who Principal, id v1.PanelID) (PanelStatus, error) {
	if err := p.requireRole(ctx, who, panelStatusRoles, "see a panel's status", v1.ActionCaseList, "panel:"+string(id)); err != nil {
		return PanelStatus{}, err
	}
	ap, err := p.panel(id)
	if err != nil {
		return PanelStatus{}, err
	}
	st, err := ap.svc.Status(ctx)
	if err != nil {
		return PanelStatus{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	out := PanelStatus{Raft: st}
	p.mu.Lock()
	for _, pd := range p.pending {
		if pd.panel != id {
			continue
		}
		out.Unrecorded++
		if pd.refused {
			out.Refused++
		}
		out.Problems = append(out.Problems, PanelProblem{Decision: pd.d.Record.ID, Case: pd.d.Record.CaseRef, Reason: pd.reason, Refused: pd.refused})
	}
	p.mu.Unlock()
	slices.SortFunc(out.Problems, func(a, b PanelProblem) int { return strings.Compare(string(a.Decision), string(b.Decision)) })
	return out, nil
}

// ReconcilePanel queues a catch-up of panel id, as a node restart does:
// every decision the panel holds for this authority's cases is compared with
// its case, and what the case is missing is recorded through the workflow,
// decisions the workflow refused before included (correct the case first).
// It returns as soon as the work is queued, before it is done: the work is
// asynchronous, and PanelStatus shows the outcome (a decision still refused
// stays there with its reason). The request is audited before it is queued.
func (p *Panels) ReconcilePanel(ctx context.Context, who Principal, id v1.PanelID) error {
	subject := "panel:" + string(id)
	if err := p.requireRole(ctx, who, panelReconcileRoles, "reconcile a panel's decisions with this authority's cases", v1.ActionCaseUpdate, subject); err != nil {
		return err
	}
	if _, err := p.panel(id); err != nil {
		return err
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return fmt.Errorf("%w: this node is stopping and no longer records panel decisions; start it again (that reconciles every panel)", ErrUnavailable)
	}
	e := &v1.AuditEntry{At: p.node.now().UTC(), Authority: p.node.authority, Actor: who.ID, Role: string(who.Role),
		Action: v1.ActionCaseUpdate, Subject: subject, Recipient: subject,
		Purpose: "reconcile the panel's decisions with this authority's cases", LegalBasis: DefaultBasis, Outcome: v1.AuditAllowed}
	if err := p.node.store.Audit(ctx, e); err != nil {
		return classify(err)
	}
	select {
	case p.jobs <- panelJob{panel: id}:
	default:
		return fmt.Errorf("%w: the node's queue of panel work is full (%d jobs); it is recording decisions now, try again in a minute",
			ErrUnavailable, jobQueue)
	}
	p.log.Info("panel reconciliation queued", "panel", string(id), "role", string(who.Role))
	return nil
}

// PanelMembership is the optional capability of a PanelService to change
// the group's membership (on the leader); *consensus.Panel has it.
type PanelMembership interface {
	AddMember(ctx context.Context, m consensus.Member) error
	RemoveMember(ctx context.Context, id peer.ID) error
}

// AddPanelMember adds a node to the panel's Raft group (on the leader; the
// new node runs its panel with Join set). Administrators only.
func (p *Panels) AddPanelMember(ctx context.Context, who Principal, id v1.PanelID, m consensus.Member) error {
	return p.membership(ctx, who, id, m.ID, func(pm PanelMembership) error { return pm.AddMember(ctx, m) })
}

// RemovePanelMember removes a node from the panel's Raft group (on the
// leader). Administrators only.
func (p *Panels) RemovePanelMember(ctx context.Context, who Principal, id v1.PanelID, member peer.ID) error {
	return p.membership(ctx, who, id, member, func(pm PanelMembership) error { return pm.RemoveMember(ctx, member) })
}

func (p *Panels) membership(ctx context.Context, who Principal, id v1.PanelID, member peer.ID, change func(PanelMembership) error) error {
	if err := p.requireRole(ctx, who, panelMembershipRoles, "change a panel's members", v1.ActionCaseUpdate, "panel:"+string(id)); err != nil {
		return err
	}
	if err := member.Validate(); err != nil {
		return fmt.Errorf("%w: peer id: %w", ErrInvalid, err)
	}
	ap, err := p.panel(id)
	if err != nil {
		return err
	}
	pm, ok := ap.svc.(PanelMembership)
	if !ok {
		return fmt.Errorf("%w: panel %s cannot change its members here", ErrNotAllowedNow, id)
	}
	if err := change(pm); err != nil {
		if errors.Is(err, consensus.ErrNotLeader) {
			return fmt.Errorf("%w: %s", ErrNotAllowedNow, strings.TrimPrefix(err.Error(), "consensus: "))
		}
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	e := &v1.AuditEntry{At: p.node.now().UTC(), Authority: p.node.authority, Actor: who.ID, Role: string(who.Role),
		Action: v1.ActionCaseUpdate, Subject: "panel:" + string(id), Recipient: member.String(),
		Purpose: "change panel membership", Outcome: v1.AuditAllowed}
	if err := p.node.store.Audit(ctx, e); err != nil {
		p.log.Error("could not audit a panel membership change", "panel", string(id), "error", err)
	}
	return nil
}
