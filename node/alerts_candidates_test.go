package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"testing"
	"time"

	"nrmnet/node/matchkeys"
	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// fullScanStore hides the store's candidate index, so CrossBorder falls
// back to reading every identity: the reference the index must equal.
type fullScanStore struct{ AlertStore }

// candidateCases returns synthetic cases plus cases whose dates of birth sit
// on the edges of every age band, as matchkeys.Candidate sees them from
// now: documented and estimated (several uncertainties), one day either
// side of the band's edge widened by the slack and the uncertainty, leap
// days, and no date of birth; every sex.
func candidateCases(now time.Time, slack int) []*v1.Case {
	gen := synthetic.New(11, synthetic.WithAuthority(testAuthority), synthetic.WithClock(now))
	var cases []*v1.Case
	for range 200 {
		c := gen.Case()
		c.Revision = 1
		cases = append(cases, c)
	}
	sexes := []v1.Sex{v1.SexFemale, v1.SexMale, v1.SexOther, v1.SexUnknown}
	var dobs []*v1.DateOfBirth
	for _, age := range []int{9, 10, 12, 13, 15, 16, 17, 18} {
		for _, u := range []int{0, 1, 30, 365, 366, 1000} {
			w := slack + u
			for _, d := range []int{-w - 1, -w, -w + 1, 0, w - 1, w, w + 1} {
				dob := &v1.DateOfBirth{Date: v1.DateOf(now.AddDate(-age, 0, d))}
				if u > 0 {
					dob.Estimated, dob.UncertaintyDays = true, u
				}
				dobs = append(dobs, dob)
			}
		}
	}
	dobs = append(dobs, nil, nil, &v1.DateOfBirth{Date: "2012-02-29"}, &v1.DateOfBirth{Date: "2008-02-29", Estimated: true, UncertaintyDays: 1},
		&v1.DateOfBirth{Date: "2016-02-29"}, &v1.DateOfBirth{Date: "2010-03-01", Estimated: true})
	for i, dob := range dobs {
		c := gen.Case()
		c.Revision = 1
		c.Identity.DateOfBirth = dob
		c.Identity.Sex = sexes[i%len(sexes)]
		cases = append(cases, c)
	}
	return cases
}

func candidateSet(t *testing.T, cb *CrossBorder, a *v1.CrossBorderAlert, now time.Time) map[v1.CaseID]string {
	t.Helper()
	scan := storage.Access{Actor: "node", Role: "node", Purpose: "test", LegalBasis: v1.BasisSafeguardingChildren}
	cands, strengths, err := cb.candidates(context.Background(), a, now, scan)
	if err != nil {
		t.Fatal(err)
	}
	out := map[v1.CaseID]string{}
	for _, c := range cands {
		if _, dup := out[c.Case]; dup {
			t.Fatalf("case %s is a candidate twice", c.Case)
		}
		out[c.Case] = fmt.Sprintf("%x %v", bytes.Join(c.Keys, []byte{0}), strengths[c.Case])
	}
	return out
}

// The candidate index gives exactly the candidates, keys and strengths of
// the full scan, for every age band and sex, at several instants (a band's
// edges move with the clock), before and after the keys are cached, and
// after identities change.
func TestCandidateIndexEqualsFullScan(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cfg := matchkeys.DefaultConfig()
	cases := candidateCases(start, cfg.BandSlackDays)
	for _, c := range cases {
		if err := f.store.CreateCase(ctx, c, storage.Access{Actor: "sw", Purpose: "test"}); err != nil {
			t.Fatalf("create %s: %v", c.ID, err)
		}
	}
	newCB := func(store AlertStore) *CrossBorder {
		_, key, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		c := DefaultCrossBorderConfig()
		c.Node, c.Store, c.Signer = f.node, store, key
		cb, err := NewCrossBorder(c)
		if err != nil {
			t.Fatal(err)
		}
		return cb
	}
	indexed, full := newCB(f.store), newCB(fullScanStore{f.store})
	if _, ok := full.store.(CandidateStore); ok {
		t.Fatal("the reference store still offers the index")
	}
	bands := []v1.AgeBand{v1.AgeUnder10, v1.Age10To12, v1.Age13To15, v1.Age16To17, v1.AgeUnknown}
	sexes := []v1.Sex{v1.SexFemale, v1.SexMale, v1.SexOther, v1.SexUnknown}
	instants := []time.Time{start, start.AddDate(0, 0, -3), start.AddDate(1, 0, 0), time.Date(2028, 2, 29, 23, 0, 0, 0, time.UTC)}
	compare := func(round string) {
		t.Helper()
		total := 0
		for _, now := range instants {
			for _, band := range bands {
				for _, sex := range sexes {
					a := &v1.CrossBorderAlert{ID: v1.NewID(), Issuer: "CMD", AgeBand: band, Sex: sex}
					got, want := candidateSet(t, indexed, a, now), candidateSet(t, full, a, now)
					if len(got) != len(want) {
						t.Errorf("%s, %s %s at %s: index %d candidates, full scan %d", round, band, sex, now.Format(time.DateOnly), len(got), len(want))
					}
					for id, k := range want {
						if g, ok := got[id]; g != k {
							t.Errorf("%s, %s %s at %s: case %s: from the index: %v, same keys and strengths: %v", round, band, sex, now.Format(time.DateOnly), id, ok, g == k)
						}
					}
					total += len(want)
				}
			}
		}
		if total == 0 {
			t.Fatalf("%s: no candidates at all; the test tests nothing", round)
		}
	}
	compare("first (keys derived)")
	compare("second (keys cached)")

	// Change identities: date of birth, sex, names; some to no date.
	for i, c := range cases[:60] {
		next := *c
		next.Revision++
		next.Identity = c.Identity
		switch i % 3 {
		case 0:
			next.Identity.DateOfBirth = &v1.DateOfBirth{Date: v1.DateOf(start.AddDate(-13, 0, i)), Estimated: true, UncertaintyDays: 200}
		case 1:
			next.Identity.Sex = sexes[(slices.Index(sexes, c.Identity.Sex)+1)%len(sexes)]
			next.Identity.DateOfBirth = nil
		case 2:
			next.Identity.Names = []v1.PersonName{{Kind: v1.NameUsed, Given: "Changed", Family: fmt.Sprint("Name", i)}}
		}
		if err := f.store.UpdateCase(ctx, &next, storage.Access{Actor: "sw", Purpose: "test"}); err != nil {
			t.Fatalf("update %s: %v", c.ID, err)
		}
	}
	compare("after identity changes")
}
