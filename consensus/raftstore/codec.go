package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// logFormatV1 is the first byte of every encoded log entry. A new layout gets a
// new version byte; the decoder rejects versions it does not know rather than
// guessing.
const logFormatV1 byte = 1

// Flag bits of the v1 flags byte. Unknown bits are rejected so that a future
// field cannot be silently dropped by an old decoder.
const (
	flagAppendedAt byte = 1 << 0
	knownFlags          = flagAppendedAt
)

// Bounds of AppendedAt: the nanoseconds part, and the seconds of years 1 to
// 9999 (time.Time's Unix arithmetic is exact there; raft only ever stores
// time.Now()).
const (
	maxNanos       = 999_999_999
	minUnixSeconds = -62135596800 // 0001-01-01T00:00:00Z
	maxUnixSeconds = 253402300799 // 9999-12-31T23:59:59Z
)

// errAppendedAtRange is returned by appendLog for a time it cannot encode.
var errAppendedAtRange = errors.New("raftstore: log appended_at outside years 1 to 9999")

// Decoding errors. Each is wrapped by decodeLog with the offending field; all of
// them wrap ErrCorruptLog so callers need test only that.
var (
	errTruncated    = errors.New("truncated")
	errNonCanonical = errors.New("non-canonical varint")
	errOverflow     = errors.New("varint overflows 64 bits")
	errTrailing     = errors.New("trailing bytes after entry")
)

// encodedLogSize returns an upper bound of the encoded size of l.
func encodedLogSize(l *raft.Log) int {
	return 1 + // version
		binary.MaxVarintLen64*2 + // index, term
		1 + 1 + // type, flags
		binary.MaxVarintLen64*2 + // appendedAt seconds, nanos
		binary.MaxVarintLen64 + len(l.Data) +
		binary.MaxVarintLen64 + len(l.Extensions)
}

// appendLog appends the v1 encoding of l to dst and returns the extended slice.
// It fails only for an AppendedAt outside years 1 to 9999.
//
// Layout (all varints are encoding/binary's, minimal length):
//
//	version     1 byte   = 1
//	index       uvarint
//	term        uvarint
//	type        1 byte   raft.LogType
//	flags       1 byte   bit 0: AppendedAt present
//	[seconds    varint   AppendedAt.Unix()        ] if flag bit 0
//	[nanos      uvarint  AppendedAt.Nanosecond()  ] if flag bit 0
//	data        uvarint length, then bytes
//	extensions  uvarint length, then bytes
//
// A zero AppendedAt is encoded by leaving flag bit 0 clear, so it decodes back
// to the zero time.Time exactly.
func appendLog(dst []byte, l *raft.Log) ([]byte, error) {
	dst = append(dst, logFormatV1)
	dst = binary.AppendUvarint(dst, l.Index)
	dst = binary.AppendUvarint(dst, l.Term)
	dst = append(dst, byte(l.Type))
	if l.AppendedAt.IsZero() {
		dst = append(dst, 0)
	} else {
		sec := l.AppendedAt.Unix()
		if sec < minUnixSeconds || sec > maxUnixSeconds {
			return dst, fmt.Errorf("%w: index %d: %s", errAppendedAtRange, l.Index, l.AppendedAt)
		}
		dst = append(dst, flagAppendedAt)
		dst = binary.AppendVarint(dst, sec)
		dst = binary.AppendUvarint(dst, uint64(l.AppendedAt.Nanosecond()))
	}
	dst = binary.AppendUvarint(dst, uint64(len(l.Data)))
	dst = append(dst, l.Data...)
	dst = binary.AppendUvarint(dst, uint64(len(l.Extensions)))
	dst = append(dst, l.Extensions...)
	return dst, nil
}

// decodeLog decodes a v1 entry from b into l, overwriting every field. The
// decoder is strict: it accepts exactly the bytes appendLog produces for some
// raft.Log (minimal varints, known flags, no trailing bytes), so that
// appendLog(decodeLog(b)) == b for every accepted b. Data and Extensions are
// copied out of b (Badger's value buffers are only valid inside their
// transaction); empty fields decode as nil.
//
// AppendedAt decodes in UTC. The store does not interpret LogType: raft may add
// types, and a log store that refused to read its own entries would stop the
// group.
func decodeLog(b []byte, l *raft.Log) error {
	d := decoder{b: b}
	version := d.byte("version")
	if d.err == nil && version != logFormatV1 {
		return fmt.Errorf("%w: unknown format version %d", ErrCorruptLog, version)
	}
	index := d.uvarint("index")
	term := d.uvarint("term")
	typ := d.byte("type")
	flags := d.byte("flags")
	if d.err == nil && flags&^knownFlags != 0 {
		return fmt.Errorf("%w: unknown flags %#02x", ErrCorruptLog, flags)
	}
	var appendedAt time.Time
	if flags&flagAppendedAt != 0 {
		sec := d.varint("appended_at seconds")
		nsec := d.uvarint("appended_at nanoseconds")
		if d.err == nil && nsec > maxNanos {
			return fmt.Errorf("%w: appended_at nanoseconds %d out of range", ErrCorruptLog, nsec)
		}
		if d.err == nil {
			if sec < minUnixSeconds || sec > maxUnixSeconds {
				return fmt.Errorf("%w: appended_at seconds %d outside years 1 to 9999", ErrCorruptLog, sec)
			}
			appendedAt = time.Unix(sec, int64(nsec)).UTC()
			if appendedAt.IsZero() {
				// The zero time is encoded with the flag clear; accepting it
				// here too would give one value two encodings.
				return fmt.Errorf("%w: appended_at is the zero time but its flag is set", ErrCorruptLog)
			}
		}
	}
	dataLen := d.length("data")
	dataAt := d.off
	d.skip(dataLen, "data")
	extLen := d.length("extensions")
	extAt := d.off
	d.skip(extLen, "extensions")
	if d.err != nil {
		return d.err
	}
	if d.off != len(b) {
		return fmt.Errorf("%w: %w (%d)", ErrCorruptLog, errTrailing, len(b)-d.off)
	}

	// One allocation for both byte fields; the three-index slices keep an
	// append to Data from overwriting Extensions.
	var data, ext []byte
	if dataLen+extLen > 0 {
		buf := make([]byte, dataLen+extLen)
		copy(buf, b[dataAt:dataAt+dataLen])
		copy(buf[dataLen:], b[extAt:extAt+extLen])
		if dataLen > 0 {
			data = buf[:dataLen:dataLen]
		}
		if extLen > 0 {
			ext = buf[dataLen:]
		}
	}
	*l = raft.Log{
		Index:      index,
		Term:       term,
		Type:       raft.LogType(typ),
		Data:       data,
		Extensions: ext,
		AppendedAt: appendedAt,
	}
	return nil
}

// decoder reads fields from b, remembering the first error so that a sequence
// of reads can be checked once.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(field string, err error) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at offset %d: %w", ErrCorruptLog, field, d.off, err)
	}
}

func (d *decoder) byte(field string) byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail(field, errTruncated)
		return 0
	}
	v := d.b[d.off]
	d.off++
	return v
}

func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	switch {
	case n == 0:
		d.fail(field, errTruncated)
		return 0
	case n < 0:
		d.fail(field, errOverflow)
		return 0
	case n > 1 && d.b[d.off+n-1] == 0:
		// A final byte of zero adds nothing: a shorter encoding exists.
		d.fail(field, errNonCanonical)
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint(field string) int64 {
	u := d.uvarint(field)
	// binary.Varint's zig-zag mapping, applied to the canonical uvarint.
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

// length reads a uvarint byte count and checks that that many bytes remain.
func (d *decoder) length(field string) int {
	n := d.uvarint(field + " length")
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail(field, fmt.Errorf("length %d exceeds the %d bytes remaining", n, len(d.b)-d.off))
		return 0
	}
	return int(n)
}

func (d *decoder) skip(n int, field string) {
	if d.err != nil {
		return
	}
	if n > len(d.b)-d.off {
		d.fail(field, errTruncated)
		return
	}
	d.off += n
}
