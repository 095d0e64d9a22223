package panel

import (
	"slices"
	"strings"
	"time"

	v1 "nrmnet/schemas/v1"
)

// verdict is what the processor decides about one command.
type verdict struct {
	result Result
	// next is the case state to store when the command is accepted.
	next *PanelCase
	// concluded is the decision a conclude command produced.
	concluded *Decision
	// changed is the decision whose reconsideration or assurance a
	// reconsider or record_assurance command changed, as it now stands.
	changed *Decision
}

// process applies the panel's rules to one decoded command. pc is a private
// copy of the stored case (nil when the case is unknown) that process may
// change; it reads no clock and no configuration but the panel's ID, so every
// member reaches the same verdict from the same log. The rules are described
// in DESIGN.md.
func process(panel v1.PanelID, pc *PanelCase, c *Command, index uint64) verdict {
	v := decide(panel, pc, c, index)
	v.result.Command, v.result.Op, v.result.Index = c.ID, c.Op, index
	if v.result.Code == "" {
		v.result.Code = CodeAccepted
	}
	if !v.result.Accepted() {
		v.next, v.concluded, v.changed = nil, nil, nil
	}
	return v
}

func decide(panel v1.PanelID, pc *PanelCase, c *Command, index uint64) verdict {
	if c.Panel != panel {
		return verdict{result: reject(CodeWrongPanel, "the command is for panel %q; this is panel %q", c.Panel, panel)}
	}
	if c.Op == OpOpenCase {
		if pc != nil {
			return verdict{result: reject(CodeCaseExists, "case %s is already open on the panel", c.Case)}
		}
		return openCase(panel, c)
	}
	if pc == nil {
		return verdict{result: reject(CodeUnknownCase, "case %s has not been opened on the panel", c.Case)}
	}
	if pc.Closed != nil {
		return verdict{result: reject(CodeCaseClosed, "case %s was closed (%s)", c.Case, pc.Closed.Reason)}
	}
	switch c.Op {
	case OpRecordMeeting:
		return recordMeeting(pc, c)
	case OpRecordChildViews:
		return recordChildViews(pc, c)
	case OpPropose:
		return propose(pc, c)
	case OpVote:
		return vote(pc, c)
	case OpConclude:
		return conclude(pc, c, index)
	case OpReconsider:
		return reconsider(pc, c)
	case OpRecordAssurance:
		return recordAssurance(pc, c)
	case OpCloseCase:
		return closeCase(pc, c)
	}
	return verdict{result: reject(CodeMalformed, "unknown operation %q", c.Op)}
}

// allowRoles rejects an actor whose role is not among allowed.
func allowRoles(c *Command, allowed ...Role) *Result {
	if slices.Contains(allowed, c.Actor.Role) {
		return nil
	}
	names := make([]string, len(allowed))
	for i, r := range allowed {
		names[i] = string(r)
	}
	r := reject(CodeRoleNotAllowed, "%s may be done by %s, not %s", c.Op, strings.Join(names, " or "), c.Actor.Role)
	return &r
}

// onlyLead rejects a command not issued by the case's lead authority.
func onlyLead(pc *PanelCase, c *Command) *Result {
	if c.Authority == pc.Lead {
		return nil
	}
	r := reject(CodeNotLeadAuthority, "only the lead authority %s may %s, not %s", pc.Lead, c.Op, c.Authority)
	return &r
}

// onCase rejects a command issued by an authority the case does not touch.
func onCase(pc *PanelCase, c *Command) *Result {
	if pc.involves(c.Authority) {
		return nil
	}
	r := reject(CodeAuthorityNotOnCase, "authority %s is neither the lead nor one the case touches", c.Authority)
	return &r
}

func first(checks ...*Result) *Result {
	for _, r := range checks {
		if r != nil {
			return r
		}
	}
	return nil
}

func openCase(panel v1.PanelID, c *Command) verdict {
	b := c.OpenCase
	if c.Authority != b.Lead {
		return verdict{result: reject(CodeNotLeadAuthority, "a case is opened by its lead authority %s, where the child lives, not %s", b.Lead, c.Authority)}
	}
	if r := allowRoles(c, RoleSocialWorker, RoleNRMCoordinator); r != nil {
		return verdict{result: *r}
	}
	return verdict{next: &PanelCase{
		Panel: panel, Case: c.Case, Lead: b.Lead, LeadSocialWorker: b.LeadSocialWorker,
		Touches: slices.Clone(b.Touches), Rules: b.Rules, OpenedAt: c.At, OpenedBy: c.ID,
		RG: StageState{Status: StagePending}, CG: StageState{Status: StagePending},
	}}
}

func recordMeeting(pc *PanelCase, c *Command) verdict {
	b := c.RecordMeeting
	if r := first(onCase(pc, c), allowRoles(c, RoleChair, RoleNRMCoordinator)); r != nil {
		return verdict{result: *r}
	}
	if pc.meeting(b.Meeting) != nil {
		return verdict{result: reject(CodeMeetingExists, "meeting %s is already recorded", b.Meeting)}
	}
	if len(pc.Meetings) >= MaxMeetings {
		return verdict{result: reject(CodeLimitReached, "the case has %d meetings, the limit", MaxMeetings)}
	}
	if b.HeldAt.After(c.At) {
		return verdict{result: reject(CodeTimeOrder, "the meeting is recorded at %s, before it is held at %s", stamp(c.At), stamp(b.HeldAt))}
	}
	m := Meeting{ID: b.Meeting, HeldAt: b.HeldAt, Attendance: slices.Clone(b.Attendance), RecordedBy: c.ID}
	if c.Actor.Role == RoleChair && m.chair().MemberID != c.Actor.PersonID {
		return verdict{result: reject(CodeNotChair, "%s records the meeting as chair but is not its chair", c.Actor.PersonID)}
	}
	pc.Meetings = append(pc.Meetings, m)
	return verdict{next: pc}
}

func recordChildViews(pc *PanelCase, c *Command) verdict {
	if r := first(onCase(pc, c), allowRoles(c, RoleSocialWorker, RoleGuardian, RoleChair)); r != nil {
		return verdict{result: *r}
	}
	if len(pc.ChildViews) >= MaxChildViewRecords {
		return verdict{result: reject(CodeLimitReached, "the case has %d records of the child's views, the limit", MaxChildViewRecords)}
	}
	pc.ChildViews = append(pc.ChildViews, ChildViews{
		Command: c.ID, At: c.At, Authority: c.Authority, RecordedBy: c.Actor, Views: c.RecordChildViews.Views,
	})
	return verdict{next: pc}
}

// quorum checks a meeting's composition (DOMAIN.md, Panels): a local
// authority representative of the lead and of every authority the case
// touches, the police and health all present as voting partners; the ICTG or
// the child's advocate present; and a chair who is not the child's lead
// social worker.
func quorum(pc *PanelCase, m *Meeting) *Result {
	if chair := m.chair(); chair.MemberID == pc.LeadSocialWorker {
		r := reject(CodeChairIsLeadSocialWorker, "the chair %s is the child's lead social worker", chair.MemberID)
		return &r
	}
	var police, health, guardian bool
	las := map[v1.AuthorityCode]bool{}
	for _, a := range m.Attendance {
		switch a.Capacity {
		case v1.CapacityPolice:
			police = true
		case v1.CapacityHealth:
			health = true
		case v1.CapacityLocalAuthority:
			las[a.Authority] = true
		case v1.CapacityICTG, v1.CapacityAdvocate:
			guardian = true
		}
	}
	var missing []string
	for _, a := range pc.authorities() {
		if !las[a] {
			missing = append(missing, "local authority "+string(a))
		}
	}
	if !police {
		missing = append(missing, "police")
	}
	if !health {
		missing = append(missing, "health")
	}
	if len(missing) > 0 {
		r := reject(CodeMissingVotingPartner, "voting partners absent from meeting %s: %s", m.ID, strings.Join(missing, ", "))
		return &r
	}
	if !guardian {
		r := reject(CodeGuardianAbsent, "neither the ICTG nor the child's advocate attends meeting %s", m.ID)
		return &r
	}
	return nil
}

// stageOpen reports whether a stage may be put to the vote on its own terms.
func stageOpen(s StageState) bool {
	return s.Status == StagePending || s.Status == StageReconsidering
}

func propose(pc *PanelCase, c *Command) verdict {
	b := c.Propose
	if r := first(onCase(pc, c), allowRoles(c, RoleChair)); r != nil {
		return verdict{result: *r}
	}
	m := pc.meeting(b.Meeting)
	if m == nil {
		return verdict{result: reject(CodeUnknownMeeting, "meeting %s is not recorded on the case", b.Meeting)}
	}
	if m.chair().MemberID != c.Actor.PersonID {
		return verdict{result: reject(CodeNotChair, "only the chair of meeting %s may propose a decision", m.ID)}
	}
	if c.At.Before(m.HeldAt) {
		return verdict{result: reject(CodeTimeOrder, "the proposal at %s precedes the meeting at %s", stamp(c.At), stamp(m.HeldAt))}
	}
	if pc.proposal(b.Proposal) != nil || pc.decision(b.Proposal) != nil {
		return verdict{result: reject(CodeProposalExists, "proposal %s already exists", b.Proposal)}
	}
	if open := pc.openProposal(); open != nil {
		return verdict{result: reject(CodeProposalOpen, "proposal %s is still being voted on", open.ID)}
	}
	if len(pc.Proposals) >= MaxProposals {
		return verdict{result: reject(CodeLimitReached, "the case has %d proposals, the limit", MaxProposals)}
	}
	if r := stageOrder(pc, b.Stages); r != nil {
		return verdict{result: *r}
	}
	if r := quorum(pc, m); r != nil {
		return verdict{result: *r}
	}
	pc.Proposals = append(pc.Proposals, Proposal{
		ID: b.Proposal, Meeting: b.Meeting, Stages: slices.Clone(b.Stages), ProposedAt: c.At, Status: ProposalOpen,
	})
	return verdict{next: pc}
}

// stageOrder enforces the legal order: RG before CG, CG only after a positive
// RG, both at once only where the ruleset allows, and a decided stage again
// only under reconsideration.
func stageOrder(pc *PanelCase, s []v1.DecisionStage) *Result {
	fail := func(code Code, format string, args ...any) *Result {
		r := reject(code, format, args...)
		return &r
	}
	if len(s) == 2 {
		if !pc.Rules.CombinedStages {
			return fail(CodeCombinedNotAllowed, "the case's ruleset does not allow RG and CG at one meeting")
		}
		if !stageOpen(pc.RG) || !stageOpen(pc.CG) {
			return fail(CodeStageOutOfOrder, "RG (%s) and CG (%s) must both be undecided or under reconsideration", pc.RG.Status, pc.CG.Status)
		}
		return nil
	}
	switch s[0] {
	case v1.StageRG:
		if !stageOpen(pc.RG) {
			return fail(CodeStageOutOfOrder, "RG is %s; it is decided again only under reconsideration", pc.RG.Status)
		}
	case v1.StageCG:
		if pc.RG.Status != StagePositive {
			return fail(CodeStageOutOfOrder, "CG needs a positive RG first; RG is %s", pc.RG.Status)
		}
		if !stageOpen(pc.CG) {
			return fail(CodeStageOutOfOrder, "CG is %s; it is decided again only under reconsideration", pc.CG.Status)
		}
	}
	return nil
}

func vote(pc *PanelCase, c *Command) verdict {
	b := c.Vote
	if r := first(onCase(pc, c), allowRoles(c, RolePanelMember, RoleChair)); r != nil {
		return verdict{result: *r}
	}
	p := pc.proposal(b.Proposal)
	if p == nil {
		return verdict{result: reject(CodeUnknownProposal, "proposal %s is not on the case", b.Proposal)}
	}
	if p.Status != ProposalOpen {
		return verdict{result: reject(CodeProposalConcluded, "proposal %s was concluded", p.ID)}
	}
	if !p.proposes(b.Stage) {
		return verdict{result: reject(CodeStageNotProposed, "proposal %s does not put %s to the vote", p.ID, b.Stage)}
	}
	m := pc.meeting(p.Meeting)
	if m == nil {
		return verdict{result: reject(CodeUnknownMeeting, "proposal %s names meeting %s, which is not on the case", p.ID, p.Meeting)}
	}
	a, present := m.attendee(c.Actor.PersonID)
	if !present {
		return verdict{result: reject(CodeNotPresent, "%s did not attend meeting %s", c.Actor.PersonID, m.ID)}
	}
	if !a.Capacity.Voting() {
		return verdict{result: reject(CodeNotVotingMember, "%s attends as %s, which does not vote", a.MemberID, a.Capacity)}
	}
	if p.voted(a.MemberID, b.Stage) {
		return verdict{result: reject(CodeAlreadyVoted, "%s has already voted on %s", a.MemberID, b.Stage)}
	}
	p.Votes = append(p.Votes, v1.Vote{MemberID: a.MemberID, Stage: b.Stage, Choice: b.Choice})
	return verdict{next: pc}
}

// tally is the count of one stage's votes.
type tally struct{ positive, negative, abstain int }

func (p *Proposal) tally(s v1.DecisionStage) tally {
	var t tally
	for _, v := range p.Votes {
		if v.Stage != s {
			continue
		}
		switch v.Choice {
		case v1.VotePositive:
			t.positive++
		case v1.VoteNegative:
			t.negative++
		default:
			t.abstain++
		}
	}
	return t
}

// verdictOn applies the decision rule to a stage: unanimous where possible,
// else the majority of the votes cast, else (a tie) the chair's casting vote.
func verdictOn(s v1.DecisionStage, t tally, casting *CastingVote) (v1.StageOutcome, *Result) {
	o := v1.StageOutcome{Stage: s, TestApplied: testFor(s)}
	switch {
	case t.positive > t.negative:
		o.Outcome = v1.OutcomePositive
	case t.negative > t.positive:
		o.Outcome = v1.OutcomeNegative
	default:
		if casting == nil {
			r := reject(CodeTieNeedsCastingVote, "%s is tied %d to %d (%d abstaining): the chair's casting vote decides", s, t.positive, t.negative, t.abstain)
			return o, &r
		}
		o.Outcome, o.CastingVote = casting.Outcome, true
		return o, nil
	}
	if casting != nil {
		r := reject(CodeCastingVoteNotNeeded, "%s is not tied (%d to %d); the chair has no casting vote", s, t.positive, t.negative)
		return o, &r
	}
	o.Unanimous = t.abstain == 0 && (t.positive == 0 || t.negative == 0)
	return o, nil
}

func testFor(s v1.DecisionStage) string {
	if s == v1.StageRG {
		return v1.TestReasonableGrounds
	}
	return v1.TestConclusiveGrounds
}

func conclude(pc *PanelCase, c *Command, index uint64) verdict {
	b := c.Conclude
	if r := first(onCase(pc, c), allowRoles(c, RoleChair)); r != nil {
		return verdict{result: *r}
	}
	p := pc.proposal(b.Proposal)
	if p == nil {
		return verdict{result: reject(CodeUnknownProposal, "proposal %s is not on the case", b.Proposal)}
	}
	if p.Status != ProposalOpen {
		return verdict{result: reject(CodeProposalConcluded, "proposal %s was concluded", p.ID)}
	}
	m := pc.meeting(p.Meeting)
	if m == nil {
		return verdict{result: reject(CodeUnknownMeeting, "proposal %s names meeting %s, which is not on the case", p.ID, p.Meeting)}
	}
	if m.chair().MemberID != c.Actor.PersonID {
		return verdict{result: reject(CodeNotChair, "only the chair of meeting %s may conclude", m.ID)}
	}
	if c.At.Before(p.ProposedAt) {
		return verdict{result: reject(CodeTimeOrder, "the conclusion at %s precedes the proposal at %s", stamp(c.At), stamp(p.ProposedAt))}
	}
	for _, cv := range b.CastingVotes {
		if !p.proposes(cv.Stage) {
			return verdict{result: reject(CodeStageNotProposed, "proposal %s does not put %s to the vote", p.ID, cv.Stage)}
		}
	}
	voters := m.voters()
	var outcomes []v1.StageOutcome
	for _, s := range p.Stages {
		var missing []string
		for _, member := range voters {
			if !p.voted(member, s) {
				missing = append(missing, member)
			}
		}
		if len(missing) > 0 {
			return verdict{result: reject(CodeVotesMissing, "%d voting member(s) present have not voted on %s: %s", len(missing), s, strings.Join(missing, ", "))}
		}
		var casting *CastingVote
		for i := range b.CastingVotes {
			if b.CastingVotes[i].Stage == s {
				casting = &b.CastingVotes[i]
			}
		}
		o, r := verdictOn(s, p.tally(s), casting)
		if r != nil {
			return verdict{result: *r}
		}
		outcomes = append(outcomes, o)
	}
	if len(outcomes) == 2 && outcomes[0].Outcome == v1.OutcomeNegative && outcomes[1].Outcome == v1.OutcomePositive {
		return verdict{result: reject(CodeInconsistentOutcomes, "CG cannot be positive when RG at the same meeting is negative")}
	}
	if len(pc.ChildViews) == 0 {
		return verdict{result: reject(CodeChildViewsMissing, "the child's wishes and feelings are not recorded on the case")}
	}
	views := pc.ChildViews[len(pc.ChildViews)-1].Views
	record := v1.PanelDecision{
		ID: p.ID, Panel: pc.Panel, CaseRef: pc.Case, LeadAuthority: pc.Lead,
		MeetingAt: m.HeldAt, DecidedAt: c.At,
		Attendance: slices.Clone(m.Attendance), Votes: slices.Clone(p.Votes), Outcomes: outcomes,
		Reasons:    b.Reasons,
		ChildViews: "Wishes and feelings: " + views + "\n\nHow they were taken into account: " + b.ChildViewsConsidered,
	}
	if err := record.Validate(); err != nil {
		return verdict{result: reject(CodeInvalidRecord, "the decision record does not validate: %s", clipErr(err))}
	}
	p.Status = ProposalConcluded
	for _, o := range outcomes {
		at := c.At
		st := pc.stage(o.Stage)
		st.Decision, st.DecidedAt = p.ID, &at
		st.Status = StagePositive
		if o.Outcome == v1.OutcomeNegative {
			st.Status = StageNegative
		}
	}
	d := Decision{Index: index, Record: record}
	pc.Decisions = append(pc.Decisions, d)
	return verdict{next: pc, concluded: &d}
}

func reconsider(pc *PanelCase, c *Command) verdict {
	b := c.Reconsider
	if r := first(onlyLead(pc, c), allowRoles(c, RoleSocialWorker, RoleNRMCoordinator, RoleGuardian)); r != nil {
		return verdict{result: *r}
	}
	d := pc.decision(b.Decision)
	if d == nil {
		return verdict{result: reject(CodeUnknownDecision, "decision %s is not on the case", b.Decision)}
	}
	if d.Reconsideration != nil {
		return verdict{result: reject(CodeReconsiderationExists, "decision %s is already being reconsidered", d.Record.ID)}
	}
	// The stages this decision still stands negative on.
	var negative []v1.DecisionStage
	for _, o := range d.Record.Outcomes {
		st := pc.stage(o.Stage)
		if st.Decision == d.Record.ID && st.Status == StageNegative {
			negative = append(negative, o.Stage)
		}
	}
	if len(negative) == 0 {
		return verdict{result: reject(CodeNotNegative, "decision %s stands negative on no stage", d.Record.ID)}
	}
	decided := d.Record.DecidedAt
	if c.At.Before(decided) {
		return verdict{result: reject(CodeTimeOrder, "the request at %s precedes the decision at %s", stamp(c.At), stamp(decided))}
	}
	if deadline := decided.Add(pc.Rules.ReconsiderationWindow); c.At.After(deadline) {
		return verdict{result: reject(CodeWindowClosed, "the window for reconsideration closed at %s (decision %s plus %s)", stamp(deadline), stamp(decided), pc.Rules.ReconsiderationWindow)}
	}
	d.Reconsideration = &Reconsideration{Command: c.ID, At: c.At, Authority: c.Authority, Grounds: b.Grounds, Detail: b.Detail}
	for _, s := range negative {
		pc.stage(s).Status = StageReconsidering
	}
	return verdict{next: pc, changed: d}
}

func recordAssurance(pc *PanelCase, c *Command) verdict {
	b := c.RecordAssurance
	if r := first(onlyLead(pc, c), allowRoles(c, RoleNRMCoordinator)); r != nil {
		return verdict{result: *r}
	}
	d := pc.decision(b.Decision)
	if d == nil {
		return verdict{result: reject(CodeUnknownDecision, "decision %s is not on the case", b.Decision)}
	}
	var from v1.AssuranceStatus
	if d.Assurance != nil {
		from = d.Assurance.Status
	}
	legal := map[v1.AssuranceStatus][]v1.AssuranceStatus{
		"":                    {v1.AssuranceSubmitted},
		v1.AssuranceSubmitted: {v1.AssuranceAssured, v1.AssuranceQueried},
		v1.AssuranceQueried:   {v1.AssuranceSubmitted, v1.AssuranceAssured},
	}
	if !slices.Contains(legal[from], b.Status) {
		name := string(from)
		if name == "" {
			name = "not submitted"
		}
		return verdict{result: reject(CodeAssuranceTransition, "assurance cannot move from %s to %s", name, b.Status)}
	}
	at := c.At
	switch b.Status {
	case v1.AssuranceSubmitted:
		d.Assurance = &v1.Assurance{Status: b.Status, SubmittedAt: at}
	default:
		if at.Before(d.Assurance.SubmittedAt) {
			return verdict{result: reject(CodeTimeOrder, "the SCA's answer at %s precedes the submission at %s", stamp(at), stamp(d.Assurance.SubmittedAt))}
		}
		d.Assurance = &v1.Assurance{Status: b.Status, SubmittedAt: d.Assurance.SubmittedAt, ResolvedAt: &at, Query: b.Query}
	}
	return verdict{next: pc, changed: d}
}

func closeCase(pc *PanelCase, c *Command) verdict {
	if r := first(onlyLead(pc, c), allowRoles(c, RoleSocialWorker, RoleNRMCoordinator)); r != nil {
		return verdict{result: *r}
	}
	if open := pc.openProposal(); open != nil {
		return verdict{result: reject(CodeProposalOpen, "proposal %s is still being voted on; conclude it first", open.ID)}
	}
	if c.CloseCase.Reason == CloseDecided && len(pc.Decisions) == 0 {
		return verdict{result: reject(CodeNotDecided, "no decision has been made on the case")}
	}
	pc.Closed = &Closure{Command: c.ID, At: c.At, Reason: c.CloseCase.Reason}
	return verdict{next: pc}
}

func stamp(t time.Time) string { return t.Format(time.RFC3339) }

// clipErr keeps a validation error short enough for a result message.
func clipErr(err error) string { return clipText(err.Error(), 500) }

// clipText cuts s to at most n characters, at a character boundary, and
// makes it valid UTF-8 (a stored result must decode).
func clipText(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "..."
	}
	return s
}
