package calendar_test

import (
	"bytes"
	"reflect"
	"testing"

	"nrmnet/node/calendar"
)

// FuzzParse checks that Parse never panics and that any calendar it accepts
// survives MarshalJSON and Parse unchanged. Seeds are in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		cal, err := calendar.Parse(bytes.NewReader(data))
		if err != nil {
			return
		}
		out, err := cal.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		again, err := calendar.Parse(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("re-parsing %s: %v", out, err)
		}
		if !reflect.DeepEqual(cal, again) {
			t.Fatalf("re-parsed calendar differs; serialised as %s", out)
		}
	})
}

// FuzzParsePeriod checks that ParsePeriod never panics and that any period
// it accepts prints as a string that parses back to the same period. Seeds
// are in testdata/fuzz/FuzzParsePeriod.
func FuzzParsePeriod(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		p, err := calendar.ParsePeriod(s)
		if err != nil {
			return
		}
		again, err := calendar.ParsePeriod(p.String())
		if err != nil || again != p {
			t.Fatalf("ParsePeriod(%q) = %v, but ParsePeriod(%q) = %v, %v", s, p, p.String(), again, err)
		}
		text, err := p.MarshalText()
		if err != nil || string(text) != p.String() {
			t.Fatalf("MarshalText(%v) = %q, %v", p, text, err)
		}
	})
}
