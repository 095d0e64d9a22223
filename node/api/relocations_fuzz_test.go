package api

import (
	"bytes"
	"testing"
)

// Fuzz targets for the relocation bodies (see fuzz_test.go for what each
// checks). An empty body is a valid accept, reject or revoke body (no
// reason), so it is not held to json.Valid.

func FuzzDecodeRelocationRequest(f *testing.F) {
	f.Add([]byte(`{"destination":"CMD","reason":"child_moved","urgency":"high","move_date":"2025-03-10"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := decodeRelocationRequest(b)
		checkDecodeErr(t, b, err)
	})
}

func FuzzDecodeRelocationDecision(f *testing.F) {
	f.Add([]byte(`{"reason":"placement is outside our area"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeRelocationDecision(b)
		if len(bytes.TrimSpace(b)) == 0 {
			if err != nil || req == nil || req.Reason != "" {
				t.Fatalf("empty body: %v %+v, want no reason and no error", err, req)
			}
			return
		}
		checkDecodeErr(t, b, err)
		if err := decodeNoBody(b); err != nil {
			checkDecodeErr(t, b, err)
		}
	})
}
