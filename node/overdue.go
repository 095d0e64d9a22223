package node

import (
	"context"
	"fmt"
	"slices"
	"time"

	"nrmnet/node/workflow"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// CaseDue is a case whose next statutory deadline is past or near.
type CaseDue struct {
	Case      v1.CaseID
	State     v1.CaseState
	Worker    string // lead worker's user ID; empty when unassigned
	Authority v1.AuthorityCode
	Due       time.Time
}

// DueCounts counts cases overdue and due soon.
type DueCounts struct {
	Overdue int
	DueSoon int
}

// DueReport lists the cases whose next deadline is past (Overdue, most
// overdue first) or within Within of At (DueSoon, soonest first), with
// counts per lead worker and per authority. For a role that sees counts
// only, the lists are nil.
type DueReport struct {
	At          time.Time
	Within      time.Duration
	Overdue     []CaseDue
	DueSoon     []CaseDue
	ByWorker    map[string]DueCounts
	ByAuthority map[v1.AuthorityCode]DueCounts
	CountsOnly  bool
}

// Overdue returns the overdue and due-soon cases, all of them or those of
// one lead worker. It reads the summary index only (no case is decrypted)
// and is audited as a list. A regional coordinator gets the counts only.
func (n *Node) Overdue(ctx context.Context, who Principal, worker string) (*DueReport, error) {
	countsOnly := !who.Role.Can(CanSeeOverdue)
	if err := n.require(ctx, who, CanSeeCounts, v1.ActionCaseList, "overdue"); err != nil {
		return nil, err
	}
	if worker != "" {
		if err := storage.ValidateUserID(worker); err != nil {
			return nil, fmt.Errorf("%w: worker: %w", ErrInvalid, err)
		}
	}
	now := n.now().UTC()
	report := &DueReport{At: now, Within: n.dueSoon, CountsOnly: countsOnly,
		ByWorker: map[string]DueCounts{}, ByAuthority: map[v1.AuthorityCode]DueCounts{}}
	q := storage.CaseQuery{LeadWorker: worker, DueBefore: now.Add(n.dueSoon).Add(time.Nanosecond), Limit: storage.MaxListLimit}
	purpose := "overdue and due-soon list"
	if countsOnly {
		purpose = "overdue and due-soon counts"
	}
	var clocks []workflow.CaseClock
	states := map[v1.CaseID]v1.CaseState{}
	for {
		page, err := n.store.ListCases(ctx, q, who.access(purpose, v1.BasisPublicTask))
		if err != nil {
			return nil, classify(err)
		}
		for _, s := range page {
			if s.NextDeadline == nil {
				continue
			}
			clocks = append(clocks, workflow.CaseClock{ID: s.ID, Worker: s.LeadWorker, Authority: s.Responsible, NextDeadline: *s.NextDeadline})
			states[s.ID] = s.State
		}
		if len(page) < q.Limit {
			break
		}
		q.Cursor = page[len(page)-1].Cursor()
	}
	due := func(c workflow.CaseClock) CaseDue {
		return CaseDue{Case: c.ID, State: states[c.ID], Worker: c.Worker, Authority: c.Authority, Due: c.NextDeadline}
	}
	overdue := map[v1.CaseID]bool{}
	for w, list := range workflow.OverdueByWorker(clocks, now) {
		cnt := report.ByWorker[w]
		cnt.Overdue = len(list)
		report.ByWorker[w] = cnt
		for _, c := range list {
			overdue[c.ID] = true
			report.Overdue = append(report.Overdue, due(c))
		}
	}
	for a, list := range workflow.OverdueByAuthority(clocks, now) {
		cnt := report.ByAuthority[a]
		cnt.Overdue = len(list)
		report.ByAuthority[a] = cnt
	}
	for _, c := range clocks {
		if overdue[c.ID] {
			continue
		}
		report.DueSoon = append(report.DueSoon, due(c))
		w := report.ByWorker[c.Worker]
		w.DueSoon++
		report.ByWorker[c.Worker] = w
		a := report.ByAuthority[c.Authority]
		a.DueSoon++
		report.ByAuthority[c.Authority] = a
	}
	byDue := func(a, b CaseDue) int {
		if c := a.Due.Compare(b.Due); c != 0 {
			return c
		}
		return cmpString(string(a.Case), string(b.Case))
	}
	slices.SortFunc(report.Overdue, byDue)
	slices.SortFunc(report.DueSoon, byDue)
	if countsOnly {
		report.Overdue, report.DueSoon = nil, nil
		report.ByWorker = nil // worker IDs name staff; counts per authority suffice
	}
	return report, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
