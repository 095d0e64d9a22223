package v1_test

import (
	"testing"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// BenchmarkMarshalCase measures validating and sealing the golden case.
func BenchmarkMarshalCase(b *testing.B) {
	c := goldenCase()
	b.SetBytes(int64(len(mustGoldenBytes(b, schemas.KindCase))))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v1.Marshal(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnmarshalCase measures opening, decoding, checking the canonical
// form of and validating the golden case.
func BenchmarkUnmarshalCase(b *testing.B) {
	data := mustGoldenBytes(b, schemas.KindCase)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v1.UnmarshalCase(data); err != nil {
			b.Fatal(err)
		}
	}
}
