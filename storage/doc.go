// Package storage is one authority's case store: the children's cases, their
// secondary indexes, the tamper-evident audit log, the outbox of messages
// awaiting acknowledgement, and the keys, on the node's own disk.
//
// A Store is two encrypted Badger databases, data/ (cases, summaries and
// indexes, the audit log, the outbox) and keys/childkeys/ (one AES-256 data
// key per child and the erasure ledger), plus three files in the keys
// directory, which must lie outside the data directory: storage.key (the
// key Badger encrypts both databases with), authority.key (the ed25519 key
// that signs audit checkpoints) and audit.witness (signed checkpoints, which
// expose a data directory rolled back to an older copy).
//
// Every case is sealed with AES-256-GCM under its child's data key before
// Badger sees it, so erasing the child (EraseChild) purges one key and makes
// every copy of the child's cases unreadable, backups included. Lists read
// summaries that hold no identifying field and never decrypt a case.
//
// One goroutine, the writer, makes every change: it gathers waiting requests
// into one transaction (group commit), appends each request's audit entry in
// that same transaction, and syncs once before any caller that asked for
// durability is answered. Reads and lists are audited too, and need a
// purpose (Access).
//
// Backup and Restore stream an encrypted, authenticated, consistent snapshot
// of data/ while the node runs; BackupKeys and RestoreKeys do the same for
// the child keys, which data backups never hold.
//
// DESIGN.md explains the choices and gives the measurements.
package storage
