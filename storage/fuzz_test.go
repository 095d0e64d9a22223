package storage

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "nrmnet/schemas/v1"
)

// Fixed keys of the fuzz targets, so that the committed seed corpus holds
// valid inputs.
var (
	fuzzStorageKey = bytes.Repeat([]byte{0x42}, 32)
	fuzzChildKey   = bytes.Repeat([]byte{0x17}, 32)
	fuzzCaseID     = v1.CaseID("ISL-00112233445566ff")
)

// FuzzBackupReader feeds arbitrary streams to the backup reader: it must
// never panic, never allocate beyond its chunk size, and return plaintext
// only from a stream that authenticates to its final chunk.
func FuzzBackupReader(f *testing.F) {
	for _, p := range [][]byte{nil, []byte("hello"), bytes.Repeat([]byte("backup "), 20000)} {
		f.Add(mustBackupStream(f, p))
	}
	f.Add([]byte(backupMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		br, err := newBackupReader(bytes.NewReader(data), fuzzStorageKey, nil)
		if err != nil {
			return
		}
		out, err := io.ReadAll(io.LimitReader(br, 1<<24))
		if err != nil {
			return
		}
		if !br.done {
			t.Fatalf("the reader returned EOF before the final chunk (%d bytes)", len(out))
		}
	})
}

func mustBackupStream(tb testing.TB, plain []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	bw, err := newBackupWriter(&buf, fuzzStorageKey, backupHeader{
		Content: backupContentDB, Authority: "ISL", CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		AuditOrigin: "nrmnet/audit/ISL", AuditRoot: make([]byte, 32),
	}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := bw.Write(plain); err != nil {
		tb.Fatal(err)
	}
	if err := bw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// TestBackupStreamRoundTrip checks the stream format on sizes around the
// chunk boundary.
func TestBackupStreamRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, backupChunk - 1, backupChunk, backupChunk + 1, 3*backupChunk + 17} {
		plain := bytes.Repeat([]byte{byte(n)}, n)
		stream := mustBackupStream(t, plain)
		br, err := newBackupReader(bytes.NewReader(stream), fuzzStorageKey, nil)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		got, err := io.ReadAll(br)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes: read %d bytes, %v", n, len(got), err)
		}
	}
}

func FuzzParseStorageKey(f *testing.F) {
	f.Add([]byte("4242424242424242424242424242424242424242424242424242424242424242\n"))
	f.Add([]byte("00000000000000000000000000000000000000000000000000000000000000"))
	f.Add([]byte(""))
	f.Add([]byte("zz42424242424242424242424242424242424242424242424242424242424242\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := ParseStorageKey(data)
		if err == nil && len(key) != StorageKeySize {
			t.Fatalf("accepted a key of %d bytes", len(key))
		}
	})
}

func FuzzParseAuthorityKey(f *testing.F) {
	f.Add(fuzzAuthorityPEM(f))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"))
	f.Add([]byte("not pem"))
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := ParseAuthorityKey(data)
		if err != nil {
			return
		}
		if len(key) != ed25519.PrivateKeySize {
			t.Fatalf("accepted a key of %d bytes", len(key))
		}
		// What is accepted signs and verifies.
		sig := ed25519.Sign(key, []byte("checkpoint"))
		if !ed25519.Verify(key.Public().(ed25519.PublicKey), []byte("checkpoint"), sig) {
			t.Fatal("accepted a key whose public half does not match")
		}
	})
}

func fuzzAuthorityPEM(tb testing.TB) []byte {
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	der, err := x509.MarshalPKCS8PrivateKey(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// FuzzCaseValue feeds arbitrary stored values to the case decoder (decrypt,
// then strict decode).
func FuzzCaseValue(f *testing.F) {
	valid := fuzzCaseValue(f)
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add(append([]byte{2}, valid[1:]...))
	f.Add([]byte{caseValueFormat})
	f.Fuzz(func(t *testing.T, value []byte) {
		c, err := openCaseValue(fuzzChildKey, fuzzCaseID, value)
		if err != nil {
			return
		}
		if c.ID != fuzzCaseID || c.Validate() != nil {
			t.Fatal("accepted a value that is not a valid case with the ID asked for")
		}
	})
}

func fuzzCaseValue(tb testing.TB) []byte {
	c := newCase("0123456789abcdef0123456789abcdef")
	c.ID = fuzzCaseID
	plain, err := v1.Marshal(c)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := sealCase(fuzzChildKey, c.ID, plain)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// TestWriteFuzzCorpus regenerates the committed seed corpora of the fuzz
// targets under testdata/fuzz when NRMNET_WRITE_FUZZ_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("NRMNET_WRITE_FUZZ_CORPUS") != "1" {
		t.Skip("set NRMNET_WRITE_FUZZ_CORPUS=1 to regenerate testdata/fuzz")
	}
	stream := mustBackupStream(t, bytes.Repeat([]byte("kv "), 22000)) // two chunks
	small := mustBackupStream(t, []byte("hello"))
	value := fuzzCaseValue(t)
	corpus := map[string][][]byte{
		"FuzzBackupReader": {
			small, mustBackupStream(t, nil), stream, small[:len(small)-20],
			append(bytes.Clone(small), 0), []byte(backupMagic + "\x01\x00\x00\x00\x04abcd"),
		},
		"FuzzParseStorageKey": {
			[]byte("0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0\n"),
			[]byte("0F1E2D3C4B5A69788796A5B4C3D2E1F00F1E2D3C4B5A69788796A5B4C3D2E1F0"),
			[]byte("0f1e2d3c\n"), []byte("\n\n\n"), []byte("0000000000000000000000000000000000000000000000000000000000000000\n"),
		},
		"FuzzParseAuthorityKey": {
			fuzzAuthorityPEM(t), append(fuzzAuthorityPEM(t), "trailing"...),
			bytes.Replace(fuzzAuthorityPEM(t), []byte("PRIVATE KEY"), []byte("PUBLIC KEY"), 2),
			[]byte("-----BEGIN PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END PRIVATE KEY-----\n"),
		},
		"FuzzCaseValue": {
			value, value[:40], append([]byte{caseValueFormat}, bytes.Repeat([]byte{0}, 60)...),
			append(bytes.Clone(value[:len(value)-3]), 1, 2, 3),
		},
	}
	for name, inputs := range corpus {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, in := range inputs {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", in)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
