package schemas_test

import (
	"errors"
	"strings"
	"testing"

	"nrmnet/schemas"
)

func TestFieldError(t *testing.T) {
	var err error = &schemas.FieldError{Path: "identity.names[0].given", Problem: "is required"}
	if got, want := err.Error(), "field identity.names[0].given: is required"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, schemas.ErrInvalid) {
		t.Error("a FieldError does not match ErrInvalid")
	}
	if errors.Is(err, schemas.ErrMalformed) {
		t.Error("a FieldError matches ErrMalformed")
	}
}

func TestCheckerPaths(t *testing.T) {
	ch := schemas.NewChecker()
	if err := ch.Err(); err != nil {
		t.Fatalf("empty checker: Err() = %v", err)
	}
	ch.Fail("id", "is required")
	id := ch.At("identity")
	id.Index("names", 2).Fail("given", "is %d characters long", 201)
	id.At("dob").Check(false, "date", "%q is not a date", "2009-02-30")
	id.At("dob").Check(true, "basis", "never reported")
	ch.Index("votes", 0).At("ballot").Fail("member", "did not attend")

	err := ch.Err()
	if !errors.Is(err, schemas.ErrInvalid) {
		t.Errorf("errors.Is(err, ErrInvalid) = false")
	}
	want := []string{
		"field id: is required",
		"field identity.names[2].given: is 201 characters long",
		`field identity.dob.date: "2009-02-30" is not a date`,
		"field votes[0].ballot.member: did not attend",
	}
	if got := strings.Split(err.Error(), "\n"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Err() lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Sub-checkers share one list: the parent sees what children record.
	var fe *schemas.FieldError
	if !errors.As(err, &fe) || fe.Path != "id" {
		t.Errorf("errors.As first FieldError = %+v", fe)
	}
}

func TestCheckerText(t *testing.T) {
	cases := []struct {
		name      string
		s         string
		required  bool
		max       int
		multiline bool
		problem   string // empty when valid
	}{
		{"empty optional", "", false, 10, false, ""},
		{"empty required", "", true, 10, false, "is required"},
		{"plain", "Lula", true, 10, false, ""},
		{"at the limit in characters", strings.Repeat("ሉ", 10), true, 10, false, ""}, // 30 bytes
		{"over the limit", strings.Repeat("ሉ", 11), true, 10, false, "is 11 characters long, limit 10"},
		{"white space only", " \t ", true, 10, true, "is only white space"},
		{"newline in one line", "a\nb", false, 10, false, "must be a single line"},
		{"tab in one line", "a\tb", false, 10, false, "must be a single line"},
		{"newline and tab in many lines", "a\n\tb\r\n", false, 10, true, ""},
		{"NUL", "a\x00", false, 10, true, "U+0000"},
		{"escape", "\x1b[2J", false, 10, true, "U+001B"},
		{"DEL", "a\x7f", false, 10, true, "U+007F"},
		{"C1 control", "a\u0085", false, 10, true, "U+0085"},
		{"invalid UTF-8", "a\xff", false, 10, true, "U+FFFD"},
		{"replacement character", "a\ufffd", false, 10, true, "U+FFFD"},
		{"accents and scripts", "Nguyễn Ó Súilleabháin ሉላ محمد", false, 100, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch := schemas.NewChecker()
			ch.Text("f", c.s, c.required, c.max, c.multiline)
			err := ch.Err()
			if c.problem == "" {
				if err != nil {
					t.Fatalf("Text(%q) = %v, want no error", c.s, err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), "field f: ") || !strings.Contains(err.Error(), c.problem) {
				t.Errorf("Text(%q) = %v, want field f: ...%s", c.s, err, c.problem)
			}
		})
	}
}
