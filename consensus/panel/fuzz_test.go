package panel

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"nrmnet/schemas"
)

// The fuzz targets check, for any input: the decoder never panics; it refuses
// with an error wrapping one of its sentinels; and anything it accepts
// re-encodes to exactly the input bytes.
//
// The seed corpora under testdata/fuzz/<FuzzName>/ run with every go test;
// regenerate them with
//
//	go test -run TestSeedCorpus ./consensus/panel/ -args -update-corpus
//
// and fuzz with
//
//	go test -run XXX -fuzz '^FuzzDecode$' -fuzztime 30s ./consensus/panel/

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the committed fuzz seed corpora")

var decodeSentinels = []error{
	schemas.ErrTooLarge, schemas.ErrMalformed, schemas.ErrNotCanonical,
	schemas.ErrUnknownKind, schemas.ErrUnsupportedVersion, schemas.ErrInvalid,
}

func FuzzDecode(f *testing.F) {
	for _, e := range encodeAll(f, scenario(newFixture())) {
		f.Add(e)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode(data)
		if err != nil {
			if !slices.ContainsFunc(decodeSentinels, func(s error) bool { return errors.Is(err, s) }) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if verr := c.Validate(); verr != nil {
			t.Fatalf("accepted a command that does not validate: %v", verr)
		}
		again, err := Encode(c)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted input does not re-encode to itself (%v):\n in %x\nout %x", err, data, again)
		}
	})
}

// seedResults returns encoded results of every kind the scenario produces.
func seedResults(t testing.TB) [][]byte {
	h := newHarness(t, memConfig(t))
	var out [][]byte
	log := encodeAll(t, scenario(newFixture()))
	for _, e := range append(append(log, log[0]), []byte("junk")) {
		b, err := h.fsm.EncodeResponse(h.applyBytes(e))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func FuzzDecodeResult(f *testing.F) {
	for _, s := range seedResults(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeResult(data)
		if err != nil {
			if !slices.ContainsFunc(decodeSentinels, func(s error) bool { return errors.Is(err, s) }) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		again, err := schemas.Marshal(r)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted input does not re-encode to itself (%v)", err)
		}
	})
}

// seedSnapshots returns valid snapshots: of an empty state, and of the
// scenario's state.
func seedSnapshots(t testing.TB) [][]byte {
	empty := newHarness(t, memConfig(t))
	empty.applyBytes([]byte("junk")) // applied index 1, nothing else
	full := newHarness(t, memConfig(t))
	for _, e := range encodeAll(t, scenario(newFixture())) {
		full.applyBytes(e)
	}
	return [][]byte{snapshotBytes(t, empty.fsm), snapshotBytes(t, full.fsm)}
}

func FuzzRestore(f *testing.F) {
	for _, s := range seedSnapshots(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		w := newSnapshotWriter(&out)
		_, err := readSnapshot(bytes.NewReader(data), func(k, v []byte) error {
			w.entry(k, v)
			return nil
		})
		if err != nil {
			if !errors.Is(err, ErrCorruptState) {
				t.Fatalf("error does not wrap ErrCorruptState: %v", err)
			}
			return
		}
		if err := w.finish(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("accepted snapshot does not re-encode to itself")
		}
	})
}

// TestSeedCorpus checks that the committed corpora exist (and rewrites them
// with -update-corpus).
func TestSeedCorpus(t *testing.T) {
	corpora := map[string][][]byte{
		"FuzzDecode":       encodeAll(t, scenario(newFixture())),
		"FuzzRestore":      seedSnapshots(t),
		"FuzzDecodeResult": seedResults(t),
	}
	// A few hostile shapes, so the corpus starts at the edges too.
	corpora["FuzzDecode"] = append(corpora["FuzzDecode"],
		[]byte{}, []byte{0xa0}, []byte("panel_command"),
		mustSealRaw(t, schemas.Envelope{Kind: KindCommand, Version: 1, Payload: []byte{0xa1, 0x62, 0x69, 0x64, 0x00}}),
		mustSealRaw(t, schemas.Envelope{Kind: KindCommand, Version: 2, Payload: []byte{0xa0}}),
	)
	for name, seeds := range corpora {
		dir := filepath.Join("testdata", "fuzz", name)
		if *updateCorpus {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for i, s := range seeds {
				body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) < len(seeds) {
			t.Fatalf("%s: %d seed files (%v), want %d: run with -update-corpus", dir, len(entries), err, len(seeds))
		}
	}
}

func mustSealRaw(t testing.TB, e schemas.Envelope) []byte {
	b, err := schemas.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
