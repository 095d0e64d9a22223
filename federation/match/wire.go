package match

import (
	"fmt"
	"io"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/oprf"
	"github.com/libp2p/go-libp2p/core/protocol"

	"nrmnet/federation/internal/frame"
	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// ProtocolID is the libp2p stream protocol of match queries: one request
// and one response per stream.
const ProtocolID protocol.ID = "/nrmnet/match/1"

// Wire limits. They are part of the protocol: a peer that sends more is
// refused before anything is decoded.
const (
	// ElementSize is the size of one blinded or evaluated element: a
	// compressed ristretto255 point.
	ElementSize = 32
	// MaxElementsPerRequest is the most elements any request may carry,
	// whatever an issuer's own (lower or equal) limit.
	MaxElementsPerRequest = 512
	// maxFrame bounds one length-prefixed frame: MaxElementsPerRequest
	// elements with their CBOR headers, and the alert ID.
	maxFrame = MaxElementsPerRequest*(ElementSize+2) + 256
)

// suite is the OPRF ciphersuite (RFC 9497 §4.1): its 64-byte output is
// v1.MatchTokenSize.
var suite = oprf.SuiteRistretto255

// Status is the issuer's answer to a request.
type Status uint8

// The statuses. Every status but StatusOK is a refusal, with no elements.
const (
	StatusOK           Status = iota // evaluated
	StatusUnknownAlert               // this issuer holds no key for the alert
	StatusExpired                    // the alert has expired; its key is gone or going
	StatusRateLimited                // the peer's or the alert's allowance is used up
	StatusBadRequest                 // malformed, or too many elements
	StatusRefused                    // the peer may not query this alert
	StatusUnavailable                // the issuer could not audit or evaluate
	statusEnd
)

var statusNames = [...]string{"ok", "unknown_alert", "expired", "rate_limited", "bad_request", "refused", "unavailable"}

func (s Status) String() string {
	if s < statusEnd {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// evalRequest asks the issuer of Alert to evaluate its OPRF on Elements.
type evalRequest struct {
	Alert    v1.ID    `cbor:"alert"`
	Elements [][]byte `cbor:"elems"`
}

// evalResponse carries the evaluated elements, in request order, or a
// refusal. RetryAfter is in whole seconds, for StatusRateLimited.
type evalResponse struct {
	Status     Status   `cbor:"status"`
	Elements   [][]byte `cbor:"elems,omitempty"`
	RetryAfter uint32   `cbor:"retry_after,omitempty"`
}

// decodeRequest decodes and validates a request frame body: canonical CBOR,
// a well-formed alert ID, 1 to MaxElementsPerRequest elements, each a valid
// ristretto255 encoding of a point other than the identity.
func decodeRequest(b []byte) (*evalRequest, error) {
	if len(b) > maxFrame {
		return nil, fmt.Errorf("%w: request is %d bytes, limit %d", ErrBadRequest, len(b), maxFrame)
	}
	var r evalRequest
	if err := schemas.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if !r.Alert.Valid() {
		return nil, fmt.Errorf("%w: alert ID %q is not 32 lower-case hex digits", ErrBadRequest, r.Alert)
	}
	if n := len(r.Elements); n == 0 || n > MaxElementsPerRequest {
		return nil, fmt.Errorf("%w: %d elements, want 1 to %d", ErrBadRequest, n, MaxElementsPerRequest)
	}
	if _, err := decodeElements(r.Elements); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return &r, nil
}

// decodeResponse decodes and validates a response frame body. want is the
// number of elements the request carried: an OK response has exactly that
// many valid elements, a refusal none.
func decodeResponse(b []byte, want int) (*evalResponse, error) {
	if len(b) > maxFrame {
		return nil, fmt.Errorf("%w: response is %d bytes, limit %d", ErrBadResponse, len(b), maxFrame)
	}
	var r evalResponse
	if err := schemas.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	if r.Status >= statusEnd {
		return nil, fmt.Errorf("%w: unknown status %d", ErrBadResponse, r.Status)
	}
	if r.Status != StatusOK {
		if len(r.Elements) != 0 {
			return nil, fmt.Errorf("%w: status %s with %d elements", ErrBadResponse, r.Status, len(r.Elements))
		}
		return &r, nil
	}
	if r.RetryAfter != 0 {
		return nil, fmt.Errorf("%w: retry_after on an ok response", ErrBadResponse)
	}
	if len(r.Elements) != want {
		return nil, fmt.Errorf("%w: %d elements for a request of %d", ErrBadResponse, len(r.Elements), want)
	}
	if _, err := decodeElements(r.Elements); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	return &r, nil
}

// decodeElements decodes compressed ristretto255 points, refusing any of the
// wrong size, any non-canonical encoding and the identity.
func decodeElements(raw [][]byte) ([]group.Element, error) {
	out := make([]group.Element, len(raw))
	for i, b := range raw {
		if len(b) != ElementSize {
			return nil, fmt.Errorf("elems[%d] is %d bytes, want %d", i, len(b), ElementSize)
		}
		e := suite.Group().NewElement()
		if err := e.UnmarshalBinary(b); err != nil {
			return nil, fmt.Errorf("elems[%d] is not a ristretto255 point: %w", i, err)
		}
		if e.IsIdentity() {
			return nil, fmt.Errorf("elems[%d] is the identity element", i)
		}
		out[i] = e
	}
	return out, nil
}

func encodeElements(es []group.Element) ([][]byte, error) {
	out := make([][]byte, len(es))
	for i, e := range es {
		b, err := e.MarshalBinaryCompress()
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// writeFrame writes v, canonically encoded, after its length as 4 bytes
// big-endian.
func writeFrame(w io.Writer, v any) error {
	body, err := schemas.Marshal(v)
	if err != nil {
		return err
	}
	return frame.Write(w, body, maxFrame)
}

// readFrame reads one length-prefixed frame, refusing a length over
// maxFrame before reading the body.
func readFrame(r io.Reader) ([]byte, error) { return frame.Read(r, maxFrame) }
