package matchkeys_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"nrmnet/node/matchkeys"
	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
)

// The measurement behind docs/matching.md: children from the synthetic
// generator, several variants of each as another authority might record
// them (true pairs), against a population of unrelated children of the
// same age band and sex drawn from the generator's Identity stream (false
// pairs). Two records "match" when they share an identity key; the OPRF
// turns equal keys into equal tokens and unequal keys into unequal ones
// (up to a 2^-256 collision), so measuring on the keys measures the
// protocol. federation/match checks that equivalence end to end on a sample.
const (
	measureChildren   = 1000
	measureVariants   = 3
	measurePopulation = 500   // unrelated candidates per child, same band and sex
	measurePool       = 40000 // unrelated identities to draw the populations from
)

type matchFigures struct {
	cfg                 matchkeys.Config
	truePairs, tp       int
	falsePairs, fp      int
	byChange            map[synthetic.Variation][2]int // [met, total]
	tpByStrength        map[matchkeys.Strength]int
	fpByStrength        map[matchkeys.Strength]int
	keysIssuer, keysAll []int
}

func (f matchFigures) recall() float64    { return float64(f.tp) / float64(f.truePairs) }
func (f matchFigures) precision() float64 { return float64(f.tp) / float64(f.tp+f.fp) }
func (f matchFigures) falseRate() float64 { return float64(f.fp) / float64(f.falsePairs) }

func keySet(ks []matchkeys.Key) map[string]matchkeys.Strength {
	m := make(map[string]matchkeys.Strength, len(ks))
	for _, k := range ks {
		m[string(k.Bytes)] = k.Strength
	}
	return m
}

// meet returns the strongest strength of a key the two sets share, or 0.
func meet(a map[string]matchkeys.Strength, b []matchkeys.Key) matchkeys.Strength {
	var best matchkeys.Strength
	for _, k := range b {
		if _, ok := a[string(k.Bytes)]; ok && k.Strength > best {
			best = k.Strength
		}
	}
	return best
}

type bandSex struct {
	band v1.AgeBand
	sex  v1.Sex
}

func measure(t testing.TB, cfg matchkeys.Config, seed int64) matchFigures {
	d, err := matchkeys.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := synthetic.New(seed)
	now := g.Now()
	pool := map[bandSex][][]matchkeys.Key{}
	for range measurePool {
		id := g.Identity()
		b, s := matchkeys.AlertFields(id, now)
		pool[bandSex{b, s}] = append(pool[bandSex{b, s}], d.Keys(id))
	}
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	f := matchFigures{
		cfg:      cfg,
		byChange: map[synthetic.Variation][2]int{}, tpByStrength: map[matchkeys.Strength]int{},
		fpByStrength: map[matchkeys.Strength]int{},
	}
	for _, c := range g.Cases(measureChildren) {
		issued := d.Keys(c.Identity)
		f.keysIssuer = append(f.keysIssuer, len(issued))
		set := keySet(issued)
		band, sex := matchkeys.AlertFields(c.Identity, now)
		for range measureVariants {
			v, changes := g.VariantDetail(c)
			if !d.Candidate(v, now, band, sex) {
				t.Errorf("narrowing dropped a variant of %s (%s): band %s sex %s", c.ID, changes, band, sex)
			}
			vk := d.Keys(v)
			f.keysAll = append(f.keysAll, len(vk))
			s := meet(set, vk)
			f.truePairs++
			if s > 0 {
				f.tp++
				f.tpByStrength[s]++
			}
			for bit := synthetic.Variation(1); bit <= synthetic.VariedDOBDropped; bit <<= 1 {
				if changes.Has(bit) {
					n := f.byChange[bit]
					n[1]++
					if s > 0 {
						n[0]++
					}
					f.byChange[bit] = n
				}
			}
		}
		pop := pool[bandSex{band, sex}]
		if len(pop) == 0 {
			continue
		}
		start := r.IntN(len(pop))
		for i := range min(measurePopulation, len(pop)) {
			f.falsePairs++
			if s := meet(set, pop[(start+i)%len(pop)]); s > 0 {
				f.fp++
				f.fpByStrength[s]++
			}
		}
	}
	return f
}

func mean(xs []int) float64 {
	s := 0
	for _, x := range xs {
		s += x
	}
	return float64(s) / float64(len(xs))
}

func (f matchFigures) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "config: MaxKeys=%d YearKeys=%v NameOnly=%v\n", f.cfg.MaxKeys, f.cfg.YearKeys, f.cfg.NameOnly)
	fmt.Fprintf(&b, "recall    %.4f (%d of %d variants met)\n", f.recall(), f.tp, f.truePairs)
	fmt.Fprintf(&b, "precision %.4f (%d false matches in %d unrelated pairs; false-match rate %.2e per pair)\n",
		f.precision(), f.fp, f.falsePairs, f.falseRate())
	fmt.Fprintf(&b, "keys per identity: issuer mean %.1f max %d; variants mean %.1f max %d\n",
		mean(f.keysIssuer), slices.Max(f.keysIssuer), mean(f.keysAll), slices.Max(f.keysAll))
	for s := matchkeys.StrengthExactDate; s >= matchkeys.StrengthName; s-- {
		fmt.Fprintf(&b, "  strongest key %-22s true %5d  false %4d\n", s, f.tpByStrength[s], f.fpByStrength[s])
	}
	for bit := synthetic.Variation(1); bit <= synthetic.VariedDOBDropped; bit <<= 1 {
		n := f.byChange[bit]
		if n[1] > 0 {
			fmt.Fprintf(&b, "  recall with %-16s %.3f (%d of %d)\n", bit, float64(n[0])/float64(n[1]), n[0], n[1])
		}
	}
	return b.String()
}

// TestPrecisionRecall measures the default keys, and two alternatives, on the
// synthetic variants and prints the figures (go test -v -run
// PrecisionRecall ./node/matchkeys). It asserts only what must hold whatever
// the tuning: the default finds most variants and is more precise than the
// name-only alternative.
func TestPrecisionRecall(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	def := measure(t, matchkeys.DefaultConfig(), 1)
	t.Logf("default\n%s", def)

	nameOnly := matchkeys.DefaultConfig()
	nameOnly.NameOnly = true
	no := measure(t, nameOnly, 1)
	t.Logf("with name-only keys\n%s", no)

	exact := matchkeys.DefaultConfig()
	exact.YearKeys = false
	ex := measure(t, exact, 1)
	t.Logf("exact dates only\n%s", ex)

	if def.recall() < 0.5 {
		t.Errorf("default recall %.3f: the folding no longer meets most variants", def.recall())
	}
	if no.recall() < def.recall() || ex.recall() > def.recall() {
		t.Errorf("recall should grow with keys: exact-only %.3f, default %.3f, name-only %.3f", ex.recall(), def.recall(), no.recall())
	}
	if no.fp < def.fp {
		t.Errorf("name-only keys cannot have fewer false matches (%d) than the default (%d)", no.fp, def.fp)
	}
}

// BenchmarkKeys: deriving one identity's keys (folding and encoding),
// against the OPRF evaluation per key in federation/match.
func BenchmarkKeys(b *testing.B) {
	d, err := matchkeys.New(matchkeys.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	g := synthetic.New(3)
	ids := make([]v1.ChildIdentity, 256)
	for i := range ids {
		ids[i] = g.Identity()
	}
	b.ResetTimer()
	for i := range b.N {
		_ = d.Keys(ids[i%len(ids)])
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/identity")
}
