package consensus

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/hashicorp/raft"

	v1 "nrmnet/schemas/v1"
)

const (
	dataKeySize = 32
	sealVersion = 1
	nonceSize   = 12
	tagSize     = 16
	// sealOverhead is what sealing adds to a command: version, nonce, tag.
	sealOverhead = 1 + nonceSize + tagSize
	// snapChunk is the plaintext size of one sealed snapshot chunk.
	snapChunk = 64 << 10
)

// sealer seals and opens a panel's commands and snapshots under its data
// key. The panel ID is bound into every seal, so data of one panel cannot be
// replayed into another that happens to share a key.
type sealer struct {
	aead  cipher.AEAD
	panel v1.PanelID
}

func newSealer(key []byte, panel v1.PanelID) (*sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("consensus: data key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("consensus: data key: %w", err)
	}
	return &sealer{aead: aead, panel: panel}, nil
}

// DataKeyID names a panel data key without revealing it: 16 hex digits of
// an HMAC-SHA256 under the key of a fixed label and the panel ID. Every
// member of a panel must show the same ID; two different keys show
// different IDs (a collision needs 2^32 keys).
func DataKeyID(key []byte, panel v1.PanelID) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("nrmnet/panel-data-key-id/1/" + string(panel)))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

func (s *sealer) commandAAD() []byte { return []byte("nrmnet/panel-command/1/" + string(s.panel)) }

// sealCommand returns version || nonce || AES-GCM(cmd).
func (s *sealer) sealCommand(cmd []byte) ([]byte, error) {
	out := make([]byte, 1+nonceSize, sealOverhead+len(cmd))
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("consensus: nonce: %w", err)
	}
	return s.aead.Seal(out, out[1:], cmd, s.commandAAD()), nil
}

func (s *sealer) openCommand(sealed []byte) ([]byte, error) {
	if len(sealed) < sealOverhead || sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w: command of %d bytes is not a sealed command", ErrUnreadable, len(sealed))
	}
	plain, err := s.aead.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], s.commandAAD())
	if err != nil {
		return nil, fmt.Errorf("%w: command", ErrUnreadable)
	}
	return plain, nil
}

// Snapshot stream: a 16-byte random stream ID, then chunks, each
// len (4 bytes, big-endian, ciphertext length) || AES-GCM(chunk). The nonce
// is the chunk number; the AAD binds the panel, the stream ID and whether the
// chunk is the last, so chunks cannot be reordered, dropped or cut short.
// The stream ID makes each snapshot's nonces its own.
const streamIDSize = 16

func (s *sealer) chunkAAD(stream []byte, final bool) []byte {
	aad := append([]byte("nrmnet/panel-snapshot/1/"+string(s.panel)+"/"), stream...)
	if final {
		return append(aad, 1)
	}
	return append(aad, 0)
}

func chunkNonce(n uint64) []byte {
	nonce := make([]byte, nonceSize)
	binary.BigEndian.PutUint64(nonce[4:], n)
	return nonce
}

// sealingWriter seals what is written to it onto w, one chunk at a time.
type sealingWriter struct {
	s      *sealer
	w      io.Writer
	stream []byte
	buf    []byte
	n      uint64
	err    error
}

func (s *sealer) newSealingWriter(w io.Writer) (*sealingWriter, error) {
	stream := make([]byte, streamIDSize)
	if _, err := rand.Read(stream); err != nil {
		return nil, err
	}
	if _, err := w.Write(stream); err != nil {
		return nil, err
	}
	return &sealingWriter{s: s, w: w, stream: stream, buf: make([]byte, 0, snapChunk)}, nil
}

func (sw *sealingWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 && sw.err == nil {
		n := min(len(p), snapChunk-len(sw.buf))
		sw.buf = append(sw.buf, p[:n]...)
		p, written = p[n:], written+n
		if len(sw.buf) == snapChunk {
			sw.flush(false)
		}
	}
	return written, sw.err
}

func (sw *sealingWriter) flush(final bool) {
	if sw.err != nil {
		return
	}
	ct := sw.s.aead.Seal(nil, chunkNonce(sw.n), sw.buf, sw.s.chunkAAD(sw.stream, final))
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(ct)))
	if _, err := sw.w.Write(hdr[:]); err != nil {
		sw.err = err
		return
	}
	if _, err := sw.w.Write(ct); err != nil {
		sw.err = err
		return
	}
	sw.n++
	sw.buf = sw.buf[:0]
}

// Close seals the last (possibly empty) chunk. It does not close w.
func (sw *sealingWriter) Close() error {
	sw.flush(true)
	return sw.err
}

// openingReader authenticates and decrypts a sealed snapshot stream.
type openingReader struct {
	s      *sealer
	r      *bufio.Reader
	stream []byte
	plain  []byte
	n      uint64
	done   bool
}

func (s *sealer) newOpeningReader(r io.Reader) (*openingReader, error) {
	br := bufio.NewReader(r)
	stream := make([]byte, streamIDSize)
	if _, err := io.ReadFull(br, stream); err != nil {
		return nil, fmt.Errorf("%w: snapshot header: %w", ErrUnreadable, err)
	}
	return &openingReader{s: s, r: br, stream: stream}, nil
}

func (or *openingReader) Read(p []byte) (int, error) {
	for len(or.plain) == 0 {
		if or.done {
			return 0, io.EOF
		}
		if err := or.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, or.plain)
	or.plain = or.plain[n:]
	return n, nil
}

func (or *openingReader) next() error {
	var hdr [4]byte
	if _, err := io.ReadFull(or.r, hdr[:]); err != nil {
		return fmt.Errorf("%w: snapshot truncated at chunk %d", ErrUnreadable, or.n)
	}
	size := binary.BigEndian.Uint32(hdr[:])
	if size < tagSize || size > snapChunk+tagSize {
		return fmt.Errorf("%w: snapshot chunk %d has length %d", ErrUnreadable, or.n, size)
	}
	ct := make([]byte, size)
	if _, err := io.ReadFull(or.r, ct); err != nil {
		return fmt.Errorf("%w: snapshot truncated in chunk %d", ErrUnreadable, or.n)
	}
	// The writer seals a chunk as soon as it is full, so the last chunk is
	// always short (possibly empty) and every full one has another after it.
	final := size < snapChunk+tagSize
	plain, err := or.s.aead.Open(nil, chunkNonce(or.n), ct, or.s.chunkAAD(or.stream, final))
	if err != nil {
		return fmt.Errorf("%w: snapshot chunk %d", ErrUnreadable, or.n)
	}
	or.n++
	or.plain, or.done = plain, final
	if final {
		if _, err := or.r.ReadByte(); err != io.EOF {
			return fmt.Errorf("%w: data after the last snapshot chunk", ErrUnreadable)
		}
	}
	return nil
}

// sealedFSM stands between raft and the caller's FSM on a member of a panel
// with a data key: it opens each command before Apply and seals snapshots,
// so the log and snapshots that reach a witness are ciphertext.
type sealedFSM struct {
	inner FSM
	s     *sealer
	log   *slog.Logger
	keyID string // DataKeyID of this member's key, for the log
	// refused is the index of the last entry that did not open; it counts
	// as applied (the FSM goroutine is past it), see AppliedIndex.
	refused atomic.Uint64
}

func (f *sealedFSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return f.inner.Apply(l)
	}
	plain, err := f.s.openCommand(l.Data)
	if err != nil {
		// Every member holds the same key, so every member refuses the
		// same entry: the state stays the same everywhere. If this
		// member's key is not the others', it refuses what they apply,
		// and its state parts from theirs: say so, loudly.
		f.refused.Store(l.Index)
		f.log.Error("a panel command does not open with this member's data key: if the other members applied it, "+
			"their keys differ from this one (compare the key ID that 'nrmnet panel data-key PANEL --show' prints on every member) "+
			"and this member's panel state no longer matches theirs", "index", l.Index, "key_id", f.keyID, "err", err)
		return err
	}
	opened := *l
	opened.Data = plain
	return f.inner.Apply(&opened)
}

func (f *sealedFSM) Snapshot() (raft.FSMSnapshot, error) {
	snap, err := f.inner.Snapshot()
	if err != nil {
		return nil, err
	}
	return &sealedSnapshot{inner: snap, s: f.s}, nil
}

func (f *sealedFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	or, err := f.s.newOpeningReader(rc)
	if err != nil {
		return err
	}
	return f.inner.Restore(io.NopCloser(or))
}

func (f *sealedFSM) AppliedIndex() uint64 {
	return max(f.inner.AppliedIndex(), f.refused.Load())
}

func (f *sealedFSM) CommandApplied(id v1.ID) (uint64, bool, error) {
	return f.inner.CommandApplied(id)
}

type sealedSnapshot struct {
	inner raft.FSMSnapshot
	s     *sealer
}

func (ss *sealedSnapshot) Persist(sink raft.SnapshotSink) error {
	sw, err := ss.s.newSealingWriter(sink)
	if err != nil {
		_ = sink.Cancel()
		return err
	}
	if err := ss.inner.Persist(&sinkWriter{SnapshotSink: sink, w: sw}); err != nil {
		return err
	}
	if err := sw.Close(); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (ss *sealedSnapshot) Release() { ss.inner.Release() }

// sinkWriter is the sink the inner FSM writes to: writes are sealed, and
// Close is held back until the last chunk is sealed.
type sinkWriter struct {
	raft.SnapshotSink
	w *sealingWriter
}

func (s *sinkWriter) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s *sinkWriter) Close() error                { return nil }

var errSnapshotCancelled = errors.New("consensus: snapshot cancelled")

func (s *sinkWriter) Cancel() error {
	_ = s.SnapshotSink.Cancel()
	return errSnapshotCancelled
}
