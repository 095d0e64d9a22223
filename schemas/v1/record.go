package v1

import (
	"fmt"
	"strconv"

	"nrmnet/schemas"
)

// Record is any version 1 record.
type Record interface {
	Kind() schemas.Kind
	Validate() error
}

// Marshal validates r and returns its canonical envelope.
func Marshal(r Record) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", r.Kind(), err)
	}
	return schemas.Seal(r.Kind(), Version, r)
}

// CID validates and encodes r and returns its content identifier.
func CID(r Record) (string, error) {
	b, err := Marshal(r)
	if err != nil {
		return "", err
	}
	return schemas.CID(b).String(), nil
}

func newRecord(k schemas.Kind) (Record, error) {
	switch k {
	case schemas.KindCase:
		return new(Case), nil
	case schemas.KindAlert:
		return new(CrossBorderAlert), nil
	case schemas.KindAlertAck:
		return new(AlertAck), nil
	case schemas.KindRelocationRequest:
		return new(RelocationRequest), nil
	case schemas.KindRelocationResponse:
		return new(RelocationResponse), nil
	case schemas.KindPanelDecision:
		return new(PanelDecision), nil
	case schemas.KindAuditEntry:
		return new(AuditEntry), nil
	}
	return nil, fmt.Errorf("%w %q", schemas.ErrUnknownKind, truncate(string(k)))
}

// Unmarshal opens an envelope and returns the validated record inside it.
// Unknown kinds and versions other than 1 are refused.
func Unmarshal(data []byte) (Record, error) {
	env, err := schemas.OpenEnvelope(data)
	if err != nil {
		return nil, err
	}
	r, err := newRecord(env.Kind)
	if err != nil {
		return nil, err
	}
	if env.Version != Version {
		return nil, fmt.Errorf("%s: %w %d (this node reads version %d)", env.Kind, schemas.ErrUnsupportedVersion, env.Version, Version)
	}
	if err := schemas.Unmarshal(env.Payload, r); err != nil {
		return nil, fmt.Errorf("%s: %w", env.Kind, err)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", env.Kind, err)
	}
	return r, nil
}

// unmarshalAs decodes data and checks that it holds a record of type T.
func unmarshalAs[T Record](data []byte) (T, error) {
	var zero T
	r, err := Unmarshal(data)
	if err != nil {
		return zero, err
	}
	t, ok := r.(T)
	if !ok {
		return zero, fmt.Errorf("%w: got a %s record, want %s", schemas.ErrMalformed, r.Kind(), zero.Kind())
	}
	return t, nil
}

// UnmarshalCase decodes a case envelope.
func UnmarshalCase(data []byte) (*Case, error) { return unmarshalAs[*Case](data) }

// UnmarshalAlert decodes a cross-border alert envelope.
func UnmarshalAlert(data []byte) (*CrossBorderAlert, error) {
	return unmarshalAs[*CrossBorderAlert](data)
}

// UnmarshalAlertAck decodes an alert acknowledgement envelope.
func UnmarshalAlertAck(data []byte) (*AlertAck, error) { return unmarshalAs[*AlertAck](data) }

// UnmarshalRelocationRequest decodes a relocation request envelope.
func UnmarshalRelocationRequest(data []byte) (*RelocationRequest, error) {
	return unmarshalAs[*RelocationRequest](data)
}

// UnmarshalRelocationResponse decodes a relocation response envelope.
func UnmarshalRelocationResponse(data []byte) (*RelocationResponse, error) {
	return unmarshalAs[*RelocationResponse](data)
}

// UnmarshalPanelDecision decodes a panel decision envelope.
func UnmarshalPanelDecision(data []byte) (*PanelDecision, error) {
	return unmarshalAs[*PanelDecision](data)
}

// UnmarshalAuditEntry decodes an audit entry envelope.
func UnmarshalAuditEntry(data []byte) (*AuditEntry, error) {
	return unmarshalAs[*AuditEntry](data)
}

func itoa(i int) string { return strconv.Itoa(i) }
