package storage

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

func TestCaseLifecycle(t *testing.T) {
	for _, mem := range []bool{true, false} {
		name := map[bool]string{true: "in-memory", false: "on-disk"}[mem]
		t.Run(name, func(t *testing.T) {
			cfg := newNode(t)
			cfg.InMemory = mem
			s := mustOpen(t, cfg)
			ctx := context.Background()
			child := v1.NewID()
			c := newCase(child)
			mustCreate(t, s, c)

			got := mustRead(t, s, c.ID)
			if !reflect.DeepEqual(got, c) {
				t.Fatalf("read back a different case:\n got %+v\nwant %+v", got, c)
			}
			if err := s.CreateCase(ctx, c, worker); !errors.Is(err, ErrExists) {
				t.Errorf("second CreateCase: %v, want ErrExists", err)
			}

			u := nextRevision(c, v1.StateRGPositive)
			if err := s.UpdateCase(ctx, u, worker); err != nil {
				t.Fatalf("UpdateCase: %v", err)
			}
			if err := s.UpdateCase(ctx, u, worker); !errors.Is(err, ErrConflict) {
				t.Errorf("UpdateCase of the same revision again: %v, want ErrConflict", err)
			}
			stale := nextRevision(c, v1.StateRGNegative) // made from revision 1
			if err := s.UpdateCase(ctx, stale, worker); !errors.Is(err, ErrConflict) {
				t.Errorf("UpdateCase from a stale revision: %v, want ErrConflict", err)
			}
			if got := mustRead(t, s, c.ID); got.Revision != 2 || got.State != v1.StateRGPositive {
				t.Errorf("after a refused update the case is at revision %d state %s, want 2 %s", got.Revision, got.State, v1.StateRGPositive)
			}
			other := nextRevision(u, v1.StateRecoveryPeriod)
			other.ChildID = v1.NewID()
			if err := s.UpdateCase(ctx, other, worker); !errors.Is(err, schemas.ErrInvalid) {
				t.Errorf("UpdateCase changing the child: %v, want ErrInvalid", err)
			}
			missing := newCase(child)
			missing.Revision = 2
			if err := s.UpdateCase(ctx, missing, worker); !errors.Is(err, ErrNotFound) {
				t.Errorf("UpdateCase of an unknown case: %v, want ErrNotFound", err)
			}
			if _, err := s.Case(ctx, missing.ID, worker); !errors.Is(err, ErrNotFound) {
				t.Errorf("Case of an unknown case: %v, want ErrNotFound", err)
			}
			if _, err := s.Case(ctx, c.ID, Access{Actor: "sw-001"}); !errors.Is(err, ErrNoPurpose) {
				t.Errorf("Case without a purpose: %v, want ErrNoPurpose", err)
			}
			if err := s.CreateCase(ctx, newCase(child), Access{}); !errors.Is(err, ErrNoActor) {
				t.Errorf("CreateCase without an actor: %v, want ErrNoActor", err)
			}
			bad := newCase(child)
			bad.State = "lost"
			if err := s.CreateCase(ctx, bad, worker); !errors.Is(err, schemas.ErrInvalid) {
				t.Errorf("CreateCase of an invalid case: %v, want ErrInvalid", err)
			}
			if n := s.CaseCount(); n != 1 {
				t.Errorf("CaseCount = %d, want 1", n)
			}

			// create, read, update, 2 refused updates, child change, unknown
			// update, unknown read, read = 9; refused-before-the-writer
			// calls (no purpose, no actor, invalid) are not audited.
			entries, err := s.AuditEntries(0, 100)
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, e := range entries {
				actions = append(actions, string(e.Action)+"/"+string(e.Outcome))
			}
			want := []string{"case.create/allowed", "case.read/allowed", "case.create/failed", "case.update/allowed",
				"case.update/failed", "case.update/failed", "case.read/allowed", "case.update/failed", "case.update/failed", "case.read/failed"}
			if !slices.Equal(actions, want) {
				t.Errorf("audit actions:\n got %v\nwant %v", actions, want)
			}
			if n := mustVerify(t, s); n != int64(len(want)) {
				t.Errorf("audit log has %d entries, want %d", n, len(want))
			}
		})
	}
}

func TestListCases(t *testing.T) {
	s := mustOpen(t, newMemNode(t))
	ctx := context.Background()
	var all []*v1.Case
	for i := range 30 {
		c := newCase(v1.NewID())
		due := fixed.Add(time.Duration(30-i) * time.Hour)
		c.NextDeadline = &due
		if i%3 == 0 {
			c.State = v1.StateCGPending
		}
		if i%5 == 0 {
			c.LeadWorker = "sw-777"
		}
		if i%7 == 0 {
			c.NextDeadline = nil
		}
		mustCreate(t, s, c)
		all = append(all, c)
	}
	count := func(f func(*v1.Case) bool) int {
		n := 0
		for _, c := range all {
			if f(c) {
				n++
			}
		}
		return n
	}
	cutoff := fixed.Add(15 * time.Hour)
	for _, tc := range []struct {
		name string
		q    CaseQuery
		want int
	}{
		{"all", CaseQuery{}, 30},
		{"state", CaseQuery{State: v1.StateCGPending}, count(func(c *v1.Case) bool { return c.State == v1.StateCGPending })},
		{"worker", CaseQuery{LeadWorker: "sw-777"}, count(func(c *v1.Case) bool { return c.LeadWorker == "sw-777" })},
		{"authority", CaseQuery{Responsible: testAuthority}, 30},
		{"other authority", CaseQuery{Responsible: "CMD"}, 0},
		{"due before", CaseQuery{DueBefore: cutoff}, count(func(c *v1.Case) bool { return c.NextDeadline != nil && c.NextDeadline.Before(cutoff) })},
		{"due before and state", CaseQuery{DueBefore: cutoff, State: v1.StateCGPending}, count(func(c *v1.Case) bool {
			return c.NextDeadline != nil && c.NextDeadline.Before(cutoff) && c.State == v1.StateCGPending
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Page through in pages of 4 and check order and completeness.
			q := tc.q
			q.Limit = 4
			var got []CaseSummary
			for {
				page, err := s.ListCases(ctx, q, worker)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, page...)
				if len(page) < q.Limit {
					break
				}
				q.Cursor = page[len(page)-1].Cursor()
			}
			if len(got) != tc.want {
				t.Fatalf("listed %d cases, want %d", len(got), tc.want)
			}
			seen := map[v1.CaseID]bool{}
			for i, sum := range got {
				if seen[sum.ID] {
					t.Fatalf("case %s listed twice", sum.ID)
				}
				seen[sum.ID] = true
				if !tc.q.matches(sum) {
					t.Errorf("case %s does not match the query", sum.ID)
				}
				if i > 0 && !tc.q.DueBefore.IsZero() && sum.NextDeadline.Before(*got[i-1].NextDeadline) {
					t.Errorf("due list out of deadline order at %d", i)
				}
			}
		})
	}
	if _, err := s.ListCases(ctx, CaseQuery{Cursor: "nonsense"}, worker); !errors.Is(err, schemas.ErrInvalid) {
		t.Errorf("bad cursor: %v, want ErrInvalid", err)
	}
	// An update moves the case between index entries.
	c := all[1]
	u := nextRevision(c, v1.StateClosed)
	u.NextDeadline = nil
	u.LeadWorker = "sw-999"
	if err := s.UpdateCase(ctx, u, worker); err != nil {
		t.Fatal(err)
	}
	for _, q := range []CaseQuery{{State: c.State}, {LeadWorker: c.LeadWorker}, {DueBefore: fixed.Add(1000 * time.Hour)}} {
		list, err := s.ListCases(ctx, q, worker)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(caseIDs(list), c.ID) {
			t.Errorf("query %+v still lists the updated case under its old index entry", q)
		}
	}
	list, _ := s.ListCases(ctx, CaseQuery{LeadWorker: "sw-999"}, worker)
	if !slices.Equal(caseIDs(list), []v1.CaseID{c.ID}) {
		t.Errorf("query by new lead worker = %v, want [%s]", caseIDs(list), c.ID)
	}
}

func TestAuditRecordsNodeEntries(t *testing.T) {
	s := mustOpen(t, newMemNode(t))
	ctx := context.Background()
	e := &v1.AuditEntry{At: fixed, Actor: "sw-002", Action: v1.ActionAccessDenied, Subject: "ISL-0123456789abcdef",
		Purpose: "case work", Outcome: v1.AuditDenied, Reason: "not the lead worker"}
	if err := s.Audit(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := s.Audit(ctx, &v1.AuditEntry{At: fixed, Authority: "CMD", Actor: "x", Action: v1.ActionShareSend, Outcome: v1.AuditAllowed}); !errors.Is(err, ErrWrongAuthority) {
		t.Errorf("entry of another authority: %v, want ErrWrongAuthority", err)
	}
	got, err := s.AuditEntries(0, 10)
	if err != nil || len(got) != 1 || got[0].Reason != e.Reason || got[0].Authority != testAuthority {
		t.Fatalf("AuditEntries = %+v, %v", got, err)
	}
	cp, err := s.AuditCheckpoint()
	if err != nil || cp.Size != 1 {
		t.Fatalf("AuditCheckpoint = %+v, %v", cp, err)
	}
	if _, err := s.ProveInclusion(0, 1); err != nil {
		t.Errorf("ProveInclusion: %v", err)
	}
	if _, err := s.ProveConsistency(1, 1); err != nil {
		t.Errorf("ProveConsistency: %v", err)
	}
	if signed, err := s.SignedCheckpoint(); err != nil || len(signed) == 0 {
		t.Errorf("SignedCheckpoint: %v", err)
	}
}

func TestClosedStore(t *testing.T) {
	cfg := newMemNode(t)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	ctx := context.Background()
	if err := s.CreateCase(ctx, newCase(v1.NewID()), worker); !errors.Is(err, ErrClosed) {
		t.Errorf("CreateCase after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Case(ctx, "ISL-0123456789abcdef", worker); !errors.Is(err, ErrClosed) {
		t.Errorf("Case after Close: %v, want ErrClosed", err)
	}
	if _, err := s.ListCases(ctx, CaseQuery{}, worker); !errors.Is(err, ErrClosed) {
		t.Errorf("ListCases after Close: %v, want ErrClosed", err)
	}
	if _, err := s.AuditCheckpoint(); !errors.Is(err, ErrClosed) {
		t.Errorf("AuditCheckpoint after Close: %v, want ErrClosed", err)
	}
}
