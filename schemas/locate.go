package schemas

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// This file explains a rejection. The CBOR library says what is wrong with an
// input but not where: an unknown field is "at map element index 3" of some map,
// a re-encoding that differs has no position at all. When a decode fails, locate
// walks the input again alongside the Go type, one data item at a time, and
// returns the path of the first item that does not decode, or does not re-encode
// to itself, in the same dotted form as FieldError ("identity.names[0].given").
// It runs only on the failure path, so accepted records pay nothing for it.

// location is where a rejected input goes wrong and what is wrong there.
type location struct {
	path    string
	problem string
}

func (l *location) String() string {
	if l.path == "" {
		return l.problem
	}
	return "field " + l.path + ": " + l.problem
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	rawMessageType  = reflect.TypeFor[cbor.RawMessage]()
	unmarshalerType = reflect.TypeFor[cbor.Unmarshaler]()
)

// explain describes a decoding error err, or a canonical-form mismatch when err
// is nil, for data decoded into a value of type t.
func explain(data []byte, t reflect.Type, err error) string {
	var (
		syntax  *cbor.SyntaxError
		nesting *cbor.MaxNestedLevelError
		arrays  *cbor.MaxArrayElementsError
		maps    *cbor.MaxMapPairsError
	)
	switch {
	case errors.Is(err, io.EOF):
		return "not well-formed CBOR: the input is empty"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "not well-formed CBOR: the input ends inside a data item"
	case errors.As(err, &syntax):
		return "not well-formed CBOR: " + strings.TrimPrefix(syntax.Error(), "cbor: ")
	case errors.As(err, &nesting):
		return fmt.Sprintf("nested deeper than %d arrays and maps", MaxNesting)
	case errors.As(err, &arrays):
		return fmt.Sprintf("an array has more than %d elements", MaxElements)
	case errors.As(err, &maps):
		return fmt.Sprintf("a map has more than %d entries", MaxElements)
	}
	// A decoding error is looked for first, so that it is not hidden behind a
	// canonical-form slip earlier in the input.
	if err != nil {
		if loc := locate(data, t, "", false); loc != nil {
			return loc.String()
		}
	}
	if loc := locate(data, t, "", true); loc != nil {
		return loc.String()
	}
	if err != nil {
		return describeCBORError(err, t)
	}
	return "re-encoding differs from the input"
}

// locate returns where the single data item data, decoded into a value of type
// t at path, first fails to decode or, when canon is set, to re-encode to
// itself; nil if it does not.
func locate(data []byte, t reflect.Type, path string, canon bool) *location {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	v := reflect.New(t)
	_, err := decMode.UnmarshalFirst(data, v.Interface())
	if err == nil && !canon {
		return nil
	}
	var again []byte
	if err == nil {
		again, err = encMode.Marshal(v.Interface())
		if err == nil && bytes.Equal(again, data) {
			return nil
		}
		if err != nil {
			return &location{path, "cannot be re-encoded: " + strings.TrimPrefix(err.Error(), "cbor: ")}
		}
	}
	if !leaf(t) {
		switch t.Kind() {
		case reflect.Struct:
			if loc := locateInMap(data, t, path, again, canon); loc != nil {
				return loc
			}
		case reflect.Slice, reflect.Array:
			if loc := locateInArray(data, t, path, canon); loc != nil {
				return loc
			}
		}
	}
	if err != nil {
		return &location{path, describeCBORError(err, t)}
	}
	return &location{path, "is not in canonical form; canonical form is " + diagnose(again)}
}

// leaf reports whether values of t are decoded whole rather than walked into.
func leaf(t reflect.Type) bool {
	if t == timeType || t == rawMessageType || reflect.PointerTo(t).Implements(unmarshalerType) {
		return true
	}
	switch t.Kind() {
	case reflect.Struct:
		return false
	case reflect.Slice, reflect.Array:
		return t.Elem().Kind() == reflect.Uint8 // a byte string
	}
	return true
}

// structField is one field of a struct as the CBOR library sees it.
type structField struct {
	typ       reflect.Type
	omitEmpty bool
}

func structFields(t reflect.Type) map[string]structField {
	fields := make(map[string]structField, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("cbor")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		fields[name] = structField{typ: f.Type, omitEmpty: strings.Contains(","+opts+",", ",omitempty,")}
	}
	return fields
}

// locateInMap walks a map decoded into the struct type t. canonical is the
// re-encoding of the whole struct when it decoded without error.
func locateInMap(data []byte, t reflect.Type, path string, canonical []byte, canon bool) *location {
	major, n, hdr, ok := head(data)
	if !ok || major != 5 {
		return nil // not a map: the caller reports the type mismatch
	}
	if canon && !shortestHead(data, n) {
		return &location{path, "the map's length is not in its shortest form"}
	}
	fields := structFields(t)
	present := map[string]bool{}
	var prev []byte
	rest := data[hdr:]
	for i := uint64(0); i < n; i++ {
		var key, val cbor.RawMessage
		var err error
		if rest, err = decMode.UnmarshalFirst(rest, &key); err != nil {
			return &location{path, fmt.Sprintf("map key %d: %s", i, describeCBORError(err, nil))}
		}
		var name string
		if _, err := decMode.UnmarshalFirst(key, &name); err != nil {
			return &location{path, fmt.Sprintf("map key %d is not a text string", i)}
		}
		at := join(path, clip(name))
		f, known := fields[name]
		if rest, err = decMode.UnmarshalFirst(rest, &val); err != nil {
			return &location{at, describeCBORError(err, f.typ)}
		}
		if again, err := encMode.Marshal(name); canon && (err != nil || !bytes.Equal(again, key)) {
			return &location{at, "the key is not in its shortest form"}
		}
		if !known {
			return &location{at, "is not a field of this record (unknown fields are refused, not ignored)"}
		}
		if present[name] {
			return &location{at, "appears twice"}
		}
		if canon && prev != nil && bytes.Compare(prev, key) > 0 {
			return &location{at, "is out of order (map keys are sorted by length, then byte by byte)"}
		}
		present[name], prev = true, key
		if loc := locate(val, f.typ, at, canon); loc != nil {
			return loc
		}
	}
	if !canon || canonical == nil {
		return nil
	}
	// Every field is canonical on its own and in order, so the difference is
	// which fields are present.
	want := map[string]bool{}
	if _, n, hdr, ok := head(canonical); ok {
		rest := canonical[hdr:]
		for i := uint64(0); i < n; i++ {
			var key, val cbor.RawMessage
			var name string
			var err error
			if rest, err = decMode.UnmarshalFirst(rest, &key); err != nil {
				break
			}
			if rest, err = decMode.UnmarshalFirst(rest, &val); err != nil {
				break
			}
			if _, err = decMode.UnmarshalFirst(key, &name); err == nil {
				want[name] = true
			}
		}
	}
	for _, name := range sortedKeys(present) {
		if !want[name] {
			return &location{join(path, name), "is present but empty: leave an empty optional field out"}
		}
	}
	for _, name := range sortedKeys(want) {
		if !present[name] {
			return &location{join(path, name), "is missing"}
		}
	}
	return nil
}

// locateInArray walks an array decoded into the slice or array type t.
func locateInArray(data []byte, t reflect.Type, path string, canon bool) *location {
	major, n, hdr, ok := head(data)
	if !ok || major != 4 {
		return nil
	}
	if canon && !shortestHead(data, n) {
		return &location{path, "the array's length is not in its shortest form"}
	}
	rest := data[hdr:]
	for i := uint64(0); i < n; i++ {
		var item cbor.RawMessage
		var err error
		at := path + "[" + strconv.FormatUint(i, 10) + "]"
		if rest, err = decMode.UnmarshalFirst(rest, &item); err != nil {
			return &location{at, describeCBORError(err, t.Elem())}
		}
		if loc := locate(item, t.Elem(), at, canon); loc != nil {
			return loc
		}
	}
	return nil
}

// head reads the initial byte and argument of a CBOR data item of definite length.
func head(b []byte) (major byte, n uint64, size int, ok bool) {
	if len(b) == 0 {
		return 0, 0, 0, false
	}
	major, ai := b[0]>>5, b[0]&0x1f
	switch {
	case ai < 24:
		return major, uint64(ai), 1, true
	case ai <= 27:
		size = 1 << (ai - 24)
		if len(b) < 1+size {
			return 0, 0, 0, false
		}
		for _, c := range b[1 : 1+size] {
			n = n<<8 | uint64(c)
		}
		return major, n, 1 + size, true
	}
	return 0, 0, 0, false
}

// shortestHead reports whether the head of b encodes its argument n in the
// fewest bytes.
func shortestHead(b []byte, n uint64) bool {
	switch b[0] & 0x1f {
	case 24:
		return n >= 24
	case 25:
		return n > 0xff
	case 26:
		return n > 0xffff
	case 27:
		return n > 0xffffffff
	}
	return true
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	// Canonical order: shorter first, then byte by byte.
	slices.SortFunc(out, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	return out
}

// clip keeps quoted hostile input short and printable in an error message.
func clip(s string) string {
	q := strconv.Quote(s)
	if len(s) <= 40 && q == `"`+s+`"` {
		return s
	}
	r := []rune(s)
	if len(r) > 40 {
		return strconv.Quote(string(r[:40])) + "..."
	}
	return q
}

var diagMode, _ = cbor.DiagOptions{MaxNestedLevels: MaxNesting + 1}.DiagMode()

// expected names what a value of Go type t is encoded as, for messages.
func expected(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == nil:
		return "a value of another type"
	case t == timeType:
		return "a time as RFC 3339 text"
	}
	switch t.Kind() {
	case reflect.String:
		return "a text string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an unsigned integer"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a byte string"
		}
		return "an array"
	case reflect.Struct, reflect.Map:
		return "a map"
	}
	return "a value of another type"
}

// diagnose renders a short item in CBOR diagnostic notation.
func diagnose(b []byte) string {
	d, err := diagMode.Diagnose(b)
	if err != nil {
		return fmt.Sprintf("%x", b)
	}
	if r := []rune(d); len(r) > 80 {
		return string(r[:80]) + "..."
	}
	return d
}
