package v1_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// A mutation changes one field of a valid fixture; Validate must then fail
// with an error naming exactly that field.
type mutation[R v1.Record] struct {
	name   string
	mutate func(R)
	path   string   // the field path the error must name
	also   []string // other paths the same change is allowed to report
}

// checkMutations runs a table of single-field mutations against fresh copies
// of a fixture.
func checkMutations[R v1.Record](t *testing.T, fixture func() R, table []mutation[R]) {
	t.Helper()
	if err := fixture().Validate(); err != nil {
		t.Fatalf("the fixture itself is invalid: %v", err)
	}
	for _, m := range table {
		t.Run(m.path+"/"+m.name, func(t *testing.T) {
			r := fixture()
			m.mutate(r)
			err := r.Validate()
			if err == nil {
				t.Fatalf("Validate accepted the record with %s", m.name)
			}
			if !errors.Is(err, schemas.ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false for %v", err)
			}
			paths := fieldPaths(err)
			if !slices.Contains(paths, m.path) {
				t.Errorf("error does not name field %s; it names %q:\n%v", m.path, paths, err)
			}
			if !strings.Contains(err.Error(), "field "+m.path+": ") {
				t.Errorf("error text does not contain %q:\n%v", "field "+m.path+": ", err)
			}
			for _, p := range paths {
				if p != m.path && !slices.Contains(m.also, p) {
					t.Errorf("a change to %s also reported field %s:\n%v", m.path, p, err)
				}
			}
			// Hostile values are quoted short, so an error can be logged.
			if len(err.Error()) > 2048 {
				t.Errorf("error message is %d bytes long; hostile input must be truncated", len(err.Error()))
			}
			// Marshal refuses what Validate refuses.
			if _, merr := v1.Marshal(r); !errors.Is(merr, schemas.ErrInvalid) {
				t.Errorf("Marshal: err = %v, want ErrInvalid", merr)
			}
		})
	}
}

// fieldPaths returns the paths of every FieldError in err's tree.
func fieldPaths(err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		var fe *schemas.FieldError
		if errors.As(e, &fe) && e == error(fe) {
			out = append(out, fe.Path)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			if x := u.Unwrap(); x != nil {
				walk(x)
			}
		}
	}
	walk(err)
	return out
}

// Hostile and malformed values used across the tables.
var (
	megabyte   = strings.Repeat("A", 1<<20)
	short201   = strings.Repeat("x", v1.MaxShortText+1)
	long20001  = strings.Repeat("y", v1.MaxLongText+1)
	bst        = time.FixedZone("BST", 3600)
	freeText   = "Lula Tesfay, 15, last seen at Piccadilly"
	badUTF8    = "Tesf\xffy"
	escapeSeq  = "Lula\x1b[2J"
	c1Control  = "Lula\u009b31m"
	bidiDelete = "Lula\u007f"
)

func inBST(t time.Time) time.Time { return t.In(bst) }

func TestValidateCase(t *testing.T) {
	checkMutations(t, goldenCase, []mutation[*v1.Case]{
		{"empty", func(c *v1.Case) { c.ID = "" }, "id", nil},
		{"lower-case authority", func(c *v1.Case) { c.ID = "isl-3f9a0c1b2d4e5f60" }, "id", nil},
		{"unknown authority", func(c *v1.Case) { c.ID = "ZZZ-3f9a0c1b2d4e5f60" }, "id", nil},
		{"short", func(c *v1.Case) { c.ID = "ISL-3f9a" }, "id", nil},
		{"upper-case hex", func(c *v1.Case) { c.ChildID = "0C4F6A3E9B1D4E27A5F08C63D1B2E4F9" }, "child_id", nil},
		{"31 digits", func(c *v1.Case) { c.ChildID = childID[:31] }, "child_id", nil},
		{"empty", func(c *v1.Case) { c.ChildID = "" }, "child_id", nil},
		{"unknown state", func(c *v1.Case) { c.State = "open" }, "state", nil},
		{"empty", func(c *v1.Case) { c.State = "" }, "state", nil},
		{"1 MB", func(c *v1.Case) { c.State = v1.CaseState(megabyte) }, "state", nil},
		{"unknown code", func(c *v1.Case) { c.Responsible = "ZZZ" }, "responsible", nil},
		{"lower case", func(c *v1.Case) { c.Responsible = "isl" }, "responsible", nil},
		{"empty", func(c *v1.Case) { c.Responsible = "" }, "responsible", nil},
		{"NUL", func(c *v1.Case) { c.LeadWorker = "sw\x00" }, "lead_worker", nil},
		{"newline", func(c *v1.Case) { c.LeadWorker = "sw\nadmin" }, "lead_worker", nil},
		{"too long", func(c *v1.Case) { c.LeadWorker = short201 }, "lead_worker", nil},
		{"white space", func(c *v1.Case) { c.LeadWorker = "   " }, "lead_worker", nil},
		{"zero", func(c *v1.Case) { c.CreatedAt = time.Time{} }, "created_at", nil},
		{"not UTC", func(c *v1.Case) { c.CreatedAt = inBST(c.CreatedAt) }, "created_at", nil},
		{"1999", func(c *v1.Case) { c.CreatedAt = at(1999, 12, 31, 0, 0, 0, 0) }, "created_at", nil},
		{"before created", func(c *v1.Case) { c.UpdatedAt = c.CreatedAt.Add(-time.Second) }, "updated_at", nil},
		{"2200", func(c *v1.Case) { c.UpdatedAt = at(2200, 1, 1, 0, 0, 0, 0) }, "updated_at", nil},
		{"zero", func(c *v1.Case) { c.NextDeadline = &time.Time{} }, "next_deadline", nil},
		{"not UTC", func(c *v1.Case) { c.NextDeadline = ptr(inBST(*c.NextDeadline)) }, "next_deadline", nil},

		{"none", func(c *v1.Case) { c.Identity.Names = nil }, "identity.names", nil},
		{"empty list", func(c *v1.Case) { c.Identity.Names = []v1.PersonName{} }, "identity.names", nil},
		{"65 names", func(c *v1.Case) {
			c.Identity.Names = slices.Repeat(c.Identity.Names[:1], 65)
		}, "identity.names", nil},
		{"escape sequence", func(c *v1.Case) { c.Identity.Names[0].Given = escapeSeq }, "identity.names[0].given", nil},
		{"1 MB", func(c *v1.Case) { c.Identity.Names[0].Given = megabyte }, "identity.names[0].given", nil},
		{"no given or family", func(c *v1.Case) { c.Identity.Names[3].Given = "" }, "identity.names[3].given", nil},
		{"invalid UTF-8", func(c *v1.Case) { c.Identity.Names[0].Family = badUTF8 }, "identity.names[0].family", nil},
		{"DEL", func(c *v1.Case) { c.Identity.Names[0].Family = bidiDelete }, "identity.names[0].family", nil},
		{"C1 control", func(c *v1.Case) { c.Identity.Names[1].Original = c1Control }, "identity.names[1].original", nil},
		{"unknown kind", func(c *v1.Case) { c.Identity.Names[2].Kind = "nickname" }, "identity.names[2].kind", nil},
		{"empty kind", func(c *v1.Case) { c.Identity.Names[2].Kind = "" }, "identity.names[2].kind", nil},
		{"30 February", func(c *v1.Case) { c.Identity.DateOfBirth.Date = "2009-02-30" }, "identity.dob.date", nil},
		{"UK format", func(c *v1.Case) { c.Identity.DateOfBirth.Date = "15/06/2009" }, "identity.dob.date", nil},
		{"1899", func(c *v1.Case) { c.Identity.DateOfBirth.Date = "1899-12-31" }, "identity.dob.date", nil},
		{"empty", func(c *v1.Case) { c.Identity.DateOfBirth.Date = "" }, "identity.dob.date", nil},
		{"negative", func(c *v1.Case) { c.Identity.DateOfBirth.UncertaintyDays = -1 }, "identity.dob.uncertainty_days", nil},
		{"over ten years", func(c *v1.Case) { c.Identity.DateOfBirth.UncertaintyDays = 3651 }, "identity.dob.uncertainty_days", nil},
		{"documented date with uncertainty", func(c *v1.Case) { c.Identity.DateOfBirth.Estimated = false }, "identity.dob.uncertainty_days", nil},
		{"newline", func(c *v1.Case) { c.Identity.DateOfBirth.Basis = "age\nassessment" }, "identity.dob.basis", nil},
		{"unknown", func(c *v1.Case) { c.Identity.Sex = "f" }, "identity.sex", nil},
		{"empty", func(c *v1.Case) { c.Identity.Sex = "" }, "identity.sex", nil},
		{"lower case", func(c *v1.Case) { c.Identity.Nationalities[0] = "eri" }, "identity.nationalities[0]", nil},
		{"a name", func(c *v1.Case) { c.Identity.Nationalities[0] = "Eritrea" }, "identity.nationalities[0]", nil},
		{"nine", func(c *v1.Case) { c.Identity.Nationalities = slices.Repeat([]string{"ERI"}, 9) }, "identity.nationalities", nil},
		{"upper case", func(c *v1.Case) { c.Identity.Languages[1] = "ARA" }, "identity.languages[1]", nil},
		{"two letters", func(c *v1.Case) { c.Identity.Languages[1] = "ar" }, "identity.languages[1]", nil},
		{"17", func(c *v1.Case) { c.Identity.Languages = slices.Repeat([]string{"tir"}, 17) }, "identity.languages", nil},

		{"zero", func(c *v1.Case) { c.Referral.ReferredAt = time.Time{} }, "referral.referred_at", nil},
		{"empty", func(c *v1.Case) { c.Referral.FirstResponderOrg = "" }, "referral.fr_org", nil},
		{"unknown", func(c *v1.Case) { c.Referral.FirstResponderType = "school" }, "referral.fr_type", nil},
		{"none", func(c *v1.Case) { c.Referral.ExploitationTypes = nil; c.Referral.CountyLines = false }, "referral.exploitation", nil},
		{"unknown type", func(c *v1.Case) {
			c.Referral.ExploitationTypes = []v1.ExploitationType{v1.ExploitationCriminal, "trafficking"}
		}, "referral.exploitation[1]", nil},
		{"listed twice", func(c *v1.Case) {
			c.Referral.ExploitationTypes = append(c.Referral.ExploitationTypes, v1.ExploitationSexual)
		}, "referral.exploitation[3]", nil},
		{"seven", func(c *v1.Case) {
			c.Referral.ExploitationTypes = append(slices.Clone(v1.ExploitationTypes), v1.ExploitationSexual)
		}, "referral.exploitation", []string{"referral.county_lines"}},
		{"county lines without criminal", func(c *v1.Case) {
			c.Referral.ExploitationTypes = []v1.ExploitationType{v1.ExploitationSexual, v1.ExploitationLabour}
		}, "referral.county_lines", nil},
		{"unknown", func(c *v1.Case) { c.Referral.ExploitationLocation = "scotland" }, "referral.location", nil},
		{"empty", func(c *v1.Case) { c.Referral.Source = "" }, "referral.source", nil},
		{"too long", func(c *v1.Case) { c.Referral.PresentingIssue = short201 }, "referral.presenting_issue", nil},
		{"zero", func(c *v1.Case) { c.Safeguarding.StrategyMeeting = &time.Time{} }, "safeguarding.strategy_meeting", nil},
		{"not UTC", func(c *v1.Case) { c.Safeguarding.StrategyMeeting = ptr(inBST(*c.Safeguarding.StrategyMeeting)) }, "safeguarding.strategy_meeting", nil},

		{"unknown rating", func(c *v1.Case) { c.Risk[0].Rating = "purple" }, "risk[0].rating", nil},
		{"empty stage", func(c *v1.Case) { c.Risk[1].Stage = "" }, "risk[1].stage", nil},
		{"zero", func(c *v1.Case) { c.Risk[2].At = time.Time{} }, "risk[2].at", nil},
		{"empty", func(c *v1.Case) { c.Risk[0].By = "" }, "risk[0].by", nil},
		{"bell", func(c *v1.Case) { c.Risk[0].Reason = "ring\a" }, "risk[0].reason", nil},
		{"257 ratings", func(c *v1.Case) { c.Risk = slices.Repeat(c.Risk[:1], v1.MaxList+1) }, "risk", nil},
		{"unknown kind", func(c *v1.Case) { c.Advocate.Kind = "friend" }, "advocate.kind", nil},
		{"empty", func(c *v1.Case) { c.Advocate.Name = "" }, "advocate.name", nil},
		{"C1 control", func(c *v1.Case) { c.Advocate.Organisation = "ICTG\u0085" }, "advocate.org", nil},
		{"not UTC", func(c *v1.Case) { c.Advocate.AssignedAt = inBST(c.Advocate.AssignedAt) }, "advocate.assigned_at", nil},
		{"zero", func(c *v1.Case) { c.WishesAndFeelings[0].RecordedAt = time.Time{} }, "wishes[0].at", nil},
		{"tab", func(c *v1.Case) { c.WishesAndFeelings[0].RecordedBy = "sw\tisl" }, "wishes[0].by", nil},
		{"empty", func(c *v1.Case) { c.WishesAndFeelings[0].Views = "" }, "wishes[0].views", nil},
		{"too long", func(c *v1.Case) { c.WishesAndFeelings[1].Views = long20001 }, "wishes[1].views", nil},
		{"1 MB", func(c *v1.Case) { c.WishesAndFeelings[1].Views = megabyte }, "wishes[1].views", nil},
		{"NUL", func(c *v1.Case) { c.WishesAndFeelings[0].HowConsidered = "ok\x00" }, "wishes[0].how_considered", nil},

		{"unknown stage", func(c *v1.Case) { c.Decisions[0].Stage = "rg" }, "decisions[0].stage", nil},
		{"unknown outcome", func(c *v1.Case) { c.Decisions[1].Outcome = "maybe" }, "decisions[1].outcome", nil},
		{"zero", func(c *v1.Case) { c.Decisions[2].DecidedAt = time.Time{} }, "decisions[2].decided_at", nil},
		{"bad ID", func(c *v1.Case) { c.Decisions[0].PanelDecisionID = "P1" }, "decisions[0].panel_decision", nil},
		{"empty", func(c *v1.Case) { c.Decisions[0].Reasons = "" }, "decisions[0].reasons", nil},
		{"empty", func(c *v1.Case) { c.Decisions[1].TestApplied = "" }, "decisions[1].test", nil},
		{"NUL", func(c *v1.Case) { c.Decisions[0].ChildViews = "\x00" }, "decisions[0].child_views", nil},
		{"empty", func(c *v1.Case) { c.Reconsiderations[0].Stage = "" }, "reconsiderations[0].stage", nil},
		{"zero", func(c *v1.Case) { c.Reconsiderations[0].RequestedAt = time.Time{} }, "reconsiderations[0].requested_at", nil},
		{"empty", func(c *v1.Case) { c.Reconsiderations[0].RequestedBy = "" }, "reconsiderations[0].requested_by", nil},
		{"unknown", func(c *v1.Case) { c.Reconsiderations[0].Grounds = "appeal" }, "reconsiderations[0].grounds", nil},
		{"unknown", func(c *v1.Case) { c.Reconsiderations[0].Outcome = "withdrawn" }, "reconsiderations[0].outcome", nil},
		{"decided without a date", func(c *v1.Case) { c.Reconsiderations[0].DecidedAt = nil }, "reconsiderations[0].decided_at", nil},
		{"not UTC", func(c *v1.Case) { c.Reconsiderations[0].DecidedAt = ptr(inBST(*c.Reconsiderations[0].DecidedAt)) }, "reconsiderations[0].decided_at", nil},
		{"DEL", func(c *v1.Case) { c.Reconsiderations[0].Reasons = "\x7f" }, "reconsiderations[0].reasons", nil},
		{"unknown", func(c *v1.Case) { c.Assurance.Status = "done" }, "assurance.status", nil},
		{"zero", func(c *v1.Case) { c.Assurance.SubmittedAt = time.Time{} }, "assurance.submitted_at", nil},
		{"not UTC", func(c *v1.Case) { c.Assurance.ResolvedAt = ptr(inBST(*c.Assurance.ResolvedAt)) }, "assurance.resolved_at", nil},
		{"escape", func(c *v1.Case) { c.Assurance.Query = escapeSeq }, "assurance.query", nil},
		{"nine months", func(c *v1.Case) { c.PostExitReviews[1].Month = 9 }, "post_exit_reviews[1].month", nil},
		{"three", func(c *v1.Case) { c.PostExitReviews = append(c.PostExitReviews, c.PostExitReviews[0]) }, "post_exit_reviews", nil},
		{"zero", func(c *v1.Case) { c.PostExitReviews[0].DueAt = time.Time{} }, "post_exit_reviews[0].due_at", nil},
		{"1990", func(c *v1.Case) { c.PostExitReviews[0].HeldAt = ptr(at(1990, 1, 1, 0, 0, 0, 0)) }, "post_exit_reviews[0].held_at", nil},
		{"NUL", func(c *v1.Case) { c.PostExitReviews[0].Outcome = "\x00" }, "post_exit_reviews[0].outcome", nil},
		{"empty", func(c *v1.Case) { c.Relocations[0].RequestID = "" }, "relocations[0].request", nil},
		{"unknown", func(c *v1.Case) { c.Relocations[0].From = "ZZZ" }, "relocations[0].from", nil},
		{"same as from", func(c *v1.Case) { c.Relocations[1].To = c.Relocations[1].From }, "relocations[1].to", nil},
		{"zero", func(c *v1.Case) { c.Relocations[1].RequestedAt = time.Time{} }, "relocations[1].requested_at", nil},
		{"unknown", func(c *v1.Case) { c.Relocations[1].Status = "pending" }, "relocations[1].status", nil},
		{"not UTC", func(c *v1.Case) { c.Relocations[0].ResolvedAt = ptr(inBST(*c.Relocations[0].ResolvedAt)) }, "relocations[0].resolved_at", nil},
	})
}

func TestValidateAlert(t *testing.T) {
	checkMutations(t, goldenAlert, []mutation[*v1.CrossBorderAlert]{
		{"empty", func(a *v1.CrossBorderAlert) { a.ID = "" }, "id", nil},
		{"upper case", func(a *v1.CrossBorderAlert) { a.ID = v1.ID(strings.ToUpper(string(alertID))) }, "id", nil},
		{"free text", func(a *v1.CrossBorderAlert) { a.ID = v1.ID(freeText) }, "id", nil},
		{"unknown", func(a *v1.CrossBorderAlert) { a.Type = "trafficked" }, "type", nil},
		{"1 MB", func(a *v1.CrossBorderAlert) { a.Type = v1.AlertType(megabyte) }, "type", nil},
		{"unknown", func(a *v1.CrossBorderAlert) { a.Issuer = "ZZZ" }, "issuer", nil},
		{"empty", func(a *v1.CrossBorderAlert) { a.Issuer = "" }, "issuer", nil},
		{"nobody targeted", func(a *v1.CrossBorderAlert) {
			a.TargetAuthorities, a.TargetRegions, a.National = nil, nil, false
		}, "targets", nil},
		{"unknown", func(a *v1.CrossBorderAlert) { a.TargetAuthorities[1] = "ZZZ" }, "targets[1]", nil},
		{"duplicate", func(a *v1.CrossBorderAlert) { a.TargetAuthorities[1] = "MAN" }, "targets[1]", nil},
		{"257", func(a *v1.CrossBorderAlert) {
			a.TargetAuthorities = slices.Repeat([]v1.AuthorityCode{"MAN"}, v1.MaxTargets+1)
		}, "targets", nil},
		{"not a region", func(a *v1.CrossBorderAlert) { a.TargetRegions[0] = "Greater Manchester" }, "regions[0]", nil},
		{"free text smuggled", func(a *v1.CrossBorderAlert) { a.TargetRegions[0] = freeText }, "regions[0]", nil},
		{"1 MB", func(a *v1.CrossBorderAlert) { a.TargetRegions[0] = megabyte }, "regions[0]", nil},
		{"duplicate", func(a *v1.CrossBorderAlert) { a.TargetRegions = []string{"North West", "North West"} }, "regions[1]", nil},
		{"17", func(a *v1.CrossBorderAlert) { a.TargetRegions = slices.Repeat([]string{"London"}, 17) }, "regions", nil},
		{"unknown", func(a *v1.CrossBorderAlert) { a.Urgency = "asap" }, "urgency", nil},
		{"zero", func(a *v1.CrossBorderAlert) { a.IssuedAt = time.Time{} }, "issued_at", []string{"expires_at"}},
		{"not UTC", func(a *v1.CrossBorderAlert) { a.IssuedAt = inBST(a.IssuedAt) }, "issued_at", nil},
		{"zero", func(a *v1.CrossBorderAlert) { a.ExpiresAt = time.Time{} }, "expires_at", nil},
		{"not UTC", func(a *v1.CrossBorderAlert) { a.ExpiresAt = inBST(a.ExpiresAt) }, "expires_at", nil},
		{"before issue", func(a *v1.CrossBorderAlert) { a.ExpiresAt = a.IssuedAt.Add(-time.Minute) }, "expires_at", nil},
		{"at issue", func(a *v1.CrossBorderAlert) { a.ExpiresAt = a.IssuedAt }, "expires_at", nil},
		{"beyond 30 days", func(a *v1.CrossBorderAlert) {
			a.ExpiresAt = a.IssuedAt.Add(v1.MaxAlertLifetime + time.Second)
		}, "expires_at", nil},
		{"a phone number", func(a *v1.CrossBorderAlert) { a.Contact = "07700 900123" }, "contact", nil},
		{"unknown", func(a *v1.CrossBorderAlert) { a.LegalBasis = "consent" }, "basis", nil},
		{"an age", func(a *v1.CrossBorderAlert) { a.AgeBand = "14" }, "age_band", nil},
		{"empty", func(a *v1.CrossBorderAlert) { a.Sex = "" }, "sex", nil},
		{"unknown", func(a *v1.CrossBorderAlert) { a.Exploitation[0] = "county lines" }, "exploitation[0]", nil},
		{"duplicate", func(a *v1.CrossBorderAlert) { a.Exploitation[1] = a.Exploitation[0] }, "exploitation[1]", nil},
		{"seven", func(a *v1.CrossBorderAlert) {
			a.Exploitation = append(slices.Clone(v1.ExploitationTypes), v1.ExploitationSexual)
		}, "exploitation", nil},
		{"63 bytes", func(a *v1.CrossBorderAlert) { a.MatchTokens[0] = a.MatchTokens[0][:63] }, "tokens[0]", nil},
		{"65 bytes", func(a *v1.CrossBorderAlert) { a.MatchTokens[1] = append(a.MatchTokens[1], 0) }, "tokens[1]", nil},
		{"empty", func(a *v1.CrossBorderAlert) { a.MatchTokens[1] = []byte{} }, "tokens[1]", nil},
		{"65 tokens", func(a *v1.CrossBorderAlert) {
			a.MatchTokens = slices.Repeat(a.MatchTokens[:1], v1.MaxMatchTokens+1)
		}, "tokens", nil},
		{"63 bytes", func(a *v1.CrossBorderAlert) { a.Signature = a.Signature[:63] }, "sig", nil},
		{"empty", func(a *v1.CrossBorderAlert) { a.Signature = []byte{} }, "sig", nil},
	})
}

func TestValidateAlertAck(t *testing.T) {
	checkMutations(t, goldenAlertAck, []mutation[*v1.AlertAck]{
		{"empty", func(a *v1.AlertAck) { a.AlertID = "" }, "alert", nil},
		{"not hex", func(a *v1.AlertAck) { a.AlertID = "zz" + alertID[2:] }, "alert", nil},
		{"unknown", func(a *v1.AlertAck) { a.Issuer = "ZZZ" }, "issuer", nil},
		{"empty", func(a *v1.AlertAck) { a.From = "" }, "from", nil},
		{"free text", func(a *v1.AlertAck) { a.From = v1.AuthorityCode(freeText) }, "from", nil},
		{"zero", func(a *v1.AlertAck) { a.ReceivedAt = time.Time{} }, "received_at", nil},
		{"not UTC", func(a *v1.AlertAck) { a.ReceivedAt = inBST(a.ReceivedAt) }, "received_at", nil},
		{"65 bytes", func(a *v1.AlertAck) { a.Signature = append(a.Signature, 0) }, "sig", nil},
	})
}

func TestValidateRelocationRequest(t *testing.T) {
	checkMutations(t, goldenRelocationRequest, []mutation[*v1.RelocationRequest]{
		{"empty", func(r *v1.RelocationRequest) { r.ID = "" }, "id", nil},
		{"not a case ID", func(r *v1.RelocationRequest) { r.CaseRef = "ISL-xyz" }, "case", nil},
		{"unknown authority", func(r *v1.RelocationRequest) { r.CaseRef = "ZZZ-3f9a0c1b2d4e5f60" }, "case", nil},
		{"unknown", func(r *v1.RelocationRequest) { r.Origin = "ZZZ" }, "origin", nil},
		{"empty", func(r *v1.RelocationRequest) { r.Destination = "" }, "destination", nil},
		{"same as origin", func(r *v1.RelocationRequest) { r.Destination = r.Origin }, "destination", nil},
		{"zero", func(r *v1.RelocationRequest) { r.RequestedAt = time.Time{} }, "requested_at", nil},
		{"not UTC", func(r *v1.RelocationRequest) { r.RequestedAt = inBST(r.RequestedAt) }, "requested_at", nil},
		{"unknown", func(r *v1.RelocationRequest) { r.Reason = "moved" }, "reason", nil},
		{"29 February 2025", func(r *v1.RelocationRequest) { r.MoveDate = "2025-02-29" }, "move_date", nil},
		{"free text", func(r *v1.RelocationRequest) { r.MoveDate = v1.Date(freeText) }, "move_date", nil},
		{"a date of birth", func(r *v1.RelocationRequest) { r.MoveDate = "2009-06-15" }, "move_date", nil},
		{"over a year after the request", func(r *v1.RelocationRequest) { r.MoveDate = "2026-08-12" }, "move_date", nil},
		{"empty", func(r *v1.RelocationRequest) { r.Urgency = "" }, "urgency", nil},
		{"unknown", func(r *v1.RelocationRequest) { r.AgeBand = "17" }, "age_band", nil},
		{"unknown", func(r *v1.RelocationRequest) { r.Sex = "F" }, "sex", nil},
		{"unknown", func(r *v1.RelocationRequest) { r.Exploitation[0] = "grooming" }, "exploitation[0]", nil},
		{"duplicate", func(r *v1.RelocationRequest) { r.Exploitation[2] = v1.ExploitationCriminal }, "exploitation[2]", nil},
		{"county lines without criminal", func(r *v1.RelocationRequest) {
			r.Exploitation = []v1.ExploitationType{v1.ExploitationSexual}
		}, "county_lines", nil},
		{"unknown", func(r *v1.RelocationRequest) { r.NRMState = "done" }, "nrm_state", nil},
		{"empty", func(r *v1.RelocationRequest) { r.LegalBasis = "" }, "basis", nil},
	})
}

func TestValidateRelocationResponse(t *testing.T) {
	checkMutations(t, goldenRelocationResponse, []mutation[*v1.RelocationResponse]{
		{"bad ID", func(r *v1.RelocationResponse) { r.RequestID = "request-1" }, "request", nil},
		{"unknown", func(r *v1.RelocationResponse) { r.Decision = "maybe" }, "decision", nil},
		{"empty", func(r *v1.RelocationResponse) { r.Decision = "" }, "decision", nil},
		{"unknown", func(r *v1.RelocationResponse) { r.By = "ZZZ" }, "by", nil},
		{"zero", func(r *v1.RelocationResponse) { r.At = time.Time{} }, "at", nil},
		{"rejected without a reason", func(r *v1.RelocationResponse) { r.Reason = "" }, "reason", nil},
		{"too long", func(r *v1.RelocationResponse) { r.Reason = strings.Repeat("z", 5*v1.MaxShortText+1) }, "reason", nil},
		{"escape", func(r *v1.RelocationResponse) { r.Reason = escapeSeq }, "reason", nil},
	})
}

// votePaths lists the member paths of the golden panel's votes, which a change
// to attendance may make invalid too.
func votePaths() []string {
	var out []string
	for i := range goldenPanelDecision().Votes {
		out = append(out, fmt.Sprintf("votes[%d].member", i))
	}
	return out
}

func TestValidatePanelDecision(t *testing.T) {
	checkMutations(t, goldenPanelDecision, []mutation[*v1.PanelDecision]{
		{"empty", func(d *v1.PanelDecision) { d.ID = "" }, "id", nil},
		{"spaces and capitals", func(d *v1.PanelDecision) { d.Panel = "Islington Camden" }, "panel", nil},
		{"too short", func(d *v1.PanelDecision) { d.Panel = "ic" }, "panel", nil},
		{"trailing dash", func(d *v1.PanelDecision) { d.Panel = "islington-" }, "panel", nil},
		{"bad", func(d *v1.PanelDecision) { d.CaseRef = "3f9a0c1b2d4e5f60" }, "case", nil},
		{"unknown", func(d *v1.PanelDecision) { d.LeadAuthority = "ZZZ" }, "lead", nil},
		{"zero", func(d *v1.PanelDecision) { d.MeetingAt = time.Time{} }, "meeting_at", nil},
		{"not UTC", func(d *v1.PanelDecision) { d.DecidedAt = inBST(d.DecidedAt) }, "decided_at", nil},
		{"nobody", func(d *v1.PanelDecision) { d.Attendance = nil }, "attendance", votePaths()},
		{"65 attendees", func(d *v1.PanelDecision) {
			for i := len(d.Attendance); i <= 64; i++ {
				d.Attendance = append(d.Attendance, v1.Attendee{MemberID: fmt.Sprintf("adv-%d", i), Capacity: v1.CapacityAdviser})
			}
		}, "attendance", votePaths()},
		{"empty", func(d *v1.PanelDecision) { d.Attendance[5].MemberID = "" }, "attendance[5].member", nil},
		{"attends twice", func(d *v1.PanelDecision) { d.Attendance[5].MemberID = "la-isl-07" }, "attendance[5].member", nil},
		{"unknown", func(d *v1.PanelDecision) { d.Attendance[5].Capacity = "teacher" }, "attendance[5].capacity", nil},
		{"local authority without one", func(d *v1.PanelDecision) { d.Attendance[1].Authority = "" }, "attendance[1].authority", nil},
		{"unknown", func(d *v1.PanelDecision) { d.Attendance[2].Authority = "ZZZ" }, "attendance[2].authority", nil},
		{"two chairs", func(d *v1.PanelDecision) { d.Attendance[1].Chair = true }, "attendance", nil},
		{"no chair", func(d *v1.PanelDecision) { d.Attendance[0].Chair = false }, "attendance", nil},
		{"none", func(d *v1.PanelDecision) { d.Votes = nil }, "votes", nil},
		{"empty list", func(d *v1.PanelDecision) { d.Votes = []v1.Vote{} }, "votes", nil},
		{"129", func(d *v1.PanelDecision) { d.Votes = slices.Repeat(d.Votes[:1], 129) }, "votes", nil},
		{"by a non-attendee", func(d *v1.PanelDecision) { d.Votes[0].MemberID = "visitor-01" }, "votes[0].member", nil},
		{"by the ICTG, who does not vote", func(d *v1.PanelDecision) { d.Votes[0].MemberID = "ictg-jellis" }, "votes[0].member", nil},
		{"by an adviser", func(d *v1.PanelDecision) { d.Votes[4].MemberID = "edu-isl-02" }, "votes[4].member", nil},
		{"twice on one stage", func(d *v1.PanelDecision) { d.Votes[1] = d.Votes[0] }, "votes[1].member", nil},
		{"empty member", func(d *v1.PanelDecision) { d.Votes[2].MemberID = "" }, "votes[2].member", nil},
		{"unknown", func(d *v1.PanelDecision) { d.Votes[3].Stage = "appeal" }, "votes[3].stage", nil},
		{"unknown", func(d *v1.PanelDecision) { d.Votes[3].Choice = "yes" }, "votes[3].choice", nil},
		{"none", func(d *v1.PanelDecision) { d.Outcomes = nil }, "outcomes", nil},
		{"three", func(d *v1.PanelDecision) { d.Outcomes = append(d.Outcomes, d.Outcomes[0]) }, "outcomes", nil},
		{"stage twice", func(d *v1.PanelDecision) { d.Outcomes[1].Stage = v1.StageRG }, "outcomes[1].stage", nil},
		{"unknown", func(d *v1.PanelDecision) { d.Outcomes[0].Outcome = "unclear" }, "outcomes[0].outcome", nil},
		{"empty", func(d *v1.PanelDecision) { d.Outcomes[1].TestApplied = "" }, "outcomes[1].test", nil},
		{"empty", func(d *v1.PanelDecision) { d.Reasons = "" }, "reasons", nil},
		{"empty", func(d *v1.PanelDecision) { d.ChildViews = "" }, "child_views", nil},
		{"too long", func(d *v1.PanelDecision) { d.ChildViews = long20001 }, "child_views", nil},
	})
}

func TestValidateAuditEntry(t *testing.T) {
	checkMutations(t, goldenAuditEntry, []mutation[*v1.AuditEntry]{
		{"zero", func(e *v1.AuditEntry) { e.At = time.Time{} }, "at", nil},
		{"not UTC", func(e *v1.AuditEntry) { e.At = inBST(e.At) }, "at", nil},
		{"unknown", func(e *v1.AuditEntry) { e.Authority = "ZZZ" }, "authority", nil},
		{"empty", func(e *v1.AuditEntry) { e.Actor = "" }, "actor", nil},
		{"newline", func(e *v1.AuditEntry) { e.Role = "admin\nroot" }, "role", nil},
		{"no verb", func(e *v1.AuditEntry) { e.Action = "share" }, "action", nil},
		{"capitals", func(e *v1.AuditEntry) { e.Action = "Case.Read" }, "action", nil},
		{"empty", func(e *v1.AuditEntry) { e.Action = "" }, "action", nil},
		{"1 MB", func(e *v1.AuditEntry) { e.Action = v1.AuditAction(megabyte) }, "action", nil},
		{"too long", func(e *v1.AuditEntry) { e.Subject = short201 }, "subject", nil},
		{"escape", func(e *v1.AuditEntry) { e.Recipient = escapeSeq }, "recipient", nil},
		{"too long", func(e *v1.AuditEntry) { e.Purpose = strings.Repeat("p", 5*v1.MaxShortText+1) }, "purpose", nil},
		{"unknown", func(e *v1.AuditEntry) { e.LegalBasis = "consent" }, "basis", nil},
		{"empty", func(e *v1.AuditEntry) { e.Outcome = "" }, "outcome", nil},
		{"NUL", func(e *v1.AuditEntry) { e.Reason = "\x00" }, "reason", nil},
	})
}

// TestValidateAccepts lists changes that must stay valid, so that the tables
// above do not pass merely because Validate refuses everything.
func TestValidateAccepts(t *testing.T) {
	cases := []struct {
		name string
		rec  func() v1.Record
	}{
		{"alert to the whole country only", func() v1.Record {
			a := goldenAlert()
			a.TargetAuthorities, a.TargetRegions, a.Signature = nil, nil, nil
			return a
		}},
		{"alert lasting exactly 30 days", func() v1.Record {
			a := goldenAlert()
			a.ExpiresAt = a.IssuedAt.Add(v1.MaxAlertLifetime)
			return a
		}},
		{"alert with no optional fields", func() v1.Record {
			a := goldenAlert()
			a.TargetRegions, a.National, a.Exploitation, a.MatchTokens, a.Signature = nil, false, nil, nil, nil
			return a
		}},
		{"case with the minimum", func() v1.Record {
			c := goldenCase()
			c.LeadWorker, c.NextDeadline = "", nil
			c.Identity = v1.ChildIdentity{Names: []v1.PersonName{{Kind: v1.NameUsed, Given: "Unknown"}}, Sex: v1.SexUnknown}
			c.Referral.ExploitationTypes, c.Referral.CountyLines = []v1.ExploitationType{v1.ExploitationUnknown}, false
			c.Safeguarding = v1.Safeguarding{}
			c.Risk, c.Advocate, c.WishesAndFeelings, c.Decisions = nil, nil, nil, nil
			c.Reconsiderations, c.Assurance, c.PostExitReviews, c.Relocations = nil, nil, nil, nil
			return c
		}},
		{"names in many scripts, 200 characters each", func() v1.Record {
			c := goldenCase()
			c.Identity.Names[1].Original = strings.Repeat("ሉ", v1.MaxShortText) // 600 bytes, 200 characters
			c.Identity.Names[2].Original = "Nguyễn Thị Minh Khai"
			c.Identity.Names[3].Family = "Ó Súilleabháin-Kowalczyk"
			return c
		}},
		{"documented date of birth", func() v1.Record {
			c := goldenCase()
			c.Identity.DateOfBirth = &v1.DateOfBirth{Date: "2008-02-29"}
			return c
		}},
		{"pending reconsideration without a decision date", func() v1.Record {
			c := goldenCase()
			c.Reconsiderations[0].Outcome, c.Reconsiderations[0].DecidedAt = v1.ReconsiderationPending, nil
			return c
		}},
		{"move a year after the request", func() v1.Record {
			r := goldenRelocationRequest()
			r.MoveDate = "2026-08-11"
			return r
		}},
		{"move a year before the request", func() v1.Record {
			r := goldenRelocationRequest()
			r.MoveDate = "2024-08-11"
			return r
		}},
		{"accepted relocation needs no reason", func() v1.Record {
			r := goldenRelocationResponse()
			r.Decision, r.Reason = v1.RelocationAccept, ""
			return r
		}},
		{"panel with one stage and an abstention", func() v1.Record {
			d := goldenPanelDecision()
			d.Votes = d.Votes[:4]
			d.Votes[3].Choice = v1.VoteAbstain
			d.Outcomes = d.Outcomes[:1]
			return d
		}},
		{"audit entry by the node, no basis", func() v1.Record {
			e := goldenAuditEntry()
			e.Actor, e.Role, e.Subject, e.Recipient, e.Purpose, e.LegalBasis, e.Reason = "node", "", "", "", "", "", ""
			e.Action = v1.ActionBackupCreate
			return e
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.rec()
			if err := r.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			b := mustMarshal(t, r)
			back, err := v1.Unmarshal(b)
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if again := mustMarshal(t, back); !bytes.Equal(again, b) {
				t.Errorf("re-marshal differs")
			}
		})
	}
}

// TestDecoderRefusesHostileText smuggles hostile text past Validate by writing
// the bytes directly, and checks the decoder names the field.
func TestDecoderRefusesHostileText(t *testing.T) {
	golden := mustGoldenBytes(t, schemas.KindCase)
	replace := func(old, new string) []byte {
		t.Helper()
		if len(old) != len(new) {
			t.Fatal("replacement must keep the length")
		}
		if bytes.Count(golden, []byte(old)) != 1 {
			t.Fatalf("%q does not occur exactly once in the golden case", old)
		}
		return bytes.Replace(golden, []byte(old), []byte(new), 1)
	}
	cases := []struct {
		name string
		data []byte
		want error
		path string
	}{
		// 0x66 and 0x64 are the text-string heads, so the match is the whole value.
		{"invalid UTF-8", replace("\x66Tesfay", "\x66Tesf\xffy"), schemas.ErrMalformed, "identity.names[0].family"},
		{"overlong UTF-8 for a slash", replace("\x66Tesfay", "\x66Tes\xc0\xafy"), schemas.ErrMalformed, "identity.names[0].family"},
		{"UTF-16 surrogate", replace("\x66Tesfay", "\x66Te\xed\xa0\x80y"), schemas.ErrMalformed, "identity.names[0].family"},
		{"control character", replace("\x64Lula", "\x64Lu\x07a"), schemas.ErrInvalid, "identity.names[0].given"},
		{"newline in a one-line field", replace("\x64Lula", "\x64Lu\na"), schemas.ErrInvalid, "identity.names[0].given"},
		{"unknown enum value", replace("\x63ERI", "\x63eri"), schemas.ErrInvalid, "identity.nationalities[0]"},
		{"unknown authority", replace("\x63MAN", "\x63MXN"), schemas.ErrInvalid, "relocations[0].to"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := v1.Unmarshal(c.data)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), "field "+c.path+": ") {
				t.Errorf("error does not name field %s: %v", c.path, err)
			}
		})
	}
}

// TestDecoderRefusesHugeValues seals records that Validate would refuse,
// bypassing v1.Marshal, and checks that Unmarshal refuses them with a short
// error naming the field.
func TestDecoderRefusesHugeValues(t *testing.T) {
	big := strings.Repeat("N", schemas.MaxEnvelopeSize-2048) // fits in the envelope
	alertWith := func(f func(*v1.CrossBorderAlert)) []byte {
		a := goldenAlert()
		f(a)
		b, err := schemas.Seal(schemas.KindAlert, v1.Version, a)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name string
		data []byte
		path string
	}{
		{"1 MB region", alertWith(func(a *v1.CrossBorderAlert) { a.TargetRegions[0] = big }), "regions[0]"},
		{"1 MB alert type", alertWith(func(a *v1.CrossBorderAlert) { a.Type = v1.AlertType(big) }), "type"},
		{"1 MB contact route", alertWith(func(a *v1.CrossBorderAlert) { a.Contact = v1.ContactRoute(big) }), "contact"},
		{"4096 tokens", alertWith(func(a *v1.CrossBorderAlert) {
			a.MatchTokens = slices.Repeat([][]byte{{1}}, schemas.MaxElements)
		}), "tokens"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := v1.Unmarshal(c.data)
			if !errors.Is(err, schemas.ErrInvalid) {
				t.Fatalf("err = %.300v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), "field "+c.path+": ") {
				t.Errorf("error does not name field %s: %.300v", c.path, err)
			}
			if len(err.Error()) > 512 {
				t.Errorf("error is %d bytes; hostile values must be quoted short", len(err.Error()))
			}
		})
	}
}

// TestListsWithoutOmitemptyAreRequired guards the one-encoding rule. A list
// field without omitempty encodes a nil list as null and an empty one as [],
// and both decode back to themselves, so a record with such an empty list
// would have two encodings and two CIDs. Every such list must therefore be
// required to be non-empty; an optional list must be omitempty.
func TestListsWithoutOmitemptyAreRequired(t *testing.T) {
	var found []string
	defer func() {
		want := []string{
			"case.identity.names", "case.referral.exploitation",
			"panel_decision.attendance", "panel_decision.votes", "panel_decision.outcomes",
		}
		if !slices.Equal(found, want) {
			t.Errorf("lists without omitempty: %q, want %q", found, want)
		}
	}()
	for _, g := range goldens {
		var lists []string
		var walk func(v reflect.Value, path string)
		walk = func(v reflect.Value, path string) {
			switch v.Kind() {
			case reflect.Pointer:
				if !v.IsNil() {
					walk(v.Elem(), path)
				}
			case reflect.Struct:
				if v.Type() == reflect.TypeFor[time.Time]() {
					return
				}
				for i := 0; i < v.NumField(); i++ {
					name, opts, _ := strings.Cut(v.Type().Field(i).Tag.Get("cbor"), ",")
					f := v.Field(i)
					p := strings.TrimPrefix(path+"."+name, ".")
					if f.Kind() == reflect.Slice && f.Type().Elem().Kind() != reflect.Uint8 {
						if !strings.Contains(opts, "omitempty") {
							lists = append(lists, p)
						}
						if f.Len() > 0 {
							walk(f.Index(0), p+"[0]")
						}
						continue
					}
					walk(f, p)
				}
			}
		}
		walk(reflect.ValueOf(g.record()), "")
		for _, p := range lists {
			found = append(found, string(g.kind)+"."+p)
			for _, empty := range []string{"nil", "empty"} {
				r := g.record()
				clearList(reflect.ValueOf(r).Elem(), strings.Split(p, "."), empty == "nil")
				err := r.Validate()
				if err == nil || !slices.Contains(fieldPaths(err), p) {
					t.Errorf("%s.%s: a %s list is accepted (err = %v); require it or make it omitempty",
						g.kind, p, empty, err)
				}
			}
		}
	}
}

// clearList sets the list at a path of CBOR keys ("identity.names",
// "attendance", "x[0].y") to nil or to an empty list.
func clearList(v reflect.Value, keys []string, toNil bool) {
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	key, index, indexed := strings.Cut(keys[0], "[")
	for i := 0; i < v.NumField(); i++ {
		if name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("cbor"), ","); name != key {
			continue
		}
		f := v.Field(i)
		if len(keys) == 1 {
			if toNil {
				f.Set(reflect.Zero(f.Type()))
			} else {
				f.Set(reflect.MakeSlice(f.Type(), 0, 0))
			}
			return
		}
		if indexed && index == "0]" {
			f = f.Index(0)
		}
		clearList(f, keys[1:], toNil)
		return
	}
	panic("no field " + key)
}
