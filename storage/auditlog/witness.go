package auditlog

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"
)

// The witness file is text, one record per line:
//
//	nrmnet-audit-witness v1
//	checkpoint <base64 signed checkpoint>
//	rebase <base64 signed checkpoint> <base64 reason>
//
// The first line is the header. Every line ends in a newline; a last line
// without one is a torn write and makes the file unreadable until an operator
// looks at it. Base64 is standard, padded and canonical.
const (
	witnessHeader   = "nrmnet-audit-witness v1\n"
	kindCheckpoint  = "checkpoint"
	kindRebase      = "rebase"
	maxRebaseReason = 4 << 10
	// maxWitnessLine bounds one record: a "rebase" line at the largest
	// signed checkpoint and reason, with room to spare.
	maxWitnessLine = 32 << 10
)

// Witness is an append-only file of signed checkpoints kept outside the data
// directory (beside the key files), so that restoring an older copy of the data
// directory, or truncating the log, is detected when the node opens its store.
// (Peers witness checkpoints too; that comes with the federation.)
//
// A Witness is safe for concurrent use. Only one process may have the file open.
type Witness struct {
	path   string
	origin string
	pub    ed25519.PublicKey

	mu     sync.Mutex
	f      *os.File
	end    int64 // length of the file up to the end of the last record
	latest Checkpoint
	have   bool
	err    error // sticky: the file is in an unknown state after a failed write
}

// WitnessRecord is one record of a witness file.
type WitnessRecord struct {
	Offset     int64      // byte offset of the record's line in the file
	Checkpoint Checkpoint // the verified checkpoint
	Signed     []byte     // the signed checkpoint as recorded
	Rebase     bool       // the record is a Rebase: its size may be smaller than the one before
	Reason     string     // for a Rebase, the reason the operator gave
}

// OpenWitness opens or creates the witness file at path.
// Reading an existing file verifies every record (see ReadWitness).
// A new file is created with its header atomically and its directory synced.
func OpenWitness(path, origin string, pub ed25519.PublicKey) (*Witness, error) {
	if _, err := NewNoteVerifier(origin, pub); err != nil {
		return nil, fmt.Errorf("auditlog: open witness %s: %w", path, err)
	}
	w := &Witness{path: path, origin: origin, pub: bytes.Clone(pub)}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		if err := createWitnessFile(path); err != nil {
			return nil, fmt.Errorf("auditlog: create witness %s: %w", path, err)
		}
		f, err = os.OpenFile(path, os.O_RDWR, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("auditlog: open witness: %w", err)
	}
	err = readWitness(f, origin, pub, func(r WitnessRecord) error {
		w.latest, w.have = r.Checkpoint, true
		return nil
	})
	if err == nil {
		w.end, err = f.Seek(0, io.SeekEnd)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("auditlog: open witness %s: %w", path, err)
	}
	w.f = f
	return w, nil
}

// createWitnessFile writes the header to a temporary file, syncs it, renames
// it to path and syncs the directory, so that path never exists without its
// header. (An empty witness file is therefore an error, not a new file.)
func createWitnessFile(path string) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err = tmp.WriteString(witnessHeader); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close closes the file. It is safe to call more than once.
func (w *Witness) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if w.err == nil {
		w.err = errors.New("auditlog: witness closed")
	}
	return err
}

// Latest returns the newest witnessed checkpoint, if any.
func (w *Witness) Latest() (Checkpoint, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.latest, w.have
}

// Record verifies a signed checkpoint, checks it is not older than the latest,
// appends it and syncs the file. A checkpoint smaller than the latest, or of
// the same size with another root, is ErrRolledBack; the same checkpoint
// again is not written twice.
func (w *Witness) Record(signed []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	cp, err := openCheckpoint(signed, w.origin, w.pub)
	if err != nil {
		return fmt.Errorf("auditlog: witness record: %w", err)
	}
	if w.have {
		if err := checkNotOlder(w.latest, cp); err != nil {
			return fmt.Errorf("auditlog: witness record: %w", err)
		}
		if cp == w.latest {
			return nil
		}
	}
	line := kindCheckpoint + " " + base64.StdEncoding.EncodeToString(signed) + "\n"
	if err := w.append(line); err != nil {
		return fmt.Errorf("auditlog: witness record: %w", err)
	}
	w.latest, w.have = cp, true
	return nil
}

// Rebase records, after an administrator deliberately restored an older
// backup, that the log now continues from the signed checkpoint given; reason
// is kept in the file. The rollback stays visible in the history.
// The reason must be non-blank UTF-8 of at most 4 KiB. It is not signed.
func (w *Witness) Rebase(signed []byte, reason string) error {
	if err := checkReason(reason); err != nil {
		return fmt.Errorf("auditlog: witness rebase: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	cp, err := openCheckpoint(signed, w.origin, w.pub)
	if err != nil {
		return fmt.Errorf("auditlog: witness rebase: %w", err)
	}
	line := kindRebase + " " + base64.StdEncoding.EncodeToString(signed) + " " + base64.StdEncoding.EncodeToString([]byte(reason)) + "\n"
	if err := w.append(line); err != nil {
		return fmt.Errorf("auditlog: witness rebase: %w", err)
	}
	w.latest, w.have = cp, true
	return nil
}

// append writes line at the end of the last record and syncs the file. After a
// failed write it cuts the file back; after a failed sync the file's contents
// are unknown (the kernel may have dropped the dirty pages), so the Witness
// refuses further writes until it is reopened.
func (w *Witness) append(line string) error {
	if _, err := w.f.WriteAt([]byte(line), w.end); err != nil {
		if terr := w.f.Truncate(w.end); terr != nil {
			w.err = fmt.Errorf("auditlog: witness %s unusable: write failed (%v) and truncate failed: %w", w.path, err, terr)
		}
		return err
	}
	if err := w.f.Sync(); err != nil {
		w.err = fmt.Errorf("auditlog: witness %s unusable after a failed sync: %w", w.path, err)
		return w.err
	}
	w.end += int64(len(line))
	return nil
}

// Check returns ErrRolledBack unless the log in txn is at least as large as the
// latest witnessed checkpoint and its tree at that size has the witnessed root.
//
// Check reads the log's stored hashes (O(log n)); it trusts them, which Verify
// checks against the entries.
func (w *Witness) Check(l *Log, txn *badger.Txn) error {
	if l.origin != w.origin {
		return fmt.Errorf("auditlog: witness check: witness is for %q, log is %q", w.origin, l.origin)
	}
	latest, ok := w.Latest()
	if !ok {
		return nil
	}
	size, err := l.Size(txn)
	if err != nil {
		return fmt.Errorf("auditlog: witness check: %w", err)
	}
	if size < latest.Size {
		return fmt.Errorf("auditlog: %w: the log holds %d entries but %d were witnessed; the data directory appears to have been restored from an older copy or truncated", ErrRolledBack, size, latest.Size)
	}
	cp, err := l.checkpointAt(txn, latest.Size)
	if err != nil {
		return fmt.Errorf("auditlog: witness check: %w", err)
	}
	if cp.Root != latest.Root {
		return fmt.Errorf("auditlog: %w: the log's first %d entries have root %s but the witness recorded %s; the log was rewritten or the data directory replaced", ErrRolledBack, latest.Size, cp.Root, latest.Root)
	}
	return nil
}

// checkReason checks a rebase reason: non-blank UTF-8 of at most maxRebaseReason bytes.
func checkReason(reason string) error {
	if strings.TrimSpace(reason) == "" || !utf8.ValidString(reason) || len(reason) > maxRebaseReason {
		return fmt.Errorf("rebase reason must be non-blank UTF-8 of at most %d bytes", maxRebaseReason)
	}
	return nil
}

// checkNotOlder returns ErrRolledBack if next cannot follow latest without a
// rebase: it is smaller, or the same size with another root.
func checkNotOlder(latest, next Checkpoint) error {
	if next.Size < latest.Size {
		return fmt.Errorf("%w: checkpoint of %d entries follows a witnessed checkpoint of %d", ErrRolledBack, next.Size, latest.Size)
	}
	if next.Size == latest.Size && next.Root != latest.Root {
		return fmt.Errorf("%w: checkpoint of %d entries has root %s but the witnessed one has %s", ErrRolledBack, next.Size, next.Root, latest.Root)
	}
	return nil
}

// ReadWitness reads a witness file from r and calls fn, if not nil, for every
// record in order. It verifies the header, every record's signature against
// origin and pub, and that no checkpoint is smaller than the one before it
// (or the same size with another root) unless it is a rebase. A malformed or
// truncated record, including a torn last line, is an error naming its byte
// offset. An error from fn stops the reading and is returned.
func ReadWitness(r io.Reader, origin string, pub ed25519.PublicKey, fn func(WitnessRecord) error) error {
	if fn == nil {
		fn = func(WitnessRecord) error { return nil }
	}
	var fnErr error
	err := readWitness(r, origin, pub, func(rec WitnessRecord) error {
		fnErr = fn(rec)
		return fnErr
	})
	if err != nil && err != fnErr {
		return fmt.Errorf("auditlog: read witness: %w", err)
	}
	return err
}

// readWitness is ReadWitness without the error context; fn is not nil.
func readWitness(r io.Reader, origin string, pub ed25519.PublicKey, fn func(WitnessRecord) error) error {
	br := bufio.NewReaderSize(r, maxWitnessLine)
	header, err := br.ReadSlice('\n')
	if string(header) != witnessHeader {
		if len(header) == 0 && err == io.EOF {
			return errors.New("witness file is empty: no header")
		}
		return fmt.Errorf("witness file header %q, want %q", truncate(header, 64), witnessHeader)
	}
	off := int64(len(header))
	var latest Checkpoint
	have := false
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case err == io.EOF && len(line) == 0:
			return nil
		case err == io.EOF:
			return fmt.Errorf("record at byte offset %d: truncated: %d bytes without a newline", off, len(line))
		case errors.Is(err, bufio.ErrBufferFull):
			return fmt.Errorf("record at byte offset %d: longer than %d bytes", off, maxWitnessLine)
		case err != nil:
			return fmt.Errorf("record at byte offset %d: %w", off, err)
		}
		rec, err := parseWitnessRecord(line[:len(line)-1], origin, pub)
		if err != nil {
			return fmt.Errorf("record at byte offset %d: %w", off, err)
		}
		rec.Offset = off
		if have && !rec.Rebase {
			if err := checkNotOlder(latest, rec.Checkpoint); err != nil {
				return fmt.Errorf("record at byte offset %d: %w without a rebase", off, err)
			}
		}
		if err := fn(rec); err != nil {
			return err
		}
		latest, have = rec.Checkpoint, true
		off += int64(len(line))
	}
}

// parseWitnessRecord parses one line of a witness file without its newline.
func parseWitnessRecord(line []byte, origin string, pub ed25519.PublicKey) (WitnessRecord, error) {
	fields := strings.Split(string(line), " ")
	var rec WitnessRecord
	switch fields[0] {
	case kindCheckpoint:
		if len(fields) != 2 {
			return rec, fmt.Errorf("malformed %s record: %d fields, want 2", fields[0], len(fields))
		}
	case kindRebase:
		if len(fields) != 3 {
			return rec, fmt.Errorf("malformed %s record: %d fields, want 3", fields[0], len(fields))
		}
		rec.Rebase = true
		reason, err := decodeBase64(fields[2])
		if err != nil {
			return rec, fmt.Errorf("rebase reason: %w", err)
		}
		if err := checkReason(string(reason)); err != nil {
			return rec, err
		}
		rec.Reason = string(reason)
	default:
		return rec, fmt.Errorf("unknown record %q", truncate([]byte(fields[0]), 32))
	}
	signed, err := decodeBase64(fields[1])
	if err != nil {
		return rec, fmt.Errorf("signed checkpoint: %w", err)
	}
	rec.Signed = signed
	rec.Checkpoint, err = openCheckpoint(signed, origin, pub)
	return rec, err
}

// decodeBase64 decodes canonical padded standard base64 (the decoder alone
// would skip CR and LF and accept non-zero padding bits).
func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || base64.StdEncoding.EncodeToString(b) != s {
		return nil, errors.New("not canonical base64")
	}
	return b, nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
