package schemas_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"nrmnet/schemas"
)

// FuzzOpenEnvelope checks that the envelope decoder never panics, refuses with
// one of its sentinels and a short message, and accepts only canonical bytes
// with a kind, a version and a well-formed payload. The committed seeds in
// testdata/fuzz/FuzzOpenEnvelope are generated from the v1 golden records
// (go test ./schemas/v1/ -run TestSeedCorpus -args -update).
func FuzzOpenEnvelope(f *testing.F) {
	for _, payload := range []any{sampleValue, map[string]int{"a": 1}, []int{}} {
		b, err := schemas.Seal(schemas.KindCase, 1, payload)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(mustHexF(f, sampleHex))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := schemas.OpenEnvelope(data)
		if err != nil {
			if !errors.Is(err, schemas.ErrTooLarge) && !errors.Is(err, schemas.ErrMalformed) && !errors.Is(err, schemas.ErrNotCanonical) {
				t.Fatalf("error matches no decoding sentinel: %v", err)
			}
			if len(err.Error()) > 1024 {
				t.Fatalf("error is %d bytes long: %.200s...", len(err.Error()), err)
			}
			return
		}
		if env.Kind == "" || env.Version == 0 || len(env.Payload) == 0 {
			t.Fatalf("accepted an envelope without kind, version or payload: %+v", env)
		}
		if err := cbor.Wellformed(env.Payload); err != nil {
			t.Fatalf("accepted a payload that is not well-formed: %v", err)
		}
		again, err := schemas.Marshal(env)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted input is not canonical: %v\n  input: %x\nmarshal: %x", err, data, again)
		}
		sealed, err := schemas.Seal(env.Kind, env.Version, env.Payload)
		if err != nil || !bytes.Equal(sealed, data) {
			t.Fatalf("Seal of the opened envelope differs: %v", err)
		}
	})
}

func mustHexF(f *testing.F, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		f.Fatal(err)
	}
	return b
}
