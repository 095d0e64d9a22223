package storage

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

var reporter = Access{Actor: "region", Role: "regional_coordinator", Purpose: "quarterly return", LegalBasis: v1.BasisPublicTask}

// exportAll collects what ExportCases hands over.
func exportAll(s *Store, who Access) ([]*v1.Case, error) {
	var got []*v1.Case
	err := s.ExportCases(context.Background(), who, func(c *v1.Case) error {
		got = append(got, c)
		return nil
	})
	return got, err
}

func auditFrom(t *testing.T, s *Store, from int64) []v1.AuditEntry {
	t.Helper()
	es, err := s.AuditEntries(from, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// TestExportCases: every stored case, decrypted and equal to what Case
// returns, erased ones left out, in case ID order, with exactly one audit
// entry that names the purpose, the basis and the count and holds no case
// content.
func TestExportCases(t *testing.T) {
	s := mustOpen(t, newMemNode(t))
	ctx := context.Background()
	shared, erased := v1.NewID(), v1.NewID()
	var want []*v1.Case
	for i := range 7 {
		child := v1.NewID()
		if i < 2 {
			child = shared // two cases of one child
		}
		c := canaryCase(child)
		mustCreate(t, s, c)
		want = append(want, c)
	}
	mustCreate(t, s, canaryCase(erased))
	if err := s.EraseChild(ctx, erased, worker); err != nil {
		t.Fatal(err)
	}
	up := nextRevision(want[3], v1.StateRGPositive)
	if err := s.UpdateCase(ctx, up, worker); err != nil {
		t.Fatal(err)
	}
	want[3] = up
	slices.SortFunc(want, func(a, b *v1.Case) int { return strings.Compare(string(a.ID), string(b.ID)) })

	before := mustVerify(t, s)
	got, err := exportAll(s, reporter)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("exported %d cases, want %d", len(got), len(want))
	}
	for i := range want {
		wantEnc, err := v1.Marshal(want[i])
		if err != nil {
			t.Fatal(err)
		}
		gotEnc, err := v1.Marshal(got[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(gotEnc, wantEnc) {
			t.Errorf("exported case %d (%s) differs from the stored one (%s)", i, got[i].ID, want[i].ID)
		}
	}

	es := auditFrom(t, s, before)
	if len(es) != 1 {
		t.Fatalf("%d audit entries for one export, want 1: %+v", len(es), es)
	}
	e := es[0]
	if e.Action != v1.ActionCaseExport || e.Actor != "region" || e.Role != "regional_coordinator" || e.Purpose != "quarterly return" ||
		e.LegalBasis != v1.BasisPublicTask || e.Outcome != v1.AuditAllowed || e.Subject != "all cases (7)" {
		t.Errorf("export audited as %+v", e)
	}
	enc, err := v1.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	for form, b := range canaryForms() {
		if bytes.Contains(enc, b) {
			t.Errorf("the export's audit entry holds canary %q", form)
		}
	}
	mustVerify(t, s)
}

// TestExportCasesIsOneSnapshot: a case updated while the export runs is
// exported as it was when the export began.
func TestExportCasesIsOneSnapshot(t *testing.T) {
	s := mustOpen(t, newMemNode(t))
	ctx := context.Background()
	var cases []*v1.Case
	for range 5 {
		c := newCase(v1.NewID())
		mustCreate(t, s, c)
		cases = append(cases, c)
	}
	slices.SortFunc(cases, func(a, b *v1.Case) int { return strings.Compare(string(a.ID), string(b.ID)) })
	last := cases[len(cases)-1]
	extra := newCase(v1.NewID())
	revs := map[v1.CaseID]uint64{}
	err := s.ExportCases(ctx, reporter, func(c *v1.Case) error {
		if len(revs) == 0 {
			if err := s.UpdateCase(ctx, nextRevision(last, v1.StateRGPositive), worker); err != nil {
				return err
			}
			mustCreate(t, s, extra)
		}
		revs[c.ID] = c.Revision
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 5 || revs[last.ID] != 1 {
		t.Errorf("export saw %v; want the 5 cases of the snapshot, %s at revision 1", revs, last.ID)
	}
	if _, ok := revs[extra.ID]; ok {
		t.Error("a case created during the export was exported")
	}
	if got := mustRead(t, s, last.ID); got.Revision != 2 {
		t.Errorf("the update made during the export was lost: revision %d", got.Revision)
	}
}

func TestExportCasesRefusals(t *testing.T) {
	s := mustOpen(t, newMemNode(t))
	mustCreate(t, s, newCase(v1.NewID()))
	before := mustVerify(t, s)
	noPurpose, noBasis := reporter, reporter
	noPurpose.Purpose = ""
	noBasis.LegalBasis = ""
	for _, tc := range []struct {
		name string
		who  Access
		fn   func(*v1.Case) error
		want error
	}{
		{"no purpose", noPurpose, func(*v1.Case) error { return nil }, ErrNoPurpose},
		{"no legal basis", noBasis, func(*v1.Case) error { return nil }, ErrNoPurpose},
		{"no actor", Access{Purpose: "x", LegalBasis: v1.BasisPublicTask}, func(*v1.Case) error { return nil }, ErrNoActor},
		{"no function", reporter, nil, schemas.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.ExportCases(context.Background(), tc.who, tc.fn); !errors.Is(err, tc.want) {
				t.Fatalf("ExportCases: %v, want %v", err, tc.want)
			}
		})
	}
	if n := mustVerify(t, s); n != before {
		t.Errorf("refused exports wrote %d audit entries", n-before)
	}
}

// TestExportCasesStopsAndSaysSo: an export that stops early (the caller's
// function fails, a child's data key is lost, the context ends) returns the
// error and records a failed entry saying how far it got.
func TestExportCasesStopsAndSaysSo(t *testing.T) {
	s := mustOpen(t, newMemNode(t))
	for range 3 {
		mustCreate(t, s, newCase(v1.NewID()))
	}
	stop := errors.New("caller stops")
	check := func(t *testing.T, before int64, reason string) {
		t.Helper()
		es := auditFrom(t, s, before)
		if len(es) != 2 || es[0].Outcome != v1.AuditAllowed || es[1].Outcome != v1.AuditFailed || es[1].Reason != reason {
			t.Errorf("audit entries %+v, want the export and a failure %q", es, reason)
		}
	}

	t.Run("caller's error", func(t *testing.T) {
		before := mustVerify(t, s)
		n := 0
		err := s.ExportCases(context.Background(), reporter, func(*v1.Case) error {
			if n++; n == 2 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) {
			t.Fatalf("ExportCases: %v, want the caller's error", err)
		}
		check(t, before, "stopped after 1 of 3 cases")
	})

	t.Run("context ends", func(t *testing.T) {
		before := mustVerify(t, s)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		err := s.ExportCases(ctx, reporter, func(*v1.Case) error { cancel(); return nil })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("ExportCases: %v, want context.Canceled", err)
		}
		check(t, before, "stopped after 1 of 3 cases")
	})

	t.Run("lost data key", func(t *testing.T) {
		lost := newCase(v1.NewID())
		mustCreate(t, s, lost)
		if err := s.keys.Update(func(txn *badger.Txn) error { return txn.Delete(childKeyKey(lost.ChildID)) }); err != nil {
			t.Fatal(err)
		}
		before := mustVerify(t, s)
		_, err := exportAll(s, reporter)
		if !errors.Is(err, ErrChildKeyLost) {
			t.Fatalf("ExportCases: %v, want ErrChildKeyLost", err)
		}
		es := auditFrom(t, s, before)
		if len(es) != 2 || es[1].Outcome != v1.AuditFailed || !strings.HasSuffix(es[1].Reason, "of 4 cases") {
			t.Errorf("audit entries %+v, want the export and a failure", es)
		}
	})

	t.Run("closed store", func(t *testing.T) {
		mustClose(t, s)
		if _, err := exportAll(s, reporter); !errors.Is(err, ErrClosed) {
			t.Fatalf("ExportCases on a closed store: %v, want ErrClosed", err)
		}
	})
}

// TestExportCasesAcrossChunks: more cases than one chunk of parallel
// decoding, every one delivered once, in case ID order.
func TestExportCasesAcrossChunks(t *testing.T) {
	s := mustOpen(t, newMemNode(t))
	want := map[v1.CaseID]bool{}
	for range 2*exportChunk + 3 {
		c := newCase(v1.NewID())
		mustCreate(t, s, c)
		want[c.ID] = true
	}
	got, err := exportAll(s, reporter)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]v1.CaseID, len(got))
	for i, c := range got {
		ids[i] = c.ID
		if !want[c.ID] {
			t.Fatalf("case %s exported twice or never stored", c.ID)
		}
		delete(want, c.ID)
	}
	if len(want) != 0 {
		t.Errorf("%d cases not exported", len(want))
	}
	if !slices.IsSorted(ids) {
		t.Error("cases not in case ID order")
	}
}
