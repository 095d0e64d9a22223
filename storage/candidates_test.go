package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dgraph-io/badger/v4"

	v1 "nrmnet/schemas/v1"
)

// testQuery is a candidate query that counts its derivations: eligible
// unless both sexes are known and differ from want, keys made from the
// names and the date of birth.
type testQuery struct {
	want    v1.Sex
	deriver string
	derived int
}

func (tq *testQuery) query() CandidateQuery {
	return CandidateQuery{
		Eligible: func(sex v1.Sex, _ *v1.DateOfBirth) bool {
			return tq.want == "" || sex == tq.want || sex == v1.SexUnknown || sex == v1.SexOther
		},
		Deriver: tq.deriver,
		Derive: func(id v1.ChildIdentity) []MatchKey {
			tq.derived++
			return testKeys(id)
		},
	}
}

func testKeys(id v1.ChildIdentity) []MatchKey {
	var out []MatchKey
	dob := "none"
	if id.DateOfBirth != nil {
		dob = string(id.DateOfBirth.Date)
	}
	for _, n := range id.Names {
		out = append(out, MatchKey{Bytes: []byte(n.Given + "/" + n.Family + "/" + dob), Strength: 3})
	}
	return out
}

// fullScan is what MatchCandidates must equal: CaseIdentities, the same
// test on the full identity, the keys derived afresh.
func fullScan(t *testing.T, s *Store, q CandidateQuery) map[v1.CaseID][]MatchKey {
	t.Helper()
	out := map[v1.CaseID][]MatchKey{}
	err := s.CaseIdentities(context.Background(), "full", nodeWho, func(id v1.CaseID, ident v1.ChildIdentity) error {
		if q.Eligible(ident.Sex, ident.DateOfBirth) {
			out[id] = testKeys(ident)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("CaseIdentities: %v", err)
	}
	return out
}

func indexedScan(t *testing.T, s *Store, q CandidateQuery) map[v1.CaseID][]MatchKey {
	t.Helper()
	out := map[v1.CaseID][]MatchKey{}
	err := s.MatchCandidates(context.Background(), "indexed", nodeWho, q, func(id v1.CaseID, keys []MatchKey) error {
		if _, dup := out[id]; dup {
			t.Errorf("case %s passed twice", id)
		}
		out[id] = keys
		return nil
	})
	if err != nil {
		t.Fatalf("MatchCandidates: %v", err)
	}
	return out
}

func sameCandidates(t *testing.T, what string, got, want map[v1.CaseID][]MatchKey) {
	t.Helper()
	if !maps.EqualFunc(got, want, func(a, b []MatchKey) bool {
		return slices.EqualFunc(a, b, func(x, y MatchKey) bool { return bytes.Equal(x.Bytes, y.Bytes) && x.Strength == y.Strength })
	}) {
		t.Errorf("%s: index gives %d candidates, the full scan %d:\n index %v\n full  %v", what, len(got), len(want), got, want)
	}
}

func indexSize(t *testing.T, s *Store) int {
	t.Helper()
	n, err := s.CandidateIndexSize()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Every write path keeps the index in step: create, update (identity and
// not), relocation in (provisional and activated), transfer out, erasure.
// After each step the index scan gives exactly the full scan's candidates
// and keys, and the index has one entry per case this authority holds.
func TestCandidateIndexFollowsEveryWrite(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, newMemNode(t))
	tq := &testQuery{want: v1.SexFemale, deriver: "test/1"}
	check := func(step string, own int) {
		t.Helper()
		sameCandidates(t, step, indexedScan(t, s, tq.query()), fullScan(t, s, tq.query()))
		if n := indexSize(t, s); n != own {
			t.Errorf("%s: %d index entries, want %d", step, n, own)
		}
	}

	sexes := []v1.Sex{v1.SexFemale, v1.SexMale, v1.SexOther, v1.SexUnknown}
	var cases []*v1.Case
	for i := range 8 {
		c := newCase(v1.NewID())
		c.Identity.Sex = sexes[i%4]
		c.Identity.Names[0].Given = fmt.Sprintf("Child%d", i)
		if i%2 == 0 {
			c.Identity.DateOfBirth = &v1.DateOfBirth{Date: "2011-02-28"}
			if i%4 == 0 {
				c.Identity.DateOfBirth.Estimated, c.Identity.DateOfBirth.UncertaintyDays = true, 180
			}
		}
		mustCreate(t, s, c)
		cases = append(cases, c)
	}
	check("created", 8)

	// An update that leaves the identity alone keeps the cached keys.
	before := tq.derived
	indexedScan(t, s, tq.query())
	if tq.derived != before {
		t.Errorf("second scan derived %d keys sets, want 0 (cached)", tq.derived-before)
	}
	c0 := nextRevision(cases[0], v1.StateRGPositive)
	if err := s.UpdateCase(ctx, c0, worker); err != nil {
		t.Fatal(err)
	}
	before = tq.derived
	check("state changed", 8)
	if d := tq.derived - before; d != 0 {
		t.Errorf("after an update that kept the identity: %d derivations, want 0", d)
	}
	// A changed identity drops them: the new name's keys come out.
	c0 = nextRevision(c0, v1.StateRGPositive)
	c0.Identity.Names = []v1.PersonName{{Kind: v1.NameUsed, Given: "Renamed", Family: "Child"}}
	c0.Identity.Sex = v1.SexMale // and out of the female alert's candidates
	if err := s.UpdateCase(ctx, c0, worker); err != nil {
		t.Fatal(err)
	}
	check("identity changed", 8)
	c0 = nextRevision(c0, v1.StateRGPositive)
	c0.Identity.Sex = v1.SexFemale
	if err := s.UpdateCase(ctx, c0, worker); err != nil {
		t.Fatal(err)
	}
	before = tq.derived
	got := indexedScan(t, s, tq.query())
	if d := tq.derived - before; d != 1 || string(got[c0.ID][0].Bytes) != "Renamed/Child/2011-02-28" {
		t.Errorf("after the identity changed: %d derivations, keys %q; want 1 and the new name", d, got[c0.ID])
	}
	// Another deriver derives again; its keys replace the first's.
	other := &testQuery{want: v1.SexFemale, deriver: "test/2"}
	indexedScan(t, s, other.query())
	if other.derived == 0 {
		t.Error("a new deriver used keys cached by another")
	}

	// Transfer out: no longer this authority's, no entry.
	sent := mustRead(t, s, cases[2].ID)
	out := nextRevision(sent, v1.StateTransferredOut)
	out.Responsible = "CMD"
	if err := s.TransferOutCase(ctx, out, sent, worker); err != nil {
		t.Fatal(err)
	}
	check("transferred out", 7)

	// Relocation in: a provisional copy (Camden responsible) has no entry;
	// once activated it has.
	in := newCase(v1.NewID())
	in.ID = v1.NewCaseID("CMD")
	in.Responsible = "CMD"
	in.Revision = 4
	if _, err := s.InstallRelocatedCase(ctx, in, worker); err != nil {
		t.Fatal(err)
	}
	check("provisional copy", 7)
	active := nextRevision(in, v1.StateRGPending)
	active.Responsible = testAuthority
	if err := s.UpdateCase(ctx, active, worker); err != nil {
		t.Fatal(err)
	}
	check("activated", 8)
	// A case of another authority installed over an old transferred-out copy.
	back := nextRevision(out, v1.StateRGPending)
	back.Responsible = testAuthority
	if _, err := s.InstallRelocatedCase(ctx, back, worker); err != nil {
		t.Fatal(err)
	}
	check("transferred back in", 9)

	// Erasure: a child with two cases leaves no entry at all.
	second := newCase(cases[4].ChildID)
	mustCreate(t, s, second)
	check("second case of a child", 10)
	if err := s.EraseChild(ctx, cases[4].ChildID, worker); err != nil {
		t.Fatal(err)
	}
	check("erased", 8)
	err := s.db.View(func(txn *badger.Txn) error {
		return scanKeys(txn, cat(prefixCandidate, []byte(cases[4].ChildID)), nil, func(k []byte) (bool, error) {
			t.Errorf("erased child still has index entry %q", k)
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The scan is one audited read with the purpose and legal basis given, and
// refuses an access without a purpose or a query without its functions.
func TestMatchCandidatesIsOneAuditedScan(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, newMemNode(t))
	for range 3 {
		mustCreate(t, s, newCase(v1.NewID()))
	}
	tq := &testQuery{deriver: "test/1"}
	none := func(v1.CaseID, []MatchKey) error { return nil }
	if err := s.MatchCandidates(ctx, "alert", Access{Actor: "node"}, tq.query(), none); !errors.Is(err, ErrNoPurpose) {
		t.Errorf("no purpose: %v", err)
	}
	if err := s.MatchCandidates(ctx, "alert", nodeWho, CandidateQuery{Deriver: "x"}, none); err == nil {
		t.Error("a query without Eligible and Derive was accepted")
	}
	start := auditSize(t, s)
	alert := v1.NewID()
	n := 0
	if err := s.MatchCandidates(ctx, string(alert), nodeWho, tq.query(), func(v1.CaseID, []MatchKey) error { n++; return nil }); err != nil || n != 3 {
		t.Fatalf("MatchCandidates: %d candidates, %v", n, err)
	}
	es, _ := s.AuditEntries(start, 100)
	if len(es) != 1 {
		t.Fatalf("audit of the scan: %d entries, want one (cache writes are not audited): %+v", len(es), es)
	}
	e := es[0]
	if e.Action != ActionCaseMatchScan || e.Subject != string(alert) || e.Purpose != nodeWho.Purpose || e.LegalBasis != nodeWho.LegalBasis || e.Reason != "3 cases in the index, 3 eligible" {
		t.Errorf("audit entry %+v", e)
	}
	stop := errors.New("stop")
	n = 0
	if err := s.MatchCandidates(ctx, string(alert), nodeWho, tq.query(), func(v1.CaseID, []MatchKey) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("fn's error: %v after %d calls", err, n)
	}
}

// A store written before the index existed has it built at Open (audited);
// an index out of step with the cases is repaired at Open.
func TestCandidateIndexBuiltAndRepairedOnOpen(t *testing.T) {
	cfg := newNode(t)
	s := mustOpen(t, cfg)
	var cases []*v1.Case
	for i := range 5 {
		c := newCase(v1.NewID())
		c.Identity.Sex = []v1.Sex{v1.SexFemale, v1.SexMale}[i%2]
		mustCreate(t, s, c)
		cases = append(cases, c)
	}
	provisional := newCase(v1.NewID())
	provisional.ID = v1.NewCaseID("CMD")
	provisional.Responsible = "CMD"
	if _, err := s.InstallRelocatedCase(context.Background(), provisional, worker); err != nil {
		t.Fatal(err)
	}
	// Make it an old store: no index, no version.
	dropIndex := func(all bool) {
		t.Helper()
		err := s.db.Update(func(txn *badger.Txn) error {
			var keys [][]byte
			if err := scanKeys(txn, prefixCandidate, nil, func(k []byte) (bool, error) { keys = append(keys, k); return all, nil }); err != nil {
				return err
			}
			if all {
				keys = append(keys, keyCandidateVersion)
			}
			for _, k := range keys {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	dropIndex(true)
	if n := indexSize(t, s); n != 0 {
		t.Fatalf("index not dropped: %d", n)
	}
	mustClose(t, s)

	s = mustOpen(t, cfg)
	if n := indexSize(t, s); n != 5 {
		t.Fatalf("after Open: %d entries, want 5 (the provisional copy is not this authority's)", n)
	}
	size := auditSize(t, s)
	es, _ := s.AuditEntries(size-1, 1)
	if len(es) != 1 || es[0].Action != ActionCandidateIndex || es[0].Reason != "5 cases indexed, 0 unreadable" {
		t.Errorf("the build's audit entry: %+v", es)
	}
	tq := &testQuery{want: v1.SexMale, deriver: "test/1"}
	sameCandidates(t, "rebuilt", indexedScan(t, s, tq.query()), fullScan(t, s, tq.query()))

	// One entry lost (say, damage): found and put back at the next Open,
	// and a stray entry removed.
	dropIndex(false)
	stray := candidateKey(provisional.ChildID, provisional.ID)
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(stray, []byte{1}) }); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	s = mustOpen(t, cfg)
	if n := indexSize(t, s); n != 5 {
		t.Fatalf("after repair: %d entries, want 5", n)
	}
	sameCandidates(t, "repaired", indexedScan(t, s, tq.query()), fullScan(t, s, tq.query()))
	// A clean Open writes and audits nothing.
	size = auditSize(t, s)
	mustClose(t, s)
	s = mustOpen(t, cfg)
	if got := auditSize(t, s); got != size {
		t.Errorf("a clean Open appended %d audit entries", got-size)
	}
	_ = cases
}

// An entry moved to another case does not open (the case ID is in the
// additional data), and the decoder refuses what the encoder would not write.
func TestCandidateEntryFormat(t *testing.T) {
	aead, err := newCaseAEAD(fuzzChildKey)
	if err != nil {
		t.Fatal(err)
	}
	e, err := candidateOf(newCase(v1.NewID()).Identity)
	if err != nil {
		t.Fatal(err)
	}
	e.Deriver, e.Keys = "d", []MatchKey{{Bytes: []byte("k1"), Strength: 2}, {Bytes: []byte("k2"), Strength: 1}}
	e.DateOfBirth = &v1.DateOfBirth{Date: "2012-02-29", Estimated: true, UncertaintyDays: 365}
	sealed, err := sealCandidate(aead, fuzzCaseID, e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := openCandidate(aead, fuzzCaseID, sealed)
	if err != nil || !reflect.DeepEqual(got, e) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if _, err := openCandidate(aead, v1.NewCaseID(testAuthority), sealed); err == nil {
		t.Error("an entry opened under another case's ID")
	}
	plain, err := encodeCandidate(e)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"trailing":  append(bytes.Clone(plain), 0),
		"truncated": plain[:len(plain)-1],
		"format":    append([]byte{2}, plain[1:]...),
		"empty":     nil,
	} {
		if _, err := decodeCandidate(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := encodeCandidate(candidateEntry{Keys: []MatchKey{{Bytes: []byte("k")}}}); err == nil {
		t.Error("encoded keys without a deriver")
	}
}

// parseCandidateKey accepts exactly the keys candidateKey makes of valid IDs.
func TestParseCandidateKey(t *testing.T) {
	child, id := v1.NewID(), v1.NewCaseID(testAuthority)
	if c, i, ok := parseCandidateKey(candidateKey(child, id)); !ok || c != child || i != id {
		t.Fatalf("parse of a valid key: %s %s %v", c, i, ok)
	}
	good := string(candidateKey(child, id))
	for _, bad := range []string{
		good[:len(good)-1], good + "0", "i/mx/" + good[5:],
		string(candidateKey(v1.ID(strings.ToUpper(string(child))), id)),
		string(candidateKey(child, v1.CaseID(strings.ToLower(string(id))))),
		string(candidateKey(child, v1.CaseID(strings.Replace(string(id), "-", "_", 1)))),
	} {
		if _, _, ok := parseCandidateKey([]byte(bad)); ok {
			t.Errorf("accepted %q", bad)
		}
	}
}

// A damaged entry does not drop its case: the case itself decides, and the
// entry is replaced.
func TestDamagedCandidateEntryIsReadFromTheCase(t *testing.T) {
	s := mustOpen(t, newMemNode(t))
	c := newCase(v1.NewID())
	mustCreate(t, s, c)
	mustCreate(t, s, newCase(v1.NewID()))
	key := candidateKey(c.ChildID, c.ID)
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(key, bytes.Repeat([]byte{candidateFormat}, 80)) }); err != nil {
		t.Fatal(err)
	}
	tq := &testQuery{want: v1.SexFemale, deriver: "test/1"}
	sameCandidates(t, "damaged", indexedScan(t, s, tq.query()), fullScan(t, s, tq.query()))
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		aead, err := newCaseAEAD(mustChildKey(t, s, c.ChildID))
		if err != nil {
			return err
		}
		e, err := openCandidate(aead, c.ID, v)
		if err != nil || e.Deriver != "test/1" || e.Sex != c.Identity.Sex {
			t.Errorf("entry after the scan: %+v, %v; want replaced, with keys", e, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mustChildKey(t *testing.T, s *Store, child v1.ID) []byte {
	t.Helper()
	k, err := s.childKey(child)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Scans racing with updates and erasures: no error, no case handed over by
// a scan that started after its erasure returned, and afterwards the index
// agrees with the full scan (a key cache written from a stale read never
// lands).
func TestMatchCandidatesConcurrentWithWrites(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, newMemNode(t))
	var cases []*v1.Case
	for i := range 24 {
		c := newCase(v1.NewID())
		c.Identity.Names[0].Given = fmt.Sprint("Child", i)
		mustCreate(t, s, c)
		cases = append(cases, c)
	}
	tq := &testQuery{deriver: "test/1"}
	q := tq.query()
	q.Derive = testKeys // no counter: called from several goroutines
	var mu sync.Mutex
	erased := map[v1.CaseID]bool{}
	done := make(chan struct{})
	errs := make(chan error, 4)
	for range 2 {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				mu.Lock()
				gone := maps.Clone(erased)
				mu.Unlock()
				err := s.MatchCandidates(ctx, "race", nodeWho, q, func(id v1.CaseID, _ []MatchKey) error {
					if gone[id] {
						return fmt.Errorf("case %s handed over after its erasure", id)
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i, c := range cases {
		if i%3 == 0 {
			if err := s.EraseChild(ctx, c.ChildID, worker); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			erased[c.ID] = true
			mu.Unlock()
			continue
		}
		next := nextRevision(c, v1.StateRGPending)
		next.Identity.Names = []v1.PersonName{{Kind: v1.NameUsed, Given: "Renamed", Family: fmt.Sprint("Child", i)}}
		if err := s.UpdateCase(ctx, next, worker); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("scan: %v", err)
		}
	}
	got, want := indexedScan(t, s, q), fullScan(t, s, q)
	sameCandidates(t, "after the race", got, want)
	if len(want) != 16 || indexSize(t, s) != 16 {
		t.Errorf("%d candidates, %d entries; want 16 each", len(want), indexSize(t, s))
	}
}

// A scan cut short (its caller's deadline) keeps the keys it derived, in
// batches and at the end, so the next scan goes on from there.
func TestCutShortScanKeepsDerivedKeys(t *testing.T) {
	s := mustOpen(t, newMemNode(t))
	const n, stopAt = candidateFillBatch + 60, candidateFillBatch + 20
	for range n {
		mustCreate(t, s, newCase(v1.NewID()))
	}
	tq := &testQuery{deriver: "test/1"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	err := s.MatchCandidates(ctx, "first", nodeWho, tq.query(), func(v1.CaseID, []MatchKey) error {
		if calls++; calls == stopAt {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || tq.derived != stopAt {
		t.Fatalf("cut short: %v after %d derivations; want context.Canceled after %d", err, tq.derived, stopAt)
	}
	before := tq.derived
	if got := indexedScan(t, s, tq.query()); len(got) != n {
		t.Fatalf("second scan: %d candidates, want %d", len(got), n)
	}
	if d := tq.derived - before; d != n-stopAt {
		t.Errorf("second scan derived %d, want %d (the first scan's %d kept)", d, n-stopAt, stopAt)
	}
}
