package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	v1 "nrmnet/schemas/v1"
)

// TestConcurrentUpdates has many goroutines read, change and write a few
// shared cases while others create new ones. Each change appends one note to
// the case; a conflict is retried from a fresh read. Afterwards every
// acknowledged change is in its case (no lost update), conflicts were
// reported, and the audit log verifies and holds exactly one entry per
// operation.
func TestConcurrentUpdates(t *testing.T) {
	cfg := newNode(t)
	s := mustOpen(t, cfg)
	ctx := context.Background()
	const (
		shared    = 5
		updaters  = 8
		perWorker = 25
		creators  = 2
		perCreate = 50
	)
	var ids []v1.CaseID
	for range shared {
		c := newCase(v1.NewID())
		c.Risk = nil
		mustCreate(t, s, c)
		ids = append(ids, c.ID)
	}
	var ops, conflicts atomic.Int64
	ops.Add(shared)
	acked := make([]map[string]bool, shared) // notes acknowledged per case
	for i := range acked {
		acked[i] = map[string]bool{}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, updaters+creators)
	for w := range updaters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range perWorker {
				k := (w + n) % shared
				note := fmt.Sprintf("w%d-n%d", w, n)
				for {
					c, err := s.Case(ctx, ids[k], worker)
					ops.Add(1)
					if err != nil {
						errs <- err
						return
					}
					u := nextRevision(c, c.State)
					u.Risk = append(u.Risk, v1.RiskRating{Rating: v1.RAGAmber, Stage: v1.RiskReview, At: fixed, By: note})
					err = s.UpdateCase(ctx, u, worker)
					ops.Add(1)
					if errors.Is(err, ErrConflict) {
						conflicts.Add(1)
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					acked[k][note] = true
					mu.Unlock()
					break
				}
			}
		}()
	}
	for range creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perCreate {
				if err := s.CreateCase(ctx, newCase(v1.NewID()), worker); err != nil {
					errs <- err
					return
				}
				ops.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	for k, id := range ids {
		c := mustRead(t, s, id)
		ops.Add(1)
		got := map[string]bool{}
		for _, r := range c.Risk {
			if got[r.By] {
				t.Errorf("case %d: note %s applied twice", k, r.By)
			}
			got[r.By] = true
		}
		for note := range acked[k] {
			if !got[note] {
				t.Errorf("case %d: acknowledged update %s is lost", k, note)
			}
		}
		if len(got) != len(acked[k]) || c.Revision != uint64(1+len(acked[k])) {
			t.Errorf("case %d: %d notes at revision %d, %d updates acknowledged", k, len(got), c.Revision, len(acked[k]))
		}
	}
	if conflicts.Load() == 0 {
		t.Error("no conflict was reported: the test did not exercise concurrent edits")
	}
	if n := s.CaseCount(); n != shared+creators*perCreate {
		t.Errorf("CaseCount = %d, want %d", n, shared+creators*perCreate)
	}
	if size := mustVerify(t, s); size != ops.Load() {
		t.Errorf("audit log holds %d entries for %d operations", size, ops.Load())
	}
	t.Logf("%d operations, %d conflicts retried", ops.Load(), conflicts.Load())
}
