// Package workflow is the NRM case workflow: the states a child's case moves
// through, the events that move it, the scope rule for devolved decisions and
// the statutory clocks.
//
// It is pure and deterministic: no I/O, no clock, no randomness. The time is
// always a parameter, so the node's command processor can replay a case's
// events and get the same case.
//
// Apply takes a case and an event and returns a new case (the input is never
// modified) or an error saying why not:
//
//	next, err := workflow.Apply(c, workflow.StartScopeCheck{}, now, userID, policy)
//
// The legal transitions are one table, in transitions.go, drawn in DESIGN.md.
// Safeguarding and risk events (UpdateSafeguarding, RateRisk,
// RecordChildViews, AssignAdvocate) are allowed in every state: the Children
// Act safeguarding duty never waits on the NRM decision. So is
// AssignLeadWorker: a child is never left without a worker for the process's
// sake.
//
// CheckScope decides whether a child is in scope for a devolved decision.
// Deadlines lists a case's statutory deadlines (working days in the bank
// holidays of the authority's nation, from node/calendar); the case keeps the
// earliest unmet one in NextDeadline, so the node can list overdue cases from
// its index (OverdueByWorker, OverdueByAuthority) without decrypting them.
//
// Every period is configurable in Policy; DefaultPolicy is current guidance.
// DESIGN.md gives each rule's source.
package workflow
