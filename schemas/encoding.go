package schemas

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"

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
		// A key matches a field only exactly: "ID" is an unknown field, not "id".
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
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
// The error names the field at fault where there is one.
func Unmarshal(data []byte, v any) error {
	if len(data) > MaxEnvelopeSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), MaxEnvelopeSize)
	}
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return fmt.Errorf("schemas: unmarshal into %T: need a pointer", v)
	}
	rest, err := decMode.UnmarshalFirst(data, v)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrMalformed, explain(data, t.Elem(), err))
	}
	if n := len(rest); n == 1 {
		return fmt.Errorf("%w: 1 byte after the end of the record", ErrMalformed)
	} else if n > 1 {
		return fmt.Errorf("%w: %d bytes after the end of the record", ErrMalformed, n)
	}
	again, err := encMode.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !bytes.Equal(again, data) {
		return fmt.Errorf("%w: %s", ErrNotCanonical, explain(data, t.Elem(), nil))
	}
	return nil
}

// describeCBORError turns the CBOR library's errors about one data item, to be
// decoded into a value of type t (nil if unknown), into text for a person.
func describeCBORError(err error, t reflect.Type) string {
	var ute *cbor.UnmarshalTypeError
	if errors.As(err, &ute) {
		cborType := ute.CBORType
		if cborType == "primitives" {
			cborType = "float or simple value"
		}
		want := expected(t)
		if t == nil {
			want = "a " + ute.GoType
		}
		msg := fmt.Sprintf("holds a CBOR %s where %s is expected", cborType, want)
		// The library puts an overflow in parentheses at the end.
		if s := ute.Error(); strings.HasSuffix(s, ")") && strings.Contains(s, " overflows ") {
			msg += s[strings.LastIndex(s, " ("):]
		}
		return msg
	}
	var dup *cbor.DupMapKeyError
	if errors.As(err, &dup) {
		return fmt.Sprintf("map key %s appears twice", clip(fmt.Sprint(dup.Key)))
	}
	var uuf *cbor.UnknownFieldError
	if errors.As(err, &uuf) {
		return fmt.Sprintf("map entry %d is not a field of this record (unknown fields are refused, not ignored)", uuf.Index)
	}
	var sem *cbor.SemanticError
	if errors.As(err, &sem) && strings.Contains(sem.Error(), "UTF-8") {
		return "is not valid UTF-8"
	}
	// Other messages may quote the input (a time that does not parse, say):
	// keep them short.
	msg := strings.TrimPrefix(err.Error(), "cbor: ")
	if r := []rune(msg); len(r) > 200 {
		msg = string(r[:200]) + "..."
	}
	return msg
}
