package auditlog

import (
	"errors"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/tlog"
)

// proofLogSize is the largest tree the proof tests cover, every size up to it.
const proofLogSize = 2048

// TestProofs builds one log of proofLogSize entries, keeping the checkpoint
// at every size, and checks inclusion and consistency proofs against them.
func TestProofs(t *testing.T) {
	db := newMemDB(t)
	l := New(testOrigin, testPrefix)
	cps := make([]Checkpoint, proofLogSize+1) // cps[s]: the checkpoint at size s
	mustView(t, db, func(txn *badger.Txn) (err error) {
		cps[0], err = l.Checkpoint(txn)
		return err
	})
	for s := int64(0); s < proofLogSize; {
		mustUpdate(t, db, func(txn *badger.Txn) error {
			for k := 0; k < 64; k++ {
				if _, err := l.Append(txn, testEntry(s)); err != nil {
					return err
				}
				s++
				cp, err := l.Checkpoint(txn)
				if err != nil {
					return err
				}
				cps[s] = cp
			}
			return nil
		})
	}

	txn := db.NewTransaction(false)
	defer txn.Discard()

	t.Run("roots match RFC 6962", func(t *testing.T) {
		var leaves [][]byte
		for s := int64(0); s <= proofLogSize; s++ {
			if s > 0 {
				leaves = append(leaves, testEntry(s-1))
			}
			if (s <= 130 || s%127 == 0 || s == proofLogSize) && cps[s].Root != mth(leaves) {
				t.Fatalf("root at size %d = %s, want %s", s, cps[s].Root, mth(leaves))
			}
		}
	})

	checkInclusion := func(t *testing.T, index, size int64) {
		t.Helper()
		p, err := l.ProveInclusion(txn, index, size)
		if err != nil {
			t.Fatalf("ProveInclusion(%d, %d): %v", index, size, err)
		}
		if err := CheckInclusion(p, cps[size], index, testEntry(index)); err != nil {
			t.Fatalf("CheckInclusion(%d, %d): %v", index, size, err)
		}
	}

	t.Run("inclusion at every size", func(t *testing.T) {
		for s := int64(1); s <= proofLogSize; s++ {
			for _, i := range []int64{0, s - 1, s / 2, (s * 7919) % s} {
				checkInclusion(t, i, s)
			}
		}
	})

	t.Run("inclusion of every index", func(t *testing.T) {
		sizes := []int64{127, 128, 129, 255, 256, 257, 511, 512, 513, 1000, 1023, 1024, 1025, 2047, 2048}
		for s := int64(1); s <= 70; s++ {
			sizes = append(sizes, s)
		}
		for _, s := range sizes {
			for i := int64(0); i < s; i++ {
				checkInclusion(t, i, s)
			}
		}
	})

	t.Run("inclusion rejects", func(t *testing.T) {
		for _, s := range []int64{1, 2, 3, 64, 100, 1025, 2048} {
			i := s / 3
			p, err := l.ProveInclusion(txn, i, s)
			if err != nil {
				t.Fatal(err)
			}
			wantErr(t, CheckInclusion(p, cps[s], i, []byte("forged")), ErrTampered, i)
			if s > 1 {
				wantErr(t, CheckInclusion(p, cps[s-1], i, testEntry(i)), ErrTampered, i)
				wantErr(t, CheckInclusion(p, cps[s], (i+1)%s, testEntry((i+1)%s)), ErrTampered, (i+1)%s)
			}
			if len(p) > 0 {
				bad := append(tlog.RecordProof(nil), p...)
				bad[0][0] ^= 1
				wantErr(t, CheckInclusion(bad, cps[s], i, testEntry(i)), ErrTampered, i)
				wantErr(t, CheckInclusion(p[:len(p)-1], cps[s], i, testEntry(i)), ErrTampered, i)
			}
			wantErr(t, CheckInclusion(p, cps[s], s, testEntry(s)), ErrOutOfRange, -1)
			wantErr(t, CheckInclusion(p, cps[s], -1, testEntry(0)), ErrOutOfRange, -1)
		}
		for _, c := range [][2]int64{{0, 0}, {5, 5}, {-1, 5}, {0, proofLogSize + 1}} {
			if _, err := l.ProveInclusion(txn, c[0], c[1]); !errors.Is(err, ErrOutOfRange) {
				t.Errorf("ProveInclusion(%d, %d) error %v, want ErrOutOfRange", c[0], c[1], err)
			}
		}
	})

	checkConsistency := func(t *testing.T, old, new int64) {
		t.Helper()
		p, err := l.ProveConsistency(txn, old, new)
		if err != nil {
			t.Fatalf("ProveConsistency(%d, %d): %v", old, new, err)
		}
		if err := CheckConsistency(p, cps[old], cps[new]); err != nil {
			t.Fatalf("CheckConsistency(%d, %d): %v", old, new, err)
		}
	}

	t.Run("consistency at every size", func(t *testing.T) {
		for s := int64(0); s <= proofLogSize; s++ {
			checkConsistency(t, s, s)
			checkConsistency(t, s, proofLogSize)
			checkConsistency(t, 0, s)
			if s > 0 {
				checkConsistency(t, s-1, s)
				checkConsistency(t, 1, s)
			}
		}
	})

	t.Run("consistency between pairs on a stride", func(t *testing.T) {
		for old := int64(0); old <= proofLogSize; old += 13 {
			for new := old; new <= proofLogSize; new += 11 {
				checkConsistency(t, old, new)
			}
		}
	})

	t.Run("consistency rejects", func(t *testing.T) {
		for _, c := range [][2]int64{{1, 2}, {3, 7}, {64, 65}, {100, 1000}, {1024, 2048}, {2047, 2048}} {
			old, new := c[0], c[1]
			p, err := l.ProveConsistency(txn, old, new)
			if err != nil {
				t.Fatal(err)
			}
			forged := cps[old]
			forged.Root[3] ^= 1
			wantErr(t, CheckConsistency(p, forged, cps[new]), ErrTampered, old-1)
			forged = cps[new]
			forged.Root[3] ^= 1
			wantErr(t, CheckConsistency(p, cps[old], forged), ErrTampered, old-1)
			wantErr(t, CheckConsistency(p, cps[old-1], cps[new]), ErrTampered, -1)
			if len(p) > 0 {
				wantErr(t, CheckConsistency(p[1:], cps[old], cps[new]), ErrTampered, old-1)
			}
			wantErr(t, CheckConsistency(p, cps[new], cps[old]), ErrRolledBack, -1)
			other := cps[new]
			other.Origin = "nrmnet/audit/OTHER"
			if err := CheckConsistency(p, cps[old], other); err == nil {
				t.Errorf("CheckConsistency across origins succeeded")
			}
		}
		// Old size 0: only the empty tree's root, with an empty proof.
		wantErr(t, CheckConsistency(nil, Checkpoint{Origin: testOrigin}, cps[5]), ErrTampered, 0)
		wantErr(t, CheckConsistency(tlog.TreeProof{{}}, cps[0], cps[5]), ErrTampered, 0)
		// Equal sizes: the roots must agree.
		forged := cps[9]
		forged.Root[0] ^= 1
		wantErr(t, CheckConsistency(nil, cps[9], forged), ErrTampered, 8)
		for _, c := range [][2]int64{{-1, 5}, {6, 5}, {0, proofLogSize + 1}} {
			if _, err := l.ProveConsistency(txn, c[0], c[1]); !errors.Is(err, ErrOutOfRange) {
				t.Errorf("ProveConsistency(%d, %d) error %v, want ErrOutOfRange", c[0], c[1], err)
			}
		}
		neg := cps[5]
		neg.Size = -1
		wantErr(t, CheckConsistency(nil, neg, cps[5]), ErrOutOfRange, -1)
	})
}
