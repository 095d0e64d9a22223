// Package sum is a tiny module for benchreport's runner test: one
// benchmark and its baseline, a benchmark that fails and one that hangs.
package sum

import (
	"os"
	"testing"
	"time"
)

var sink int

func BenchmarkSum(b *testing.B) {
	xs := make([]int, 1000)
	b.Run("baseline=loop", func(b *testing.B) {
		for b.Loop() {
			s := 0
			for _, x := range xs {
				s += x
			}
			sink = s
		}
	})
	b.Run("twice", func(b *testing.B) {
		for b.Loop() {
			s := 0
			for range 2 {
				for _, x := range xs {
					s += x
				}
			}
			sink = s
		}
		b.ReportMetric(2, "passes")
	})
}

func BenchmarkBroken(b *testing.B) {
	if os.Getenv("TINYMOD_BREAK") != "" {
		b.Fatal("broken on purpose")
	}
}

func BenchmarkSlow(b *testing.B) {
	if os.Getenv("TINYMOD_SLOW") == "" {
		b.Skip("only for the cancellation test")
	}
	time.Sleep(10 * time.Minute)
}
