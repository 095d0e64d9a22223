package api

import (
	"encoding/json"
	"errors"
	"testing"
)

// The request decoders take bytes from anyone holding a token. Each fuzz
// target checks that a decoder never panics, that every refusal is a
// bodyError (a 400 with a code), and that what it accepts is valid JSON
// converted without panicking. Seeds are in testdata/fuzz.

func checkDecodeErr(t *testing.T, b []byte, err error) {
	t.Helper()
	if err == nil {
		if !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		return
	}
	var be *bodyError
	if !errors.As(err, &be) || be.code == "" || be.msg == "" {
		t.Fatalf("error %v (%T) is not a bodyError with a code and a message", err, err)
	}
}

func FuzzDecodeCreateCase(f *testing.F) {
	f.Add([]byte(`{"identity":{"names":[{"kind":"used","given":"A"}],"sex":"male"},"referral":{"referred_at":"2025-03-03T09:00:00Z"},"risk":"red"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeCreateCase(b)
		checkDecodeErr(t, b, err)
		if err == nil {
			_ = req.toNode()
		}
	})
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"revision":3,"type":"rate_risk","data":{"rating":"red","stage":"review"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rev, ev, err := decodeEvent(b)
		checkDecodeErr(t, b, err)
		if err == nil && (rev == 0 || ev == nil) {
			t.Fatalf("accepted %q as revision %d event %v", b, rev, ev)
		}
	})
}

func FuzzDecodeViews(f *testing.F) {
	f.Add([]byte(`{"views":"wants to stay at school"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeViews(b)
		checkDecodeErr(t, b, err)
		if err == nil && req.Views == "" {
			t.Fatalf("accepted %q without views", b)
		}
	})
}

func FuzzDecodeCreateUser(f *testing.F) {
	f.Add([]byte(`{"id":"a.khan","name":"A Khan","role":"social_worker"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := decodeCreateUser(b)
		checkDecodeErr(t, b, err)
	})
}
