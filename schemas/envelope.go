package schemas

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Kind names what an envelope carries.
type Kind string

// The kinds of record. A kind's meaning never changes; a new shape is a new
// version of the same kind.
const (
	KindCase               Kind = "case"
	KindAlert              Kind = "alert"
	KindAlertAck           Kind = "alert_ack"
	KindRelocationRequest  Kind = "relocation_request"
	KindRelocationResponse Kind = "relocation_response"
	KindPanelDecision      Kind = "panel_decision"
	KindAuditEntry         Kind = "audit_entry"
)

// Envelope is the one wrapper around every stored record and wire message.
type Envelope struct {
	Kind    Kind            `cbor:"kind"`
	Version uint16          `cbor:"v"`
	Payload cbor.RawMessage `cbor:"payload"`
}

// Seal encodes payload canonically and wraps it in an envelope.
func Seal(kind Kind, version uint16, payload any) ([]byte, error) {
	if kind == "" || version == 0 {
		return nil, fmt.Errorf("schemas: seal: kind and version are required")
	}
	p, err := Marshal(payload)
	if err != nil {
		return nil, err
	}
	b, err := Marshal(Envelope{Kind: kind, Version: version, Payload: p})
	if err != nil {
		return nil, err
	}
	if len(b) > MaxEnvelopeSize {
		return nil, fmt.Errorf("schemas: seal %s: %w: %d bytes, limit %d", kind, ErrTooLarge, len(b), MaxEnvelopeSize)
	}
	return b, nil
}

// OpenEnvelope decodes the envelope around a record without decoding its
// payload. It checks size and canonical form, and that kind and version are set.
func OpenEnvelope(data []byte) (Envelope, error) {
	var e Envelope
	if err := Unmarshal(data, &e); err != nil {
		return Envelope{}, fmt.Errorf("envelope: %w", err)
	}
	if e.Kind == "" {
		return Envelope{}, fmt.Errorf("envelope: %w: field kind: is empty", ErrMalformed)
	}
	if e.Version == 0 {
		return Envelope{}, fmt.Errorf("envelope: %w: field v: is zero (versions start at 1)", ErrMalformed)
	}
	if len(e.Payload) == 0 {
		return Envelope{}, fmt.Errorf("envelope: %w: field payload: is empty", ErrMalformed)
	}
	return e, nil
}
