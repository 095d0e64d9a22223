package raftstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/hashicorp/raft"
)

// Encrypted snapshot format, version 1 (the state.bin of raft's
// FileSnapshotStore; meta.json is left as raft writes it):
//
//	header  "NRMSNAP" | 0x01 | salt (32 random bytes)
//	chunk*  AES-256-GCM(plaintext chunk) = len(plaintext)+16 bytes
//
// Every chunk but the last holds exactly snapshotChunkSize plaintext bytes; the
// last holds fewer (possibly none), so a reader knows the last chunk by its
// length and a snapshot always ends with one. Chunk i is sealed with the nonce
// uint64be(i) | 0x000000 | final (1 on the last chunk, else 0) and the header
// as additional data, under the key
//
//	HKDF-SHA256(secret = store key, salt = header salt,
//	            info = "nrmnet/raftstore/snapshot/v1" | 0x00 | snapshot ID)
//
// A fresh salt gives every snapshot its own key, so counter nonces never
// repeat under a key. The final flag makes truncation at a chunk boundary
// fail authentication, the counter catches reordering, and the ID in the key
// stops one snapshot's contents being passed off as another's.
const (
	snapshotMagic     = "NRMSNAP"
	snapshotVersion1  = 1
	snapshotSaltLen   = 32
	snapshotHeaderLen = len(snapshotMagic) + 1 + snapshotSaltLen
	snapshotChunkSize = 64 << 10
	snapshotTagLen    = 16
	snapshotKDFLabel  = "nrmnet/raftstore/snapshot/v1"
)

// SnapshotStore is a raft.SnapshotStore that keeps snapshot contents
// encrypted at rest. It wraps raft's FileSnapshotStore: directories, meta.json,
// CRC, retention and crash-safe renames are raft's; only the bytes in
// state.bin are ciphertext. Open authenticates the whole snapshot before it
// returns, so the FSM is never handed a byte of a corrupted snapshot.
//
// Snapshot sizes in the metadata from List and Open are plaintext sizes, which
// is what raft sends in InstallSnapshot and checks on arrival.
type SnapshotStore struct {
	inner  *raft.FileSnapshotStore
	key    []byte
	logger *slog.Logger
}

var _ raft.SnapshotStore = (*SnapshotStore)(nil)

// NewSnapshotStore opens (creating if needed) an encrypted snapshot store under
// dir/snapshots, keeping the newest retain snapshots. key must be 32 bytes; the
// data key of each snapshot is derived from it. A nil logger means
// slog.Default().
func NewSnapshotStore(dir string, retain int, key []byte, logger *slog.Logger) (*SnapshotStore, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: snapshot key is %d bytes, want %d", ErrInvalidConfig, len(key), KeySize)
	}
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "raftstore-snapshots")
	inner, err := raft.NewFileSnapshotStoreWithLogger(dir, retain, HCLogger(logger))
	if err != nil {
		return nil, fmt.Errorf("raftstore: snapshot store: %w", err)
	}
	return &SnapshotStore{inner: inner, key: append([]byte(nil), key...), logger: logger}, nil
}

// Create starts a snapshot; what the FSM writes to the sink is encrypted.
func (s *SnapshotStore) Create(version raft.SnapshotVersion, index, term uint64,
	configuration raft.Configuration, configurationIndex uint64, trans raft.Transport,
) (raft.SnapshotSink, error) {
	sink, err := s.inner.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil {
		return nil, err
	}
	w, err := newChunkWriter(sink, s.key, sink.ID(), rand.Reader, snapshotChunkSize)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("raftstore: create snapshot: %w", err), sink.Cancel())
	}
	return &encryptingSink{SnapshotSink: sink, w: w}, nil
}

// List returns the retained snapshots, newest first, with plaintext sizes. A
// snapshot whose state file cannot be a valid encryption is left out, with a
// warning, as FileSnapshotStore leaves out one whose metadata is unreadable.
func (s *SnapshotStore) List() ([]*raft.SnapshotMeta, error) {
	metas, err := s.inner.List()
	if err != nil {
		return nil, err
	}
	out := make([]*raft.SnapshotMeta, 0, len(metas))
	for _, m := range metas {
		size, err := plaintextSize(m.Size, snapshotChunkSize)
		if err != nil {
			s.logger.Warn("skipping snapshot", "id", m.ID, "error", err)
			continue
		}
		c := *m
		c.Size = size
		out = append(out, &c)
	}
	return out, nil
}

// Open authenticates the whole snapshot, then returns its metadata (with the
// plaintext size) and a reader of the decrypted contents. Corruption,
// truncation or another key is reported here as ErrCorruptSnapshot; the
// reader authenticates every chunk again as it streams.
func (s *SnapshotStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	meta, rc, err := s.inner.Open(id)
	if err != nil {
		return nil, nil, err
	}
	size, err := plaintextSize(meta.Size, snapshotChunkSize)
	if err == nil {
		var n int64
		n, err = io.Copy(io.Discard, newChunkReader(rc, s.key, id, snapshotChunkSize))
		if err == nil && n != size {
			err = fmt.Errorf("%w: snapshot %s: %d plaintext bytes, metadata implies %d", ErrCorruptSnapshot, id, n, size)
		}
	}
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, fmt.Errorf("raftstore: open snapshot %s: %w", id, err)
	}

	meta, rc, err = s.inner.Open(id)
	if err != nil {
		return nil, nil, err
	}
	m := *meta
	m.Size = size
	return &m, &decryptingReader{chunkReader: newChunkReader(rc, s.key, id, snapshotChunkSize), c: rc}, nil
}

// encryptingSink encrypts what the FSM writes before raft's sink sees it.
type encryptingSink struct {
	raft.SnapshotSink
	w *chunkWriter
}

func (e *encryptingSink) Write(p []byte) (int, error) { return e.w.Write(p) }

// Close seals the final chunk, then lets raft finalise the snapshot. If the
// final chunk cannot be written the snapshot is cancelled, never published.
func (e *encryptingSink) Close() error {
	if err := e.w.Close(); err != nil {
		return errors.Join(fmt.Errorf("raftstore: finish snapshot: %w", err), e.SnapshotSink.Cancel())
	}
	return e.SnapshotSink.Close()
}

type decryptingReader struct {
	*chunkReader
	c io.Closer
}

func (d *decryptingReader) Close() error { return d.c.Close() }

// plaintextSize inverts the chunking: a state file of cipherSize bytes holds
// this many plaintext bytes, or it cannot be a valid encryption.
func plaintextSize(cipherSize int64, chunkSize int) (int64, error) {
	body := cipherSize - int64(snapshotHeaderLen) - snapshotTagLen
	if body < 0 {
		return 0, fmt.Errorf("%w: %d bytes is shorter than an empty snapshot", ErrCorruptSnapshot, cipherSize)
	}
	stride := int64(chunkSize + snapshotTagLen)
	full, rest := body/stride, body%stride
	if rest >= int64(chunkSize) {
		return 0, fmt.Errorf("%w: %d bytes is not a whole number of chunks", ErrCorruptSnapshot, cipherSize)
	}
	return full*int64(chunkSize) + rest, nil
}

func snapshotAEAD(key []byte, salt []byte, id string) (cipher.AEAD, error) {
	info := snapshotKDFLabel + "\x00" + id
	dk, err := hkdf.Key(sha256.New, key, salt, info, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(dk)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func chunkNonce(dst *[12]byte, counter uint64, final bool) []byte {
	binary.BigEndian.PutUint64(dst[:8], counter)
	dst[8], dst[9], dst[10], dst[11] = 0, 0, 0, 0
	if final {
		dst[11] = 1
	}
	return dst[:]
}

// chunkWriter encrypts a stream into the chunked format.
type chunkWriter struct {
	w         io.Writer
	aead      cipher.AEAD
	header    []byte
	chunkSize int
	buf       []byte // pending plaintext, < chunkSize bytes
	out       []byte
	nonce     [12]byte
	counter   uint64
	err       error
	closed    bool
}

func newChunkWriter(w io.Writer, key []byte, id string, random io.Reader, chunkSize int) (*chunkWriter, error) {
	header := make([]byte, snapshotHeaderLen)
	copy(header, snapshotMagic)
	header[len(snapshotMagic)] = snapshotVersion1
	if _, err := io.ReadFull(random, header[len(snapshotMagic)+1:]); err != nil {
		return nil, fmt.Errorf("salt: %w", err)
	}
	aead, err := snapshotAEAD(key, header[len(snapshotMagic)+1:], id)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(header); err != nil {
		return nil, err
	}
	return &chunkWriter{
		w:         w,
		aead:      aead,
		header:    header,
		chunkSize: chunkSize,
		buf:       make([]byte, 0, chunkSize),
		out:       make([]byte, 0, chunkSize+snapshotTagLen),
	}, nil
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.closed {
		return 0, errors.New("raftstore: write to a closed snapshot")
	}
	written := 0
	for len(p) > 0 {
		n := min(len(p), c.chunkSize-len(c.buf))
		c.buf = append(c.buf, p[:n]...)
		p = p[n:]
		written += n
		// A full buffer is never the final chunk (that one is shorter), so
		// it can go out now.
		if len(c.buf) == c.chunkSize {
			if err := c.seal(false); err != nil {
				return written - n, err
			}
		}
	}
	return written, nil
}

// Close seals the final chunk (fewer than chunkSize bytes, possibly none).
func (c *chunkWriter) Close() error {
	if c.closed {
		return c.err
	}
	c.closed = true
	if c.err != nil {
		return c.err
	}
	return c.seal(true)
}

func (c *chunkWriter) seal(final bool) error {
	c.out = c.aead.Seal(c.out[:0], chunkNonce(&c.nonce, c.counter, final), c.buf, c.header)
	c.counter++
	c.buf = c.buf[:0]
	if _, err := c.w.Write(c.out); err != nil {
		c.err = err
		return err
	}
	return nil
}

// chunkReader decrypts the chunked format, releasing a chunk's plaintext only
// after its tag has been verified.
type chunkReader struct {
	r         io.Reader
	key       []byte
	id        string
	chunkSize int
	aead      cipher.AEAD
	header    []byte
	in        []byte
	plain     []byte // verified plaintext not yet returned
	nonce     [12]byte
	counter   uint64
	done      bool // final chunk verified
	err       error
}

func newChunkReader(r io.Reader, key []byte, id string, chunkSize int) *chunkReader {
	return &chunkReader{r: r, key: key, id: id, chunkSize: chunkSize}
}

func (c *chunkReader) corrupt(format string, args ...any) error {
	c.err = fmt.Errorf("%w: snapshot %s: %s", ErrCorruptSnapshot, c.id, fmt.Sprintf(format, args...))
	return c.err
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.plain) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if c.done {
			return 0, io.EOF
		}
		if err := c.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.plain)
	c.plain = c.plain[n:]
	return n, nil
}

// next reads, authenticates and decrypts one chunk into c.plain.
func (c *chunkReader) next() error {
	if c.aead == nil {
		header := make([]byte, snapshotHeaderLen)
		if _, err := io.ReadFull(c.r, header); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return c.corrupt("shorter than its header")
			}
			c.err = err
			return err
		}
		if string(header[:len(snapshotMagic)]) != snapshotMagic {
			return c.corrupt("not an encrypted snapshot (bad magic)")
		}
		if v := header[len(snapshotMagic)]; v != snapshotVersion1 {
			return c.corrupt("unknown format version %d", v)
		}
		aead, err := snapshotAEAD(c.key, header[len(snapshotMagic)+1:], c.id)
		if err != nil {
			c.err = err
			return err
		}
		c.aead, c.header = aead, header
		c.in = make([]byte, c.chunkSize+snapshotTagLen)
	}
	n, err := io.ReadFull(c.r, c.in)
	final := false
	switch {
	case err == nil:
		// A full-length chunk is never the final one.
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		if n < snapshotTagLen {
			return c.corrupt("truncated after chunk %d", c.counter)
		}
		final = true
	default:
		c.err = err
		return err
	}
	plain, err := c.aead.Open(c.in[:0], chunkNonce(&c.nonce, c.counter, final), c.in[:n], c.header)
	if err != nil {
		return c.corrupt("chunk %d fails authentication (corrupted, truncated, or another key)", c.counter)
	}
	c.counter++
	c.plain = plain
	c.done = final
	return nil
}
