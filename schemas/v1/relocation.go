package v1

import (
	"time"

	"nrmnet/schemas"
)

// RelocationReason says why a case is to move.
type RelocationReason string

const (
	ReasonChildMoved RelocationReason = "child_moved"
	ReasonPlacement  RelocationReason = "placement"
	ReasonFamily     RelocationReason = "family_move"
	ReasonOther      RelocationReason = "other"
)

var relocationReasons = set(ReasonChildMoved, ReasonPlacement, ReasonFamily, ReasonOther)

// RelocationRequest asks the destination authority to accept a case. It is
// minimal: enough for the destination to decide (a summary with no identity),
// never the case itself, which moves only after acceptance.
type RelocationRequest struct {
	ID             ID                 `cbor:"id"`
	CaseRef        CaseID             `cbor:"case"` // the origin's case ID, opaque to the destination
	Origin         AuthorityCode      `cbor:"origin"`
	Destination    AuthorityCode      `cbor:"destination"`
	RequestedAt    time.Time          `cbor:"requested_at"`
	Reason         RelocationReason   `cbor:"reason"`
	MoveDate       Date               `cbor:"move_date,omitempty"`
	Urgency        Urgency            `cbor:"urgency"`
	ProtectionPlan bool               `cbor:"protection_plan,omitempty"` // a transfer-in conference follows within 15 working days
	LookedAfter    bool               `cbor:"looked_after,omitempty"`
	AgeBand        AgeBand            `cbor:"age_band"`
	Sex            Sex                `cbor:"sex"`
	Exploitation   []ExploitationType `cbor:"exploitation,omitempty"`
	CountyLines    bool               `cbor:"county_lines,omitempty"`
	NRMState       CaseState          `cbor:"nrm_state"`
	LegalBasis     LegalBasis         `cbor:"basis"`
}

// Kind implements Record.
func (*RelocationRequest) Kind() schemas.Kind { return schemas.KindRelocationRequest }

// Validate checks every field.
func (r *RelocationRequest) Validate() error {
	ch := schemas.NewChecker()
	checkID(ch, "id", r.ID, true)
	checkCaseID(ch, "case", r.CaseRef, true)
	checkAuthority(ch, "origin", r.Origin, true)
	checkAuthority(ch, "destination", r.Destination, true)
	ch.Check(r.Origin == "" || r.Origin != r.Destination, "destination", "is the same authority as origin")
	checkTime(ch, "requested_at", r.RequestedAt, true)
	oneOf(ch, "reason", r.Reason, relocationReasons, true)
	if r.MoveDate != "" {
		if !r.MoveDate.Valid() {
			ch.Fail("move_date", "%q is not a valid YYYY-MM-DD date", truncate(string(r.MoveDate)))
		} else if !r.RequestedAt.IsZero() {
			// A move is within a year of the request. The window also keeps the
			// field from carrying any other date, such as a date of birth, in a
			// message that crosses a border before the case is accepted.
			move, _ := r.MoveDate.Time()
			day, _ := DateOf(r.RequestedAt.UTC()).Time()
			if move.Before(day.AddDate(-1, 0, 0)) || move.After(day.AddDate(1, 0, 0)) {
				ch.Fail("move_date", "%s is more than a year from the request (%s)", r.MoveDate, DateOf(r.RequestedAt.UTC()))
			}
		}
	}
	oneOf(ch, "urgency", r.Urgency, urgencies, true)
	oneOf(ch, "age_band", r.AgeBand, ageBands, true)
	oneOf(ch, "sex", r.Sex, sexes, true)
	seen := checkExploitation(ch, "exploitation", r.Exploitation)
	if r.CountyLines && !seen[ExploitationCriminal] {
		ch.Fail("county_lines", "county lines is criminal exploitation: add \"criminal\" to exploitation")
	}
	oneOf(ch, "nrm_state", r.NRMState, caseStates, true)
	oneOf(ch, "basis", r.LegalBasis, legalBases, true)
	return ch.Err()
}

// RelocationDecision is the answer to a relocation request. Only the
// destination may accept or reject; only the origin may revoke, and never
// after acceptance.
type RelocationDecision string

const (
	RelocationAccept RelocationDecision = "accept"
	RelocationReject RelocationDecision = "reject"
	RelocationRevoke RelocationDecision = "revoke"
)

var relocationDecisions = set(RelocationAccept, RelocationReject, RelocationRevoke)

// RelocationResponse records an accept, a reject or a revoke.
type RelocationResponse struct {
	RequestID ID                 `cbor:"request"`
	Decision  RelocationDecision `cbor:"decision"`
	By        AuthorityCode      `cbor:"by"`
	At        time.Time          `cbor:"at"`
	Reason    string             `cbor:"reason,omitempty"` // required for a reject; no personal data
}

// Kind implements Record.
func (*RelocationResponse) Kind() schemas.Kind { return schemas.KindRelocationResponse }

// Validate checks every field.
func (r *RelocationResponse) Validate() error {
	ch := schemas.NewChecker()
	checkID(ch, "request", r.RequestID, true)
	oneOf(ch, "decision", r.Decision, relocationDecisions, true)
	checkAuthority(ch, "by", r.By, true)
	checkTime(ch, "at", r.At, true)
	ch.Text("reason", r.Reason, r.Decision == RelocationReject, MaxShortText*5, true)
	return ch.Err()
}
