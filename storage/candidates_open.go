package storage

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	v1 "nrmnet/schemas/v1"
)

// candidateBuildBatch bounds the index entries one transaction of Open's
// check writes or deletes.
const candidateBuildBatch = 256

// checkCandidateIndex makes the match-candidate index agree with the stored
// cases. A store without a complete index of the current format (written
// before the index existed, or restored from such a backup) has its index
// built from scratch. Otherwise a key-only comparison of the cases this
// authority is responsible for (the i/ra/ index) with the entries finds
// any difference, which is fixed and logged: a case write keeps its entry in
// step in the same transaction, so a difference means damage or a bug.
// Building an entry decrypts the case; that is audited (case.candidate_index,
// one entry for the whole run). It runs in Open, after erasures are
// completed and before the writer starts.
func (s *Store) checkCandidateIndex() error {
	start := time.Now()
	var version string
	indexed := map[v1.CaseID][]byte{} // case -> its index key
	var stray [][]byte                // keys under the prefix that are no entry's
	var missing []v1.CaseID
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(keyCandidateVersion)
		switch {
		case err == nil:
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			version = string(v)
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		err = scanKeys(txn, prefixCandidate, nil, func(k []byte) (bool, error) {
			if _, id, ok := parseCandidateKey(k); ok {
				indexed[id] = k
			} else {
				stray = append(stray, k)
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		own := cat(prefixByAuth, []byte(s.cfg.Authority))
		return scanKeys(txn, own, nil, func(k []byte) (bool, error) {
			id := v1.CaseID(k[len(own):])
			_, ok := indexed[id]
			delete(indexed, id)
			if !ok || version != candidateIndexVersion {
				missing = append(missing, id) // an entry of another format is rebuilt
			}
			return true, nil
		})
	})
	if err != nil {
		return fmt.Errorf("check the match-candidate index: %w", err)
	}
	rebuild := version != candidateIndexVersion
	if rebuild && len(missing) > 0 {
		s.log.Info("building the match-candidate index (once, after an upgrade or a restore of an older backup)", "cases", len(missing))
	}
	// What is left in indexed has an entry but is not a case this authority
	// is responsible for: delete those entries, and the stray keys.
	extra := stray
	for _, k := range indexed {
		extra = append(extra, k)
	}
	for len(extra) > 0 {
		chunk := extra[:min(len(extra), candidateBuildBatch)]
		extra = extra[len(chunk):]
		err := s.applyNow("delete match-candidate entries", func(b *batch) error {
			for _, k := range chunk {
				if err := b.txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("check the match-candidate index: %w", err)
		}
	}
	built, unreadable, err := s.buildCandidates(missing)
	if err != nil {
		return fmt.Errorf("check the match-candidate index: %w", err)
	}
	if built > 0 {
		who := nodeAccess
		who.Purpose = "build the match-candidate index"
		e := s.entry(who, ActionCandidateIndex, "cases")
		e.Reason = fmt.Sprintf("%d cases indexed, %d unreadable", built, unreadable)
		if err := s.applyNow("audit the match-candidate index", func(b *batch) error { return b.appendAudit(e) }); err != nil {
			return fmt.Errorf("check the match-candidate index: %w", err)
		}
	}
	if rebuild {
		err := s.applyNow("record the match-candidate index version", func(b *batch) error {
			return b.txn.Set(keyCandidateVersion, []byte(candidateIndexVersion))
		})
		if err != nil {
			return fmt.Errorf("check the match-candidate index: %w", err)
		}
	}
	switch {
	case rebuild:
		if built > 0 || unreadable > 0 {
			s.log.Info("match-candidate index built", "cases", built, "unreadable", unreadable, "took", time.Since(start).Round(time.Millisecond))
		}
	case built > 0 || len(indexed)+len(stray) > 0:
		s.log.Warn("match-candidate index was out of step with the cases and has been repaired", "added", built, "removed", len(indexed)+len(stray))
	}
	if unreadable > 0 {
		s.log.Warn("cases left out of the match-candidate index because they cannot be read (is a child key lost?); they are not matched against alerts", "cases", unreadable)
	}
	return nil
}

// buildCandidates writes the index entries of cases, reading each in full.
// A case that cannot be read (its child key lost) is counted, not indexed.
func (s *Store) buildCandidates(ids []v1.CaseID) (built, unreadable int, err error) {
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), candidateBuildBatch)]
		ids = ids[len(chunk):]
		type put struct{ key, value []byte }
		var puts []put
		for _, id := range chunk {
			c, err := s.readCase(id)
			if err != nil {
				if errors.Is(err, ErrNotFound) || errors.Is(err, ErrErased) {
					continue
				}
				unreadable++
				s.log.Warn("match-candidate index: case unreadable", "case", string(id), "err", err)
				continue
			}
			if !s.ownCase(c.Responsible) {
				continue
			}
			key, err := s.childKey(c.ChildID)
			if err != nil {
				unreadable++
				continue
			}
			aead, err := newCaseAEAD(key)
			if err != nil {
				return built, unreadable, err
			}
			e, err := candidateOf(c.Identity)
			if err != nil {
				return built, unreadable, err
			}
			value, err := sealCandidate(aead, c.ID, e)
			if err != nil {
				return built, unreadable, err
			}
			puts = append(puts, put{candidateKey(c.ChildID, c.ID), value})
		}
		err := s.applyNow("build match-candidate entries", func(b *batch) error {
			for _, p := range puts {
				if err := b.txn.Set(p.key, p.value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return built, unreadable, err
		}
		built += len(puts)
	}
	return built, unreadable, nil
}

// applyNow commits one change through the writer's code before the writer
// goroutine runs (Open only), synced.
func (s *Store) applyNow(op string, apply func(b *batch) error) error {
	r := &request{op: op, durable: true, reply: make(chan error, 1)}
	r.apply = func(b *batch) (error, error) { return nil, apply(b) }
	s.commitBatch([]*request{r})
	return <-r.reply
}
