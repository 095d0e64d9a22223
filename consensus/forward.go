package consensus

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/libp2p/go-libp2p/core/protocol"

	v1 "nrmnet/schemas/v1"
)

// ForwardProtocolID returns the protocol a follower uses to send the leader
// what only the leader can do: apply a command, give a read index, and
// (leader to member) report replication progress. One request per stream.
func ForwardProtocolID(panel v1.PanelID) protocol.ID {
	return protocol.ID("/nrmnet/panel/" + string(panel) + "/propose/1")
}

const (
	frameVersion = 1
	// maxFrame bounds a forwarding message's payload.
	maxFrame = 4 << 20
)

// requestKind is what a forwarded request asks for.
type requestKind byte

const (
	kindPropose   requestKind = 1 // payload: the (sealed) command
	kindReadIndex requestKind = 2 // no payload
	kindProgress  requestKind = 3 // no payload
	kindSettle    requestKind = 4 // no payload: read index after a fresh barrier
)

func (k requestKind) valid() bool { return k >= kindPropose && k <= kindSettle }

// responseStatus is how a forwarded request ended.
type responseStatus byte

const (
	// statusOK: done. Index is the applied entry (propose), the read index,
	// or the responder's last log index (progress).
	statusOK responseStatus = 0
	// statusNotLeader: the responder is not the leader and did nothing;
	// payload is the leader's peer ID if it knows one.
	statusNotLeader responseStatus = 1
	// statusRejected: committed at Index, and the FSM returned the error
	// whose text is the payload.
	statusRejected responseStatus = 2
	// statusFailed: not applied; payload says why.
	statusFailed responseStatus = 3
	// statusAmbiguous: appended, outcome unknown; payload says why.
	statusAmbiguous responseStatus = 4
)

func (s responseStatus) valid() bool { return s <= statusAmbiguous }

type request struct {
	kind    requestKind
	payload []byte
}

type response struct {
	status  responseStatus
	index   uint64
	applied uint64 // progress: the responder's applied index
	payload []byte
}

// Request frame: version (1) | kind (1) | length (4, big-endian) | payload.
func writeRequest(w io.Writer, r request) error {
	if len(r.payload) > maxFrame {
		return fmt.Errorf("%w: request payload of %d bytes", ErrTooLarge, len(r.payload))
	}
	hdr := make([]byte, 6, 6+len(r.payload))
	hdr[0], hdr[1] = frameVersion, byte(r.kind)
	binary.BigEndian.PutUint32(hdr[2:], uint32(len(r.payload)))
	_, err := w.Write(append(hdr, r.payload...))
	return err
}

func readRequest(rd io.Reader) (request, error) {
	var hdr [6]byte
	if _, err := io.ReadFull(rd, hdr[:]); err != nil {
		return request{}, fmt.Errorf("%w: request header: %w", ErrProtocol, err)
	}
	if hdr[0] != frameVersion {
		return request{}, fmt.Errorf("%w: request version %d, want %d", ErrProtocol, hdr[0], frameVersion)
	}
	kind := requestKind(hdr[1])
	if !kind.valid() {
		return request{}, fmt.Errorf("%w: unknown request kind %d", ErrProtocol, hdr[1])
	}
	n := binary.BigEndian.Uint32(hdr[2:])
	if n > maxFrame {
		return request{}, fmt.Errorf("%w: request payload of %d bytes exceeds %d", ErrProtocol, n, maxFrame)
	}
	if kind != kindPropose && n != 0 {
		return request{}, fmt.Errorf("%w: request kind %d carries no payload, got %d bytes", ErrProtocol, kind, n)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(rd, payload); err != nil {
		return request{}, fmt.Errorf("%w: request payload: %w", ErrProtocol, err)
	}
	return request{kind: kind, payload: payload}, nil
}

// Response frame: version (1) | status (1) | index (8) | applied (8) |
// length (4) | payload.
func writeResponse(w io.Writer, r response) error {
	if len(r.payload) > maxFrame {
		return fmt.Errorf("%w: response payload of %d bytes", ErrTooLarge, len(r.payload))
	}
	hdr := make([]byte, 22, 22+len(r.payload))
	hdr[0], hdr[1] = frameVersion, byte(r.status)
	binary.BigEndian.PutUint64(hdr[2:], r.index)
	binary.BigEndian.PutUint64(hdr[10:], r.applied)
	binary.BigEndian.PutUint32(hdr[18:], uint32(len(r.payload)))
	_, err := w.Write(append(hdr, r.payload...))
	return err
}

func readResponse(rd io.Reader) (response, error) {
	var hdr [22]byte
	if _, err := io.ReadFull(rd, hdr[:]); err != nil {
		return response{}, fmt.Errorf("%w: response header: %w", ErrProtocol, err)
	}
	if hdr[0] != frameVersion {
		return response{}, fmt.Errorf("%w: response version %d, want %d", ErrProtocol, hdr[0], frameVersion)
	}
	st := responseStatus(hdr[1])
	if !st.valid() {
		return response{}, fmt.Errorf("%w: unknown response status %d", ErrProtocol, hdr[1])
	}
	n := binary.BigEndian.Uint32(hdr[18:])
	if n > maxFrame {
		return response{}, fmt.Errorf("%w: response payload of %d bytes exceeds %d", ErrProtocol, n, maxFrame)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(rd, payload); err != nil {
		return response{}, fmt.Errorf("%w: response payload: %w", ErrProtocol, err)
	}
	return response{
		status:  st,
		index:   binary.BigEndian.Uint64(hdr[2:]),
		applied: binary.BigEndian.Uint64(hdr[10:]),
		payload: payload,
	}, nil
}
