package node

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"nrmnet/node/workflow"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// custodySide is one authority's store, node and custody, in memory.
type custodySide struct {
	store   *storage.Store
	node    *Node
	custody *CaseCustody
	worker  Principal
}

func newCustodySide(t *testing.T, code v1.AuthorityCode, clock *testClock) *custodySide {
	t.Helper()
	dir := t.TempDir()
	sc := storage.DefaultConfig()
	sc.DataDir, sc.KeysDir, sc.Authority, sc.InMemory, sc.Logger = filepath.Join(dir, "data"), filepath.Join(dir, "keys"), code, true, testLogger(t)
	if err := storage.CreateKeys(sc.KeysDir); err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	cfg := DefaultConfig()
	cfg.Store, cfg.Authority, cfg.Now, cfg.Logger = s, code, clock.Now, testLogger(t)
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewCaseCustody(CaseCustodyConfig{Node: n, Store: s, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	u, _, err := s.CreateUser(context.Background(), storage.User{ID: "sw", Name: "Worker", Role: string(RoleSocialWorker), Authority: code}, storage.Access{Actor: "node", Role: "node"})
	if err != nil {
		t.Fatal(err)
	}
	return &custodySide{store: s, node: n, custody: k, worker: Principal{ID: u.ID, Name: u.Name, Role: RoleSocialWorker, Authority: code}}
}

var checkAccess = storage.Access{Actor: "test", Role: "test", Purpose: "check the hand-over"}

func (cs *custodySide) read(t *testing.T, id v1.CaseID) *v1.Case {
	t.Helper()
	c, err := cs.store.Case(context.Background(), id, checkAccess)
	if err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	return c
}

func cidOf(t *testing.T, c *v1.Case) string {
	t.Helper()
	id, err := v1.CID(c)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// The callbacks in the order the hand-over makes them, each repeated as a
// resumed hand-over would: the origin exports the same case before and after
// its transfer out; install replaces the provisional copy; activation and
// transfer out happen once however often they are called; a case the
// destination is responsible for is never replaced.
func TestCustodyCallbacksAreIdempotent(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock(start)
	origin, dest := newCustodySide(t, "ISL", clock), newCustodySide(t, "CMD", clock)
	f := &fixture{store: origin.store, node: origin.node, clock: clock}
	ref := f.referral()
	ref.Safeguarding.ProtectionPlan = true
	created, err := origin.node.CreateReferral(ctx, origin.worker, ref)
	if err != nil {
		t.Fatal(err)
	}
	c := created.Case
	req := v1.RelocationRequest{ID: v1.NewID(), CaseRef: c.ID, Origin: "ISL", Destination: "CMD", RequestedAt: clock.Now(),
		Reason: v1.ReasonChildMoved, Urgency: v1.UrgencyHigh, ProtectionPlan: true, AgeBand: v1.Age13To15, Sex: v1.SexMale,
		NRMState: c.State, LegalBasis: v1.BasisSafeguardingChildren}
	clock.Advance(10 * 60e9)

	sent, err := origin.custody.ExportCase(ctx, c.ID)
	if err != nil {
		t.Fatalf("ExportCase: %v", err)
	}
	for range 2 {
		if err := dest.custody.InstallCase(ctx, req, sent); err != nil {
			t.Fatalf("InstallCase: %v", err)
		}
	}
	held := dest.read(t, c.ID)
	if held.Responsible != "ISL" || held.Revision != sent.Revision {
		t.Fatalf("provisional copy: responsible %s revision %d", held.Responsible, held.Revision)
	}
	if _, err := dest.custody.ExportCase(ctx, c.ID); !errors.Is(err, ErrNotAllowedNow) {
		t.Fatalf("destination exports a provisional copy: %v, want ErrNotAllowedNow", err)
	}

	for range 2 {
		if err := origin.custody.MarkTransferredOut(ctx, req); err != nil {
			t.Fatalf("MarkTransferredOut: %v", err)
		}
	}
	out := origin.read(t, c.ID)
	if out.State != v1.StateTransferredOut || out.Revision != c.Revision+1 {
		t.Fatalf("origin after transfer out: %s revision %d, want transferred_out %d", out.State, out.Revision, c.Revision+1)
	}
	// A resumed hand-over sends exactly the case it sent before.
	again, err := origin.custody.ExportCase(ctx, c.ID)
	if err != nil {
		t.Fatalf("ExportCase after transfer out: %v", err)
	}
	if cidOf(t, again) != cidOf(t, sent) {
		t.Fatal("the case exported after the transfer out differs from the one sent")
	}
	if err := dest.custody.InstallCase(ctx, req, again); err != nil {
		t.Fatalf("InstallCase of the resent copy: %v", err)
	}
	other := req
	other.ID = v1.NewID()
	if err := origin.custody.MarkTransferredOut(ctx, other); !errors.Is(err, ErrNotAllowedNow) {
		t.Fatalf("transfer out by another relocation: %v, want ErrNotAllowedNow", err)
	}

	for range 2 {
		if err := dest.custody.ActivateCase(ctx, req); err != nil {
			t.Fatalf("ActivateCase: %v", err)
		}
	}
	live := dest.read(t, c.ID)
	if live.Responsible != "CMD" || live.Revision != sent.Revision+1 || live.LeadWorker != "" {
		t.Fatalf("activated: responsible %s revision %d lead %q", live.Responsible, live.Revision, live.LeadWorker)
	}
	r, ok := relocationOf(live, req.ID)
	if !ok || r.Status != v1.RelocationAccepted || r.ResolvedAt == nil || !r.ResolvedAt.Equal(clock.Now()) {
		t.Fatalf("relocation on the destination's case: %+v", live.Relocations)
	}
	rec := dest.node.record(live)
	found := false
	for _, d := range rec.Deadlines {
		found = found || d.Kind == workflow.DeadlineTransferInConference
	}
	if !found || live.NextDeadline == nil {
		t.Fatalf("no transfer-in conference clock: %+v", rec.Deadlines)
	}
	// Responsible now: a late copy never replaces the case.
	if err := dest.custody.InstallCase(ctx, req, again); !errors.Is(err, ErrConflict) {
		t.Fatalf("install over a live case: %v, want ErrConflict", err)
	}
	if got := dest.read(t, c.ID); got.Responsible != "CMD" || got.Revision != live.Revision {
		t.Fatal("a refused install changed the live case")
	}
	// Completion on the origin drops the sent copy.
	origin.custody.Observe(ctx, Relocation{Request: req, Side: SideOrigin, State: RelocationStateCompleted})
	if _, err := origin.store.RelocatedCopy(ctx, c.ID, checkAccess); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("sent copy after completion: %v, want not found", err)
	}
	// The case arrived unallocated (the origin's users mean nothing here):
	// the destination's NRM coordinator allocates it to one of its workers.
	cu, _, err := dest.store.CreateUser(ctx, storage.User{ID: "coord", Name: "Coordinator", Role: string(RoleNRMCoordinator), Authority: "CMD"},
		storage.Access{Actor: "node", Role: "node"})
	if err != nil {
		t.Fatal(err)
	}
	coord := Principal{ID: cu.ID, Name: cu.Name, Role: RoleNRMCoordinator, Authority: "CMD"}
	allocated, err := dest.node.Apply(ctx, coord, Change{Case: c.ID, Revision: live.Revision, Event: workflow.AssignLeadWorker{Worker: dest.worker.ID}})
	if err != nil {
		t.Fatalf("allocating the arrived case: %v", err)
	}
	if allocated.Case.LeadWorker != dest.worker.ID || allocated.Case.Responsible != "CMD" || allocated.Case.State != live.State {
		t.Fatalf("allocated: lead %q, responsible %s, state %s", allocated.Case.LeadWorker, allocated.Case.Responsible, allocated.Case.State)
	}
}

// InstallCase refuses a case that does not fit its request, and stores
// nothing.
func TestInstallCaseRefusesMismatches(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock(start)
	origin, dest := newCustodySide(t, "ISL", clock), newCustodySide(t, "CMD", clock)
	f := &fixture{store: origin.store, node: origin.node, clock: clock}
	created, err := origin.node.CreateReferral(ctx, origin.worker, f.referral())
	if err != nil {
		t.Fatal(err)
	}
	c := created.Case
	req := v1.RelocationRequest{ID: v1.NewID(), CaseRef: c.ID, Origin: "ISL", Destination: "CMD"}
	for name, tc := range map[string]struct {
		req  func(v1.RelocationRequest) v1.RelocationRequest
		kase func(v1.Case) *v1.Case
	}{
		"another destination": {req: func(r v1.RelocationRequest) v1.RelocationRequest { r.Destination = "HCK"; return r }},
		"another case":        {kase: func(x v1.Case) *v1.Case { x.ID = v1.NewCaseID("ISL"); return &x }},
		"not the origin's":    {kase: func(x v1.Case) *v1.Case { x.Responsible = "HCK"; return &x }},
		"transferred out":     {kase: func(x v1.Case) *v1.Case { x.State = v1.StateTransferredOut; return &x }},
		"invalid":             {kase: func(x v1.Case) *v1.Case { x.Identity.Names = nil; return &x }},
		"no case":             {kase: func(v1.Case) *v1.Case { return nil }},
	} {
		t.Run(name, func(t *testing.T) {
			r, k := req, c
			if tc.req != nil {
				r = tc.req(r)
			}
			if tc.kase != nil {
				k = tc.kase(*c)
			}
			if err := dest.custody.InstallCase(ctx, r, k); !errors.Is(err, ErrInvalid) {
				t.Fatalf("InstallCase: %v, want ErrInvalid", err)
			}
			if n := dest.store.CaseCount(); n != 0 {
				t.Fatalf("%d cases stored", n)
			}
		})
	}
}

// refusingService fails the test if the node calls the federation.
type refusingService struct{ t *testing.T }

func (s refusingService) fail() { s.t.Helper(); s.t.Fatal("the relocation service was called") }
func (s refusingService) Request(context.Context, string, v1.RelocationRequest) (Relocation, error) {
	s.fail()
	return Relocation{}, nil
}
func (s refusingService) Accept(context.Context, string, v1.ID) (Relocation, error) {
	s.fail()
	return Relocation{}, nil
}
func (s refusingService) Reject(context.Context, string, v1.ID, string) (Relocation, error) {
	s.fail()
	return Relocation{}, nil
}
func (s refusingService) Revoke(context.Context, string, v1.ID, string) (Relocation, error) {
	s.fail()
	return Relocation{}, nil
}
func (s refusingService) Get(context.Context, v1.ID) (Relocation, error) {
	s.fail()
	return Relocation{}, nil
}
func (s refusingService) List(context.Context) ([]Relocation, error) {
	s.fail()
	return nil, nil
}

// Only social workers and NRM coordinators deal with relocations; every
// other role is refused, audited, before the federation is asked; a case
// held provisionally cannot be relocated.
func TestRelocationsRolesAndCases(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := f.mustCreate(t)
	cfg := DefaultRelocationsConfig()
	cfg.Node, cfg.Store, cfg.Service = f.node, f.store, refusingService{t}
	rl, err := NewRelocations(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range Roles {
		if role.Can(CanRelocate) {
			continue
		}
		who := f.users[role]
		before := f.auditSize(t)
		calls := map[string]error{}
		_, calls["request"] = rl.Request(ctx, who, NewRelocation{Case: c.ID, Destination: "CMD", Reason: v1.ReasonChildMoved, Urgency: v1.UrgencyHigh})
		_, calls["list"] = rl.List(ctx, who)
		_, calls["accept"] = rl.Accept(ctx, who, v1.NewID())
		_, calls["reject"] = rl.Reject(ctx, who, v1.NewID(), "no")
		_, calls["revoke"] = rl.Revoke(ctx, who, v1.NewID(), "")
		for name, err := range calls {
			if !errors.Is(err, ErrForbidden) {
				t.Fatalf("%s %s: %v, want ErrForbidden", role, name, err)
			}
		}
		es := f.auditSince(t, before)
		if len(es) != len(calls) {
			t.Fatalf("%s: %d audit entries for %d refusals", role, len(es), len(calls))
		}
		for _, e := range es {
			if e.Outcome != v1.AuditDenied || e.Actor != who.ID {
				t.Fatalf("%s: refusal audited as %+v", role, e)
			}
		}
	}
	// A provisional copy of another authority's case is not this
	// authority's to relocate.
	held := *c
	held.ID, held.ChildID, held.Responsible = v1.NewCaseID("CMD"), v1.NewID(), "CMD"
	if _, err := f.store.InstallRelocatedCase(ctx, &held, checkAccess); err != nil {
		t.Fatal(err)
	}
	if _, err := rl.Request(ctx, f.users[RoleSocialWorker], NewRelocation{Case: held.ID, Destination: "HCK",
		Reason: v1.ReasonChildMoved, Urgency: v1.UrgencyHigh}); !errors.Is(err, ErrNotAllowedNow) {
		t.Fatalf("relocating a provisional copy: %v, want ErrNotAllowedNow", err)
	}
	if err := (RelocationsConfig{}).Validate(); err == nil {
		t.Fatal("an empty RelocationsConfig validates")
	}
	if err := (CaseCustodyConfig{}).Validate(); err == nil {
		t.Fatal("an empty CaseCustodyConfig validates")
	}
}
