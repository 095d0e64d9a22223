package schemas

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Limits on what a decoder will look at. A record larger or deeper than this is
// refused before any of it is interpreted.
const (
	// MaxEnvelopeSize is the largest encoded envelope accepted, in bytes.
	MaxEnvelopeSize = 1 << 20
	// MaxNesting is the deepest nesting of arrays and maps accepted.
	MaxNesting = 16
	// MaxElements is the largest array or map accepted.
	MaxElements = 4096
)

// Sentinel errors for decoding; match them with errors.Is.
var (
	// ErrTooLarge: the input is longer than MaxEnvelopeSize.
	ErrTooLarge = errors.New("record too large")
	// ErrMalformed: the input is not well-formed canonical CBOR of the expected shape.
	ErrMalformed = errors.New("malformed record")
	// ErrNotCanonical: the input decodes but is not in canonical form.
	ErrNotCanonical = errors.New("record not in canonical encoding")
	// ErrUnknownKind: the envelope names a kind this node does not know.
	ErrUnknownKind = errors.New("unknown record kind")
	// ErrUnsupportedVersion: the envelope names a version of a kind this node cannot read.
	ErrUnsupportedVersion = errors.New("unsupported record version")
	// ErrInvalid: the record decodes but a field holds an invalid value.
	ErrInvalid = errors.New("invalid record")
)

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	eo := cbor.CoreDetEncOptions()
	eo.Time = cbor.TimeRFC3339NanoUTC
	eo.TimeTag = cbor.EncTagNone
	eo.ShortestFloat = cbor.ShortestFloat16
	eo.NaNConvert = cbor.NaNConvertReject
	eo.InfConvert = cbor.InfConvertReject
	eo.IndefLength = cbor.IndefLengthForbidden
	eo.NilContainers = cbor.NilContainerAsNull
	var err error
	if encMode, err = eo.EncMode(); err != nil {
		panic(err)
	}
	do := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		TimeTag:           cbor.DecTagIgnored,
		MaxNestedLevels:   MaxNesting,
		MaxArrayElements:  MaxElements,
		MaxMapPairs:       MaxElements,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		UTF8:              cbor.UTF8RejectInvalid,
		DefaultMapType:    nil,
	}
	if decMode, err = do.DecMode(); err != nil {
		panic(err)
	}
}

// Marshal returns the canonical encoding of v.
func Marshal(v any) ([]byte, error) {
	b, err := encMode.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("schemas: encode %T: %w", v, err)
	}
	return b, nil
}

// Unmarshal decodes canonical bytes into v, which must be a pointer. It refuses
// input longer than MaxEnvelopeSize, trailing bytes, unknown fields, duplicate
// map keys, and any input that does not re-encode to exactly the same bytes.
func Unmarshal(data []byte, v any) error {
	if len(data) > MaxEnvelopeSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), MaxEnvelopeSize)
	}
	rest, err := decMode.UnmarshalFirst(data, v)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrMalformed, describeCBORError(err))
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %d bytes after the end of the record", ErrMalformed, len(rest))
	}
	again, err := encMode.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !bytes.Equal(again, data) {
		return ErrNotCanonical
	}
	return nil
}

// describeCBORError turns the CBOR library's errors into text that names the
// field where it can.
func describeCBORError(err error) string {
	var ute *cbor.UnmarshalTypeError
	if errors.As(err, &ute) {
		if ute.StructFieldName != "" {
			return fmt.Sprintf("field %s: cannot hold a CBOR %s", ute.StructFieldName, ute.CBORType)
		}
		return fmt.Sprintf("cannot decode a CBOR %s into %s", ute.CBORType, ute.GoType)
	}
	var uuf *cbor.UnknownFieldError
	if errors.As(err, &uuf) {
		return "unknown field: " + uuf.Error()
	}
	return err.Error()
}
