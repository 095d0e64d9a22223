package storage

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// TestCountDue checks CountDue against ListCases(DueBefore) over cases with
// deadlines either side of the cut-off, cases without a deadline, cases
// transferred out, a provisional relocated copy, erased children, a deadline
// moved across the cut-off and an index entry left without its summary; and
// that counting writes nothing to the audit log.
func TestCountDue(t *testing.T) {
	s := mustOpen(t, newMemNode(t))
	ctx := context.Background()
	now := fixed.Add(100 * time.Hour)

	// want is what the cases below should give at now, kept by hand so that
	// the comparison with ListCases cannot pass on two empty answers.
	want := 0
	var cases []*v1.Case
	for i := range 40 {
		c := newCase(v1.NewID())
		due := now.Add(time.Duration(i-20) * time.Hour) // 20 before now, 20 at or after
		switch {
		case i%9 == 0:
			c.NextDeadline = nil
		case i == 25:
			due = now // due at now: not before it
			c.NextDeadline = &due
		default:
			c.NextDeadline = &due
		}
		if c.NextDeadline != nil && c.NextDeadline.Before(now) {
			want++
		}
		mustCreate(t, s, c)
		cases = append(cases, c)
	}
	if want < 10 {
		t.Fatalf("setup: only %d cases due", want)
	}
	check := func(stage string, want int) {
		t.Helper()
		before, err := s.AuditCheckpoint()
		if err != nil {
			t.Fatal(err)
		}
		for _, cut := range []time.Time{now, now.Add(-time.Nanosecond), now.Add(time.Nanosecond),
			now.Add(-90 * time.Minute), fixed, now.AddDate(1, 0, 0)} {
			got, err := s.CountDue(cut)
			if err != nil {
				t.Fatalf("%s: CountDue(%v): %v", stage, cut, err)
			}
			list, err := s.ListCases(ctx, CaseQuery{DueBefore: cut, Limit: MaxListLimit}, worker)
			if err != nil {
				t.Fatal(err)
			}
			if got != len(list) {
				t.Errorf("%s: CountDue(now%+v) = %d, ListCases lists %d", stage, cut.Sub(now), got, len(list))
			}
			if cut.Equal(now) && got != want {
				t.Errorf("%s: CountDue(now) = %d, want %d", stage, got, want)
			}
		}
		after, err := s.AuditCheckpoint()
		if err != nil {
			t.Fatal(err)
		}
		// Only the ListCases calls above are audited.
		if d := after.Size - before.Size; d != 6 {
			t.Errorf("%s: audit log grew by %d entries over 6 counts and 6 lists, want 6", stage, d)
		}
	}
	check("created", want)

	// Transferred out, deadline kept and deadline cleared: ListCases still
	// lists the first, so CountDue counts it.
	for i, clear := range map[int]bool{3: false, 5: true} {
		sent := mustRead(t, s, cases[i].ID)
		out := nextRevision(sent, v1.StateTransferredOut)
		out.Responsible = "CMD"
		if clear {
			out.NextDeadline = nil
			want--
		}
		if err := s.TransferOutCase(ctx, out, sent, worker); err != nil {
			t.Fatal(err)
		}
	}
	check("transferred out", want)

	// A provisional copy received from another authority, overdue.
	in := newCase(v1.NewID())
	in.ID = v1.NewCaseID("CMD")
	in.Responsible = "CMD"
	in.Revision = 4
	due := now.Add(-time.Minute)
	in.NextDeadline = &due
	if _, err := s.InstallRelocatedCase(ctx, in, worker); err != nil {
		t.Fatal(err)
	}
	want++
	check("relocated in", want)

	// A deadline moved from before now to after it, and one the other way.
	for _, m := range []struct {
		i     int
		shift time.Duration
	}{{1, 48 * time.Hour}, {30, -48 * time.Hour}} {
		c := mustRead(t, s, cases[m.i].ID)
		u := nextRevision(c, c.State)
		d := c.NextDeadline.Add(m.shift)
		u.NextDeadline = &d
		if err := s.UpdateCase(ctx, u, worker); err != nil {
			t.Fatal(err)
		}
	}
	check("deadlines moved", want)

	// Erased children: their cases leave the index.
	for _, i := range []int{2, 4, 35} {
		if err := s.EraseChild(ctx, cases[i].ChildID, worker); err != nil {
			t.Fatal(err)
		}
		if cases[i].NextDeadline.Before(now) {
			want--
		}
	}
	check("erased", want)

	// An index entry without its summary (as a bug or a torn restore might
	// leave): ListCases skips it, and so does CountDue.
	orphan := v1.NewCaseID(testAuthority)
	if err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(cat(prefixByDue, timeKey(now.Add(-time.Hour)), []byte(orphan)), nil)
	}); err != nil {
		t.Fatal(err)
	}
	check("orphan index entry", want)

	if _, err := s.CountDue(time.Time{}); !errors.Is(err, schemas.ErrInvalid) {
		t.Errorf("CountDue(zero time): %v, want ErrInvalid", err)
	}
	mustClose(t, s)
	if _, err := s.CountDue(now); !errors.Is(err, ErrClosed) {
		t.Errorf("CountDue after Close: %v, want ErrClosed", err)
	}
}
