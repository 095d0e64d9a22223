package v1_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// The closed-case vector pins the fields added to Case after the first
// release (scope, closure, the assurance history, the transfer-in conference,
// the reconsideration's link to its decision, who decided). The first case
// vector leaves them unset and keeps its bytes: that is what "additive" means.
const closedCaseGolden = "case_closed"

// goldenClosedCase is the golden case, closed after its reviews, with every
// field added since the first release set.
func goldenClosedCase() *v1.Case {
	c := goldenCase()
	c.State = v1.StateClosed
	c.Revision = 57
	c.UpdatedAt = at(2026, 7, 20, 10, 0, 0, 0)
	c.NextDeadline = nil
	c.PostExitReviews[1].HeldAt = ptr(at(2026, 7, 14, 11, 0, 0, 0))
	c.PostExitReviews[1].Outcome = "Settled at school; plan ended."
	c.Decisions[0].DecidedBy = "Islington and Camden combined panel"
	c.Decisions[1].DecidedBy = "Islington and Camden combined panel"
	c.Decisions[2].DecidedBy = "Islington and Camden combined panel"
	c.Reconsiderations[0].Decision = ptr(0)
	c.Reconsiderations[0].DecidedBy = chairMember
	c.Assurance = &v1.Assurance{
		Status:      v1.AssuranceAssured,
		SubmittedAt: at(2025, 5, 6, 9, 0, 0, 0),
		ResolvedAt:  ptr(at(2025, 5, 20, 9, 0, 0, 0)),
		History: []v1.AssuranceStep{
			{Status: v1.AssuranceSubmitted, At: at(2025, 4, 7, 9, 0, 0, 0), By: leadWorker},
			{Status: v1.AssuranceQueried, At: at(2025, 4, 28, 9, 0, 0, 0), By: "sca",
				Query: "Please add how the child's views were taken into account at the RG stage."},
			{Status: v1.AssuranceSubmitted, At: at(2025, 5, 6, 9, 0, 0, 0), By: leadWorker},
			{Status: v1.AssuranceAssured, At: at(2025, 5, 20, 9, 0, 0, 0), By: "sca"},
		},
	}
	c.Relocations = append(c.Relocations, v1.RelocationRecord{
		RequestID: "4d7a0e3b6c9f2a5d8e1b4c7f0a3d6e9b", From: "KEN", To: "ISL",
		RequestedAt: at(2025, 2, 24, 10, 0, 0, 0), Status: v1.RelocationAccepted,
		ResolvedAt: ptr(at(2025, 2, 26, 15, 0, 0, 0)), ConferenceAt: ptr(at(2025, 3, 12, 10, 0, 0, 0)),
	})
	c.Scope = &v1.ScopeAssessment{
		AgeAtReferral: ptr(15), DaysToEighteenth: ptr(1200), Uncertain: true,
		Outcome:    v1.ScopeInScope,
		Reason:     "Estimated date of birth; the window crosses the boundary. The age assessment supports 15.",
		AssessedAt: at(2025, 3, 3, 11, 0, 0, 0), AssessedBy: leadWorker,
	}
	c.Closure = &v1.Closure{
		Reason: v1.ClosureReviewsComplete, Note: "Both post-exit reviews held; the plan worked.",
		ClosedAt: at(2026, 7, 20, 10, 0, 0, 0), ClosedBy: leadWorker,
	}
	return c
}

func closedCasePath(ext string) string {
	return filepath.Join("testdata", "golden", closedCaseGolden+ext)
}

// TestGoldenClosedCase pins the closed case's bytes and CID, as TestGolden
// does for the first vector of each kind.
func TestGoldenClosedCase(t *testing.T) {
	rec := goldenClosedCase()
	if err := rec.Validate(); err != nil {
		t.Fatalf("fixture invalid: %v", err)
	}
	got := mustMarshal(t, rec)
	cid, err := v1.CID(rec)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		writeFile(t, closedCasePath(".cbor"), got)
		writeFile(t, closedCasePath(".cid"), []byte(cid+"\n"))
		writeFile(t, closedCasePath(".diag"), []byte(diagnose(t, got)))
	}
	want, err := os.ReadFile(closedCasePath(".cbor"))
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("v1.Marshal(closed case) differs from %s\ndiag:\n%s", closedCasePath(".cbor"), diagnose(t, got))
	}
	if wantCID := readTrimmed(t, closedCasePath(".cid")); cid != wantCID || independentCID(want) != wantCID {
		t.Errorf("CID = %s (by hand %s), want %s", cid, independentCID(want), wantCID)
	}
	if d := readTrimmed(t, closedCasePath(".diag")); d != strings.TrimSpace(diagnose(t, want)) {
		t.Errorf("%s does not describe the bytes; run with -update", closedCasePath(".diag"))
	}
	back, err := v1.UnmarshalCase(want)
	if err != nil {
		t.Fatalf("UnmarshalCase(golden): %v", err)
	}
	if !reflect.DeepEqual(back, rec) {
		t.Errorf("decoded differs from the fixture\n got: %#v\nwant: %#v", back, rec)
	}
	// The first case vector does not carry the new keys at all.
	first := mustGoldenBytes(t, schemas.KindCase)
	for _, key := range []string{"scope", "closure", "history", "conference_at", "decided_by"} {
		if bytes.Contains(first, []byte(key)) {
			t.Errorf("the first case vector contains %q: the addition is not omitted when empty", key)
		}
		if !bytes.Contains(want, []byte(key)) {
			t.Errorf("the closed case vector lacks %q", key)
		}
	}
}

func mustClosedCaseBytes(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(closedCasePath(".cbor"))
	if err != nil {
		tb.Fatalf("%v (run go test ./schemas/v1/ -run 'TestGolden|TestSeedCorpus' -args -update)", err)
	}
	return b
}

// TestValidateAdditions: every field added after the first release is
// checked, and an invalid value is reported under its own name.
func TestValidateAdditions(t *testing.T) {
	checkMutations(t, goldenClosedCase, []mutation[*v1.Case]{
		{"negative age", func(c *v1.Case) { c.Scope.AgeAtReferral = ptr(-1) }, "scope.age_at_referral", nil},
		{"absurd age", func(c *v1.Case) { c.Scope.AgeAtReferral = ptr(500) }, "scope.age_at_referral", nil},
		{"absurd days", func(c *v1.Case) { c.Scope.DaysToEighteenth = ptr(99999) }, "scope.days_to_18", nil},
		{"days without age", func(c *v1.Case) { c.Scope.AgeAtReferral = nil }, "scope.days_to_18", nil},
		{"unknown", func(c *v1.Case) { c.Scope.Outcome = "maybe" }, "scope.outcome", nil},
		{"empty", func(c *v1.Case) { c.Scope.Outcome = "" }, "scope.outcome", nil},
		{"age-disputed in scope", func(c *v1.Case) { c.Scope.AgeDisputed = true }, "scope.outcome", nil},
		{"18 in scope", func(c *v1.Case) { c.Scope.Uncertain, c.Scope.DaysToEighteenth = false, ptr(-3) }, "scope.outcome", nil},
		{"empty", func(c *v1.Case) { c.Scope.Reason = "" }, "scope.reason", nil},
		{"zero", func(c *v1.Case) { c.Scope.AssessedAt = time.Time{} }, "scope.assessed_at", nil},
		{"not UTC", func(c *v1.Case) { c.Scope.AssessedAt = inBST(c.Scope.AssessedAt) }, "scope.assessed_at", nil},
		{"empty", func(c *v1.Case) { c.Scope.AssessedBy = "" }, "scope.assessed_by", nil},
		{"multiline", func(c *v1.Case) { c.Scope.AssessedBy = "a\nb" }, "scope.assessed_by", nil},
		{"unknown", func(c *v1.Case) { c.Closure.Reason = "bored" }, "closure.reason", nil},
		{"case not closed", func(c *v1.Case) { c.State = v1.StatePostExitReview }, "closure.reason", nil},
		{"other without a note", func(c *v1.Case) { c.Closure.Reason, c.Closure.Note = v1.ClosureOther, "" }, "closure.note", nil},
		{"escape", func(c *v1.Case) { c.Closure.Note = escapeSeq }, "closure.note", nil},
		{"zero", func(c *v1.Case) { c.Closure.ClosedAt = time.Time{} }, "closure.closed_at", nil},
		{"empty", func(c *v1.Case) { c.Closure.ClosedBy = "" }, "closure.closed_by", nil},
		{"not accepted", func(c *v1.Case) { c.Relocations[1].ConferenceAt = ptr(at(2025, 9, 1, 9, 0, 0, 0)) }, "relocations[1].conference_at", nil},
		{"before acceptance", func(c *v1.Case) { c.Relocations[2].ConferenceAt = ptr(at(2025, 2, 25, 9, 0, 0, 0)) }, "relocations[2].conference_at", nil},
		{"not UTC", func(c *v1.Case) { c.Relocations[2].ConferenceAt = ptr(inBST(*c.Relocations[2].ConferenceAt)) }, "relocations[2].conference_at", nil},
		{"out of range", func(c *v1.Case) { c.Reconsiderations[0].Decision = ptr(3) }, "reconsiderations[0].decision", nil},
		{"negative", func(c *v1.Case) { c.Reconsiderations[0].Decision = ptr(-1) }, "reconsiderations[0].decision", nil},
		{"a positive decision", func(c *v1.Case) { c.Reconsiderations[0].Decision = ptr(1) }, "reconsiderations[0].decision", nil},
		{"multiline", func(c *v1.Case) { c.Reconsiderations[0].DecidedBy = "x\ny" }, "reconsiderations[0].decided_by", nil},
		{"too long", func(c *v1.Case) { c.Decisions[0].DecidedBy = strings.Repeat("p", v1.MaxShortText+1) }, "decisions[0].decided_by", nil},
		{"unknown", func(c *v1.Case) { c.Assurance.History[1].Status = "lost" }, "assurance.history[1].status", []string{"assurance.history[2].status"}},
		{"first not a submission", func(c *v1.Case) {
			c.Assurance.History[0].Status = v1.AssuranceQueried
			c.Assurance.History[0].Query = "q"
		}, "assurance.history[0].status", []string{"assurance.history[1].status"}},
		{"two submissions", func(c *v1.Case) {
			c.Assurance.History[1].Status, c.Assurance.History[1].Query = v1.AssuranceSubmitted, ""
		}, "assurance.history[1].status", []string{"assurance.history[2].status"}},
		{"zero", func(c *v1.Case) { c.Assurance.History[2].At = time.Time{} }, "assurance.history[2].at", nil},
		{"out of order", func(c *v1.Case) { c.Assurance.History[2].At = at(2025, 4, 1, 0, 0, 0, 0) }, "assurance.history[2].at", nil},
		{"empty", func(c *v1.Case) { c.Assurance.History[3].By = "" }, "assurance.history[3].by", nil},
		{"query missing", func(c *v1.Case) { c.Assurance.History[1].Query = "" }, "assurance.history[1].query", nil},
		{"query on assured", func(c *v1.Case) { c.Assurance.History[3].Query = "why" }, "assurance.history[3].query", nil},
		{"disagrees with status", func(c *v1.Case) { c.Assurance.Status = v1.AssuranceSubmitted }, "assurance.history", nil},
		{"too many", func(c *v1.Case) {
			h := c.Assurance.History
			for len(c.Assurance.History) <= 64 {
				c.Assurance.History = append(c.Assurance.History, h...)
			}
		}, "assurance.history", nil},
	})
}
