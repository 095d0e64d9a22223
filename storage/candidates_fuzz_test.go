package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	v1 "nrmnet/schemas/v1"
)

// candidateSeeds are valid and near-valid encodings of index entries.
func candidateSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	e, err := candidateOf(newCase("0123456789abcdef0123456789abcdef").Identity)
	if err != nil {
		tb.Fatal(err)
	}
	plain, err := encodeCandidate(e)
	if err != nil {
		tb.Fatal(err)
	}
	e.DateOfBirth = &v1.DateOfBirth{Date: "2011-02-28", Estimated: true, UncertaintyDays: 365}
	e.Deriver, e.Keys = "nrmnet/matchkey/v1;max=48", []MatchKey{{Bytes: []byte("key one"), Strength: 3}, {Bytes: []byte{0, 1, 2}, Strength: 1}}
	full, err := encodeCandidate(e)
	if err != nil {
		tb.Fatal(err)
	}
	return [][]byte{plain, full, full[:len(full)-2], append(full, 0), {candidateFormat}, {candidateFormat, 0, 3}}
}

// FuzzCandidateEntry feeds arbitrary plaintext to the index entry decoder:
// what it accepts encodes again and decodes to the same entry.
func FuzzCandidateEntry(f *testing.F) {
	for _, s := range candidateSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := decodeCandidate(data)
		if err != nil {
			return
		}
		again, err := encodeCandidate(e)
		if err != nil {
			t.Fatalf("accepted an entry it cannot encode: %v", err)
		}
		back, err := decodeCandidate(again)
		if err != nil || !reflect.DeepEqual(back, e) {
			t.Fatalf("re-encoded entry decodes to %+v, %v; want %+v", back, err, e)
		}
	})
}

// TestWriteCandidateFuzzCorpus regenerates testdata/fuzz/FuzzCandidateEntry
// when NRMNET_WRITE_FUZZ_CORPUS=1.
func TestWriteCandidateFuzzCorpus(t *testing.T) {
	if os.Getenv("NRMNET_WRITE_FUZZ_CORPUS") != "1" {
		t.Skip("set NRMNET_WRITE_FUZZ_CORPUS=1 to regenerate testdata/fuzz")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzCandidateEntry")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, in := range candidateSeeds(t) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", in)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
