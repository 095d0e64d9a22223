package report

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Errors. Every error of this package wraps one of these.
var (
	// ErrInvalidQuarter: a quarter that is not "YYYY-Qn" with a year from
	// 2000 to 2199.
	ErrInvalidQuarter = errors.New("invalid quarter")
	// ErrInvalidConfig: Config.Validate failed.
	ErrInvalidConfig = errors.New("invalid report configuration")
	// ErrNilCalendar: no bank holiday calendar was given.
	ErrNilCalendar = errors.New("no calendar")
)

// OtherCategory is where a free-text value outside the vocabulary goes.
const OtherCategory = "other"

// Config says how figures are published.
type Config struct {
	// Threshold is the smallest count published; counts from 1 to
	// Threshold-1 are shown as "<Threshold". Default 5. At least 2.
	Threshold int `json:"threshold"`
	// Sources is the vocabulary for the source of referral. A case's
	// free-text source is matched to it ignoring case and surrounding
	// space; anything else is published as "other", so that nothing a
	// worker typed reaches a report.
	Sources []string `json:"sources"`
	// PresentingIssues is the vocabulary for the presenting issue, used the
	// same way.
	PresentingIssues []string `json:"presenting_issues"`
	// AwaitingBands are the upper bounds, in calendar days, of the bands
	// for how long cases have waited for a CG decision since their positive
	// RG decision; the last band is open. Default 30, 90, 180, 365.
	AwaitingBands []int `json:"awaiting_bands"`
}

// DefaultConfig returns the published defaults: threshold 5, the source and
// presenting-issue categories local authorities use, and waiting bands of
// 30, 90, 180 and 365 days.
func DefaultConfig() Config {
	return Config{
		Threshold: 5,
		Sources: []string{
			"school", "children's social care", "police", "British Transport Police", "youth offending service",
			"foster carer", "health", "sexual health service", "family member", "voluntary sector", "self-referral",
			"member of the public", "Border Force", "asylum intake", "immigration enforcement", "housing",
		},
		PresentingIssues: []string{
			"missing episodes", "repeated going missing from care", "missing overnight with unknown adults",
			"found in possession of drugs and cash", "arrested in another county", "found at an address used for drug supply",
			"concerns about older associates", "unexplained injuries and new phone", "found in a cannabis grow",
			"sexual exploitation concerns", "disclosure to a teacher", "found with adults in a hotel", "online grooming concerns",
			"found working long hours", "found working in commercial premises", "debt owed to agents", "working to repay travel costs",
			"domestic servitude concerns in a private household", "not attending school and caring for a household",
			"disclosure of unpaid domestic work", "unaccompanied arrival", "account of exploitation on the journey",
			"concerns raised at age assessment", "found in the back of a lorry", "disclosure of coerced medical procedure on the journey",
		},
		AwaitingBands: []int{30, 90, 180, 365},
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Threshold < 2 || c.Threshold > 100 {
		errs = append(errs, fmt.Errorf("threshold %d: want 2 to 100", c.Threshold))
	}
	for name, vocab := range map[string][]string{"sources": c.Sources, "presenting_issues": c.PresentingIssues} {
		seen := map[string]bool{}
		for i, v := range vocab {
			k := normal(v)
			switch {
			case k == "" || len(v) > 200 || strings.ContainsAny(v, "\r\n\t"):
				errs = append(errs, fmt.Errorf("%s[%d]: want a single line of 1 to 200 characters", name, i))
			case strings.ContainsAny(strings.TrimSpace(v)[:1], "=+-@"):
				// A spreadsheet would run it as a formula.
				errs = append(errs, fmt.Errorf("%s[%d]: %q may not begin with =, +, - or @", name, i, short(v)))
			case seen[k]:
				errs = append(errs, fmt.Errorf("%s[%d]: %q is listed twice", name, i, short(v)))
			}
			seen[k] = true
		}
	}
	if len(c.AwaitingBands) == 0 {
		errs = append(errs, errors.New("awaiting_bands: want at least one bound"))
	}
	if !slices.IsSorted(c.AwaitingBands) || slices.Contains(c.AwaitingBands, 0) || (len(c.AwaitingBands) > 0 && c.AwaitingBands[0] < 0) {
		errs = append(errs, errors.New("awaiting_bands: want positive bounds in increasing order"))
	}
	for i := 1; i < len(c.AwaitingBands); i++ {
		if c.AwaitingBands[i] == c.AwaitingBands[i-1] {
			errs = append(errs, fmt.Errorf("awaiting_bands: %d is listed twice", c.AwaitingBands[i]))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("report: %w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

func normal(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// vocabulary maps free text onto a fixed list of categories.
type vocabulary map[string]string

func newVocabulary(list []string) vocabulary {
	v := make(vocabulary, len(list))
	for _, s := range list {
		v[normal(s)] = strings.TrimSpace(s)
	}
	return v
}

// category returns the vocabulary's spelling of s, or OtherCategory.
func (v vocabulary) category(s string) string {
	if c, ok := v[normal(s)]; ok {
		return c
	}
	return OtherCategory
}
