package match

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/oprf"
)

func partKeys(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "nrmnet/matchkey/v1\x00l\x04key-%d", i)
	}
	return out
}

// evaluateParts blinds keys in up to workers parts, has server evaluate
// the elements as one request, and finalises the parts.
func evaluateParts(t testing.TB, server oprf.Server, keys [][]byte, workers int) [][]byte {
	t.Helper()
	parts, elems, err := blindParts(keys, workers)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := server.Evaluate(&oprf.EvaluationRequest{Elements: elems})
	if err != nil {
		t.Fatal(err)
	}
	outs, err := finalizeParts(parts, ev.Elements)
	if err != nil {
		t.Fatal(err)
	}
	return outs
}

// Blinding and finalising in parts on several goroutines gives, key for
// key, the OPRF output the issuer computes directly, whatever the number
// of parts; a count of evaluated elements that does not fit is refused.
func TestPartsGiveTheSameOutputs(t *testing.T) {
	sk, err := oprf.GenerateKey(suite, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	server := oprf.NewServer(suite, sk)
	for _, n := range []int{1, minPart - 1, minPart, 3*minPart + 5, MaxElementsPerRequest} {
		keys := partKeys(n)
		for _, workers := range []int{1, 2, 4, 7} {
			outs := evaluateParts(t, server, keys, workers)
			if len(outs) != n {
				t.Fatalf("%d keys, %d workers: %d outputs", n, workers, len(outs))
			}
			for i, k := range keys {
				want, err := server.FullEvaluate(k)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(outs[i], want) {
					t.Fatalf("%d keys, %d workers: output %d differs from the issuer's", n, workers, i)
				}
			}
		}
	}
	parts, elems, err := blindParts(partKeys(40), 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := finalizeParts(parts, elems[:39]); err == nil {
		t.Fatal("39 evaluated elements for 40 keys were finalised")
	}
	if _, err := finalizeParts(parts, append(elems, elems[0])); err == nil {
		t.Fatal("41 evaluated elements for 40 keys were finalised")
	}
	var none []group.Element
	if _, err := finalizeParts(parts, none); err == nil {
		t.Fatal("no evaluated elements for 40 keys were finalised")
	}
}

// BenchmarkReceiverParts interleaves, in every iteration, the receiver's
// blind and finalise of one full request (MaxElementsPerRequest keys) in
// one part and in one part per CPU, timing each (the issuer's evaluation
// between them is not counted), so the ratio holds on a loaded machine.
func BenchmarkReceiverParts(b *testing.B) {
	sk, err := oprf.GenerateKey(suite, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	server := oprf.NewServer(suite, sk)
	keys := partKeys(DefaultReceiverConfig().MaxElementsPerRequest)
	cpus := runtime.GOMAXPROCS(0)
	// receiverTime is the time blind and finalise took with workers.
	receiverTime := func(workers int) time.Duration {
		t0 := time.Now()
		parts, elems, err := blindParts(keys, workers)
		if err != nil {
			b.Fatal(err)
		}
		blind := time.Since(t0)
		ev, err := server.Evaluate(&oprf.EvaluationRequest{Elements: elems})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := finalizeParts(parts, ev.Elements); err != nil {
			b.Fatal(err)
		}
		return blind + time.Since(t1)
	}
	var serial, parallel time.Duration
	for range b.N {
		serial += receiverTime(1)
		parallel += receiverTime(cpus)
	}
	n := float64(b.N * len(keys))
	b.ReportMetric(float64(serial.Microseconds())/n, "serial-µs/element")
	b.ReportMetric(float64(parallel.Microseconds())/n, "parallel-µs/element")
	b.ReportMetric(float64(parallel)/float64(serial), "parallel/serial")
	b.ReportMetric(float64(cpus), "cpus")
}
