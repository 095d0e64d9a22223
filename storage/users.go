package storage

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/schemas"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// Users of the node's API and their bearer tokens.
//
//	u/<userID>          user record (CBOR), holding the SHA-256 of the token
//	i/tk/<sha256>       token index: the hash of a live token -> user ID
//
// A token is 32 random bytes, given to the caller once, as UserTokenPrefix
// and the bytes in unpadded base64url. Only its SHA-256 is stored, so a copy
// of the data directory (or a backup) yields no usable token. A lookup finds
// the user through the index by the hash, then compares the stored hash with
// subtle.ConstantTimeCompare: the index lookup takes time that depends on
// the hash only, which a caller cannot steer without a preimage of SHA-256,
// so timing tells an attacker nothing about any stored token.
var (
	prefixUser      = []byte("u/")
	prefixUserToken = []byte("i/tk/")
)

// UserTokenPrefix starts every user token, so that secret scanners and
// people recognise one.
const UserTokenPrefix = "nrmnet_"

// UserTokenSize is the number of random bytes in a token.
const UserTokenSize = 32

// userIDPattern: a login name, lower case, safe in URLs, logs and keys.
var (
	userIDPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	userRolePattern = regexp.MustCompile(`^[a-z][a-z_]{1,39}$`)
)

// User is a person who may use the node's API. The store keeps the role as
// text and does not interpret it: the node decides what a role may do.
type User struct {
	ID        string // login name, e.g. "a.khan"; never reused
	Name      string // display name
	Role      string // e.g. "social_worker"
	Authority v1.AuthorityCode
	CreatedAt time.Time
	CreatedBy string     // user ID of the administrator, or "node"
	RevokedAt *time.Time // nil while the user may sign in
	RevokedBy string
}

// Revoked reports whether the user's token no longer works.
func (u User) Revoked() bool { return u.RevokedAt != nil }

// userRecord is the stored form of a User.
type userRecord struct {
	ID        string           `cbor:"id"`
	Name      string           `cbor:"name"`
	Role      string           `cbor:"role"`
	Authority v1.AuthorityCode `cbor:"authority"`
	CreatedAt int64            `cbor:"created"` // Unix nanoseconds
	CreatedBy string           `cbor:"created_by"`
	RevokedAt int64            `cbor:"revoked,omitempty"`
	RevokedBy string           `cbor:"revoked_by,omitempty"`
	TokenHash []byte           `cbor:"token_sha256"`
}

func (r userRecord) user() User {
	u := User{ID: r.ID, Name: r.Name, Role: r.Role, Authority: r.Authority,
		CreatedAt: time.Unix(0, r.CreatedAt).UTC(), CreatedBy: r.CreatedBy, RevokedBy: r.RevokedBy}
	if r.RevokedAt != 0 {
		t := time.Unix(0, r.RevokedAt).UTC()
		u.RevokedAt = &t
	}
	return u
}

func userKey(id string) []byte { return cat(prefixUser, []byte(id)) }
func tokenKey(hash []byte) []byte {
	return cat(prefixUserToken, hash)
}

// ValidateUserID reports whether id can name a user: 1 to 63 characters of
// a-z, 0-9, '.', '_' and '-', starting with a letter or digit.
func ValidateUserID(id string) error {
	if !userIDPattern.MatchString(id) {
		return fmt.Errorf("%w: user id %.40q must be 1 to 63 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit", schemas.ErrInvalid, id)
	}
	return nil
}

func (u User) validate() error {
	ch := schemas.NewChecker()
	ch.Check(userIDPattern.MatchString(u.ID), "id", "%.40q must be 1 to 63 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit", u.ID)
	ch.Text("name", u.Name, true, v1.MaxShortText, false)
	ch.Check(userRolePattern.MatchString(u.Role), "role", "%.40q is not a role name (lower case letters and '_')", u.Role)
	if u.Authority == "" {
		ch.Fail("authority", "is required")
	} else {
		ch.Check(authority.Known(u.Authority), "authority", "%.10q is not the code of a listed authority", u.Authority)
	}
	if err := ch.Err(); err != nil {
		return fmt.Errorf("user: %w", err)
	}
	return nil
}

// newUserToken returns a fresh token and its SHA-256.
func newUserToken() (string, [sha256.Size]byte, error) {
	var b [UserTokenSize]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", [sha256.Size]byte{}, err
	}
	return UserTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:]), sha256.Sum256(b[:]), nil
}

// userTokenHash parses a token and returns the SHA-256 of its bytes.
func userTokenHash(token string) ([sha256.Size]byte, error) {
	rest, ok := strings.CutPrefix(token, UserTokenPrefix)
	if !ok || len(rest) != base64.RawURLEncoding.EncodedLen(UserTokenSize) {
		return [sha256.Size]byte{}, fmt.Errorf("%w: not a user token (want %q and %d base64url characters)", ErrNotFound, UserTokenPrefix, base64.RawURLEncoding.EncodedLen(UserTokenSize))
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(b) != UserTokenSize {
		return [sha256.Size]byte{}, fmt.Errorf("%w: not a user token (bad base64url)", ErrNotFound)
	}
	return sha256.Sum256(b), nil
}

// CreateUser stores a new user with a fresh bearer token and audits it in
// the same transaction. It returns the stored user and the token, which is
// never stored and cannot be shown again. u.CreatedAt and u.CreatedBy are
// set by the store (now, who.Actor); u.RevokedAt must be nil. ErrExists if
// the ID is taken, by a live or a revoked user (IDs are never reused, so the
// audit log names one person per ID); that holds for an ID known only to
// the revocation ledger too (the data directory was restored from before the
// user was created).
func (s *Store) CreateUser(ctx context.Context, u User, who Access) (User, string, error) {
	if err := who.check(false); err != nil {
		return User{}, "", fmt.Errorf("create user: %w", err)
	}
	if u.RevokedAt != nil {
		return User{}, "", fmt.Errorf("create user %s: %w: a new user cannot be revoked", u.ID, schemas.ErrInvalid)
	}
	if err := u.validate(); err != nil {
		return User{}, "", fmt.Errorf("create user: %w", err)
	}
	token, hash, err := newUserToken()
	if err != nil {
		return User{}, "", fmt.Errorf("create user %s: token: %w", u.ID, err)
	}
	u.CreatedAt = time.Now().UTC()
	u.CreatedBy = who.Actor
	rec := userRecord{ID: u.ID, Name: u.Name, Role: u.Role, Authority: u.Authority,
		CreatedAt: u.CreatedAt.UnixNano(), CreatedBy: u.CreatedBy, TokenHash: hash[:]}
	enc, err := schemas.Marshal(rec)
	if err != nil {
		return User{}, "", fmt.Errorf("create user %s: %w", u.ID, err)
	}
	if err := s.submit(ctx, s.createUserRequest(u.ID, enc, hash[:], who)); err != nil {
		return User{}, "", err
	}
	return rec.user(), token, nil
}

// createUserRequest is the writer request of CreateUser: enc is the encoded
// record, hash the SHA-256 of its token.
func (s *Store) createUserRequest(id string, enc, hash []byte, who Access) *request {
	r := &request{op: "create user", durable: true}
	r.apply = func(b *batch) (error, error) {
		e := s.entry(who, v1.ActionUserCreate, id)
		var refusal error
		revoked, err := s.revocationRecorded(id)
		if err != nil {
			return nil, fmt.Errorf("read revocation ledger: %w", err)
		}
		_, err = b.txn.Get(userKey(id))
		switch {
		case err == nil || revoked:
			refusal = fmt.Errorf("create user %s: %w (user IDs are never reused; choose another)", id, ErrExists)
			if err == nil {
				failed(e, "a user with this ID exists")
			} else {
				failed(e, "a revoked user had this ID")
			}
		case !errors.Is(err, badger.ErrKeyNotFound):
			return nil, err
		default:
			if err := b.txn.Set(userKey(id), enc); err != nil {
				return nil, err
			}
			if err := b.txn.Set(tokenKey(hash), []byte(id)); err != nil {
				return nil, err
			}
		}
		return refusal, b.appendAudit(e)
	}
	return r
}

// readUser reads a user record in txn; ErrNotFound if there is none.
func readUser(txn *badger.Txn, id string) (userRecord, error) {
	var rec userRecord
	item, err := txn.Get(userKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return rec, fmt.Errorf("user %.64q: %w", id, ErrNotFound)
	}
	if err != nil {
		return rec, err
	}
	err = item.Value(func(v []byte) error { return schemas.Unmarshal(v, &rec) })
	if err != nil {
		return rec, fmt.Errorf("user %s: stored record: %w", id, err)
	}
	return rec, nil
}

// User returns the user with that ID, revoked or not; ErrNotFound if there
// is none.
func (s *Store) User(id string) (User, error) {
	var rec userRecord
	err := s.view(func(txn *badger.Txn) error {
		var err error
		rec, err = readUser(txn, id)
		return err
	})
	if err != nil {
		return User{}, err
	}
	return rec.user(), nil
}

// Users returns every user, revoked ones included, in ID order.
func (s *Store) Users() ([]User, error) {
	var out []User
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixUser, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var rec userRecord
			if err := it.Item().Value(func(v []byte) error { return schemas.Unmarshal(v, &rec) }); err != nil {
				return fmt.Errorf("user %s: stored record: %w", it.Item().Key()[len(prefixUser):], err)
			}
			out = append(out, rec.user())
		}
		return nil
	})
	return out, err
}

// UserByToken returns the live user whose token this is. An unknown,
// malformed or revoked token gives ErrNotFound, with no hint of which.
// It is not audited: the node audits what the user then does.
func (s *Store) UserByToken(token string) (User, error) {
	hash, err := userTokenHash(token)
	if err != nil {
		return User{}, err
	}
	var rec userRecord
	err = s.view(func(txn *badger.Txn) error {
		item, err := txn.Get(tokenKey(hash[:]))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		id, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		rec, err = readUser(txn, string(id))
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return User{}, fmt.Errorf("user token: %w", ErrNotFound)
		}
		return User{}, err
	}
	if subtle.ConstantTimeCompare(rec.TokenHash, hash[:]) != 1 || rec.RevokedAt != 0 {
		return User{}, fmt.Errorf("user token: %w", ErrNotFound)
	}
	return rec.user(), nil
}

// RevokeUser stops the user's token from working, for good, and audits it.
// The record stays (revoked) so that the audit log keeps naming one person
// per ID. Revoking a revoked user changes nothing and is still audited.
// ErrNotFound if there is no such user. The revocation is also recorded in
// the ledger of the child-keys database, so that restoring an older data
// backup does not bring the token back (Open revokes the user again).
func (s *Store) RevokeUser(ctx context.Context, id string, who Access) (User, error) {
	if err := who.check(false); err != nil {
		return User{}, fmt.Errorf("revoke user: %w", err)
	}
	if err := ValidateUserID(id); err != nil {
		return User{}, fmt.Errorf("revoke user: %w", err)
	}
	var out userRecord
	if err := s.submit(ctx, s.revokeRequest(id, who, &out)); err != nil {
		return User{}, err
	}
	return out.user(), nil
}

// revokeRequest is the writer request of RevokeUser; the revoked record is
// left in out.
func (s *Store) revokeRequest(id string, who Access, out *userRecord) *request {
	ledger := revocationRecord{UserID: id, RevokedAt: time.Now().UTC().UnixNano(), RevokedBy: who.Actor}
	ledgered := false
	r := &request{op: "revoke user", durable: true}
	// The revocation is recorded in the key ledger (synced) before data/
	// changes, as an erasure is: a data restore cannot bring the token back,
	// and an interruption between the two is completed by the next Open.
	r.prepare = func(*batch) error {
		var rec userRecord
		err := s.db.View(func(txn *badger.Txn) error {
			var err error
			rec, err = readUser(txn, id)
			return err
		})
		switch {
		case errors.Is(err, ErrNotFound):
			return nil // apply refuses it, or it is created in this same batch
		case err != nil:
			return fmt.Errorf("revoke user %s: %w", id, err)
		case rec.RevokedAt != 0:
			ledger.RevokedAt, ledger.RevokedBy = rec.RevokedAt, rec.RevokedBy
		}
		if err := s.recordRevocation(ledger); err != nil {
			return fmt.Errorf("revoke user %s: %w", id, err)
		}
		ledgered = true
		return nil
	}
	r.apply = func(b *batch) (error, error) {
		e := s.entry(who, v1.ActionUserRevoke, id)
		rec, err := readUser(b.txn, id)
		switch {
		case errors.Is(err, ErrNotFound):
			failed(e, "no such user")
			return fmt.Errorf("revoke user: %w", err), b.appendAudit(e)
		case err != nil:
			return nil, err
		case rec.RevokedAt != 0:
			e.Reason = "already revoked"
		default:
			if !ledgered {
				// Created earlier in this same batch, so prepare did not see
				// it. Recording is idempotent and only ever errs towards
				// revocation, so a rerun of apply is harmless.
				if err := s.recordRevocation(ledger); err != nil {
					failed(e, "revocation ledger unavailable")
					return fmt.Errorf("revoke user %s: %w", id, err), b.appendAudit(e)
				}
				ledgered = true
			}
			rec.RevokedAt = ledger.RevokedAt
			rec.RevokedBy = ledger.RevokedBy
			enc, err := schemas.Marshal(rec)
			if err != nil {
				return nil, err
			}
			if err := b.txn.Set(userKey(id), enc); err != nil {
				return nil, err
			}
			if err := b.txn.Delete(tokenKey(rec.TokenHash)); err != nil {
				return nil, err
			}
		}
		*out = rec
		return nil, b.appendAudit(e)
	}
	return r
}
