package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
)

// The benchmarks below compare the store with plain Badger doing the same
// key/value work in the same run, op by op, interleaved so that a noisy
// neighbour slows both sides alike:
//
//   - store: Store's method (per-child AES-256-GCM, Badger encryption at
//     rest, the audit entry in the same transaction, the writer goroutine,
//     sync before the reply);
//   - plain: the same keys and values (case envelope in the clear, summary,
//     index entries) written by one synced Badger transaction with the same
//     tuning, no encryption at rest, no audit;
//   - plainenc: plain with Badger's encryption at rest on.
//
// Each benchmark reports the store's mean as ns/op (overriding the built-in
// figure, which would be the sum of the three), plain-ns/op, plainenc-ns/op,
// the ratios x-plain and x-plainenc (store time / baseline time), and the
// 99th percentile of each side (p99-ns, plain-p99-ns, plainenc-p99-ns).
// docs/benchmarks.md has the figures and the command lines.

// benchCases is how many cases the read, update and list benchmarks start with.
const benchCases = 5000

// benchDir returns a fresh directory for a benchmark's databases, refusing
// tmpfs, where fsync costs nothing and the figures would mean nothing.
func benchDir(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err == nil && st.Type == 0x01021994 { // TMPFS_MAGIC
		b.Fatalf("%s is on tmpfs: fsync is free there and the figures would be meaningless; set TMPDIR to a directory on a real disk", dir)
	}
	return dir
}

// benchRig is a store and its two plain-Badger baselines.
type benchRig struct {
	store    *Store
	plain    *badger.DB
	plainEnc *badger.DB
	gen      *synthetic.Generator
	cases    []*v1.Case // the stored revision of every case, in all three
}

func quietBenchLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newBenchRig opens a store (production defaults) and the baselines, and
// stores n synthetic cases in all three.
func newBenchRig(b *testing.B, n int, tune func(*Config)) *benchRig {
	b.Helper()
	dir := benchDir(b)
	cfg := DefaultConfig()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.KeysDir = filepath.Join(dir, "keys")
	cfg.Authority = testAuthority
	cfg.Logger = quietBenchLogger()
	if tune != nil {
		tune(&cfg)
	}
	if err := CreateKeys(cfg.KeysDir); err != nil {
		b.Fatal(err)
	}
	s, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Error(err)
		}
	})
	r := &benchRig{store: s, gen: synthetic.New(7, synthetic.WithAuthority(testAuthority))}
	r.plain = openBaseline(b, cfg, filepath.Join(dir, "plain"), nil)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		b.Fatal(err)
	}
	r.plainEnc = openBaseline(b, cfg, filepath.Join(dir, "plainenc"), key)
	r.cases = r.newCases(n)
	r.fill(b, r.cases)
	return r
}

// openBaseline opens a plain Badger database with the data database's
// tuning, SyncWrites on, encrypted at rest only if key is set.
func openBaseline(b *testing.B, cfg Config, dir string, key []byte) *badger.DB {
	b.Helper()
	c := cfg
	c.DataDir = dir
	db, err := badger.Open(c.dataOptions(key, cfg.logger()).WithSyncWrites(true))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := db.Close(); err != nil {
			b.Error(err)
		}
	})
	return db
}

// newCases returns n new synthetic cases at revision 1.
func (r *benchRig) newCases(n int) []*v1.Case {
	cs := make([]*v1.Case, n)
	for i := range cs {
		c := r.gen.Case()
		c.Revision = 1
		cs[i] = c
	}
	return cs
}

// fill stores cases in the store (32 writers, so group commit batches them)
// and in both baselines.
func (r *benchRig) fill(b *testing.B, cases []*v1.Case) {
	b.Helper()
	ctx := context.Background()
	work := make(chan *v1.Case)
	errs := make(chan error, 32)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				if err := r.store.CreateCase(ctx, c, worker); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for _, c := range cases {
		work <- c
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	for _, db := range []*badger.DB{r.plain, r.plainEnc} {
		wb := db.NewWriteBatch()
		for _, c := range cases {
			plain, err := v1.Marshal(c)
			if err != nil {
				b.Fatal(err)
			}
			if err := wb.Set(caseKey(c.ID), plain); err != nil {
				b.Fatal(err)
			}
			sum, err := encodeSummary(summaryOf(c))
			if err != nil {
				b.Fatal(err)
			}
			if err := wb.Set(summaryKey(c.ID), sum); err != nil {
				b.Fatal(err)
			}
			for _, k := range indexKeys(summaryOf(c)) {
				if err := wb.Set(k, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := wb.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}

// plainCreate is CreateCase's key/value work on plain Badger: encode, check
// the case is new, write value, summary and index entries, commit (synced).
func plainCreate(db *badger.DB, c *v1.Case) error {
	plain, err := v1.Marshal(c)
	if err != nil {
		return err
	}
	return db.Update(func(txn *badger.Txn) error {
		if _, err := readSummary(txn, c.ID); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("case %s: %v", c.ID, err)
		}
		if err := txn.Set(caseKey(c.ID), plain); err != nil {
			return err
		}
		return putSummary(txn, summaryOf(c), nil)
	})
}

// plainUpdate is UpdateCase's: encode, read the old summary, check the
// revision, replace value, summary and changed index entries, commit (synced).
func plainUpdate(db *badger.DB, c *v1.Case) error {
	plain, err := v1.Marshal(c)
	if err != nil {
		return err
	}
	return db.Update(func(txn *badger.Txn) error {
		old, err := readSummary(txn, c.ID)
		if err != nil {
			return err
		}
		if old.Revision+1 != c.Revision {
			return fmt.Errorf("case %s: revision %d after %d", c.ID, c.Revision, old.Revision)
		}
		if err := txn.Set(caseKey(c.ID), plain); err != nil {
			return err
		}
		return putSummary(txn, summaryOf(c), &old)
	})
}

// plainRead is Case's: read the summary and the value, decode the case.
func plainRead(db *badger.DB, id v1.CaseID) (*v1.Case, error) {
	var c *v1.Case
	err := db.View(func(txn *badger.Txn) error {
		if _, err := readSummary(txn, id); err != nil {
			return err
		}
		item, err := txn.Get(caseKey(id))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			c, err = v1.UnmarshalCase(v)
			return err
		})
	})
	return c, err
}

// plainList is ListCases's: the same index scan and summary reads.
func plainList(db *badger.DB, q CaseQuery) ([]CaseSummary, error) {
	var out []CaseSummary
	err := db.View(func(txn *badger.Txn) error {
		var err error
		out, err = listCases(txn, q)
		return err
	})
	return out, err
}

// opTimes records the duration of each operation of one side.
type opTimes []time.Duration

func (o *opTimes) time(fn func() error) error {
	start := time.Now()
	err := fn()
	*o = append(*o, time.Since(start))
	return err
}

func (o opTimes) mean() float64 {
	if len(o) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range o {
		sum += d
	}
	return float64(sum) / float64(len(o))
}

func (o opTimes) p99() float64 {
	if len(o) == 0 {
		return 0
	}
	s := slices.Clone(o)
	slices.Sort(s)
	return float64(s[(len(s)*99)/100])
}

// report publishes the three sides' means, p99s and the ratios. per divides
// each recorded duration (a round of per operations) into per-operation time.
func report(b *testing.B, store, plain, plainEnc opTimes, per int) {
	b.Helper()
	p := float64(per)
	b.ReportMetric(store.mean()/p, "ns/op")
	b.ReportMetric(plain.mean()/p, "plain-ns/op")
	b.ReportMetric(plainEnc.mean()/p, "plainenc-ns/op")
	b.ReportMetric(store.mean()/plain.mean(), "x-plain")
	b.ReportMetric(store.mean()/plainEnc.mean(), "x-plainenc")
	b.ReportMetric(store.p99()/p, "p99-ns")
	b.ReportMetric(plain.p99()/p, "plain-p99-ns")
	b.ReportMetric(plainEnc.p99()/p, "plainenc-p99-ns")
}

// BenchmarkCreateCase stores new synthetic cases, one at a time: each is a
// new child, so the store also creates (and syncs) the child's data key.
func BenchmarkCreateCase(b *testing.B) {
	r := newBenchRig(b, 0, nil)
	ctx := context.Background()
	var st, pl, pe opTimes
	for b.Loop() {
		c := r.newCases(1)[0]
		if err := st.time(func() error { return r.store.CreateCase(ctx, c, worker) }); err != nil {
			b.Fatal(err)
		}
		if err := pl.time(func() error { return plainCreate(r.plain, c) }); err != nil {
			b.Fatal(err)
		}
		if err := pe.time(func() error { return plainCreate(r.plainEnc, c) }); err != nil {
			b.Fatal(err)
		}
	}
	report(b, st, pl, pe, 1)
}

// BenchmarkCreateCaseConcurrent stores rounds of 16 new cases written at
// once by 16 goroutines (16 caseworkers saving together): the store's writer
// commits a round in one transaction and one sync (group commit), plain
// Badger groups the 16 synced commits in its own write loop. Figures are
// per case.
func BenchmarkCreateCaseConcurrent(b *testing.B) {
	const writers = 16
	r := newBenchRig(b, 0, nil)
	ctx := context.Background()
	round := func(cs []*v1.Case, fn func(*v1.Case) error) error {
		errs := make([]error, len(cs))
		var wg sync.WaitGroup
		for i, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = fn(c)
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	var st, pl, pe opTimes
	for b.Loop() {
		cs := r.newCases(writers)
		if err := st.time(func() error {
			return round(cs, func(c *v1.Case) error { return r.store.CreateCase(ctx, c, worker) })
		}); err != nil {
			b.Fatal(err)
		}
		if err := pl.time(func() error {
			return round(cs, func(c *v1.Case) error { return plainCreate(r.plain, c) })
		}); err != nil {
			b.Fatal(err)
		}
		if err := pe.time(func() error {
			return round(cs, func(c *v1.Case) error { return plainCreate(r.plainEnc, c) })
		}); err != nil {
			b.Fatal(err)
		}
	}
	report(b, st, pl, pe, writers)
}

// BenchmarkUpdateCase stores the next revision of stored cases, moving each
// case's next deadline (so an index entry is replaced).
func BenchmarkUpdateCase(b *testing.B) {
	r := newBenchRig(b, benchCases, nil)
	ctx := context.Background()
	var st, pl, pe opTimes
	i := 0
	for b.Loop() {
		old := r.cases[i%len(r.cases)]
		i++
		c := *old
		c.Revision++
		c.UpdatedAt = c.UpdatedAt.Add(time.Minute)
		due := c.UpdatedAt.Add(5 * 24 * time.Hour)
		c.NextDeadline = &due
		r.cases[(i-1)%len(r.cases)] = &c
		if err := st.time(func() error { return r.store.UpdateCase(ctx, &c, worker) }); err != nil {
			b.Fatal(err)
		}
		if err := pl.time(func() error { return plainUpdate(r.plain, &c) }); err != nil {
			b.Fatal(err)
		}
		if err := pe.time(func() error { return plainUpdate(r.plainEnc, &c) }); err != nil {
			b.Fatal(err)
		}
	}
	report(b, st, pl, pe, 1)
}

// BenchmarkCase reads stored cases. With SyncReads on (the default) the
// audit entry of each read is synced before the case is returned, so a read
// costs a sync; with it off the entry is committed but synced within
// SyncInterval.
func BenchmarkCase(b *testing.B) {
	for _, syncReads := range []bool{true, false} {
		b.Run(fmt.Sprintf("syncreads=%v", syncReads), func(b *testing.B) {
			r := newBenchRig(b, benchCases, func(c *Config) { c.SyncReads = syncReads })
			ctx := context.Background()
			var st, pl, pe opTimes
			i := 0
			for b.Loop() {
				id := r.cases[(i*7919)%len(r.cases)].ID // a stride through the cases
				i++
				if err := st.time(func() error { _, err := r.store.Case(ctx, id, worker); return err }); err != nil {
					b.Fatal(err)
				}
				if err := pl.time(func() error { _, err := plainRead(r.plain, id); return err }); err != nil {
					b.Fatal(err)
				}
				if err := pe.time(func() error { _, err := plainRead(r.plainEnc, id); return err }); err != nil {
					b.Fatal(err)
				}
			}
			report(b, st, pl, pe, 1)
		})
	}
}

// BenchmarkListCases lists 100 summaries by state and by next deadline,
// from the indexes (no case is decrypted). Its audit entry is synced before
// the list is returned unless SyncReads is off, as for BenchmarkCase.
func BenchmarkListCases(b *testing.B) {
	for _, syncReads := range []bool{true, false} {
		b.Run(fmt.Sprintf("syncreads=%v", syncReads), func(b *testing.B) {
			benchmarkListCases(b, syncReads)
		})
	}
}

func benchmarkListCases(b *testing.B, syncReads bool) {
	r := newBenchRig(b, benchCases, func(c *Config) { c.SyncReads = syncReads })
	ctx := context.Background()
	// The most common state, so that a page is full.
	count := map[v1.CaseState]int{}
	for _, c := range r.cases {
		count[c.State]++
	}
	var common v1.CaseState
	for st, n := range count {
		if n > count[common] {
			common = st
		}
	}
	queries := []struct {
		name string
		q    CaseQuery
	}{
		{"by=state", CaseQuery{State: common, Limit: 100}},
		{"by=deadline", CaseQuery{DueBefore: r.gen.Now().AddDate(1, 0, 0), Limit: 100}},
	}
	for _, qq := range queries {
		b.Run(qq.name, func(b *testing.B) {
			want, err := plainList(r.plain, qq.q)
			if err != nil {
				b.Fatal(err)
			}
			if len(want) < 50 {
				b.Fatalf("query %+v finds only %d cases; the benchmark needs a fuller page", qq.q, len(want))
			}
			var st, pl, pe opTimes
			for b.Loop() {
				var got []CaseSummary
				if err := st.time(func() error { got, err = r.store.ListCases(ctx, qq.q, worker); return err }); err != nil {
					b.Fatal(err)
				}
				if len(got) != len(want) {
					b.Fatalf("store listed %d cases, plain Badger %d", len(got), len(want))
				}
				if err := pl.time(func() error { _, err := plainList(r.plain, qq.q); return err }); err != nil {
					b.Fatal(err)
				}
				if err := pe.time(func() error { _, err := plainList(r.plainEnc, qq.q); return err }); err != nil {
					b.Fatal(err)
				}
			}
			report(b, st, pl, pe, 1)
		})
	}
}

// BenchmarkBlockChecksum measures what Badger's block checksum verification
// (ChecksumVerificationMode OnBlockRead, which the store sets) costs a read
// that misses the block cache: two copies of the same encrypted database,
// one verifying and one not, each with a 1 MiB block cache over about 24 MiB
// of case-sized values, read at the same random keys in turn. A block found
// in the cache is not verified again, so this is the worst case.
func BenchmarkBlockChecksum(b *testing.B) {
	const values = 16000
	dir := benchDir(b)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		b.Fatal(err)
	}
	open := func(name string, mode options.ChecksumVerificationMode) *badger.DB {
		cfg := DefaultConfig()
		cfg.DataDir = filepath.Join(dir, name)
		cfg.BlockCacheSize = 1 << 20
		db, err := badger.Open(cfg.dataOptions(key, quietBenchLogger()).WithChecksumVerificationMode(mode))
		if err != nil {
			b.Fatal(err)
		}
		return db
	}
	value := func(i int) []byte {
		// Case values are AES-GCM ciphertext: incompressible, ~1.5 KiB.
		v := make([]byte, 1536)
		for j := range v {
			v[j] = byte(uint32(i*2654435761+j*40503) >> 13)
		}
		return v
	}
	dbs := map[string]*badger.DB{}
	for _, name := range []string{"verify", "noverify"} {
		db := open(name, options.NoVerification)
		wb := db.NewWriteBatch()
		for i := range values {
			if err := wb.Set(fmt.Appendf(nil, "c/%08d", i), value(i)); err != nil {
				b.Fatal(err)
			}
		}
		if err := wb.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := db.Close(); err != nil { // flush the memtables into tables
			b.Fatal(err)
		}
	}
	dbs["verify"] = open("verify", options.OnBlockRead)
	dbs["noverify"] = open("noverify", options.NoVerification)
	for _, db := range dbs {
		b.Cleanup(func() { db.Close() })
	}
	get := func(db *badger.DB, i int) error {
		return db.View(func(txn *badger.Txn) error {
			item, err := txn.Get(fmt.Appendf(nil, "c/%08d", i))
			if err != nil {
				return err
			}
			return item.Value(func(v []byte) error {
				if !bytes.Equal(v, value(i)) {
					return fmt.Errorf("value %d differs", i)
				}
				return nil
			})
		})
	}
	var ver, nover opTimes
	i := 0
	for b.Loop() {
		k := (i * 7919) % values
		i++
		if err := ver.time(func() error { return get(dbs["verify"], k) }); err != nil {
			b.Fatal(err)
		}
		if err := nover.time(func() error { return get(dbs["noverify"], k) }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(ver.mean(), "ns/op")
	b.ReportMetric(nover.mean(), "noverify-ns/op")
	b.ReportMetric(ver.mean()/nover.mean(), "x-noverify")
	b.ReportMetric(ver.p99(), "p99-ns")
	b.ReportMetric(nover.p99(), "noverify-p99-ns")
}
