package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func mustEncode(t testing.TB, l *raft.Log) []byte {
	t.Helper()
	b, err := appendLog(nil, l)
	if err != nil {
		t.Fatalf("appendLog: %v", err)
	}
	return b
}

func TestLogCodecRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("BST", 3600))
	for _, tc := range []struct {
		name string
		log  raft.Log
	}{
		{"zero", raft.Log{}},
		{"command", raft.Log{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("panel decision")}},
		{"all fields", raft.Log{Index: 1 << 40, Term: 7, Type: raft.LogConfiguration,
			Data: []byte{0, 1, 2}, Extensions: []byte("ext"), AppendedAt: at}},
		{"extensions only", raft.Log{Index: 3, Term: 2, Type: raft.LogNoop, Extensions: []byte{9}}},
		{"max integers", raft.Log{Index: math.MaxUint64, Term: math.MaxUint64, Type: 255}},
		{"before 1970", raft.Log{Index: 2, AppendedAt: time.Date(1901, 1, 1, 0, 0, 0, 1, time.UTC)}},
		{"unix epoch", raft.Log{Index: 2, AppendedAt: time.Unix(0, 0)}},
		{"large data", raft.Log{Index: 9, Data: bytes.Repeat([]byte("x"), 1<<20)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := mustEncode(t, &tc.log)
			if len(enc) > encodedLogSize(&tc.log) {
				t.Fatalf("encoded %d bytes, bound says %d", len(enc), encodedLogSize(&tc.log))
			}
			var got raft.Log
			if err := decodeLog(enc, &got); err != nil {
				t.Fatalf("decodeLog: %v", err)
			}
			want := tc.log
			if !want.AppendedAt.IsZero() {
				if !got.AppendedAt.Equal(want.AppendedAt) || got.AppendedAt.Location() != time.UTC {
					t.Fatalf("AppendedAt = %v, want %v in UTC", got.AppendedAt, want.AppendedAt)
				}
				want.AppendedAt = want.AppendedAt.UTC()
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded %+v, want %+v", got, want)
			}
			if again := mustEncode(t, &got); !bytes.Equal(again, enc) {
				t.Fatalf("re-encoding differs:\n%x\n%x", again, enc)
			}
		})
	}
}

func TestDecodeLogCopiesOutOfItsInput(t *testing.T) {
	enc := mustEncode(t, &raft.Log{Index: 1, Data: []byte("abc"), Extensions: []byte("de")})
	var l raft.Log
	if err := decodeLog(enc, &l); err != nil {
		t.Fatal(err)
	}
	for i := range enc {
		enc[i] = 0
	}
	if string(l.Data) != "abc" || string(l.Extensions) != "de" {
		t.Fatalf("decoded fields alias the input: %q %q", l.Data, l.Extensions)
	}
	// Appending to Data must not overwrite Extensions (shared allocation).
	l.Data = append(l.Data, 'X')
	if string(l.Extensions) != "de" {
		t.Fatalf("append to Data clobbered Extensions: %q", l.Extensions)
	}
}

func TestDecodeLogRejects(t *testing.T) {
	valid := mustEncode(t, &raft.Log{Index: 300, Term: 2, Data: []byte("data"), Extensions: []byte("x"),
		AppendedAt: time.Unix(1_700_000_000, 5)})

	// Every strict prefix of a valid entry is truncated.
	for n := range len(valid) {
		if err := decodeLog(valid[:n], new(raft.Log)); !errors.Is(err, ErrCorruptLog) {
			t.Errorf("prefix of %d bytes: err = %v, want ErrCorruptLog", n, err)
		}
	}

	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"version 0", []byte{0, 1, 1, 0, 0, 0, 0}},
		{"version 2", []byte{2, 1, 1, 0, 0, 0, 0}},
		{"trailing byte", append(append([]byte(nil), valid...), 0)},
		{"non-canonical index", []byte{1, 0x81, 0x00, 1, 0, 0, 0, 0}},
		{"varint overflow", []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 1, 0, 0, 0, 0}},
		{"unknown flag", []byte{1, 1, 1, 0, 0x02, 0, 0}},
		{"nanoseconds out of range", []byte{1, 1, 1, 0, 1, 0, 0x80, 0x94, 0xeb, 0xdc, 0x03, 0, 0}},
		{"seconds beyond year 9999", append([]byte{1, 1, 1, 0, 1}, append(appendVarint(maxUnixSeconds+1), 0, 0, 0)...)},
		{"zero time with flag", append([]byte{1, 1, 1, 0, 1}, append(appendVarint(minUnixSeconds), 0, 0, 0)...)},
		{"data longer than input", []byte{1, 1, 1, 0, 0, 5, 'a', 'b', 0}},
		{"huge data length", []byte{1, 1, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"extensions longer than input", []byte{1, 1, 1, 0, 0, 0, 3, 'a'}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := raft.Log{Index: 99, Data: []byte("keep")}
			err := decodeLog(tc.in, &l)
			if !errors.Is(err, ErrCorruptLog) {
				t.Fatalf("err = %v, want ErrCorruptLog", err)
			}
			if err.Error() == ErrCorruptLog.Error() {
				t.Errorf("error %q does not say what is wrong", err)
			}
		})
	}
}

// appendVarint is encoding/binary's zig-zag varint of v.
func appendVarint(v int64) []byte {
	return binary.AppendVarint(nil, v)
}

func TestAppendLogRejectsUnencodableTime(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 12, 31, 23, 59, 59, 0, time.UTC),
	} {
		if _, err := appendLog(nil, &raft.Log{Index: 1, AppendedAt: at}); !errors.Is(err, errAppendedAtRange) {
			t.Errorf("appendLog(%v): err = %v, want errAppendedAtRange", at, err)
		}
	}
}

// FuzzDecodeLog checks that the decoder never panics and accepts only the
// canonical encoding of some raft.Log: decode then encode gives back the
// input byte for byte. The seed corpus is in testdata/fuzz/FuzzDecodeLog.
func FuzzDecodeLog(f *testing.F) {
	for _, l := range []raft.Log{
		{},
		{Index: 1, Term: 1, Data: []byte("panel decision")},
		{Index: 1 << 40, Term: 7, Type: raft.LogConfiguration, Data: []byte{0, 1}, Extensions: []byte("e"),
			AppendedAt: time.Unix(1_700_000_000, 123)},
	} {
		f.Add(mustEncode(f, &l))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var l raft.Log
		if err := decodeLog(b, &l); err != nil {
			if !errors.Is(err, ErrCorruptLog) {
				t.Fatalf("error %v does not wrap ErrCorruptLog", err)
			}
			return
		}
		enc, err := appendLog(nil, &l)
		if err != nil {
			t.Fatalf("decoded entry does not re-encode: %v", err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("accepted a non-canonical encoding:\n in  %x\n out %x", b, enc)
		}
	})
}
