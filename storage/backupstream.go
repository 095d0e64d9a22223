package storage

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"nrmnet/schemas"
)

// A backup stream is
//
//	magic "NRMNETBK" | format 0x01 | header length (uint32 BE) | header | chunk...
//
// The header is the canonical CBOR of backupHeader, in the clear but
// authenticated: every chunk's additional data is SHA-256 of everything
// before the first chunk. Each chunk is
//
//	ciphertext length (uint32 BE) | AES-256-GCM ciphertext and tag
//
// of up to 64 KiB of plaintext, under a key derived from the storage key with
// HKDF-SHA256 (salt: the header's random salt; info: the content and the
// authority), with the nonce counter (8 bytes BE) | 0x000000 | final (0 or 1).
// The last chunk, and only it, has final = 1; a stream that ends without it,
// or goes on after it, is truncated or extended and is refused. This is the
// STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015).
//
// KeyCheck, also derived by HKDF, lets a reader tell "made under another
// storage key" from "altered" before decrypting anything.
const (
	backupMagic      = "NRMNETBK"
	backupFormat     = 1
	backupChunk      = 64 << 10
	maxBackupHeader  = 4 << 10
	backupNonceSize  = 12
	backupTagSize    = 16
	backupContentDB  = "data"
	backupContentKey = "childkeys"
)

type backupHeader struct {
	Content     string    `cbor:"content"` // "data" or "childkeys"
	Authority   string    `cbor:"authority"`
	CreatedAt   time.Time `cbor:"created_at"`
	AuditSize   int64     `cbor:"audit_size"`
	AuditRoot   []byte    `cbor:"audit_root"`
	AuditOrigin string    `cbor:"audit_origin"`
	Salt        []byte    `cbor:"salt"`
	KeyCheck    []byte    `cbor:"key_check"`
}

func backupKeys(storageKey []byte, h *backupHeader) (enc, check []byte, err error) {
	info := "nrmnet backup v1 " + h.Content + " " + h.Authority
	enc, err = hkdf.Key(sha256.New, storageKey, h.Salt, info+" encryption", 32)
	if err != nil {
		return nil, nil, err
	}
	check, err = hkdf.Key(sha256.New, storageKey, h.Salt, info+" key check", 16)
	return enc, check, err
}

func backupNonce(counter uint64, final bool) []byte {
	n := make([]byte, backupNonceSize)
	binary.BigEndian.PutUint64(n, counter)
	if final {
		n[backupNonceSize-1] = 1
	}
	return n
}

// backupWriter encrypts a backup stream.
type backupWriter struct {
	w        io.Writer
	aead     cipher.AEAD
	aad      []byte
	buf      []byte
	counter  uint64
	written  int64
	progress func(int64)
	err      error
}

// newBackupWriter writes the header (completing its salt and key check) and
// returns a writer for the plaintext; Close writes the final chunk.
func newBackupWriter(w io.Writer, storageKey []byte, h backupHeader, progress func(int64)) (*backupWriter, error) {
	h.Salt = make([]byte, 32)
	if _, err := rand.Read(h.Salt); err != nil {
		return nil, err
	}
	enc, check, err := backupKeys(storageKey, &h)
	if err != nil {
		return nil, err
	}
	h.KeyCheck = check
	hb, err := schemas.Marshal(h)
	if err != nil {
		return nil, err
	}
	prefix := make([]byte, 0, len(backupMagic)+5+len(hb))
	prefix = append(prefix, backupMagic...)
	prefix = append(prefix, backupFormat)
	prefix = binary.BigEndian.AppendUint32(prefix, uint32(len(hb)))
	prefix = append(prefix, hb...)
	block, err := aes.NewCipher(enc)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(prefix)
	bw := &backupWriter{w: w, aead: aead, aad: sum[:], buf: make([]byte, 0, backupChunk), progress: progress}
	if err := bw.emit(prefix); err != nil {
		return nil, err
	}
	return bw, nil
}

func (bw *backupWriter) emit(b []byte) error {
	if _, err := bw.w.Write(b); err != nil {
		bw.err = fmt.Errorf("write backup: %w", err)
		return bw.err
	}
	bw.written += int64(len(b))
	if bw.progress != nil {
		bw.progress(bw.written)
	}
	return nil
}

func (bw *backupWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if bw.err != nil {
			return n, bw.err
		}
		if len(bw.buf) == backupChunk {
			if err := bw.flush(false); err != nil {
				return n, err
			}
		}
		k := copy(bw.buf[len(bw.buf):backupChunk], p)
		bw.buf = bw.buf[:len(bw.buf)+k]
		p = p[k:]
		n += k
	}
	return n, nil
}

func (bw *backupWriter) flush(final bool) error {
	out := make([]byte, 4, 4+len(bw.buf)+backupTagSize)
	out = bw.aead.Seal(out, backupNonce(bw.counter, final), bw.buf, bw.aad)
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	bw.counter++
	bw.buf = bw.buf[:0]
	return bw.emit(out)
}

// Close writes the final chunk. The stream is complete only after it.
func (bw *backupWriter) Close() error {
	if bw.err != nil {
		return bw.err
	}
	return bw.flush(true)
}

// backupReader decrypts and authenticates a backup stream chunk by chunk: no
// plaintext is returned before its chunk authenticates, and io.EOF only after
// the final chunk and the end of the input.
type backupReader struct {
	r        io.Reader
	header   backupHeader
	aead     cipher.AEAD
	aad      []byte
	plain    []byte
	cbuf     []byte
	pbuf     []byte
	counter  uint64
	done     bool // the final chunk has been read and the input has ended
	read     int64
	progress func(int64)
}

// readBackupHeader reads the magic and header of a backup stream.
func readBackupHeader(r io.Reader) (backupHeader, []byte, error) {
	var h backupHeader
	fixed := make([]byte, len(backupMagic)+5)
	if _, err := io.ReadFull(r, fixed); err != nil {
		return h, nil, fmt.Errorf("%w: cannot read the header: %v", ErrBackupCorrupt, err)
	}
	if string(fixed[:len(backupMagic)]) != backupMagic {
		return h, nil, fmt.Errorf("%w: not an nrmnet backup (bad magic)", ErrBackupCorrupt)
	}
	if fixed[len(backupMagic)] != backupFormat {
		return h, nil, fmt.Errorf("%w: backup format %d, this node reads format %d", ErrBackupCorrupt, fixed[len(backupMagic)], backupFormat)
	}
	n := binary.BigEndian.Uint32(fixed[len(backupMagic)+1:])
	if n == 0 || n > maxBackupHeader {
		return h, nil, fmt.Errorf("%w: header length %d out of range", ErrBackupCorrupt, n)
	}
	hb := make([]byte, n)
	if _, err := io.ReadFull(r, hb); err != nil {
		return h, nil, fmt.Errorf("%w: cannot read the header: %v", ErrBackupCorrupt, err)
	}
	if err := schemas.Unmarshal(hb, &h); err != nil {
		return h, nil, fmt.Errorf("%w: header: %v", ErrBackupCorrupt, err)
	}
	if len(h.Salt) != 32 || len(h.KeyCheck) != 16 || len(h.AuditRoot) != 32 || h.AuditSize < 0 ||
		(h.Content != backupContentDB && h.Content != backupContentKey) {
		return h, nil, fmt.Errorf("%w: header fields out of range", ErrBackupCorrupt)
	}
	return h, append(fixed, hb...), nil
}

// newBackupReader reads the header and checks that storageKey is the key the
// backup was made under (ErrWrongKey otherwise).
func newBackupReader(r io.Reader, storageKey []byte, progress func(int64)) (*backupReader, error) {
	h, prefix, err := readBackupHeader(r)
	if err != nil {
		return nil, err
	}
	enc, check, err := backupKeys(storageKey, &h)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(check, h.KeyCheck) != 1 {
		return nil, fmt.Errorf("%w: the backup was made under a different storage key (another node's, or this node's before its key changed), or its header was altered", ErrWrongKey)
	}
	block, err := aes.NewCipher(enc)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(prefix)
	br := &backupReader{r: r, header: h, aead: aead, aad: sum[:], progress: progress,
		cbuf: make([]byte, backupChunk+backupTagSize), pbuf: make([]byte, 0, backupChunk), read: int64(len(prefix))}
	return br, nil
}

func (br *backupReader) Read(p []byte) (int, error) {
	for len(br.plain) == 0 {
		if br.done {
			return 0, io.EOF
		}
		if err := br.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, br.plain)
	br.plain = br.plain[n:]
	return n, nil
}

// next reads and opens one chunk.
func (br *backupReader) next() error {
	var lenBuf [4]byte
	if _, err := io.ReadFull(br.r, lenBuf[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: the stream ends before its final chunk (truncated)", ErrBackupCorrupt)
		}
		return fmt.Errorf("read backup: %w", err)
	}
	n := binary.BigEndian.Uint32(lenBuf[:])
	if n < backupTagSize || n > backupChunk+backupTagSize {
		return fmt.Errorf("%w: chunk %d: length %d out of range", ErrBackupCorrupt, br.counter, n)
	}
	ct := br.cbuf[:n]
	if _, err := io.ReadFull(br.r, ct); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: chunk %d is cut short (truncated)", ErrBackupCorrupt, br.counter)
		}
		return fmt.Errorf("read backup: %w", err)
	}
	br.read += int64(4 + n)
	// The plaintext goes to its own buffer: a failed Open may overwrite its
	// destination, and the chunk is tried as a middle and as the final one.
	plain, err := br.aead.Open(br.pbuf[:0], backupNonce(br.counter, false), ct, br.aad)
	final := false
	if err != nil {
		plain, err = br.aead.Open(br.pbuf[:0], backupNonce(br.counter, true), ct, br.aad)
		final = true
	}
	if err != nil {
		return fmt.Errorf("%w: chunk %d does not authenticate (the backup was altered or damaged)", ErrBackupCorrupt, br.counter)
	}
	br.counter++
	br.plain = plain
	if br.progress != nil {
		br.progress(br.read)
	}
	if final {
		var one [1]byte
		if k, _ := io.ReadFull(br.r, one[:]); k != 0 {
			return fmt.Errorf("%w: data follows the final chunk", ErrBackupCorrupt)
		}
		br.done = true
	}
	return nil
}
