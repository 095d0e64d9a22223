package v1

import (
	"time"

	"nrmnet/schemas"
)

// This file holds the parts of a case added after the first release of v1:
// the scope check's result, the closure, and the assurance history. Every
// field is optional and omitted when empty, so records written before they
// existed keep their bytes and their CIDs.

// ScopeOutcome is where the scope check sent the case.
type ScopeOutcome string

const (
	// ScopeInScope: a devolved panel decides.
	ScopeInScope ScopeOutcome = "in_scope"
	// ScopeReferredToSCA: out of scope (18 or over, within the margin of the
	// 18th birthday, or age-disputed); the Single Competent Authority decides.
	ScopeReferredToSCA ScopeOutcome = "referred_to_sca"
)

var scopeOutcomes = set(ScopeInScope, ScopeReferredToSCA)

// Limits on the ages a scope assessment may record.
const (
	MaxAgeYears        = 120
	MaxDaysToEighteen  = 18*366 + 1 // a child born today
	MinDaysToEighteen  = -MaxAgeYears * 366
	maxAssuranceSteps  = 64
	maxClosureNoteSize = MaxLongText
)

// ScopeAssessment is the result of the scope check for a devolved decision
// (children aged 17 or under and more than 100 days from their 18th birthday;
// an age-disputed child goes to the SCA), as a person recorded it.
type ScopeAssessment struct {
	// AgeAtReferral is the child's age in whole years on the date of referral;
	// nil when there is no usable date of birth.
	AgeAtReferral *int `cbor:"age_at_referral,omitempty"`
	// DaysToEighteenth is the number of days from the date of referral to the
	// 18th birthday (0 on it, negative after it); nil without a date of birth.
	DaysToEighteenth *int `cbor:"days_to_18,omitempty"`
	// AgeDisputed: the child's age was disputed at the check.
	AgeDisputed bool `cbor:"age_disputed,omitempty"`
	// Uncertain: an estimated date of birth straddles the boundary, so a
	// person decided.
	Uncertain  bool         `cbor:"uncertain,omitempty"`
	Outcome    ScopeOutcome `cbor:"outcome"`
	Reason     string       `cbor:"reason"`
	AssessedAt time.Time    `cbor:"assessed_at"`
	AssessedBy string       `cbor:"assessed_by"` // user ID
}

// ClosureReason is why a case was closed, as a code for management
// information.
type ClosureReason string

const (
	ClosureDuplicate       ClosureReason = "duplicate"         // the same referral recorded twice
	ClosureRecordedInError ClosureReason = "recorded_in_error" // not an NRM referral
	ClosureReferredToSCA   ClosureReason = "referred_to_sca"   // out of scope, decided by the SCA
	ClosureProcessComplete ClosureReason = "process_complete"  // decision assured, no reviews to hold
	ClosureReviewsComplete ClosureReason = "reviews_complete"  // post-exit reviews held
	ClosureOther           ClosureReason = "other"             // see the note
)

// ClosureReasons lists every closure reason.
var ClosureReasons = []ClosureReason{
	ClosureDuplicate, ClosureRecordedInError, ClosureReferredToSCA,
	ClosureProcessComplete, ClosureReviewsComplete, ClosureOther,
}

var closureReasons = set(ClosureReasons...)

// Closure records why, when and by whom a case was closed.
type Closure struct {
	Reason   ClosureReason `cbor:"reason"`
	Note     string        `cbor:"note,omitempty"` // in words; required for "other"
	ClosedAt time.Time     `cbor:"closed_at"`
	ClosedBy string        `cbor:"closed_by"` // user ID
}

// AssuranceStep is one step in the Single Competent Authority's assurance
// of a devolved decision: a submission, an assurance, or a query.
type AssuranceStep struct {
	Status AssuranceStatus `cbor:"status"`
	At     time.Time       `cbor:"at"`
	By     string          `cbor:"by"`              // user ID, or "sca" for the SCA's answer
	Query  string          `cbor:"query,omitempty"` // the SCA's query, on a queried step
}

func (s *ScopeAssessment) validate(ch schemas.Checker, state CaseState) {
	if s.AgeAtReferral != nil {
		ch.Check(*s.AgeAtReferral >= 0 && *s.AgeAtReferral <= MaxAgeYears, "age_at_referral", "is %d, want 0 to %d", *s.AgeAtReferral, MaxAgeYears)
	}
	if s.DaysToEighteenth != nil {
		d := *s.DaysToEighteenth
		ch.Check(d >= MinDaysToEighteen && d <= MaxDaysToEighteen, "days_to_18", "is %d, want %d to %d", d, MinDaysToEighteen, MaxDaysToEighteen)
	}
	ch.Check((s.AgeAtReferral == nil) == (s.DaysToEighteenth == nil), "days_to_18",
		"must be set together with age_at_referral (both come from the date of birth)")
	oneOf(ch, "outcome", s.Outcome, scopeOutcomes, true)
	if s.AgeDisputed && s.Outcome == ScopeInScope {
		ch.Fail("outcome", "an age-disputed child is out of scope: the outcome must be %q", ScopeReferredToSCA)
	}
	if s.Outcome == ScopeInScope && !s.Uncertain && s.DaysToEighteenth != nil && *s.DaysToEighteenth <= 0 {
		// Where an estimate straddles the boundary a person decides, and
		// may find the child younger than the estimate's centre.
		ch.Fail("outcome", "the child was 18 or over at referral: the outcome must be %q (unless the estimate is uncertain)", ScopeReferredToSCA)
	}
	if s.Outcome == ScopeInScope && (state == StateReferredToSCA) {
		ch.Fail("outcome", "is %q but the case is %s", ScopeInScope, state)
	}
	ch.Text("reason", s.Reason, true, MaxLongText, true)
	checkTime(ch, "assessed_at", s.AssessedAt, true)
	ch.Text("assessed_by", s.AssessedBy, true, MaxShortText, false)
}

func (cl *Closure) validate(ch schemas.Checker, state CaseState) {
	oneOf(ch, "reason", cl.Reason, closureReasons, true)
	ch.Text("note", cl.Note, cl.Reason == ClosureOther, maxClosureNoteSize, true)
	checkTime(ch, "closed_at", cl.ClosedAt, true)
	ch.Text("closed_by", cl.ClosedBy, true, MaxShortText, false)
	ch.Check(state == "" || state == StateClosed, "reason", "a closure is recorded but the case is %s, not closed", truncate(string(state)))
}

func (a *Assurance) validateHistory(ch schemas.Checker) {
	if len(a.History) == 0 {
		return
	}
	if !checkLen(ch, "history", len(a.History), maxAssuranceSteps) {
		return
	}
	var prev time.Time
	for i, s := range a.History {
		sc := ch.Index("history", i)
		oneOf(sc, "status", s.Status, assuranceStatuses, true)
		checkTime(sc, "at", s.At, true)
		sc.Text("by", s.By, true, MaxShortText, false)
		sc.Text("query", s.Query, s.Status == AssuranceQueried, MaxLongText, true)
		if assuranceStatuses[s.Status] && s.Status != AssuranceQueried && s.Query != "" {
			sc.Fail("query", "is only for a queried step, not %s", truncate(string(s.Status)))
		}
		if i == 0 && s.Status != "" && s.Status != AssuranceSubmitted {
			sc.Fail("status", "the first step must be %q, not %q", AssuranceSubmitted, truncate(string(s.Status)))
		}
		if i > 0 && s.Status != "" && assuranceStatuses[s.Status] {
			// Submitted follows a query (or starts the history); an answer
			// follows a submission.
			before := a.History[i-1].Status
			if s.Status == AssuranceSubmitted && before == AssuranceSubmitted {
				sc.Fail("status", "a second submission needs a query in between")
			}
			if s.Status != AssuranceSubmitted && before != AssuranceSubmitted {
				sc.Fail("status", "%s must follow a submission, not %s", s.Status, truncate(string(before)))
			}
		}
		if !s.At.IsZero() && s.At.Before(prev) {
			sc.Fail("at", "is before the previous step")
		}
		if !s.At.IsZero() {
			prev = s.At
		}
	}
	if last := a.History[len(a.History)-1].Status; last != a.Status {
		ch.Fail("history", "ends with %q but the status is %q", truncate(string(last)), truncate(string(a.Status)))
	}
}
