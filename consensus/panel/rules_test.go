package panel

import (
	"reflect"
	"testing"
	"time"

	v1 "nrmnet/schemas/v1"
)

// ruleCase is one rule test: setup commands that must all be accepted, then
// a command whose result code is checked. A rejected command must leave the
// case exactly as it was; check inspects the case afterwards.
type ruleCase struct {
	name  string
	build func(f *fixture) (setup []Command, last Command)
	want  Code
	check func(t *testing.T, pc PanelCase)
}

// opened is the setup that opens the case and records the child's views.
func opened(f *fixture) []Command {
	return []Command{f.open(), f.views("She wants to stay with her foster carer.")}
}

// atMeeting opens the case and records a meeting with the given attendance.
func atMeeting(f *fixture, att []v1.Attendee) (setup []Command, meeting v1.ID) {
	meeting = f.id()
	return append(opened(f), f.meeting(meeting, att)), meeting
}

// proposed opens the case, holds a full meeting and proposes the stages.
func proposed(f *fixture, stages ...v1.DecisionStage) (setup []Command, proposal v1.ID) {
	setup, m := atMeeting(f, fullAttendance())
	proposal = f.id()
	return append(setup, f.propose(proposal, m, chair, stages...)), proposal
}

// votes casts one vote per voter, in voters order.
func votes(f *fixture, p v1.ID, s v1.DecisionStage, choices ...v1.VoteChoice) []Command {
	var out []Command
	for i, c := range choices {
		out = append(out, f.vote(p, voters[i], s, c))
	}
	return out
}

const (
	pos = v1.VotePositive
	neg = v1.VoteNegative
	abs = v1.VoteAbstain
	rg  = v1.StageRG
	cg  = v1.StageCG
)

// decided is the setup that concludes RG with the given votes, and the
// decision's ID.
func decided(f *fixture, choices ...v1.VoteChoice) (setup []Command, decision v1.ID) {
	setup, p := proposed(f, rg)
	setup = append(setup, votes(f, p, rg, choices...)...)
	return append(setup, f.conclude(p, chair)), p
}

func outcome(t *testing.T, pc PanelCase, s v1.DecisionStage) v1.StageOutcome {
	t.Helper()
	if len(pc.Decisions) == 0 {
		t.Fatal("no decision recorded")
	}
	for _, o := range pc.Decisions[len(pc.Decisions)-1].Record.Outcomes {
		if o.Stage == s {
			return o
		}
	}
	t.Fatalf("no outcome for %s", s)
	return v1.StageOutcome{}
}

func wantOutcome(s v1.DecisionStage, o v1.Outcome, unanimous, casting bool) func(*testing.T, PanelCase) {
	return func(t *testing.T, pc PanelCase) {
		t.Helper()
		got := outcome(t, pc, s)
		if got.Outcome != o || got.Unanimous != unanimous || got.CastingVote != casting {
			t.Fatalf("%s outcome = %+v, want %s unanimous=%v casting=%v", s, got, o, unanimous, casting)
		}
		if st := pc.stage(s); string(st.Status) != string(o) || st.Decision != pc.Decisions[len(pc.Decisions)-1].Record.ID {
			t.Fatalf("%s stage = %+v after a %s decision", s, st, o)
		}
	}
}

func TestQuorumRules(t *testing.T) {
	proposeAt := func(att []v1.Attendee) func(f *fixture) ([]Command, Command) {
		return func(f *fixture) ([]Command, Command) {
			setup, m := atMeeting(f, att)
			chairID := ""
			for _, a := range att {
				if a.Chair {
					chairID = a.MemberID
				}
			}
			return setup, f.propose(f.id(), m, chairID, rg)
		}
	}
	chairedBy := func(member string) []v1.Attendee {
		att := fullAttendance()
		for i := range att {
			att[i].Chair = att[i].MemberID == member
		}
		return att
	}
	withLeadSW := append(without(fullAttendance(), chair),
		v1.Attendee{MemberID: leadSW, Capacity: v1.CapacityLocalAuthority, Authority: lead, Chair: true})
	policeAsAdviser := append(without(fullAttendance(), police), v1.Attendee{MemberID: police, Capacity: v1.CapacityAdviser})
	withAdvocate := append(without(fullAttendance(), ictg), v1.Attendee{MemberID: advocate, Capacity: v1.CapacityAdvocate})
	laChair := chairedBy(laISL)

	run(t, []ruleCase{
		{name: "all voting partners and the ICTG present", build: proposeAt(fullAttendance()), want: CodeAccepted},
		{name: "an advocate stands for the ICTG", build: proposeAt(withAdvocate), want: CodeAccepted},
		{name: "a local authority member may chair", build: proposeAt(laChair), want: CodeAccepted},
		{name: "police absent", build: proposeAt(without(fullAttendance(), police)), want: CodeMissingVotingPartner},
		{name: "police attend only as advisers", build: proposeAt(policeAsAdviser), want: CodeMissingVotingPartner},
		{name: "health absent", build: proposeAt(without(fullAttendance(), health)), want: CodeMissingVotingPartner},
		{name: "lead authority absent", build: proposeAt(without(fullAttendance(), laISL)), want: CodeMissingVotingPartner},
		{name: "an authority the case touches absent", build: proposeAt(without(fullAttendance(), laCMD)), want: CodeMissingVotingPartner},
		{name: "ICTG and advocate absent", build: proposeAt(without(fullAttendance(), ictg)), want: CodeGuardianAbsent},
		{name: "the chair is the child's lead social worker", build: proposeAt(withLeadSW), want: CodeChairIsLeadSocialWorker},
		{name: "a member who is not the chair proposes", want: CodeNotChair,
			build: func(f *fixture) ([]Command, Command) {
				setup, m := atMeeting(f, fullAttendance())
				return setup, f.propose(f.id(), m, laISL, rg)
			}},
		{name: "a proposal before its meeting was held", want: CodeTimeOrder,
			build: func(f *fixture) ([]Command, Command) {
				setup, m := atMeeting(f, fullAttendance())
				c := f.propose(f.id(), m, chair, rg)
				c.At = c.At.Add(-time.Hour)
				return setup, c
			}},
	})
}

func TestVotingRules(t *testing.T) {
	concludeAfter := func(stage v1.DecisionStage, choices []v1.VoteChoice, casting ...CastingVote) func(f *fixture) ([]Command, Command) {
		return func(f *fixture) ([]Command, Command) {
			var setup []Command
			var p v1.ID
			if stage == cg {
				// CG needs a positive RG first.
				setup, _ = decided(f, pos, pos, pos, pos)
				p = f.id()
				setup = append(setup, f.propose(p, setup[2].RecordMeeting.Meeting, chair, cg))
			} else {
				setup, p = proposed(f, stage)
			}
			setup = append(setup, votes(f, p, stage, choices...)...)
			return setup, f.conclude(p, chair, casting...)
		}
	}
	voteAfter := func(member string, s v1.DecisionStage) func(f *fixture) ([]Command, Command) {
		return func(f *fixture) ([]Command, Command) {
			setup, p := proposed(f, rg)
			return setup, f.vote(p, member, s, pos)
		}
	}
	run(t, []ruleCase{
		{name: "unanimous positive", build: concludeAfter(rg, []v1.VoteChoice{pos, pos, pos, pos}), want: CodeAccepted,
			check: wantOutcome(rg, v1.OutcomePositive, true, false)},
		{name: "unanimous negative", build: concludeAfter(rg, []v1.VoteChoice{neg, neg, neg, neg}), want: CodeAccepted,
			check: wantOutcome(rg, v1.OutcomeNegative, true, false)},
		{name: "majority positive", build: concludeAfter(rg, []v1.VoteChoice{pos, pos, neg, pos}), want: CodeAccepted,
			check: wantOutcome(rg, v1.OutcomePositive, false, false)},
		{name: "majority negative", build: concludeAfter(rg, []v1.VoteChoice{neg, pos, neg, neg}), want: CodeAccepted,
			check: wantOutcome(rg, v1.OutcomeNegative, false, false)},
		{name: "an abstention breaks unanimity, not the majority", build: concludeAfter(rg, []v1.VoteChoice{pos, abs, pos, pos}), want: CodeAccepted,
			check: wantOutcome(rg, v1.OutcomePositive, false, false)},
		{name: "one each way and two abstentions is a tie", build: concludeAfter(rg, []v1.VoteChoice{neg, abs, abs, pos}), want: CodeTieNeedsCastingVote},
		{name: "tie without the chair's casting vote", build: concludeAfter(rg, []v1.VoteChoice{pos, pos, neg, neg}), want: CodeTieNeedsCastingVote},
		{name: "tie decided positive by the chair", build: concludeAfter(rg, []v1.VoteChoice{pos, neg, pos, neg}, CastingVote{Stage: rg, Outcome: v1.OutcomePositive}),
			want: CodeAccepted, check: wantOutcome(rg, v1.OutcomePositive, false, true)},
		{name: "tie decided negative by the chair", build: concludeAfter(rg, []v1.VoteChoice{pos, neg, pos, neg}, CastingVote{Stage: rg, Outcome: v1.OutcomeNegative}),
			want: CodeAccepted, check: wantOutcome(rg, v1.OutcomeNegative, false, true)},
		{name: "all abstain: the chair decides", build: concludeAfter(rg, []v1.VoteChoice{abs, abs, abs, abs}, CastingVote{Stage: rg, Outcome: v1.OutcomeNegative}),
			want: CodeAccepted, check: wantOutcome(rg, v1.OutcomeNegative, false, true)},
		{name: "a casting vote where there is no tie", build: concludeAfter(rg, []v1.VoteChoice{pos, pos, pos, neg}, CastingVote{Stage: rg, Outcome: v1.OutcomeNegative}),
			want: CodeCastingVoteNotNeeded},
		{name: "a casting vote on a stage not proposed", build: concludeAfter(rg, []v1.VoteChoice{pos, pos, neg, neg}, CastingVote{Stage: cg, Outcome: v1.OutcomeNegative}),
			want: CodeStageNotProposed},
		{name: "a voting partner present has not voted", build: concludeAfter(rg, []v1.VoteChoice{pos, pos, pos}), want: CodeVotesMissing},
		{name: "CG after a positive RG, by majority", build: concludeAfter(cg, []v1.VoteChoice{pos, pos, pos, neg}), want: CodeAccepted,
			check: wantOutcome(cg, v1.OutcomePositive, false, false)},
		{name: "a vote by the ICTG, who does not vote", build: voteAfter(ictg, rg), want: CodeNotVotingMember},
		{name: "a vote by an adviser", build: voteAfter(adviser, rg), want: CodeNotVotingMember},
		{name: "a vote by the independent chair", build: voteAfter(chair, rg), want: CodeNotVotingMember},
		{name: "a vote by someone absent from the meeting", build: voteAfter("police-other-9", rg), want: CodeNotPresent},
		{name: "a vote on a stage not proposed", build: voteAfter(police, cg), want: CodeStageNotProposed},
		{name: "a voter votes twice (two commands)", want: CodeAlreadyVoted,
			build: func(f *fixture) ([]Command, Command) {
				setup, p := proposed(f, rg)
				return append(setup, f.vote(p, police, rg, pos)), f.vote(p, police, rg, neg)
			}},
		{name: "a vote in a role that does not vote", want: CodeRoleNotAllowed,
			build: func(f *fixture) ([]Command, Command) {
				setup, p := proposed(f, rg)
				c := f.vote(p, police, rg, pos)
				c.Actor.Role = RoleSocialWorker
				return setup, c
			}},
		{name: "a vote after the proposal was concluded", want: CodeProposalConcluded,
			build: func(f *fixture) ([]Command, Command) {
				setup, p := decided(f, pos, pos, pos, pos)
				return setup, f.vote(p, police, rg, neg)
			}},
		{name: "a member who is not the chair concludes", want: CodeNotChair,
			build: func(f *fixture) ([]Command, Command) {
				setup, p := proposed(f, rg)
				return append(setup, votes(f, p, rg, pos, pos, pos, pos)...), f.conclude(p, police)
			}},
		{name: "no record of the child's wishes and feelings", want: CodeChildViewsMissing,
			build: func(f *fixture) ([]Command, Command) {
				m, p := f.id(), f.id()
				setup := []Command{f.open(), f.meeting(m, fullAttendance()), f.propose(p, m, chair, rg)}
				return append(setup, votes(f, p, rg, pos, pos, pos, pos)...), f.conclude(p, chair)
			}},
	})
}

func TestCombinedStages(t *testing.T) {
	both := func(rgVotes, cgVotes []v1.VoteChoice) func(f *fixture) ([]Command, Command) {
		return func(f *fixture) ([]Command, Command) {
			setup, p := proposed(f, rg, cg)
			setup = append(setup, votes(f, p, rg, rgVotes...)...)
			setup = append(setup, votes(f, p, cg, cgVotes...)...)
			return setup, f.conclude(p, chair)
		}
	}
	all := []v1.VoteChoice{pos, pos, pos, pos}
	none := []v1.VoteChoice{neg, neg, neg, neg}
	run(t, []ruleCase{
		{name: "RG and CG positive at one meeting", build: both(all, all), want: CodeAccepted,
			check: func(t *testing.T, pc PanelCase) {
				wantOutcome(rg, v1.OutcomePositive, true, false)(t, pc)
				wantOutcome(cg, v1.OutcomePositive, true, false)(t, pc)
			}},
		{name: "RG positive, CG negative at one meeting", build: both(all, none), want: CodeAccepted,
			check: wantOutcome(cg, v1.OutcomeNegative, true, false)},
		{name: "CG positive with RG negative", build: both(none, all), want: CodeInconsistentOutcomes},
		{name: "both at once where the ruleset forbids it", want: CodeCombinedNotAllowed,
			build: func(f *fixture) ([]Command, Command) {
				o := f.open()
				o.OpenCase.Rules.CombinedStages = false
				m := f.id()
				return []Command{o, f.meeting(m, fullAttendance())}, f.propose(f.id(), m, chair, rg, cg)
			}},
		{name: "both at once after RG is decided", want: CodeStageOutOfOrder,
			build: func(f *fixture) ([]Command, Command) {
				setup, _ := decided(f, pos, pos, pos, pos)
				return setup, f.propose(f.id(), setup[2].RecordMeeting.Meeting, chair, rg, cg)
			}},
	})
}

func TestOrderRules(t *testing.T) {
	run(t, []ruleCase{
		{name: "a command before the case is opened", want: CodeUnknownCase,
			build: func(f *fixture) ([]Command, Command) { return nil, f.meeting(f.id(), fullAttendance()) }},
		{name: "a case opened twice", want: CodeCaseExists,
			build: func(f *fixture) ([]Command, Command) { return []Command{f.open()}, f.open() }},
		{name: "opened by an authority other than the lead", want: CodeNotLeadAuthority,
			build: func(f *fixture) ([]Command, Command) {
				c := f.open()
				c.Authority = touched
				return nil, c
			}},
		{name: "opened by a panel member", want: CodeRoleNotAllowed,
			build: func(f *fixture) ([]Command, Command) {
				c := f.open()
				c.Actor.Role = RolePanelMember
				return nil, c
			}},
		{name: "a command for another panel", want: CodeWrongPanel,
			build: func(f *fixture) ([]Command, Command) {
				c := f.open()
				c.Panel = "north-yorkshire-york"
				return nil, c
			}},
		{name: "a meeting recorded by an authority the case does not touch", want: CodeAuthorityNotOnCase,
			build: func(f *fixture) ([]Command, Command) {
				c := f.meeting(f.id(), fullAttendance())
				c.Authority = outsider
				return opened(f), c
			}},
		{name: "a meeting recorded before it is held", want: CodeTimeOrder,
			build: func(f *fixture) ([]Command, Command) {
				c := f.meeting(f.id(), fullAttendance())
				c.RecordMeeting.HeldAt = c.At.Add(time.Hour)
				return opened(f), c
			}},
		{name: "a meeting recorded twice under one meeting ID", want: CodeMeetingExists,
			build: func(f *fixture) ([]Command, Command) {
				setup, m := atMeeting(f, fullAttendance())
				return setup, f.meeting(m, fullAttendance())
			}},
		{name: "a meeting recorded as chair by someone else", want: CodeNotChair,
			build: func(f *fixture) ([]Command, Command) {
				c := f.meeting(f.id(), fullAttendance())
				c.Actor = Actor{PersonID: police, Role: RoleChair}
				return opened(f), c
			}},
		{name: "a proposal at an unrecorded meeting", want: CodeUnknownMeeting,
			build: func(f *fixture) ([]Command, Command) { return opened(f), f.propose(f.id(), f.id(), chair, rg) }},
		{name: "a vote before the proposal", want: CodeUnknownProposal,
			build: func(f *fixture) ([]Command, Command) {
				setup, _ := atMeeting(f, fullAttendance())
				return setup, f.vote(f.id(), police, rg, pos)
			}},
		{name: "a conclusion before the proposal", want: CodeUnknownProposal,
			build: func(f *fixture) ([]Command, Command) {
				setup, _ := atMeeting(f, fullAttendance())
				return setup, f.conclude(f.id(), chair)
			}},
		{name: "CG before RG", want: CodeStageOutOfOrder,
			build: func(f *fixture) ([]Command, Command) {
				setup, m := atMeeting(f, fullAttendance())
				return setup, f.propose(f.id(), m, chair, cg)
			}},
		{name: "CG after a negative RG", want: CodeStageOutOfOrder,
			build: func(f *fixture) ([]Command, Command) {
				setup, _ := decided(f, neg, neg, neg, pos)
				return setup, f.propose(f.id(), setup[2].RecordMeeting.Meeting, chair, cg)
			}},
		{name: "RG again after a positive RG", want: CodeStageOutOfOrder,
			build: func(f *fixture) ([]Command, Command) {
				setup, _ := decided(f, pos, pos, pos, pos)
				return setup, f.propose(f.id(), setup[2].RecordMeeting.Meeting, chair, rg)
			}},
		{name: "a second proposal while one is open", want: CodeProposalOpen,
			build: func(f *fixture) ([]Command, Command) {
				setup, _ := proposed(f, rg)
				return setup, f.propose(f.id(), setup[2].RecordMeeting.Meeting, chair, rg)
			}},
		{name: "a proposal reusing a proposal ID", want: CodeProposalExists,
			build: func(f *fixture) ([]Command, Command) {
				setup, p := decided(f, neg, neg, neg, neg)
				return append(setup, f.reconsider(p)), f.propose(p, setup[2].RecordMeeting.Meeting, chair, rg)
			}},
		{name: "close while a proposal is open", want: CodeProposalOpen,
			build: func(f *fixture) ([]Command, Command) {
				setup, _ := proposed(f, rg)
				return setup, f.close(CloseWithdrawn)
			}},
		{name: "close as decided before any decision", want: CodeNotDecided,
			build: func(f *fixture) ([]Command, Command) { return opened(f), f.close(CloseDecided) }},
		{name: "close by an authority other than the lead", want: CodeNotLeadAuthority,
			build: func(f *fixture) ([]Command, Command) {
				c := f.close(CloseWithdrawn)
				c.Authority = touched
				return opened(f), c
			}},
		{name: "close as decided", want: CodeAccepted,
			build: func(f *fixture) ([]Command, Command) {
				setup, _ := decided(f, pos, pos, pos, pos)
				return setup, f.close(CloseDecided)
			},
			check: func(t *testing.T, pc PanelCase) {
				if pc.Closed == nil || pc.Closed.Reason != CloseDecided {
					t.Fatalf("closed = %+v", pc.Closed)
				}
			}},
		{name: "anything after close", want: CodeCaseClosed,
			build: func(f *fixture) ([]Command, Command) {
				return append(opened(f), f.close(CloseReferredToSCA)), f.views("More views.")
			}},
	})
}

func TestReconsiderationRules(t *testing.T) {
	at := func(d time.Duration) func(f *fixture) ([]Command, Command) {
		return func(f *fixture) ([]Command, Command) {
			setup, p := decided(f, neg, neg, neg, neg)
			c := f.reconsider(p)
			c.At = setup[len(setup)-1].At.Add(d)
			return setup, c
		}
	}
	run(t, []ruleCase{
		{name: "within the window", build: at(29 * 24 * time.Hour), want: CodeAccepted,
			check: func(t *testing.T, pc PanelCase) {
				if pc.RG.Status != StageReconsidering || pc.Decisions[0].Reconsideration == nil {
					t.Fatalf("RG = %+v, reconsideration = %+v", pc.RG, pc.Decisions[0].Reconsideration)
				}
			}},
		{name: "on the last instant of the window", build: at(30 * 24 * time.Hour), want: CodeAccepted},
		{name: "one second after the window", build: at(30*24*time.Hour + time.Second), want: CodeWindowClosed},
		{name: "dated before the decision", build: at(-time.Second), want: CodeTimeOrder},
		{name: "a shorter window from the open command", want: CodeWindowClosed,
			build: func(f *fixture) ([]Command, Command) {
				o := f.open()
				o.OpenCase.Rules.ReconsiderationWindow = 7 * 24 * time.Hour
				m, p := f.id(), f.id()
				setup := []Command{o, f.views("Views."), f.meeting(m, fullAttendance()), f.propose(p, m, chair, rg)}
				setup = append(setup, votes(f, p, rg, neg, neg, neg, neg)...)
				setup = append(setup, f.conclude(p, chair))
				c := f.reconsider(p)
				c.At = setup[len(setup)-1].At.Add(8 * 24 * time.Hour)
				return setup, c
			}},
		{name: "of a positive decision", want: CodeNotNegative,
			build: func(f *fixture) ([]Command, Command) {
				setup, p := decided(f, pos, pos, pos, pos)
				return setup, f.reconsider(p)
			}},
		{name: "of an unknown decision", want: CodeUnknownDecision,
			build: func(f *fixture) ([]Command, Command) { return opened(f), f.reconsider(f.id()) }},
		{name: "twice", want: CodeReconsiderationExists,
			build: func(f *fixture) ([]Command, Command) {
				setup, p := decided(f, neg, neg, neg, neg)
				return append(setup, f.reconsider(p)), f.reconsider(p)
			}},
		{name: "requested by an authority other than the lead", want: CodeNotLeadAuthority,
			build: func(f *fixture) ([]Command, Command) {
				setup, p := decided(f, neg, neg, neg, neg)
				c := f.reconsider(p)
				c.Authority = touched
				return setup, c
			}},
		{name: "then RG is decided again, positive, and CG may follow", want: CodeAccepted,
			build: func(f *fixture) ([]Command, Command) {
				setup, p := decided(f, neg, neg, neg, neg)
				m2, p2, p3 := f.id(), f.id(), f.id()
				setup = append(setup, f.reconsider(p), f.meeting(m2, fullAttendance()), f.propose(p2, m2, chair, rg))
				setup = append(setup, votes(f, p2, rg, pos, pos, pos, neg)...)
				setup = append(setup, f.conclude(p2, chair))
				return setup, f.propose(p3, m2, chair, cg)
			},
			check: func(t *testing.T, pc PanelCase) {
				if pc.RG.Status != StagePositive || len(pc.Decisions) != 2 || pc.openProposal() == nil {
					t.Fatalf("RG = %+v, decisions = %d", pc.RG, len(pc.Decisions))
				}
			}},
		{name: "a negative CG, reconsidered, leaves RG positive", want: CodeAccepted,
			build: func(f *fixture) ([]Command, Command) {
				setup, p := proposed(f, rg, cg)
				setup = append(setup, votes(f, p, rg, pos, pos, pos, pos)...)
				setup = append(setup, votes(f, p, cg, neg, neg, neg, pos)...)
				return append(setup, f.conclude(p, chair)), f.reconsider(p)
			},
			check: func(t *testing.T, pc PanelCase) {
				if pc.RG.Status != StagePositive || pc.CG.Status != StageReconsidering {
					t.Fatalf("RG %s, CG %s", pc.RG.Status, pc.CG.Status)
				}
			}},
	})
}

func TestAssuranceRules(t *testing.T) {
	after := func(steps ...func(f *fixture, d v1.ID) Command) func(f *fixture) ([]Command, Command) {
		return func(f *fixture) ([]Command, Command) {
			setup, d := decided(f, pos, pos, pos, pos)
			for _, s := range steps[:len(steps)-1] {
				setup = append(setup, s(f, d))
			}
			return setup, steps[len(steps)-1](f, d)
		}
	}
	status := func(s v1.AssuranceStatus, q string) func(f *fixture, d v1.ID) Command {
		return func(f *fixture, d v1.ID) Command { return f.assurance(d, s, q) }
	}
	sub, ok, qry := status(v1.AssuranceSubmitted, ""), status(v1.AssuranceAssured, ""), status(v1.AssuranceQueried, "Why was the ICTG's report not cited?")
	run(t, []ruleCase{
		{name: "submitted", build: after(sub), want: CodeAccepted},
		{name: "submitted then assured", build: after(sub, ok), want: CodeAccepted,
			check: func(t *testing.T, pc PanelCase) {
				a := pc.Decisions[0].Assurance
				if a == nil || a.Status != v1.AssuranceAssured || a.ResolvedAt == nil || a.SubmittedAt.IsZero() {
					t.Fatalf("assurance = %+v", a)
				}
			}},
		{name: "queried, resubmitted, assured", build: after(sub, qry, sub, ok), want: CodeAccepted},
		{name: "assured before submission", build: after(ok), want: CodeAssuranceTransition},
		{name: "submitted again after assurance", build: after(sub, ok, sub), want: CodeAssuranceTransition},
		{name: "for an unknown decision", want: CodeUnknownDecision,
			build: func(f *fixture) ([]Command, Command) {
				return opened(f), f.assurance(f.id(), v1.AssuranceSubmitted, "")
			}},
		{name: "recorded in a role other than NRM coordinator", want: CodeRoleNotAllowed,
			build: after(func(f *fixture, d v1.ID) Command {
				c := f.assurance(d, v1.AssuranceSubmitted, "")
				c.Actor.Role = RoleChair
				return c
			})},
	})
}

// run executes rule cases on fresh in-memory FSMs. For a rejection it also
// checks that the case did not change.
func run(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, memConfig(t))
			f := newFixture()
			setup, last := tc.build(f)
			h.accept(setup...)
			before, beforeErr := h.fsm.Case(testCase)
			r := h.reject(last, tc.want)
			if r.Command != last.ID || r.Op != last.Op || r.Index != h.index {
				t.Fatalf("result = %+v, want command %s op %s index %d", r, last.ID, last.Op, h.index)
			}
			if !r.Accepted() {
				if r.Message == "" {
					t.Fatal("a rejection has no message")
				}
				after, afterErr := h.fsm.Case(testCase)
				if (beforeErr == nil) != (afterErr == nil) || !reflect.DeepEqual(before, after) {
					t.Fatalf("a rejected command changed the case:\nbefore %+v\nafter  %+v", before, after)
				}
			}
			if got, err := h.fsm.CommandResult(last.ID); err != nil || got != r {
				t.Fatalf("CommandResult = %+v, %v; want %+v", got, err, r)
			}
			if tc.check != nil {
				tc.check(t, h.caseState())
			}
		})
	}
}
