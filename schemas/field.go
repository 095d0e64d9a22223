package schemas

import (
	"errors"
	"fmt"
	"strings"
)

// FieldError says which field of a record is invalid and why. Path is dotted,
// with indexes in brackets: "identity.names[0].family".
type FieldError struct {
	Path    string
	Problem string
}

func (e *FieldError) Error() string { return "field " + e.Path + ": " + e.Problem }

// Is makes every FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// Checker collects field errors while a validator walks a record.
type Checker struct {
	prefix string
	errs   *[]error
}

// NewChecker returns an empty Checker.
func NewChecker() Checker { return Checker{errs: new([]error)} }

// At returns a Checker for a named sub-field.
func (c Checker) At(name string) Checker {
	if c.prefix == "" {
		return Checker{prefix: name, errs: c.errs}
	}
	return Checker{prefix: c.prefix + "." + name, errs: c.errs}
}

// Index returns a Checker for an element of a list field.
func (c Checker) Index(name string, i int) Checker {
	return c.At(fmt.Sprintf("%s[%d]", name, i))
}

// Fail records a problem with the named field.
func (c Checker) Fail(field, format string, args ...any) {
	path := field
	if c.prefix != "" {
		path = c.prefix + "." + field
	}
	*c.errs = append(*c.errs, &FieldError{Path: path, Problem: fmt.Sprintf(format, args...)})
}

// Check records a problem when ok is false.
func (c Checker) Check(ok bool, field, format string, args ...any) {
	if !ok {
		c.Fail(field, format, args...)
	}
}

// Err returns nil, or all problems joined.
func (c Checker) Err() error {
	if len(*c.errs) == 0 {
		return nil
	}
	return errors.Join(*c.errs...)
}

// Text checks a text field: required or not, its length in characters at most
// max, and no control characters except newlines and tabs where multiline.
func (c Checker) Text(field, s string, required bool, max int, multiline bool) {
	if s == "" {
		if required {
			c.Fail(field, "is required")
		}
		return
	}
	if n := len([]rune(s)); n > max {
		c.Fail(field, "is %d characters long, limit %d", n, max)
		return
	}
	if strings.TrimSpace(s) == "" {
		c.Fail(field, "is only white space")
		return
	}
	for _, r := range s {
		if r == '\n' || r == '\t' || r == '\r' {
			if !multiline {
				c.Fail(field, "must be a single line")
				return
			}
			continue
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\ufffd' {
			c.Fail(field, "contains a control or invalid character (U+%04X)", r)
			return
		}
	}
}
