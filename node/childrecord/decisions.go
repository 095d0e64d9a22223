package childrecord

import (
	"fmt"
	"strings"
	"time"

	"nrmnet/node/calendar"
	"nrmnet/node/workflow"
	v1 "nrmnet/schemas/v1"
)

func decisions(c *v1.Case, panels map[v1.ID]*v1.PanelDecision, p workflow.Policy) []decision {
	var out []decision
	for i, d := range c.Decisions {
		x := decision{
			Anchor:    fmt.Sprintf("decision-%d", i+1),
			Heading:   fmt.Sprintf("Decision %d: the %s", i+1, stageName(d.Stage)),
			When:      dateOf(d.DecidedAt),
			Result:    resultText(d),
			Meaning:   meaning(d, p),
			DecidedBy: "The panel",
			Why:       paragraphs(d.Reasons),
			TestText:  d.TestApplied,
			YourViews: paragraphs(d.ChildViews),
		}
		if d.Stage == v1.StageCG {
			x.Question = "Is it more likely than not that you were a victim of modern slavery?"
		} else {
			x.Question = "From everything known, is there reason to believe that you may be a victim of modern slavery, even without full proof?"
		}
		panel := panels[d.PanelDecisionID]
		switch {
		case d.DecidedBy != "":
			x.DecidedBy = d.DecidedBy
		case panel != nil:
			x.DecidedBy = "The " + string(panel.Panel) + " panel"
		}
		if panel != nil {
			x.Meeting, x.Chair = meeting(panel)
			x.HowVoted = howVoted(panel, d.Stage)
			if len(x.YourViews) == 0 {
				x.YourViews = paragraphs(panel.ChildViews)
			}
		}
		if len(x.YourViews) == 0 {
			x.YourViews = []string{"Nothing was written down about this. You can ask your social worker or guardian why."}
		}
		x.FollowedBy = reconsiderationsOf(c, i)
		out = append(out, x)
	}
	return out
}

func resultText(d v1.NRMDecision) string {
	switch {
	case d.Stage == v1.StageRG && d.Outcome == v1.OutcomePositive:
		return "Positive: there are reasonable grounds to believe you may be a victim of modern slavery."
	case d.Stage == v1.StageRG:
		return "Negative: the panel did not find reasonable grounds, at this stage, to believe you may be a victim of modern slavery."
	case d.Outcome == v1.OutcomePositive:
		return "Positive: the panel decided it is more likely than not that you were a victim of modern slavery."
	}
	return "Negative: the panel decided it was not shown to be more likely than not that you were a victim of modern slavery."
}

func meaning(d v1.NRMDecision, p workflow.Policy) []string {
	switch {
	case d.Stage == v1.StageRG && d.Outcome == v1.OutcomePositive:
		return []string{
			"This is the first of two decisions. It means the panel believes you may have been exploited and that you should get help and support.",
			"You have a recovery period of at least " + p.RecoveryPeriod.String() + " from this decision: time to rest and get support before the final decision.",
			"Whatever happens next, you will keep getting help to stay safe.",
		}
	case d.Stage == v1.StageRG:
		return []string{
			"This does not mean the panel thinks you are not telling the truth. It means they did not have enough information at this stage.",
			"You, or someone helping you, can ask for this decision to be looked at again. See \"Your rights\".",
			"You will keep getting help to stay safe: this decision does not change that.",
		}
	case d.Outcome == v1.OutcomePositive:
		return []string{
			"This is the final decision. It is now on record that you were a victim of modern slavery.",
			"It can help you get the support you need, now and later.",
		}
	}
	return []string{
		"This does not mean the panel thinks you are not telling the truth.",
		"You, or someone helping you, can ask for this decision to be looked at again. See \"Your rights\".",
		"You will keep getting help to stay safe: this decision does not change that.",
	}
}

// meeting says who attended, by role: member IDs are staff references that
// mean nothing to a child, and the roles are what the rules are about.
func meeting(d *v1.PanelDecision) ([]string, string) {
	type role struct {
		capacity v1.Capacity
		one      string
		many     string
		what     string
	}
	roles := []role{
		{v1.CapacityLocalAuthority, "1 person from the council", "%d people from the councils", "they vote"},
		{v1.CapacityPolice, "1 person from the police", "%d people from the police", "they vote"},
		{v1.CapacityHealth, "1 person from health services", "%d people from health services", "they vote"},
		{v1.CapacityICTG, "your Independent Child Trafficking Guardian", "%d guardians", "to speak for you; guardians do not vote"},
		{v1.CapacityAdvocate, "your advocate", "%d advocates", "to speak for you; advocates do not vote"},
		{v1.CapacityAdviser, "1 adviser (for example from school or housing)", "%d advisers (for example from school or housing)", "they give advice but do not vote"},
	}
	count := map[v1.Capacity]int{}
	var chair v1.Capacity
	for _, a := range d.Attendance {
		count[a.Capacity]++
		if a.Chair {
			chair = a.Capacity
		}
	}
	var out []string
	for _, r := range roles {
		switch n := count[r.capacity]; n {
		case 0:
		case 1:
			out = append(out, r.one+" ("+r.what+")")
		default:
			out = append(out, fmt.Sprintf(r.many, n)+" ("+r.what+")")
		}
	}
	chairText := ""
	if chair != "" {
		from := map[v1.Capacity]string{
			v1.CapacityLocalAuthority: "the council", v1.CapacityPolice: "the police", v1.CapacityHealth: "health services",
			v1.CapacityICTG: "the guardian service", v1.CapacityAdvocate: "the advocacy service", v1.CapacityAdviser: "the advisers",
		}[chair]
		chairText = "The person leading the meeting (the chair) was from " + from + ". The chair is never your own social worker."
	}
	return out, chairText
}

func howVoted(d *v1.PanelDecision, stage v1.DecisionStage) string {
	var pos, neg, abstain int
	for _, v := range d.Votes {
		if v.Stage != stage {
			continue
		}
		switch v.Choice {
		case v1.VotePositive:
			pos++
		case v1.VoteNegative:
			neg++
		default:
			abstain++
		}
	}
	var how string
	for _, o := range d.Outcomes {
		if o.Stage != stage {
			continue
		}
		switch {
		case o.Unanimous:
			how = "Everyone who votes agreed."
		case o.CastingVote:
			how = "The votes were equal, so the chair decided."
		default:
			how = "Most of the people who vote agreed."
		}
	}
	counts := fmt.Sprintf("%d voted yes, %d voted no", pos, neg)
	if abstain > 0 {
		counts += fmt.Sprintf(", %d did not vote either way", abstain)
	}
	return strings.TrimSpace(how + " " + counts + ".")
}

// reconsiderationsOf describes the reconsiderations of decision i: those
// linked to it, or for older records those requested after it and before
// the next decision.
func reconsiderationsOf(c *v1.Case, i int) []string {
	var out []string
	d := c.Decisions[i]
	var next time.Time
	if i+1 < len(c.Decisions) {
		next = c.Decisions[i+1].DecidedAt
	}
	for _, r := range c.Reconsiderations {
		mine := false
		if r.Decision != nil {
			mine = *r.Decision == i
		} else {
			mine = r.Stage == d.Stage && !r.RequestedAt.Before(d.DecidedAt) && (next.IsZero() || r.RequestedAt.Before(next))
		}
		if !mine {
			continue
		}
		s := "On " + dateOf(r.RequestedAt).Text + ", " + r.RequestedBy + " asked for this decision to be looked at again, because " + groundsText(r.Grounds) + "."
		switch r.Outcome {
		case v1.ReconsiderationPending:
			s += " The panel has not yet decided whether to do that."
		case v1.ReconsiderationAccepted, v1.ReconsiderationRefused:
			verb := "agreed to look at it again"
			if r.Outcome == v1.ReconsiderationRefused {
				verb = "decided not to look at it again"
			}
			s += " On " + dateOf(*r.DecidedAt).Text + " the panel " + verb
			if r.DecidedBy != "" {
				s += " (decided by " + r.DecidedBy + ")"
			}
			s += "."
			if r.Reasons != "" {
				s += " Why: " + strings.Join(paragraphs(r.Reasons), " ")
			}
		}
		out = append(out, s)
	}
	return out
}

func rights(c *v1.Case, p workflow.Policy, cal *calendar.Calendar) []right {
	recon := right{Heading: "Asking for a decision to be looked at again", Text: []string{
		"If a decision about you is negative, you, your guardian or your social worker can ask for it to be looked at again. " +
			"This is called a reconsideration. You can ask within " + p.ReconsiderationWindow.String() + " of the decision, " +
			"if there is new information or if you think the decision did not follow the rules.",
	}}
	if div, err := workflow.DivisionOf(c.Responsible); err == nil {
		if ds, err := workflow.Deadlines(c, p, cal, div); err == nil {
			for _, d := range ds {
				if d.Kind == workflow.DeadlineReconsiderationWindow && !d.Met {
					last := dateOf(d.Due.Add(-time.Nanosecond))
					recon.Text = append(recon.Text, "For your latest decision, you can ask until the end of "+last.Text+".")
				}
			}
		}
	}
	return []right{
		recon,
		{Heading: "Someone on your side", Text: []string{
			"You have the right to an Independent Child Trafficking Guardian, or an independent advocate you choose. " +
				"They can come to meetings with you, explain what is happening and make sure the panel hears what you think. They do not vote.",
		}},
		{Heading: "Your views matter", Text: []string{
			"The panel must write down what you want and how you feel, and how they took it into account in every decision. " +
				"You can tell them more at any time, through your social worker or your guardian.",
		}},
		{Heading: "Staying safe", Text: []string{
			"Your safety never waits for these decisions. Your social worker and others must keep helping to protect you, whatever is decided.",
		}},
		{Heading: "Seeing your records", Text: []string{
			"You have the right to see what is written about you. If something here is wrong, tell your social worker or guardian: " +
				"they must correct it, or write down that you disagree.",
		}},
		{Heading: "If you are unhappy", Text: []string{
			"You can make a complaint to the council about how you were treated. Your guardian or advocate can help you do it.",
		}},
	}
}

func glossary(p workflow.Policy) []fact {
	return []fact{
		{"Modern slavery", "When someone makes a person work, commit crimes or do other things for the benefit of others, by using threats, force, tricks or control. Trafficking and exploitation are kinds of modern slavery."},
		{"National Referral Mechanism (NRM)", "The way the UK finds out whether someone is a victim of modern slavery, and makes sure they get help."},
		{"Panel", "A group of people from the council, the police and health services who make decisions together. Your guardian or advocate is there to speak for you."},
		{"Reasonable grounds decision", "The first decision: is there reason to believe you may be a victim? It should be made within a few working days of the referral."},
		{"Recovery period", "At least " + p.RecoveryPeriod.String() + " after a positive first decision, to get support before the final decision."},
		{"Conclusive grounds decision", "The final decision: is it more likely than not that you were a victim?"},
		{"Reconsideration", "Asking for a decision to be looked at again."},
		{"Single Competent Authority", "The Home Office team that makes these decisions for people the local panel cannot decide for, and checks the local panels' decisions."},
		{"Independent Child Trafficking Guardian", "A person who is on your side, separate from the council and the police, who helps you through all of this."},
	}
}
