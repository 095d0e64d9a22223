package schemas_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// sample is a small record with the shapes the real ones use: text, an
// integer, a time, and two optional fields.
type sample struct {
	Name  string    `cbor:"name"`
	Count int64     `cbor:"count"`
	At    time.Time `cbor:"at"`
	Tags  []string  `cbor:"tags,omitempty"`
	Note  string    `cbor:"note,omitempty"`
}

// sampleHex is the canonical encoding of sampleValue, written by hand.
const sampleHex = "" +
	"a3" + // map of 3; keys sorted by encoded bytes, so by length first: at, name, count
	"62" + "6174" + // "at"
	"74" + "323032352d30352d31305432323a34303a30305a" + // "2025-05-10T22:40:00Z"
	"64" + "6e616d65" + // "name"
	"63" + "416e6e" + // "Ann"
	"65" + "636f756e74" + // "count"
	"1901f4" // 500 in two bytes, the shortest form

// sampleValue is given in BST on purpose: the encoder writes UTC.
var sampleValue = sample{Name: "Ann", Count: 500, At: time.Date(2025, 5, 10, 23, 40, 0, 0, time.FixedZone("BST", 3600))}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestMarshalIsCanonical(t *testing.T) {
	got, err := schemas.Marshal(sampleValue)
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHex(t, sampleHex); !bytes.Equal(got, want) {
		t.Errorf("Marshal(sample)\n got: %x\nwant: %x", got, want)
	}

	type ints struct {
		A uint64 `cbor:"a"`
		B uint64 `cbor:"b"`
		C uint64 `cbor:"c"`
		D uint64 `cbor:"d"`
		E uint64 `cbor:"e"`
		F uint64 `cbor:"f"`
		G uint64 `cbor:"g"`
		H int64  `cbor:"h"`
		I int64  `cbor:"i"`
		J []byte `cbor:"j"`
		K []int  `cbor:"k"`
		L bool   `cbor:"l"`
	}
	got, err = schemas.Marshal(ints{0, 23, 24, 255, 256, 65536, 1 << 32, -1, -25, []byte{1, 2}, []int{}, true})
	if err != nil {
		t.Fatal(err)
	}
	want := mustHex(t, "ac"+ // map of 12
		"6161 00"+ // 0
		"6162 17"+ // 23: the last one-byte integer
		"6163 1818"+ // 24
		"6164 18ff"+ // 255
		"6165 190100"+ // 256
		"6166 1a00010000"+ // 65536
		"6167 1b0000000100000000"+ // 2^32
		"6168 20"+ // -1
		"6169 3818"+ // -25
		"616a 420102"+ // a byte string
		"616b 80"+ // an empty array, definite length
		"616c f5") // true
	if !bytes.Equal(got, want) {
		t.Errorf("Marshal(ints)\n got: %x\nwant: %x", got, want)
	}

	var back sample
	if err := schemas.Unmarshal(mustHex(t, sampleHex), &back); err != nil {
		t.Fatal(err)
	}
	if !back.At.Equal(sampleValue.At) || back.At.Location() != time.UTC || back.Name != "Ann" || back.Count != 500 {
		t.Errorf("Unmarshal = %+v", back)
	}
}

// TestUnmarshalRefusesNonCanonical gives the decoder inputs that mean the same
// as sampleHex, or nearly, but are not its one canonical encoding.
func TestUnmarshalRefusesNonCanonical(t *testing.T) {
	const (
		at    = "6261747432303235" + "2d30352d31305432323a34303a30305a" // "at": "2025-05-10T22:40:00Z"
		name  = "646e616d6563416e6e"                                    // "name": "Ann"
		count = "65636f756e741901f4"                                    // "count": 500
	)
	cases := []struct {
		name string
		hex  string
		want error
		msg  []string // the message must contain each
	}{
		{"unsorted map keys", "a3" + name + at + count, schemas.ErrNotCanonical, []string{"field at", "out of order"}},
		{"longer key first", "a3" + at + count + name, schemas.ErrNotCanonical, []string{"field name", "out of order"}},
		{"integer in 4 bytes", "a3" + at + name + "65636f756e741a000001f4", schemas.ErrNotCanonical, []string{"field count", "canonical form is 500"}},
		{"integer in 8 bytes", "a3" + at + name + "65636f756e741b00000000000001f4", schemas.ErrNotCanonical, []string{"field count"}},
		{"text length in an extra byte", "a3" + at + "646e616d65" + "7803416e6e" + count, schemas.ErrNotCanonical, []string{"field name"}},
		{"key length in an extra byte", "a3" + at + "78046e616d6563416e6e" + count, schemas.ErrNotCanonical, []string{"field name", "shortest"}},
		{"map length in an extra byte", "b803" + at + name + count, schemas.ErrNotCanonical, []string{"length is not in its shortest form"}},
		{"indefinite-length map", "bf" + at + name + count + "ff", schemas.ErrMalformed, []string{"indefinite-length"}},
		{"indefinite-length text", "a3" + at + "646e616d65" + "7f63416e6eff" + count, schemas.ErrMalformed, []string{"field name", "indefinite-length"}},
		{"duplicate key", "a4" + at + name + name + count, schemas.ErrMalformed, []string{"field name", "appears twice"}},
		{"tagged time", "a3" + "6261" + "74c074" + "323032352d30352d31305432323a34303a30305a" + name + count, schemas.ErrMalformed, []string{"field at", "tag"}},
		{"trailing byte", sampleHex + "00", schemas.ErrMalformed, []string{"1 byte after the end"}},
		{"half float for an integer", "a3" + at + name + "65636f756e74f95fd0", schemas.ErrMalformed, []string{"field count", "float"}},
		{"double float for an integer", "a3" + at + name + "65636f756e74fb407f400000000000", schemas.ErrMalformed, []string{"field count", "float"}},
		{"time with +01:00", "a3" + "6261747819" + hex.EncodeToString([]byte("2025-05-10T23:40:00+01:00")) + name + count,
			schemas.ErrNotCanonical, []string{"field at", `canonical form is "2025-05-10T22:40:00Z"`}},
		{"time with zero fraction", "a3" + "6261747818" + hex.EncodeToString([]byte("2025-05-10T22:40:00.000Z")) + name + count,
			schemas.ErrNotCanonical, []string{"field at"}},
		{"time as seconds", "a3" + "6261741a681fd5c0" + name + count, schemas.ErrNotCanonical, []string{"field at"}},
		{"empty optional list present", "a4" + at + name + "647461677380" + count, schemas.ErrNotCanonical, []string{"field tags", "present but empty"}},
		{"empty optional text present", "a4" + at + name + "646e6f746560" + count, schemas.ErrNotCanonical, []string{"field note", "present but empty"}},
		{"required field missing", "a2" + at + name, schemas.ErrNotCanonical, []string{"field count", "is missing"}},
		{"null for text", "a3" + at + "646e616d65f6" + count, schemas.ErrNotCanonical, []string{"field name"}},
		{"unknown field", "a4" + at + name + "637a7a7a01" + count, schemas.ErrMalformed, []string{"field zzz", "not a field"}},
		{"key in capitals", "a3" + at + "644e414d4563416e6e" + count, schemas.ErrMalformed, []string{"field NAME", "not a field"}},
		{"integer for text", "a3" + at + "646e616d6501" + count, schemas.ErrMalformed, []string{"field name", "positive integer", "string"}},
		{"invalid UTF-8", "a3" + at + "646e616d6563416eff" + count, schemas.ErrMalformed, []string{"field name", "not valid UTF-8"}},
		{"integer key", "a3" + at + name + "0101", schemas.ErrMalformed, []string{"map key 2 is not a text string"}},
		{"array for a map", "83" + "01" + "02" + "03", schemas.ErrMalformed, []string{"holds a CBOR array where a map is expected"}},
		{"empty input", "", schemas.ErrMalformed, []string{"not well-formed"}},
		{"truncated", sampleHex[:len(sampleHex)-4], schemas.ErrMalformed, []string{"not well-formed"}},
		{"reserved additional information", "a3" + at + name + "65636f756e741c", schemas.ErrMalformed, []string{"not well-formed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v sample
			err := schemas.Unmarshal(mustHex(t, c.hex), &v)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			for _, m := range c.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not contain %q", err, m)
				}
			}
			checkActionable(t, err)
			t.Log(err)
		})
	}
}

// checkActionable refuses messages that send a person to the library's source:
// positions without a field name, and Go type internals.
func checkActionable(t *testing.T, err error) {
	t.Helper()
	for _, bad := range []string{"map element index", "cbor:", "schemas_test.", "Go struct field", "reflect"} {
		if strings.Contains(err.Error(), bad) {
			t.Errorf("error %q contains %q: say which field and what is wrong instead", err, bad)
		}
	}
}

func TestUnmarshalLimits(t *testing.T) {
	envelope := func(payload []byte) []byte {
		// {"v": 1, "kind": "case", "payload": <payload>}
		return append(mustHex(t, "a3617601646b696e646463617365677061796c6f6164"), payload...)
	}
	nested := func(depth int) []byte { return append(bytes.Repeat([]byte{0x81}, depth), 0x00) }
	array := func(n int) []byte {
		b, err := cbor.Marshal(make([]int, n))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bigMap := func(n int) []byte {
		m := make(map[int]int, n)
		for i := range n {
			m[i] = 0
		}
		b, err := schemas.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	byteString := func(n int) []byte {
		b, err := schemas.Marshal(make([]byte, n))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// An envelope of exactly MaxEnvelopeSize bytes: header 22, byte-string head 5.
	exact := envelope(byteString(schemas.MaxEnvelopeSize - 22 - 5))
	if len(exact) != schemas.MaxEnvelopeSize {
		t.Fatalf("exact envelope is %d bytes", len(exact))
	}

	cases := []struct {
		name string
		data []byte
		want error
		msg  string
	}{
		{"exactly the size limit", exact, nil, ""},
		{"one byte over the size limit", envelope(byteString(schemas.MaxEnvelopeSize - 22 - 5 + 1)), schemas.ErrTooLarge, "1048577 bytes, limit 1048576"},
		{"16 MB of zeros", make([]byte, 16<<20), schemas.ErrTooLarge, "limit 1048576"},
		{"nesting at the limit", envelope(nested(schemas.MaxNesting - 1)), nil, ""},
		{"nesting over the limit", envelope(nested(schemas.MaxNesting)), schemas.ErrMalformed, "nested deeper than 16"},
		{"nesting far over the limit", envelope(nested(10000)), schemas.ErrMalformed, "nested deeper than 16"},
		{"array at the limit", envelope(array(schemas.MaxElements)), nil, ""},
		{"array over the limit", envelope(array(schemas.MaxElements + 1)), schemas.ErrMalformed, "more than 4096 elements"},
		{"array head claiming 2^64 elements", envelope(mustHex(t, "9bffffffffffffffff")), schemas.ErrMalformed, ""},
		{"map at the limit", envelope(bigMap(schemas.MaxElements)), nil, ""},
		{"map over the limit", envelope(bigMap(schemas.MaxElements + 1)), schemas.ErrMalformed, "more than 4096 entries"},
		{"text head claiming 4 GB", envelope(mustHex(t, "7affffffff41")), schemas.ErrMalformed, "not well-formed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := schemas.OpenEnvelope(c.data)
			if c.want == nil {
				if err != nil {
					t.Fatalf("OpenEnvelope: %v", err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %.300v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not contain %q", err, c.msg)
			}
			checkActionable(t, err)
			t.Log(err)
		})
	}

	t.Run("Seal refuses what OpenEnvelope would", func(t *testing.T) {
		_, err := schemas.Seal(schemas.KindCase, 1, make([]byte, schemas.MaxEnvelopeSize))
		if !errors.Is(err, schemas.ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
}

func TestOpenEnvelope(t *testing.T) {
	good, err := schemas.Seal(schemas.KindAlertAck, 1, sampleValue)
	if err != nil {
		t.Fatal(err)
	}
	env, err := schemas.OpenEnvelope(good)
	if err != nil {
		t.Fatal(err)
	}
	if env.Kind != schemas.KindAlertAck || env.Version != 1 || !bytes.Equal(env.Payload, mustHex(t, sampleHex)) {
		t.Errorf("OpenEnvelope = %+v", env)
	}

	cases := []struct {
		name string
		hex  string
		want error
		msg  string
	}{
		{"version zero", "a3617600646b696e646463617365677061796c6f6164a0", schemas.ErrMalformed, "field v: is zero"},
		{"no kind", "a2617601677061796c6f6164a0", schemas.ErrNotCanonical, "field kind: is missing"},
		{"empty kind", "a361760164" + "6b696e64" + "60" + "677061796c6f6164a0", schemas.ErrMalformed, "field kind: is empty"},
		{"no payload", "a2617601646b696e646463617365", schemas.ErrNotCanonical, "field payload: is missing"},
		{"negative version", "a3617620646b696e646463617365677061796c6f6164a0", schemas.ErrMalformed, "field v: holds a CBOR negative integer"},
		{"version beyond uint16", "a36176" + "1a00011170" + "646b696e646463617365677061796c6f6164a0", schemas.ErrMalformed, "field v: holds a CBOR positive integer where an unsigned integer is expected (70000 overflows uint16)"},
		{"kind as bytes", "a3617601646b696e644463617365677061796c6f6164a0", schemas.ErrMalformed, "field kind: holds a CBOR byte string where a text string is expected"},
		{"unknown envelope field", "a4617601646b696e646463617365677061796c6f6164a0" + "6466726f6d01", schemas.ErrMalformed, ""},
		{"extra field sorted in", "a4617601646b696e646463617365" + "6466726f6d01" + "677061796c6f6164a0", schemas.ErrMalformed, "field from: is not a field of this record"},
		{"a bare payload", sampleHex, schemas.ErrMalformed, "field at: is not a field of this record"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := schemas.OpenEnvelope(mustHex(t, c.hex))
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "envelope: ") || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not start with %q and contain %q", err, "envelope: ", c.msg)
			}
			checkActionable(t, err)
			t.Log(err)
		})
	}

	if _, err := schemas.Seal("", 1, sampleValue); err == nil {
		t.Error("Seal accepted an empty kind")
	}
	if _, err := schemas.Seal(schemas.KindCase, 0, sampleValue); err == nil {
		t.Error("Seal accepted version 0")
	}
}

// TestKindsAndVersions checks what a node does with envelopes it cannot read,
// through v1.Unmarshal, where kinds and versions are known.
func TestKindsAndVersions(t *testing.T) {
	ack := &v1.AlertAck{
		AlertID: "a1e4c7b0d3f6a9c2e5b8d1f4a7c0e3b6", Issuer: "ISL", From: "MAN",
		ReceivedAt: time.Date(2025, 5, 10, 22, 40, 3, 0, time.UTC),
	}
	seal := func(kind schemas.Kind, version uint16, payload any) []byte {
		t.Helper()
		b, err := schemas.Seal(kind, version, payload)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// ackWithName is an ack with a field the type does not have.
	type ackWithName struct {
		AlertID    v1.ID            `cbor:"alert"`
		Issuer     v1.AuthorityCode `cbor:"issuer"`
		From       v1.AuthorityCode `cbor:"from"`
		ReceivedAt time.Time        `cbor:"received_at"`
		ChildName  string           `cbor:"child_name"`
	}
	withName := ackWithName{ack.AlertID, ack.Issuer, ack.From, ack.ReceivedAt, "Lula Tesfay"}

	// A case whose first name carries a field PersonName does not have.
	c := map[string]any{}
	caseBytes, err := schemas.Marshal(struct {
		Identity map[string]any `cbor:"identity"`
	}{map[string]any{"names": []any{map[string]any{"kind": "used", "given": "Lula", "nickname": "L"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cbor.Unmarshal(caseBytes, &c); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		data []byte
		want error
		msg  []string
	}{
		{"unknown kind", seal("dossier", 1, ack), schemas.ErrUnknownKind, []string{`"dossier"`}},
		{"unknown kind, long", seal(schemas.Kind(strings.Repeat("k", 5000)), 1, ack), schemas.ErrUnknownKind, []string{"kkk..."}},
		{"version 2 of a known kind", seal(schemas.KindAlertAck, 2, ack), schemas.ErrUnsupportedVersion, []string{"version 2", "reads version 1"}},
		{"version 65535", seal(schemas.KindCase, 65535, ack), schemas.ErrUnsupportedVersion, []string{"version 65535"}},
		{"unknown field in a payload", seal(schemas.KindAlertAck, 1, withName), schemas.ErrMalformed, []string{"alert_ack: ", "field child_name"}},
		{"unknown nested field", seal(schemas.KindCase, 1, c), schemas.ErrMalformed, []string{"case: ", "field identity.names[0].nickname"}},
		{"payload of the wrong kind", seal(schemas.KindAlertAck, 1, sampleValue), schemas.ErrMalformed, []string{"alert_ack: ", "field at: is not a field"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := v1.Unmarshal(c.data)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %.300v, want %v", err, c.want)
			}
			for _, m := range c.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not contain %q", err, m)
				}
			}
			if len(err.Error()) > 300 {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
			checkActionable(t, err)
			t.Log(err)
		})
	}

	t.Run("non-UTC time in a payload", func(t *testing.T) {
		type ackBST struct {
			AlertID    v1.ID            `cbor:"alert"`
			Issuer     v1.AuthorityCode `cbor:"issuer"`
			From       v1.AuthorityCode `cbor:"from"`
			ReceivedAt string           `cbor:"received_at"`
		}
		data := seal(schemas.KindAlertAck, 1, ackBST{ack.AlertID, ack.Issuer, ack.From, "2025-05-10T23:40:03+01:00"})
		_, err := v1.Unmarshal(data)
		if !errors.Is(err, schemas.ErrNotCanonical) {
			t.Fatalf("err = %v, want ErrNotCanonical", err)
		}
		if want := `field received_at: is not in canonical form; canonical form is "2025-05-10T22:40:03Z"`; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	})
}

// TestErrorsAreDistinct checks that each sentinel matches only itself, so a
// caller can tell a forged or broken record from one it is too old to read.
func TestErrorsAreDistinct(t *testing.T) {
	all := []error{
		schemas.ErrTooLarge, schemas.ErrMalformed, schemas.ErrNotCanonical,
		schemas.ErrUnknownKind, schemas.ErrUnsupportedVersion, schemas.ErrInvalid,
	}
	for i, a := range all {
		for j, b := range all {
			wrapped := fmt.Errorf("context: %w", a)
			if got := errors.Is(wrapped, b); got != (i == j) {
				t.Errorf("errors.Is(%v, %v) = %v", wrapped, b, got)
			}
		}
	}
}

func TestUnmarshalNeedsAPointer(t *testing.T) {
	if err := schemas.Unmarshal(mustHex(t, sampleHex), sample{}); err == nil {
		t.Error("Unmarshal into a non-pointer succeeded")
	}
	if err := schemas.Unmarshal(mustHex(t, sampleHex), nil); err == nil {
		t.Error("Unmarshal into nil succeeded")
	}
}
