package auditlog

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

var writeFuzzSeeds = flag.Bool("write-fuzz-seeds", false, "rewrite the seed corpora under testdata/fuzz")

// The seed corpora are in testdata/fuzz; TestWriteFuzzSeeds writes them.

// FuzzOpenCheckpoint feeds Open arbitrary signed notes, and feeds the
// checkpoint parser arbitrary text by signing it first (the fuzzer cannot
// forge signatures, so that is the only way to reach the parser).
func FuzzOpenCheckpoint(f *testing.F) {
	pub, priv := testKey()
	signer, err := NewNoteSigner(testOrigin, priv)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if cp, err := Open(data, testOrigin, pub); err == nil {
			// A checkpoint that opens is in canonical form, and signs and
			// opens again unchanged.
			if !bytes.HasPrefix(data, []byte(formatCheckpoint(cp)+"\n")) {
				t.Fatalf("Open(%q) = %+v, not its canonical text", data, cp)
			}
			again, err := Open(mustSign(t, cp, priv), testOrigin, pub)
			if err != nil || again != cp {
				t.Fatalf("re-signed %+v opens as %+v, %v", cp, again, err)
			}
		}
		if len(data) > MaxSignedCheckpoint/2 || !bytes.HasSuffix(data, []byte("\n")) {
			return
		}
		signed, err := note.Sign(&note.Note{Text: string(data)}, signer)
		if err != nil {
			return
		}
		if cp, err := Open(signed, testOrigin, pub); err == nil && formatCheckpoint(cp) != string(data) {
			t.Fatalf("text %q parses as %+v, whose canonical text differs", data, cp)
		}
	})
}

// FuzzWitnessFile feeds ReadWitness arbitrary files. A file it accepts must be
// exactly the encoding of the records it reported.
func FuzzWitnessFile(f *testing.F) {
	pub, _ := testKey()
	f.Fuzz(func(t *testing.T, data []byte) {
		var again strings.Builder
		again.WriteString(witnessHeader)
		err := ReadWitness(bytes.NewReader(data), testOrigin, pub, func(r WitnessRecord) error {
			if r.Offset != int64(again.Len()) {
				t.Fatalf("record at offset %d, want %d", r.Offset, again.Len())
			}
			again.WriteString(witnessLine(r.Signed, r.Reason))
			return nil
		})
		if err == nil && again.String() != string(data) {
			t.Fatalf("ReadWitness accepted %q, which re-encodes as %q", data, again.String())
		}
	})
}

type fuzzSeed struct {
	name string
	data []byte
}

func openCheckpointSeeds(t testing.TB) []fuzzSeed {
	_, priv := testKey()
	_, otherPriv := otherKey()
	cp := testCheckpoint(10)
	signed := mustSign(t, cp, priv)
	cosigner, _ := NewNoteSigner("nrmnet/witness/PEER", otherPriv)
	signer, _ := NewNoteSigner(testOrigin, priv)
	cosigned, err := note.Sign(&note.Note{Text: formatCheckpoint(cp)}, signer, cosigner)
	if err != nil {
		t.Fatal(err)
	}
	return []fuzzSeed{
		{"signed", signed},
		{"signed-size-0", mustSign(t, testCheckpoint(0), priv)},
		{"signed-size-max", mustSign(t, testCheckpoint(1<<63-1), priv)},
		{"cosigned", cosigned},
		{"edited-size", bytes.Replace(signed, []byte("\n10\n"), []byte("\n11\n"), 1)},
		{"signed-extension-line", signText(t, formatCheckpoint(cp)+"extension line\n")},
		{"text", []byte(formatCheckpoint(cp))},
		{"text-leading-zero", []byte(strings.Replace(formatCheckpoint(cp), "10", "010", 1))},
	}
}

func witnessFileSeeds(t testing.TB) []fuzzSeed {
	_, priv := testKey()
	a := witnessLine(mustSign(t, testCheckpoint(10), priv), "")
	b := witnessLine(mustSign(t, testCheckpoint(20), priv), "")
	r := witnessLine(mustSign(t, testCheckpoint(5), priv), "restored the backup of 1 March")
	return []fuzzSeed{
		{"header-only", []byte(witnessHeader)},
		{"two-checkpoints", []byte(witnessHeader + a + b)},
		{"rebase", []byte(witnessHeader + a + b + r + a)},
		{"truncated", []byte(witnessHeader + a + b[:len(b)-7])},
		{"decreasing", []byte(witnessHeader + b + a)},
		{"bad-rebase", []byte(witnessHeader + a + "rebase AAAA AAAA\n")},
		{"empty", nil},
	}
}

// TestWriteFuzzSeeds rewrites the committed seed corpora when run with
// -write-fuzz-seeds; the seeds are signed with testKey, so they stay valid.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeFuzzSeeds {
		t.Skip("run with -write-fuzz-seeds to rewrite testdata/fuzz")
	}
	for name, seeds := range map[string][]fuzzSeed{
		"FuzzOpenCheckpoint": openCheckpointSeeds(t),
		"FuzzWitnessFile":    witnessFileSeeds(t),
	} {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, seed := range seeds {
			data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seed.data)
			if err := os.WriteFile(filepath.Join(dir, "seed-"+seed.name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
