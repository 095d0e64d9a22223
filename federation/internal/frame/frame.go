// Package frame is the length-prefixed framing that federation's
// request/response protocols (federation/match, federation/rpc) share: a
// 4-byte big-endian length, then that many bytes. A reader refuses a
// declared length over its limit before reading or allocating the body, so
// a hostile peer cannot make it allocate more than the limit.
package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrTooLarge is a frame longer than the limit, declared or offered.
var ErrTooLarge = errors.New("frame too large")

// Write writes body as one frame; a body over limit is refused unsent.
func Write(w io.Writer, body []byte, limit int) error {
	if len(body) > limit {
		return fmt.Errorf("%w: %d bytes exceeds %d", ErrTooLarge, len(body), limit)
	}
	buf := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	_, err := w.Write(append(buf, body...))
	return err
}

// Read reads one frame of at most limit bytes.
func Read(r io.Reader, limit int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("reading frame length: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if uint64(n) > uint64(limit) {
		return nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrTooLarge, n, limit)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("reading frame of %d bytes: %w", n, err)
	}
	return body, nil
}
