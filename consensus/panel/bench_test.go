package panel

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"

	v1 "nrmnet/schemas/v1"
)

// BenchmarkApply measures one open_case command (decode, dedupe lookup, rules,
// one Badger transaction with the case, the result and the applied index)
// against the baseline of decoding alone, in the same run:
//
//	go test -run XXX -bench Apply -benchtime 2000x ./consensus/panel/
//
// Read the ratios apply/decode: in memory, and on disk encrypted with fsync.
func BenchmarkApply(b *testing.B) {
	entries := func(n int) [][]byte {
		f := newFixture()
		out := make([][]byte, n)
		for i := range out {
			f.case_ = v1.CaseID(fmt.Sprintf("ISL-%016x", i+1))
			out[i] = mustEncode(b, f.open())
		}
		return out
	}
	b.Run("decode", func(b *testing.B) {
		es := entries(b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := Decode(es[i]); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, tc := range []struct {
		name string
		cfg  func() Config
	}{
		{"memory", func() Config { return memConfig(b) }},
		{"disk-encrypted-sync", func() Config { return diskConfig(b) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := tc.cfg()
			cfg.Logger = discardLogger()
			fsm, err := Open(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer fsm.Close()
			es := entries(b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := fsm.Apply(&raft.Log{Index: uint64(i + 1), Type: raft.LogCommand, Data: es[i]}).(Result)
				if !r.Accepted() {
					b.Fatalf("%s: %s", r.Code, r.Message)
				}
			}
		})
	}
}
