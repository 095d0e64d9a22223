package storage

import (
	"errors"

	"nrmnet/storage/auditlog"
)

// Sentinel errors; match them with errors.Is. Every error the package returns
// wraps one of these (or an error of schemas, for an invalid record) with a
// lowercase context that names the case, child or file concerned, never the
// content of a case.
var (
	// ErrNotFound: no case, outbox message or audit entry with that identifier.
	ErrNotFound = errors.New("not found")
	// ErrExists: a case with that ID is already stored, or keys already exist.
	ErrExists = errors.New("already exists")
	// ErrConflict: the update was made from a revision that is no longer the
	// stored one; reload the case, reapply the change and try again.
	ErrConflict = errors.New("revision conflict")
	// ErrErased: the child's data key has been erased; the case can never be
	// read again.
	ErrErased = errors.New("erased")
	// ErrChildKeyLost: a case's child has no data key and no recorded
	// erasure: the key was lost (restore the latest key backup).
	ErrChildKeyLost = errors.New("child data key lost")
	// ErrNoPurpose: a read was asked for without saying why.
	ErrNoPurpose = errors.New("a purpose is required to read case data")
	// ErrNoActor: an operation was asked for without saying who asks.
	ErrNoActor = errors.New("an actor is required")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("store closed")
	// ErrWrongKey: the storage key does not open the data directory, or a
	// backup was made under another key.
	ErrWrongKey = errors.New("wrong storage key")
	// ErrKeyMissing: a key file does not exist.
	ErrKeyMissing = errors.New("key file missing")
	// ErrKeyMalformed: a key file exists but does not hold a key.
	ErrKeyMalformed = errors.New("key file malformed")
	// ErrKeyPermissions: a key file can be read by users other than its owner.
	ErrKeyPermissions = errors.New("key file permissions too open")
	// ErrRolledBack: the data directory holds an older state than the node
	// has witnessed (an old copy was put back); restore through Restore.
	ErrRolledBack = auditlog.ErrRolledBack
	// ErrNotEmpty: a restore was asked for into a directory that holds data.
	ErrNotEmpty = errors.New("directory not empty")
	// ErrBackupCorrupt: a backup stream is truncated, altered or not a backup.
	ErrBackupCorrupt = errors.New("backup corrupt")
	// ErrWrongAuthority: the data or backup belongs to another authority.
	ErrWrongAuthority = errors.New("wrong authority")
	// ErrDamaged: a table file of a database fails its checksum (the disk,
	// or whatever copied the files, damaged them); restore from a backup.
	ErrDamaged = errors.New("database damaged")
	// ErrTooLarge: a record is too large to store.
	ErrTooLarge = errors.New("too large")
	// ErrInvalidConfig: a Config field is missing or out of range.
	ErrInvalidConfig = errors.New("invalid storage config")
)
