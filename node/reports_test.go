package node

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"nrmnet/node/report"
	v1 "nrmnet/schemas/v1"
)

// perCaseStore hides the store's bulk read: the node falls back to reading
// case by case, as it did before storage had ExportCases.
type perCaseStore struct{ Store }

func (f *fixture) perCaseNode(t *testing.T) *Node {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Store = perCaseStore{f.store}
	cfg.Authority = testAuthority
	cfg.Now = f.clock.Now
	cfg.Logger = testLogger(t)
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// countActions counts the entries of each action since from.
func (f *fixture) countActions(t *testing.T, from int64) map[v1.AuditAction][]v1.AuditEntry {
	t.Helper()
	out := map[v1.AuditAction][]v1.AuditEntry{}
	for _, e := range f.auditSince(t, from) {
		out[e.Action] = append(out[e.Action], e)
	}
	return out
}

// TestQuarterlyReturnIsOneAuditedExport: the return reads every case in one
// bulk read, audited once in the name of who asked with the purpose, the
// basis and the count, and no case is read one by one; roles that may not
// read reports are refused, and the refusal audited.
func TestQuarterlyReturnIsOneAuditedExport(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for range 3 {
		f.mustCreate(t)
	}
	before := f.auditSize(t)
	ret, err := f.node.QuarterlyReturn(ctx, f.users[RoleRegionalCoordinator], report.QuarterOf(start))
	if err != nil {
		t.Fatal(err)
	}
	if ret.Quarter != report.QuarterOf(start) {
		t.Fatalf("return for %v", ret.Quarter)
	}
	got := f.countActions(t, before)
	if len(got[v1.ActionCaseRead]) != 0 {
		t.Errorf("%d cases read one by one for the return", len(got[v1.ActionCaseRead]))
	}
	ex := got[v1.ActionCaseExport]
	if len(ex) != 1 {
		t.Fatalf("%d export entries, want 1: %+v", len(ex), ex)
	}
	if e := ex[0]; e.Actor != "region" || e.Purpose != reportPurpose || e.LegalBasis != v1.BasisPublicTask ||
		e.Subject != "all cases (3)" || e.Outcome != v1.AuditAllowed {
		t.Errorf("return's read audited as %+v", e)
	}

	before = f.auditSize(t)
	if _, err := f.node.QuarterlyReturn(ctx, f.users[RolePanelMember], report.QuarterOf(start)); !errors.Is(err, ErrForbidden) {
		t.Fatalf("panel member: %v", err)
	}
	got = f.countActions(t, before)
	if len(got[v1.ActionCaseExport]) != 0 || len(got["report.quarterly"]) != 1 || got["report.quarterly"][0].Outcome != v1.AuditDenied {
		t.Errorf("a refused return audited as %+v", f.auditSince(t, before))
	}
}

// TestReportsBulkReadMatchesPerCase: the bulk read and the case-by-case
// read give the same return and the same dataset; the per-case path audits
// each read (it is what a store without ExportCases gets).
func TestReportsBulkReadMatchesPerCase(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var erased *v1.Case
	for i := range 4 {
		c := f.mustCreate(t)
		if i == 0 {
			erased = c
		}
		f.clock.Advance(36 * 60 * 60 * 1e9) // 36 h: referrals on different days
	}
	if err := f.store.EraseChild(ctx, erased.ChildID, f.users[RoleAdministrator].access("erasure request", v1.BasisPublicTask)); err != nil {
		t.Fatal(err)
	}
	old := f.perCaseNode(t)
	q := report.QuarterOf(start)
	who := f.users[RoleRegionalCoordinator]

	before := f.auditSize(t)
	perCase, err := old.QuarterlyReturn(ctx, who, q)
	if err != nil {
		t.Fatal(err)
	}
	if reads := f.countActions(t, before)[v1.ActionCaseRead]; len(reads) != 3 {
		t.Errorf("per-case path: %d audited reads for 3 live cases", len(reads))
	}
	bulk, err := f.node.QuarterlyReturn(ctx, who, q)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(perCase, bulk) {
		t.Errorf("returns differ:\nper case %+v\nbulk     %+v", perCase, bulk)
	}

	who = f.users[RoleNRMCoordinator]
	rowsPerCase, err := old.ReferralDataset(ctx, who, q)
	if err != nil {
		t.Fatal(err)
	}
	before = f.auditSize(t)
	rows, err := f.node.ReferralDataset(ctx, who, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Errorf("%d rows for 3 live referrals (one erased)", len(rows))
	}
	if !reflect.DeepEqual(rows, rowsPerCase) {
		t.Errorf("datasets differ:\nper case %+v\nbulk     %+v", rowsPerCase, rows)
	}
	got := f.countActions(t, before)
	if ex := got[v1.ActionCaseExport]; len(ex) != 1 || ex[0].Purpose != referralsPurpose || ex[0].Subject != "all cases (3)" || len(got[v1.ActionCaseRead]) != 0 {
		t.Errorf("dataset's read audited as %+v", f.auditSince(t, before))
	}
}

func TestReferralDatasetRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.mustCreate(t)
	for _, r := range []Role{RolePanelMember, RoleAuditor, RoleAdvocate, RoleRegionalCoordinator, RoleSocialWorker} {
		before := f.auditSize(t)
		if _, err := f.node.ReferralDataset(ctx, f.users[r], report.QuarterOf(start)); !errors.Is(err, ErrForbidden) {
			t.Errorf("%s: %v, want ErrForbidden", r, err)
		}
		if got := f.countActions(t, before); len(got[v1.ActionCaseExport]) != 0 || len(got["report.referrals"]) != 1 {
			t.Errorf("%s: refusal audited as %+v", r, f.auditSince(t, before))
		}
	}
	if _, err := f.node.ReferralDataset(ctx, f.users[RoleNRMCoordinator], report.Quarter{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero quarter: %v, want ErrInvalid", err)
	}
}
