package match_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"fmt"
	"testing"
	"time"

	"github.com/cloudflare/circl/oprf"

	"nrmnet/federation/match"
	v1 "nrmnet/schemas/v1"
)

// The cost of a query, per element, against two baselines measured in the
// same run: an HMAC-SHA512 of the same key (what a shared-key hash, the
// rejected design, would cost) and an ed25519 verification (what a receiver
// already pays for every alert). docs/matching.md gives the ratios:
//
//	go test -run '^$' -bench . -benchtime 2000x ./federation/match/
const benchBatch = 64

func benchKeys(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "nrmnet/matchkey/v1\x00l\x04mhmd\x03hmd y\x07\xd9-%d", i)
	}
	return out
}

func perElement(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/element")
}

// BenchmarkIssuerEvaluate: the issuer's work per blinded element.
func BenchmarkIssuerEvaluate(b *testing.B) {
	sk, err := oprf.GenerateKey(oprf.SuiteRistretto255, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	server := oprf.NewServer(oprf.SuiteRistretto255, sk)
	_, req, err := oprf.NewClient(oprf.SuiteRistretto255).Blind(benchKeys(benchBatch))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := server.Evaluate(req); err != nil {
			b.Fatal(err)
		}
	}
	perElement(b, benchBatch)
}

// BenchmarkReceiverBlindFinalize: the receiver's work per key (blind, then
// unblind and hash the evaluation).
func BenchmarkReceiverBlindFinalize(b *testing.B) {
	sk, err := oprf.GenerateKey(oprf.SuiteRistretto255, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	server := oprf.NewServer(oprf.SuiteRistretto255, sk)
	client := oprf.NewClient(oprf.SuiteRistretto255)
	ks := benchKeys(benchBatch)
	fin, req, _ := client.Blind(ks)
	ev, _ := server.Evaluate(req)
	b.ResetTimer()
	for range b.N {
		fin, _, err = client.Blind(ks)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := client.Finalize(fin, ev); err != nil {
			b.Fatal(err)
		}
	}
	perElement(b, benchBatch)
}

// BenchmarkIssueTokens: issuing an alert's tokens (key generation, one full
// evaluation per key, padding), per key.
func BenchmarkIssueTokens(b *testing.B) {
	is := newIssuer(b, newHost(b), match.NewMemoryKeyStore(), &auditLog{})
	ks := benchKeys(8)
	b.ResetTimer()
	for range b.N {
		if _, err := is.IssueTokens(v1.NewID(), time.Now().Add(time.Hour), ks); err != nil {
			b.Fatal(err)
		}
	}
	perElement(b, len(ks))
}

// BenchmarkMatchLoopback: a whole query of benchBatch keys between two real
// hosts on loopback (blind, stream, audit, evaluate, finalise, compare).
func BenchmarkMatchLoopback(b *testing.B) {
	ih, rh := newHost(b), newHost(b)
	connect(b, rh, ih)
	is := newIssuer(b, ih, match.NewMemoryKeyStore(), &auditLog{}, func(c *match.IssuerConfig) {
		c.PeerElementsPerWindow, c.AlertElementsPerWindow = 1<<30, 1<<30
		c.Logger = nil
	})
	id := v1.NewID()
	tokens, err := is.IssueTokens(id, time.Now().Add(time.Hour), benchKeys(4))
	if err != nil {
		b.Fatal(err)
	}
	cfg := match.DefaultReceiverConfig()
	cfg.Host = rh
	r, err := match.NewReceiver(cfg)
	if err != nil {
		b.Fatal(err)
	}
	cands := []match.Candidate{{Case: v1.NewID(), Keys: benchKeys(benchBatch)}}
	alert := alertWith(id, tokens)
	ctx := ctxFor(b)
	b.ResetTimer()
	for range b.N {
		got, err := r.Match(ctx, ih.ID(), alert, cands)
		if err != nil || len(got) != 1 {
			b.Fatalf("matches %v, err %v", got, err)
		}
	}
	perElement(b, benchBatch)
}

// BenchmarkBaselineHMAC: HMAC-SHA512 of one key.
func BenchmarkBaselineHMAC(b *testing.B) {
	key := make([]byte, 32)
	ks := benchKeys(benchBatch)
	b.ResetTimer()
	for range b.N {
		for _, k := range ks {
			m := hmac.New(sha512.New, key)
			m.Write(k)
			_ = m.Sum(nil)
		}
	}
	perElement(b, benchBatch)
}

// BenchmarkBaselineEd25519Verify: one signature verification.
func BenchmarkBaselineEd25519Verify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := make([]byte, 600)
	sig := ed25519.Sign(priv, msg)
	b.ResetTimer()
	for range b.N {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("verify")
		}
	}
	perElement(b, 1)
}

// BenchmarkEvaluateRatios interleaves, in every iteration, one batch of
// issuer evaluations, one of receiver blind+finalise, the same keys through
// HMAC-SHA512, and one ed25519 verification, timing each, so that the
// ratios hold even on a loaded machine where separate benchmarks drift.
func BenchmarkEvaluateRatios(b *testing.B) {
	sk, err := oprf.GenerateKey(oprf.SuiteRistretto255, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	server := oprf.NewServer(oprf.SuiteRistretto255, sk)
	client := oprf.NewClient(oprf.SuiteRistretto255)
	ks := benchKeys(benchBatch)
	_, req, err := client.Blind(ks)
	if err != nil {
		b.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := make([]byte, 600)
	sig := ed25519.Sign(priv, msg)
	mac := make([]byte, 32)
	var tEval, tRecv, tHMAC, tSig time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		ev, err := server.Evaluate(req)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		fin, _, err := client.Blind(ks)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := client.Finalize(fin, ev); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		for _, k := range ks {
			m := hmac.New(sha512.New, mac)
			m.Write(k)
			_ = m.Sum(nil)
		}
		t3 := time.Now()
		for range benchBatch {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("verify")
			}
		}
		t4 := time.Now()
		tEval, tRecv, tHMAC, tSig = tEval+t1.Sub(t0), tRecv+t2.Sub(t1), tHMAC+t3.Sub(t2), tSig+t4.Sub(t3)
	}
	n := float64(b.N * benchBatch)
	b.ReportMetric(float64(tEval.Microseconds())/n, "eval-µs/element")
	b.ReportMetric(float64(tRecv.Microseconds())/n, "recv-µs/element")
	b.ReportMetric(float64(tEval)/float64(tHMAC), "eval/hmac")
	b.ReportMetric(float64(tEval)/float64(tSig), "eval/ed25519verify")
	b.ReportMetric(float64(tRecv)/float64(tEval), "recv/eval")
}
