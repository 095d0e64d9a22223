package storage

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// The match-candidate index narrows the private matching of a received alert
// to the cases that could be the alert's child, without decrypting and
// decoding every case (see DESIGN.md, "The match-candidate index"):
//
//	i/mc/<childID><caseID>   one entry per case this authority is responsible
//	                         for, sealed under the child's data key
//	i/mc-version             the index's format, written once it is complete
//
// An entry holds only what decides candidacy, the child's recorded sex and
// date of birth (date, estimated, uncertainty), a hash of the identity, and
// optionally the match keys derived from that identity, so that a later
// alert need not decrypt the case and derive them again. Every case write
// (create, update, relocation in and out) rewrites or deletes the entry in
// its own transaction; erasure deletes it; Open builds what is missing.
var (
	prefixCandidate     = []byte("i/mc/")
	keyCandidateVersion = []byte("i/mc-version")
)

// candidateIndexVersion is the format of the index entries; Open rebuilds an
// index of any other version.
const candidateIndexVersion = "1"

// ActionCandidateIndex audits Open building index entries, which decrypts
// the cases it indexes.
const ActionCandidateIndex v1.AuditAction = "case.candidate_index"

// Limits of a candidate entry.
const (
	maxCandidateText    = 64   // sex, date
	maxCandidateDeriver = 256  // name of a key derivation
	maxCachedKeys       = 256  // keys cached per case
	maxCachedKey        = 4096 // bytes of one key
	maxCandidateEntry   = 64 << 10
	candidateFormat     = 0x01
)

var candidateAADPrefix = []byte("nrmnet/candidate/1\x00")

func candidateKey(child v1.ID, id v1.CaseID) []byte {
	return cat(prefixCandidate, []byte(child), []byte(id))
}

// parseCandidateKey splits an index key into its child and case IDs,
// checking their shapes (v1's Valid, without its regular expressions: the
// scan parses every key).
func parseCandidateKey(k []byte) (v1.ID, v1.CaseID, bool) {
	const idLen, caseLen = 32, 20 // v1.ID; v1.CaseID "ABC-" and 16 hex digits
	if len(k) != len(prefixCandidate)+idLen+caseLen || !bytes.HasPrefix(k, prefixCandidate) {
		return "", "", false
	}
	child, id := k[len(prefixCandidate):len(prefixCandidate)+idLen], k[len(prefixCandidate)+idLen:]
	ok := lowerHex(child) && lowerHex(id[4:]) && id[3] == '-'
	for _, c := range id[:3] {
		ok = ok && 'A' <= c && c <= 'Z'
	}
	if !ok {
		return "", "", false
	}
	return v1.ID(child), v1.CaseID(id), true
}

func lowerHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// MatchKey is one identity key of a case for private matching, as the caller
// derived it, with the caller's strength code. Bytes is personal data.
type MatchKey struct {
	Bytes    []byte
	Strength uint8
}

// candidateEntry is the plaintext of an index entry.
type candidateEntry struct {
	Sex         v1.Sex
	DateOfBirth *v1.DateOfBirth // Date, Estimated and UncertaintyDays only
	Identity    [sha256.Size]byte
	Deriver     string // "" when no keys are cached
	Keys        []MatchKey
}

// candidateOf returns the entry of a case's identity, with no cached keys.
func candidateOf(id v1.ChildIdentity) (candidateEntry, error) {
	enc, err := schemas.Marshal(id)
	if err != nil {
		return candidateEntry{}, fmt.Errorf("candidate index: %w", err)
	}
	e := candidateEntry{Sex: id.Sex, Identity: sha256.Sum256(enc)}
	if d := id.DateOfBirth; d != nil {
		e.DateOfBirth = &v1.DateOfBirth{Date: d.Date, Estimated: d.Estimated, UncertaintyDays: d.UncertaintyDays}
	}
	return e, nil
}

// encodeCandidate encodes an entry:
//
//	format 0x01
//	uvarint length, sex
//	0 (no date of birth) | 1 (documented) | 2 (estimated),
//	  then uvarint length, date, zig-zag varint uncertainty days
//	32 bytes identity hash
//	uvarint length, deriver; if not empty:
//	  uvarint count, then per key: strength, uvarint length, bytes
func encodeCandidate(e candidateEntry) ([]byte, error) {
	if len(e.Sex) > maxCandidateText || len(e.Deriver) > maxCandidateDeriver || len(e.Keys) > maxCachedKeys {
		return nil, fmt.Errorf("candidate entry: %w: a field is over its limit", ErrTooLarge)
	}
	b := []byte{candidateFormat}
	b = appendBytes(b, []byte(e.Sex))
	switch d := e.DateOfBirth; {
	case d == nil:
		b = append(b, 0)
	default:
		if len(d.Date) > maxCandidateText {
			return nil, fmt.Errorf("candidate entry: %w: date of %d bytes", ErrTooLarge, len(d.Date))
		}
		flag := byte(1)
		if d.Estimated {
			flag = 2
		}
		b = append(b, flag)
		b = appendBytes(b, []byte(d.Date))
		b = binary.AppendVarint(b, int64(d.UncertaintyDays))
	}
	b = append(b, e.Identity[:]...)
	b = appendBytes(b, []byte(e.Deriver))
	if e.Deriver != "" {
		b = binary.AppendUvarint(b, uint64(len(e.Keys)))
		for _, k := range e.Keys {
			if len(k.Bytes) == 0 || len(k.Bytes) > maxCachedKey {
				return nil, fmt.Errorf("candidate entry: %w: a key of %d bytes", ErrTooLarge, len(k.Bytes))
			}
			b = append(b, k.Strength)
			b = appendBytes(b, k.Bytes)
		}
	} else if len(e.Keys) > 0 {
		return nil, fmt.Errorf("candidate entry: %w: keys without a deriver", schemas.ErrInvalid)
	}
	if len(b) > maxCandidateEntry {
		return nil, fmt.Errorf("candidate entry: %w: %d bytes", ErrTooLarge, len(b))
	}
	return b, nil
}

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// candidateReader reads the fields of an encoded entry, remembering the first
// fault.
type candidateReader struct {
	b   []byte
	err error
}

func (r *candidateReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("candidate entry: %w: %s", schemas.ErrMalformed, what)
	}
}

func (r *candidateReader) byte1(what string) byte {
	if r.err != nil || len(r.b) < 1 {
		r.fail(what + " missing")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *candidateReader) uvarint(what string, limit uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > limit {
		r.fail(what + " out of range")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *candidateReader) bytes(what string, limit int) []byte {
	n := r.uvarint(what+" length", uint64(limit))
	if r.err != nil || uint64(len(r.b)) < n {
		r.fail(what + " truncated")
		return nil
	}
	p := bytes.Clone(r.b[:n])
	r.b = r.b[n:]
	return p
}

func (r *candidateReader) text(what string) string {
	p := r.bytes(what, maxCandidateText)
	if r.err == nil && !utf8.Valid(p) {
		r.fail(what + " is not UTF-8")
	}
	return string(p)
}

// decodeCandidate decodes an entry, refusing anything encodeCandidate would
// not write.
func decodeCandidate(b []byte) (candidateEntry, error) {
	var e candidateEntry
	if len(b) > maxCandidateEntry {
		return e, fmt.Errorf("candidate entry: %w: %d bytes", schemas.ErrMalformed, len(b))
	}
	r := &candidateReader{b: b}
	if f := r.byte1("format"); r.err == nil && f != candidateFormat {
		return e, fmt.Errorf("candidate entry: %w: unknown format %d", schemas.ErrMalformed, f)
	}
	e.Sex = v1.Sex(r.text("sex"))
	switch flag := r.byte1("date-of-birth flag"); flag {
	case 0:
	case 1, 2:
		d := &v1.DateOfBirth{Date: v1.Date(r.text("date")), Estimated: flag == 2}
		if r.err == nil {
			u, n := binary.Varint(r.b)
			if n <= 0 || u < math.MinInt32 || u > math.MaxInt32 {
				r.fail("uncertainty out of range")
			} else {
				d.UncertaintyDays = int(u)
				r.b = r.b[n:]
			}
		}
		e.DateOfBirth = d
	default:
		r.fail("unknown date-of-birth flag")
	}
	if r.err == nil && len(r.b) < sha256.Size {
		r.fail("identity hash truncated")
	}
	if r.err == nil {
		copy(e.Identity[:], r.b)
		r.b = r.b[sha256.Size:]
	}
	e.Deriver = string(r.bytes("deriver", maxCandidateDeriver))
	if r.err == nil && e.Deriver != "" {
		n := r.uvarint("key count", maxCachedKeys)
		for i := uint64(0); i < n && r.err == nil; i++ {
			s := r.byte1("key strength")
			k := r.bytes("key", maxCachedKey)
			if r.err == nil && len(k) == 0 {
				r.fail("empty key")
			}
			e.Keys = append(e.Keys, MatchKey{Bytes: k, Strength: s})
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail(fmt.Sprintf("%d trailing bytes", len(r.b)))
	}
	if r.err != nil {
		return candidateEntry{}, r.err
	}
	return e, nil
}

func candidateAAD(id v1.CaseID) []byte { return cat(candidateAADPrefix, []byte(id)) }

// sealCandidate encrypts an entry under the child's data key:
// 0x01 | nonce | AES-256-GCM(entry), with the case ID in the additional data.
func sealCandidate(aead cipher.AEAD, id v1.CaseID, e candidateEntry) ([]byte, error) {
	plain, err := encodeCandidate(e)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+caseNonceSize, caseValueOverhead+len(plain))
	out[0] = candidateFormat
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return aead.Seal(out, out[1:1+caseNonceSize], plain, candidateAAD(id)), nil
}

// openCandidate decrypts and decodes a stored entry (FuzzCandidateEntry).
func openCandidate(aead cipher.AEAD, id v1.CaseID, value []byte) (candidateEntry, error) {
	if len(value) < caseValueOverhead || value[0] != candidateFormat {
		return candidateEntry{}, fmt.Errorf("candidate entry of case %s: %w: not a sealed entry", id, schemas.ErrMalformed)
	}
	plain, err := aead.Open(nil, value[1:1+caseNonceSize], value[1+caseNonceSize:], candidateAAD(id))
	if err != nil {
		return candidateEntry{}, fmt.Errorf("candidate entry of case %s: %w: does not authenticate under the child's data key", id, schemas.ErrMalformed)
	}
	e, err := decodeCandidate(plain)
	if err != nil {
		return candidateEntry{}, fmt.Errorf("candidate entry of case %s: %w", id, err)
	}
	return e, nil
}

// ownCase reports whether this authority matches a case with the given
// responsible authority: the same rule as CaseIdentities.
func (s *Store) ownCase(responsible v1.AuthorityCode) bool {
	return responsible == "" || responsible == s.cfg.Authority
}

// putCandidate writes the index entry of a case just stored (or deletes it
// when this authority is not responsible for the case). Keys cached for the
// same identity are kept; a changed identity drops them.
func (b *batch) putCandidate(sum CaseSummary, e candidateEntry) error {
	key := candidateKey(sum.ChildID, sum.ID)
	if !b.s.ownCase(sum.Responsible) {
		return b.txn.Delete(key)
	}
	aead, err := newCaseAEAD(b.keys[sum.ChildID])
	if err != nil {
		return fmt.Errorf("candidate index of case %s: %w", sum.ID, err)
	}
	item, err := b.txn.Get(key)
	switch {
	case err == nil:
		err = item.Value(func(v []byte) error {
			if old, err := openCandidate(aead, sum.ID, v); err == nil && old.Identity == e.Identity {
				e.Deriver, e.Keys = old.Deriver, old.Keys
			}
			return nil // an unreadable old entry is replaced
		})
		if err != nil {
			return err
		}
	case !errors.Is(err, badger.ErrKeyNotFound):
		return err
	}
	value, err := sealCandidate(aead, sum.ID, e)
	if err != nil {
		return err
	}
	return b.txn.Set(key, value)
}

// deleteCandidates deletes every index entry of a child.
func (b *batch) deleteCandidates(child v1.ID) error {
	var keys [][]byte
	err := scanKeys(b.txn, cat(prefixCandidate, []byte(child)), nil, func(k []byte) (bool, error) {
		keys = append(keys, k)
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := b.txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// CandidateQuery says which cases MatchCandidates passes on and how their
// match keys are derived.
type CandidateQuery struct {
	// Eligible reports, from the child's recorded sex and date of birth
	// (nil when none is recorded), whether the case may be the alert's
	// child. It sees nothing else of the identity.
	Eligible func(sex v1.Sex, dob *v1.DateOfBirth) bool
	// Deriver names the key derivation (its version and configuration):
	// keys cached under another name are derived again.
	Deriver string
	// Derive returns the match keys of an identity. It is called only for
	// an eligible case with no keys cached under Deriver; what it returns
	// is cached, sealed under the child's data key, until the identity
	// changes.
	Derive func(v1.ChildIdentity) []MatchKey
}

func (q CandidateQuery) validate() error {
	switch {
	case q.Eligible == nil || q.Derive == nil:
		return fmt.Errorf("%w: a candidate query needs Eligible and Derive", schemas.ErrInvalid)
	case q.Deriver == "" || len(q.Deriver) > maxCandidateDeriver:
		return fmt.Errorf("%w: a candidate query's Deriver must be 1 to %d bytes", schemas.ErrInvalid, maxCandidateDeriver)
	}
	return nil
}

// candidate is an eligible case found in the index, or one whose entry
// does not open (the case itself decides).
type candidate struct {
	id    v1.CaseID
	child v1.ID
	keys  []MatchKey // cached under the query's deriver
	fresh bool       // keys holds the cached keys
	aead  cipher.AEAD
	raw   []byte // the stored entry, when the keys are not cached
}

// candidateFill replaces an entry with one holding derived keys, if the
// entry is still the one read.
type candidateFill struct {
	key, old, new []byte
}

// MatchCandidates calls fn with the match keys of every case this authority
// holds that q.Eligible accepts, for private matching against an alert
// (subject). It gives the same cases as CaseIdentities filtered by the same
// test, but reads the candidate index: each case's small sealed entry is
// decrypted, and a case is decrypted in full only when it is eligible and
// has no keys cached under q.Deriver (its keys are then derived with
// q.Derive and cached). The scan is one audited read (case.match_scan, with
// who's purpose and legal basis), committed before fn is first called.
// Cases whose child key is lost, or whose case is unreadable, are skipped,
// as CaseIdentities skips them; a case whose entry does not open is decided
// on the case itself, and its entry replaced. fn's error stops the scan and
// is returned; keys derived before it are still cached.
func (s *Store) MatchCandidates(ctx context.Context, subject string, who Access, q CandidateQuery, fn func(id v1.CaseID, keys []MatchKey) error) error {
	if err := who.check(true); err != nil {
		return fmt.Errorf("match candidates: %w", err)
	}
	if err := q.validate(); err != nil {
		return fmt.Errorf("match candidates: %w", err)
	}
	var found []candidate
	indexed, unreadable := 0, 0
	err := s.guard(func() error {
		return s.db.View(func(txn *badger.Txn) error {
			return s.keys.View(func(ktxn *badger.Txn) error {
				it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixCandidate, PrefetchValues: true, PrefetchSize: 256})
				defer it.Close()
				keys := newChildKeyCursor(ktxn)
				defer keys.close()
				var child v1.ID
				var aead cipher.AEAD
				for it.Rewind(); it.Valid(); it.Next() {
					if err := ctx.Err(); err != nil {
						return err
					}
					item := it.Item()
					c, id, ok := parseCandidateKey(item.Key())
					if !ok {
						unreadable++
						continue
					}
					indexed++
					if c != child {
						child, aead = c, nil
						if key, err := keys.get(c); err != nil {
							return err
						} else if key != nil {
							if aead, err = newCaseAEAD(key); err != nil {
								return err
							}
						}
					}
					if aead == nil {
						unreadable++ // the child key is lost (or the erasure is not complete)
						continue
					}
					cand := candidate{id: id, child: c, aead: aead}
					eligible := false
					err := item.Value(func(v []byte) error {
						e, err := openCandidate(aead, id, v)
						if err != nil {
							// Damaged: decide on the case itself, and
							// replace the entry (deriveCandidate).
							unreadable++
							s.log.Warn("match candidates: index entry unreadable; reading the case", "case", string(id), "err", err)
							eligible, cand.raw = true, bytes.Clone(v)
							return nil
						}
						if eligible = q.Eligible(e.Sex, e.DateOfBirth); !eligible {
							return nil
						}
						if e.Deriver == q.Deriver {
							cand.keys, cand.fresh = e.Keys, true
						} else {
							cand.raw = bytes.Clone(v)
						}
						return nil
					})
					if err != nil {
						return err
					}
					if eligible {
						found = append(found, cand)
					}
				}
				return nil
			})
		})
	})
	if err != nil {
		return fmt.Errorf("match candidates: %w", err)
	}
	e := s.entry(who, ActionCaseMatchScan, subject)
	e.Reason = fmt.Sprintf("%d cases in the index, %d eligible", indexed, len(found))
	if unreadable > 0 {
		e.Reason += fmt.Sprintf(", %d unreadable", unreadable)
	}
	if err := s.record(ctx, e, true); err != nil {
		return fmt.Errorf("match candidates: audit: %w", err)
	}
	// Derived keys are cached as the scan goes and whatever way it ends, so
	// that a first scan cut short by its caller's deadline (the first alert
	// after an upgrade decrypts every candidate) still leaves the next one
	// less to do.
	var fills []candidateFill
	defer func() { s.cacheCandidates(ctx, fills) }()
	for _, cand := range found {
		if err := ctx.Err(); err != nil {
			return err
		}
		keys := cand.keys
		if !cand.fresh {
			var ok bool
			var fill *candidateFill
			keys, fill, ok, err = s.deriveCandidate(cand, q)
			if err != nil {
				return fmt.Errorf("match candidates: %w", err)
			}
			if !ok {
				continue
			}
			if fill != nil {
				if fills = append(fills, *fill); len(fills) == candidateFillBatch {
					s.cacheCandidates(ctx, fills)
					fills = nil
				}
			}
		}
		if err := fn(cand.id, keys); err != nil {
			return err
		}
	}
	return nil
}

// childKeyCursor reads child data keys in ascending child order with one
// iterator over the child-keys database, as the index scan needs them: a
// merge of two sorted key ranges instead of a lookup per child.
type childKeyCursor struct {
	it *badger.Iterator
}

func newChildKeyCursor(txn *badger.Txn) *childKeyCursor {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixChildKey, PrefetchValues: false})
	it.Rewind()
	return &childKeyCursor{it: it}
}

func (c *childKeyCursor) close() { c.it.Close() }

// get returns the data key of child, or nil if it has none (erased or
// lost). Successive calls must ask for ascending children.
func (c *childKeyCursor) get(child v1.ID) ([]byte, error) {
	want := childKeyKey(child)
	// A few steps forward are cheaper than a seek; far off, seek.
	for range 8 {
		if !c.it.Valid() || bytes.Compare(c.it.Item().Key(), want) >= 0 {
			break
		}
		c.it.Next()
	}
	if c.it.Valid() && bytes.Compare(c.it.Item().Key(), want) < 0 {
		c.it.Seek(want)
	}
	if !c.it.Valid() || !bytes.Equal(c.it.Item().Key(), want) {
		return nil, nil
	}
	key, err := c.it.Item().ValueCopy(nil)
	if err != nil {
		return nil, err
	}
	if len(key) != ChildKeySize {
		return nil, fmt.Errorf("data key of child %s: %w: %d bytes", child, schemas.ErrMalformed, len(key))
	}
	return key, nil
}

// deriveCandidate reads a candidate's case, checks it is still one (the case
// may have changed since its entry was read, or the entry did not open) and
// derives its keys. fill, if not nil, replaces the entry read with a fresh
// one of the case holding the keys: it applies only if the stored entry is
// still the one read, and a case write rewrites the entry with a fresh nonce
// in the case's own transaction, so a fill never pairs keys with an
// identity they were not derived from. ok is false when the case is no longer a candidate
// or cannot be read (skipped, as CaseIdentities skips it); err is set only
// when the store is closing.
func (s *Store) deriveCandidate(cand candidate, q CandidateQuery) (keys []MatchKey, fill *candidateFill, ok bool, err error) {
	var c *v1.Case
	err = s.guard(func() error {
		var err error
		c, err = s.readCase(cand.id)
		return err
	})
	switch {
	case errors.Is(err, ErrClosed):
		return nil, nil, false, err
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrErased), errors.Is(err, ErrChildKeyLost):
		return nil, nil, false, nil
	case err != nil:
		s.log.Warn("match candidates: case unreadable", "case", string(cand.id), "err", err)
		return nil, nil, false, nil
	}
	if !s.ownCase(c.Responsible) || !q.Eligible(c.Identity.Sex, c.Identity.DateOfBirth) {
		return nil, nil, false, nil
	}
	keys = q.Derive(c.Identity)
	next, err := candidateOf(c.Identity)
	if err != nil {
		return keys, nil, true, nil
	}
	next.Deriver, next.Keys = q.Deriver, keys
	value, err := sealCandidate(cand.aead, cand.id, next)
	if err != nil {
		return keys, nil, true, nil // too many or too long keys to cache: derived each time
	}
	return keys, &candidateFill{key: candidateKey(cand.child, cand.id), old: cand.raw, new: value}, true, nil
}

// candidateFillBatch bounds the entries one cache request writes.
const candidateFillBatch = 256

// cacheCandidates stores derived keys in the index, each only if its entry
// has not changed since it was read (a case write or an erasure in between
// wins). It is a cache: a failure is logged and costs only a derivation at
// the next alert.
func (s *Store) cacheCandidates(ctx context.Context, fills []candidateFill) {
	for len(fills) > 0 {
		chunk := fills[:min(len(fills), candidateFillBatch)]
		fills = fills[len(chunk):]
		r := &request{op: "cache match keys"}
		r.apply = func(b *batch) (error, error) {
			for _, f := range chunk {
				item, err := b.txn.Get(f.key)
				if errors.Is(err, badger.ErrKeyNotFound) {
					continue
				}
				if err != nil {
					return nil, err
				}
				same := false
				if err := item.Value(func(v []byte) error { same = bytes.Equal(v, f.old); return nil }); err != nil {
					return nil, err
				}
				if same {
					if err := b.txn.Set(f.key, f.new); err != nil {
						return nil, err
					}
				}
			}
			return nil, nil
		}
		if err := s.submit(context.WithoutCancel(ctx), r); err != nil {
			s.log.Warn("match candidates: cannot cache derived keys", "cases", len(chunk), "err", err)
			return
		}
	}
}

// CandidateIndexSize returns the number of entries in the match-candidate
// index (for tests and operators' checks: it equals the number of cases this
// authority is responsible for whose child key is held).
func (s *Store) CandidateIndexSize() (int, error) {
	n := 0
	err := s.view(func(txn *badger.Txn) error {
		return scanKeys(txn, prefixCandidate, nil, func([]byte) (bool, error) { n++; return true, nil })
	})
	return n, err
}
