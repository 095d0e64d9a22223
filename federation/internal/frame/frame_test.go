package frame

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestRoundTripAndLimits(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, []byte("hello"), 5); err != nil {
		t.Fatal(err)
	}
	if err := Write(&buf, []byte("toolong"), 5); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("writing over the limit: %v", err)
	}
	got, err := Read(bytes.NewReader(buf.Bytes()), 5)
	if err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v", got, err)
	}
	if _, err := Read(bytes.NewReader(buf.Bytes()), 4); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("reading over the limit: %v", err)
	}
	// A declared length of 4 GiB is refused before any allocation.
	if _, err := Read(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff}), 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("huge declared length: %v", err)
	}
	if _, err := Read(bytes.NewReader([]byte{0, 0, 0, 9, 'a'}), 16); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated body: %v", err)
	}
	if _, err := Read(bytes.NewReader([]byte{0, 0}), 16); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated length: %v", err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 'x'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := Read(bytes.NewReader(b), 64)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := Write(&out, body, 64); err != nil {
			t.Fatalf("a frame read back does not write: %v", err)
		}
		if !bytes.Equal(out.Bytes(), b[:4+len(body)]) {
			t.Fatalf("frame did not round-trip")
		}
	})
}
