package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"nrmnet/node/workflow"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

func TestNewValidates(t *testing.T) {
	cfg := DefaultConfig()
	_, err := New(cfg)
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "Store") || !strings.Contains(err.Error(), "Authority") {
		t.Fatalf("New(empty) err = %v, want ErrInvalidConfig naming Store and Authority", err)
	}
	cfg = DefaultConfig()
	cfg.DueSoon = 0
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "DueSoon") {
		t.Fatalf("New(DueSoon 0) err = %v", err)
	}
}

func TestCreateReferralReadAndAudit(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	before := f.auditSize(t)
	created, err := f.node.CreateReferral(ctx, f.users[RoleSocialWorker], f.referral())
	if err != nil {
		t.Fatal(err)
	}
	c := created.Case
	if c.State != v1.StateReceived || c.Revision != 1 || c.LeadWorker != "sw" || c.Responsible != testAuthority {
		t.Fatalf("created case %s state %s rev %d lead %q", c.ID, c.State, c.Revision, c.LeadWorker)
	}
	// Amber triage: 24 hours from referral; the RG target (5 working days) is later.
	if c.NextDeadline == nil || !c.NextDeadline.Equal(start.Add(24*time.Hour)) {
		t.Fatalf("next deadline %v, want the amber triage at %v", c.NextDeadline, start.Add(24*time.Hour))
	}
	if !created.Scope.InScope {
		t.Fatalf("a 14-year-old is out of scope: %+v", created.Scope)
	}

	if _, err := f.node.Case(ctx, f.users[RolePanelMember], c.ID, Read{}); !errors.Is(err, ErrNoPurpose) {
		t.Fatalf("read without purpose: err = %v, want ErrNoPurpose", err)
	}
	rec, err := f.node.Case(ctx, f.users[RolePanelMember], c.ID, Read{Purpose: "prepare for panel"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Case.ID != c.ID || len(rec.Deadlines) != 2 || len(rec.Allowed) == 0 {
		t.Fatalf("read %+v", rec)
	}
	es := f.auditSince(t, before)
	if len(es) != 2 {
		t.Fatalf("%d audit entries, want create and read: %+v", len(es), es)
	}
	if es[0].Action != v1.ActionCaseCreate || es[0].Actor != "sw" || es[0].Subject != string(c.ID) {
		t.Errorf("create entry %+v", es[0])
	}
	read := es[1]
	if read.Action != v1.ActionCaseRead || read.Actor != "member" || read.Role != "panel_member" ||
		read.Purpose != "prepare for panel" || read.LegalBasis != DefaultBasis || read.Outcome != v1.AuditAllowed {
		t.Errorf("read entry %+v: want who, why and the legal basis", read)
	}
}

func TestCreateReferralRefusesInvalidAndStoresNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sw := f.users[RoleSocialWorker]
	for name, tc := range map[string]struct {
		change func(*NewReferral)
		want   string
	}{
		"no risk":           {func(r *NewReferral) { r.Risk = "" }, "risk"},
		"no names":          {func(r *NewReferral) { r.Identity.Names = nil }, "identity.names"},
		"future referral":   {func(r *NewReferral) { r.Referral.ReferredAt = f.clock.Now().Add(time.Hour) }, "referral.referred_at"},
		"county lines only": {func(r *NewReferral) { r.Referral.ExploitationTypes = []v1.ExploitationType{v1.ExploitationSexual} }, "county_lines"},
		"unknown lead":      {func(r *NewReferral) { r.LeadWorker = "nobody" }, "lead_worker"},
		"auditor as lead":   {func(r *NewReferral) { r.LeadWorker = "auditor" }, "lead_worker"},
		"bad child id":      {func(r *NewReferral) { r.ChildID = "XYZ" }, "child_id"},
	} {
		t.Run(name, func(t *testing.T) {
			before := f.auditSize(t)
			r := f.referral()
			tc.change(&r)
			_, err := f.node.CreateReferral(ctx, sw, r)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalid naming %s", err, tc.want)
			}
			if after := f.auditSize(t); after != before {
				t.Fatalf("a refused referral changed the audit log: %d -> %d", before, after)
			}
		})
	}
	list, err := f.node.ListCases(ctx, sw, CaseFilter{}, work)
	if err != nil || len(list.Cases) != 0 {
		t.Fatalf("cases stored after refusals: %v, %v", list, err)
	}
}

func TestStaleRevisionIsAConflict(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.mustCreate(t)
	sw := f.users[RoleSocialWorker]
	f.clock.Advance(time.Hour)
	rec, err := f.node.Apply(ctx, sw, Change{Case: c.ID, Revision: 1, Event: workflow.StartScopeCheck{}})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Case.Revision != 2 || rec.Case.State != v1.StateScopeCheck {
		t.Fatalf("after start_scope_check: rev %d state %s", rec.Case.Revision, rec.Case.State)
	}
	// A colleague still holding revision 1 changes the risk: refused.
	_, err = f.node.Apply(ctx, sw, Change{Case: c.ID, Revision: 1, Event: workflow.RateRisk{RAG: v1.RAGRed, Stage: v1.RiskReview}})
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "revision 2") {
		t.Fatalf("stale change: err = %v, want ErrConflict naming the current revision", err)
	}
	got := f.mustRead(t, c.ID)
	if got.Case.Revision != 2 || len(got.Case.Risk) != 1 {
		t.Fatalf("the stale change was stored: rev %d, %d ratings", got.Case.Revision, len(got.Case.Risk))
	}
}

// TestConcurrentChangesNeverOverwrite races changes made from one revision:
// exactly one is stored, every other gets ErrConflict.
func TestConcurrentChangesNeverOverwrite(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.mustCreate(t)
	sw := f.users[RoleSocialWorker]
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := workflow.RateRisk{RAG: v1.RAGRed, Stage: v1.RiskReview, Reason: fmt.Sprintf("writer %d", i)}
			_, errs[i] = f.node.Apply(ctx, sw, Change{Case: c.ID, Revision: 1, Event: ev})
		}()
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrConflict):
			t.Errorf("writer %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d writers succeeded from revision 1, want exactly 1", ok)
	}
	got := f.mustRead(t, c.ID)
	if got.Case.Revision != 2 || len(got.Case.Risk) != 2 {
		t.Fatalf("rev %d with %d ratings, want rev 2 with 2", got.Case.Revision, len(got.Case.Risk))
	}
}

func TestRecordChildViewsOnLatest(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.mustCreate(t)
	f.clock.Advance(time.Minute)
	if _, err := f.node.Apply(ctx, f.users[RoleSocialWorker], Change{Case: c.ID, Revision: 1, Event: workflow.StartScopeCheck{}}); err != nil {
		t.Fatal(err)
	}
	rec, err := f.node.RecordChildViews(ctx, f.users[RoleAdvocate], ChildViews{Case: c.ID, Views: "Wants to stay with his foster carer."})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Case.Revision != 3 || len(rec.Case.WishesAndFeelings) != 1 || rec.Case.WishesAndFeelings[0].RecordedBy != "ictg" {
		t.Fatalf("views not recorded: %+v", rec.Case.WishesAndFeelings)
	}
	// With a stale revision it is a conflict like any change.
	_, err = f.node.RecordChildViews(ctx, f.users[RoleAdvocate], ChildViews{Case: c.ID, Revision: 1, Views: "again"})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("stale views: err = %v", err)
	}
	// An advocate has no vote.
	_, err = f.node.Apply(ctx, f.users[RoleAdvocate], Change{Case: c.ID, Revision: 3, Event: workflow.RecordDecision{Stage: v1.StageRG}})
	if !errors.Is(err, ErrForbidden) {
		t.Fatalf("advocate decision: err = %v, want ErrForbidden", err)
	}
}

func TestIllegalTransitionIsNotAllowedNow(t *testing.T) {
	f := newFixture(t)
	c := f.mustCreate(t)
	_, err := f.node.Apply(context.Background(), f.users[RoleNRMCoordinator], Change{Case: c.ID, Revision: 1,
		Event: workflow.RecordDecision{Stage: v1.StageCG, Outcome: v1.OutcomePositive, Reasons: "r", ChildViews: "v"}})
	if !errors.Is(err, ErrNotAllowedNow) || !strings.Contains(err.Error(), "allowed now") {
		t.Fatalf("err = %v, want ErrNotAllowedNow listing what is allowed", err)
	}
}

func TestChairMayNotDecideOwnCase(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	chair := f.users[RolePanelChair]
	// dual is the case's lead social worker acting as panel chair (a person
	// may hold both roles on different panels).
	r := f.referral()
	c, err := f.node.CreateReferral(ctx, f.users[RoleSocialWorker], r)
	if err != nil {
		t.Fatal(err)
	}
	dual := Principal{ID: c.Case.LeadWorker, Role: RolePanelChair, Authority: testAuthority}
	f.clock.Advance(time.Minute)
	cur := c.Case
	for _, ev := range []workflow.Event{workflow.StartScopeCheck{}, workflow.RecordScope{InScope: true, Reason: "14"}} {
		rec, err := f.node.Apply(ctx, f.users[RoleSocialWorker], Change{Case: cur.ID, Revision: cur.Revision, Event: ev})
		if err != nil {
			t.Fatal(err)
		}
		cur = rec.Case
	}
	before := f.auditSize(t)
	rg := workflow.RecordDecision{Stage: v1.StageRG, Outcome: v1.OutcomePositive, Reasons: "Evidence of exploitation.", ChildViews: "Heard through his ICTG."}
	_, err = f.node.Apply(ctx, dual, Change{Case: cur.ID, Revision: cur.Revision, Event: rg})
	if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "lead social worker") {
		t.Fatalf("chair deciding own case: err = %v", err)
	}
	es := f.auditSince(t, before)
	if last := es[len(es)-1]; last.Outcome != v1.AuditDenied || last.Actor != dual.ID {
		t.Fatalf("refusal not audited: %+v", last)
	}
	if _, err := f.node.Apply(ctx, chair, Change{Case: cur.ID, Revision: cur.Revision, Event: rg}); err != nil {
		t.Fatalf("an independent chair: %v", err)
	}
}

func TestOverdueByWorkerAndAuthority(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.mustCreate(t) // lead sw, amber triage due start+24h
	r := f.referral()
	r.LeadWorker = "coord"
	r.Risk = v1.RAGGreen // triage due start+72h
	b, err := f.node.CreateReferral(ctx, f.users[RoleNRMCoordinator], r)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(30 * time.Hour) // a is overdue; b is due within 48h
	rep, err := f.node.Overdue(ctx, f.users[RoleSocialWorker], "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Overdue) != 1 || rep.Overdue[0].Case != a.ID || rep.Overdue[0].Worker != "sw" {
		t.Fatalf("overdue %+v, want %s", rep.Overdue, a.ID)
	}
	if len(rep.DueSoon) != 1 || rep.DueSoon[0].Case != b.Case.ID {
		t.Fatalf("due soon %+v, want %s", rep.DueSoon, b.Case.ID)
	}
	if rep.ByWorker["sw"] != (DueCounts{Overdue: 1}) || rep.ByWorker["coord"] != (DueCounts{DueSoon: 1}) {
		t.Fatalf("by worker %+v", rep.ByWorker)
	}
	if rep.ByAuthority[testAuthority] != (DueCounts{Overdue: 1, DueSoon: 1}) {
		t.Fatalf("by authority %+v", rep.ByAuthority)
	}
	mine, err := f.node.Overdue(ctx, f.users[RoleNRMCoordinator], "coord")
	if err != nil {
		t.Fatal(err)
	}
	if len(mine.Overdue) != 0 || len(mine.DueSoon) != 1 {
		t.Fatalf("coord's own list %+v", mine)
	}
	// Meeting the triage clears it.
	f.clock.Advance(time.Minute)
	if _, err := f.node.Apply(ctx, f.users[RoleSocialWorker], Change{Case: a.ID, Revision: 1,
		Event: workflow.RateRisk{RAG: v1.RAGAmber, Stage: v1.RiskAfterDiscussion}}); err != nil {
		t.Fatal(err)
	}
	rep, err = f.node.Overdue(ctx, f.users[RoleRegionalCoordinator], "")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.CountsOnly || rep.Overdue != nil || rep.DueSoon != nil || rep.ByWorker != nil {
		t.Fatalf("regional coordinator saw more than counts: %+v", rep)
	}
	if rep.ByAuthority[testAuthority] != (DueCounts{DueSoon: 1}) {
		t.Fatalf("regional counts %+v", rep.ByAuthority)
	}
}

func TestUsersAdministration(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.users[RoleAdministrator]
	u, token, err := f.node.AddUser(ctx, admin, NewUser{ID: "new.sw", Name: "New Worker", Role: RoleSocialWorker})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.node.Authenticate(token)
	if err != nil || p.ID != u.ID || p.Role != RoleSocialWorker {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	if _, _, err := f.node.AddUser(ctx, admin, NewUser{ID: "x", Name: "X", Role: "superuser"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown role: %v", err)
	}
	if _, _, err := f.node.AddUser(ctx, admin, NewUser{ID: "new.sw", Name: "X", Role: RoleAuditor}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := f.node.RevokeUser(ctx, admin, admin.ID); !errors.Is(err, ErrInvalid) {
		t.Fatalf("self-revoke: %v", err)
	}
	if _, err := f.node.RevokeUser(ctx, admin, "new.sw"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.node.Authenticate(token); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("revoked token: %v", err)
	}
	if _, _, err := f.node.AddFirstAdministrator(ctx, "root", "Root"); !errors.Is(err, ErrExists) {
		t.Fatalf("first administrator on a node with users: %v", err)
	}
}

// TestRoleTable checks every role against every operation: each role gets
// exactly what the table gives it, and every refusal is an audited
// ErrForbidden.
func TestRoleTable(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.mustCreate(t)
	ops := []struct {
		name string
		cap  Capability
		run  func(p Principal) error
	}{
		{"create", CanCreateCase, func(p Principal) error {
			_, err := f.node.CreateReferral(ctx, p, f.referral())
			return err
		}},
		{"read", CanReadCase, func(p Principal) error { _, err := f.node.Case(ctx, p, c.ID, work); return err }},
		{"list", CanListCases, func(p Principal) error { _, err := f.node.ListCases(ctx, p, CaseFilter{}, Read{}); return err }},
		{"overdue", CanSeeCounts, func(p Principal) error { _, err := f.node.Overdue(ctx, p, ""); return err }},
		{"users", CanManageUsers, func(p Principal) error { _, err := f.node.Users(ctx, p); return err }},
		{"checkpoint", CanSeeCheckpoint, func(p Principal) error { _, err := f.node.AuditCheckpoint(ctx, p); return err }},
		{"audit", CanReadAudit, func(p Principal) error { _, err := f.node.AuditEntries(ctx, p, 0, 10); return err }},
		// Events from a revision that is never current: allowed roles get
		// ErrConflict, refused ones ErrForbidden, and nothing changes.
		{"work", CanWorkCase, func(p Principal) error {
			_, err := f.node.Apply(ctx, p, Change{Case: c.ID, Revision: 99, Event: workflow.StartScopeCheck{}})
			return err
		}},
		{"safeguard", CanSafeguard, func(p Principal) error {
			_, err := f.node.Apply(ctx, p, Change{Case: c.ID, Revision: 99, Event: workflow.UpdateSafeguarding{}})
			return err
		}},
		{"decide", CanRecordDecision, func(p Principal) error {
			_, err := f.node.Apply(ctx, p, Change{Case: c.ID, Revision: 99, Event: workflow.RecordDecision{Stage: v1.StageRG}})
			return err
		}},
		{"views", CanRecordViews, func(p Principal) error {
			_, err := f.node.RecordChildViews(ctx, p, ChildViews{Case: c.ID, Revision: 99, Views: "v"})
			return err
		}},
	}
	for _, role := range Roles {
		p := f.users[role]
		for _, op := range ops {
			t.Run(string(role)+"/"+op.name, func(t *testing.T) {
				before := f.auditSize(t)
				err := op.run(p)
				if role.Can(op.cap) {
					if errors.Is(err, ErrForbidden) {
						t.Fatalf("refused: %v", err)
					}
					return
				}
				if !errors.Is(err, ErrForbidden) {
					t.Fatalf("err = %v, want ErrForbidden", err)
				}
				es := f.auditSince(t, before)
				if len(es) != 1 || es[0].Outcome != v1.AuditDenied || es[0].Actor != p.ID || es[0].Role != string(role) || es[0].Reason == "" {
					t.Fatalf("refusal audited as %+v, want one denied entry by %s", es, p.ID)
				}
			})
		}
	}
	// Nobody may transfer a case directly: the relocation hand-over does.
	_, err := f.node.Apply(ctx, f.users[RoleNRMCoordinator], Change{Case: c.ID, Revision: 1, Event: workflow.TransferOut{To: "CMD", Request: v1.NewID()}})
	if !errors.Is(err, ErrForbidden) {
		t.Fatalf("direct transfer out: %v", err)
	}
}

// TestAssignLeadWorker: an NRM coordinator allocates a case to another live
// social worker or coordinator of the node (the case moves to that worker's
// list at once) and can leave it unallocated; a social worker may
// not allocate, and a user who does not exist, is revoked, or is neither a
// social worker nor a coordinator is refused with the reason, the case
// unchanged.
func TestAssignLeadWorker(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	coord := f.users[RoleNRMCoordinator]
	c := f.mustCreate(t)
	if c.LeadWorker != "sw" {
		t.Fatalf("a social worker's referral has lead worker %q, want its maker", c.LeadWorker)
	}
	byWorker := func(w string) int {
		t.Helper()
		l, err := f.node.ListCases(ctx, coord, CaseFilter{LeadWorker: w}, Read{Purpose: "allocation check"})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Cases)
	}
	rec, err := f.node.Apply(ctx, coord, Change{Case: c.ID, Revision: c.Revision, Event: workflow.AssignLeadWorker{Worker: "coord"}})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Case.LeadWorker != "coord" || rec.Case.State != c.State || rec.Case.Revision != c.Revision+1 {
		t.Fatalf("after assigning: lead %q, state %s, revision %d", rec.Case.LeadWorker, rec.Case.State, rec.Case.Revision)
	}
	if byWorker("coord") != 1 || byWorker("sw") != 0 {
		t.Fatal("the case did not move to its new lead worker's list")
	}
	cur := rec.Case

	// A social worker cannot allocate, even to themself.
	_, err = f.node.Apply(ctx, f.users[RoleSocialWorker], Change{Case: c.ID, Revision: cur.Revision, Event: workflow.AssignLeadWorker{Worker: "sw"}})
	if !errors.Is(err, ErrForbidden) {
		t.Fatalf("social worker allocating: %v, want ErrForbidden", err)
	}
	revoked, _, err := f.store.CreateUser(ctx, storage.User{ID: "sw-left", Name: "Left", Role: string(RoleSocialWorker), Authority: testAuthority},
		storage.Access{Actor: "node", Role: "node"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.node.RevokeUser(ctx, f.users[RoleAdministrator], revoked.ID); err != nil {
		t.Fatal(err)
	}
	for worker, want := range map[string]string{
		"nobody":  "not a live user",
		"sw-left": "not a live user",
		"chair":   "a lead worker is a social worker or NRM coordinator",
		"ictg":    "a lead worker is a social worker or NRM coordinator",
	} {
		_, err := f.node.Apply(ctx, coord, Change{Case: c.ID, Revision: cur.Revision, Event: workflow.AssignLeadWorker{Worker: worker}})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("assigning %s: %v, want ErrInvalid saying %q", worker, err, want)
		}
	}
	// A stale revision is a conflict, as for any change.
	if _, err := f.node.Apply(ctx, coord, Change{Case: c.ID, Revision: c.Revision, Event: workflow.AssignLeadWorker{Worker: "coord"}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale allocation: %v, want ErrConflict", err)
	}
	got, err := f.node.Case(ctx, coord, c.ID, Read{Purpose: "allocation check"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Case.LeadWorker != "coord" || got.Case.Revision != cur.Revision {
		t.Fatalf("refusals changed the case: lead %q, revision %d", got.Case.LeadWorker, got.Case.Revision)
	}
	// Unallocated again: the case leaves the worker's list.
	if _, err := f.node.Apply(ctx, coord, Change{Case: c.ID, Revision: cur.Revision, Event: workflow.AssignLeadWorker{}}); err != nil {
		t.Fatal(err)
	}
	if byWorker("coord") != 0 {
		t.Fatal("an unallocated case still lists under its old lead worker")
	}
}

// TestAcceptMemberAuditHistory: administrators only, a reason required, a
// node that is not federated says so, and a failure of the federation is
// audited as failed and returned.
func TestAcceptMemberAuditHistory(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.users[RoleAdministrator]
	called := 0
	ok := func(context.Context, v1.AuthorityCode) error { called++; return nil }
	if err := f.node.AcceptMemberAuditHistory(ctx, f.users[RoleAuditor], "CMD", "r", ok); !errors.Is(err, ErrForbidden) {
		t.Errorf("auditor: %v, want ErrForbidden", err)
	}
	if err := f.node.AcceptMemberAuditHistory(ctx, admin, "CMD", "", ok); !errors.Is(err, ErrInvalid) {
		t.Errorf("no reason: %v, want ErrInvalid", err)
	}
	if err := f.node.AcceptMemberAuditHistory(ctx, admin, "CMD", "r", nil); !errors.Is(err, ErrUnavailable) {
		t.Errorf("not federated: %v, want ErrUnavailable", err)
	}
	if called != 0 {
		t.Fatalf("the federation was called %d times by refused requests", called)
	}
	before := f.auditSize(t)
	boom := errors.New("store gone")
	if err := f.node.AcceptMemberAuditHistory(ctx, admin, "CMD", "r", func(context.Context, v1.AuthorityCode) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("federation failure: %v", err)
	}
	if err := f.node.AcceptMemberAuditHistory(ctx, admin, "CMD", "restored; confirmed by phone", ok); err != nil || called != 1 {
		t.Fatalf("accept: %v, called %d", err, called)
	}
	if after := f.auditSize(t); after != before+2 {
		t.Errorf("audit grew by %d; want 2 (the failure and the success)", after-before)
	}
}
