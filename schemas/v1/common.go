package v1

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"time"

	"nrmnet/schemas"
	"nrmnet/schemas/authority"
)

// Version is the envelope version of every kind in this package.
const Version uint16 = 1

// Text limits, in characters.
const (
	MaxShortText = 200   // names, organisations, labels
	MaxLongText  = 20000 // reasons, wishes and feelings, notes
	MaxList      = 256   // entries in most lists
)

// AuthorityCode is an authority's official three-letter code.
type AuthorityCode = authority.Code

// ID is a 128-bit random identifier written as 32 lower-case hex digits. It is
// used for alerts, requests, decisions, commands and children.
type ID string

// NewID returns a fresh random ID.
func NewID() ID {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return ID(hex.EncodeToString(b[:]))
}

var idPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Valid reports whether id has the right form.
func (id ID) Valid() bool { return idPattern.MatchString(string(id)) }

// CaseID names one case at its responsible authority: the authority's code, a
// dash and 16 lower-case hex digits, e.g. "ISL-3f9a0c1b2d4e5f60". It carries no
// information about the child.
type CaseID string

// NewCaseID returns a fresh case ID for an authority.
func NewCaseID(a AuthorityCode) CaseID {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return CaseID(string(a) + "-" + hex.EncodeToString(b[:]))
}

var caseIDPattern = regexp.MustCompile(`^[A-Z]{3}-[0-9a-f]{16}$`)

// Valid reports whether c has the right form and names a known authority.
func (c CaseID) Valid() bool {
	return caseIDPattern.MatchString(string(c)) && authority.Known(AuthorityCode(c[:3]))
}

// Authority returns the authority part of the case ID.
func (c CaseID) Authority() AuthorityCode {
	if len(c) < 3 {
		return ""
	}
	return AuthorityCode(c[:3])
}

// Date is a civil date, "YYYY-MM-DD", with no time zone.
type Date string

// DateOf returns the civil date of t in t's location.
func DateOf(t time.Time) Date { return Date(t.Format(time.DateOnly)) }

// Time parses the date as midnight UTC.
func (d Date) Time() (time.Time, error) { return time.Parse(time.DateOnly, string(d)) }

// Valid reports whether d is a real calendar date between 1900 and 2199.
func (d Date) Valid() bool {
	t, err := d.Time()
	return err == nil && t.Year() >= 1900 && t.Year() < 2200 && DateOf(t) == d
}

// Sex as recorded for statistics.
type Sex string

const (
	SexFemale  Sex = "female"
	SexMale    Sex = "male"
	SexOther   Sex = "other"
	SexUnknown Sex = "unknown"
)

var sexes = set(SexFemale, SexMale, SexOther, SexUnknown)

// RAG is a red/amber/green risk rating; MASH triage is due within 4, 24 and 72
// hours respectively.
type RAG string

const (
	RAGRed   RAG = "red"
	RAGAmber RAG = "amber"
	RAGGreen RAG = "green"
)

var rags = set(RAGRed, RAGAmber, RAGGreen)

// LegalBasis is the lawful basis recorded for a share or an access.
type LegalBasis string

const (
	// BasisSafeguardingChildren: UK GDPR Art 6(1)(e) and 9(2)(g) with DPA 2018
	// Schedule 1 paragraph 18, safeguarding of children and individuals at risk.
	BasisSafeguardingChildren LegalBasis = "dpa2018-sch1-para18"
	// BasisPublicTask: UK GDPR Art 6(1)(e), a statutory function (Children Act 1989).
	BasisPublicTask LegalBasis = "ukgdpr-6-1-e"
	// BasisLegalObligation: UK GDPR Art 6(1)(c).
	BasisLegalObligation LegalBasis = "ukgdpr-6-1-c"
	// BasisVitalInterests: UK GDPR Art 6(1)(d), an emergency.
	BasisVitalInterests LegalBasis = "ukgdpr-6-1-d"
)

var legalBases = set(BasisSafeguardingChildren, BasisPublicTask, BasisLegalObligation, BasisVitalInterests)

// Valid reports whether b is a known legal basis.
func (b LegalBasis) Valid() bool { return legalBases[b] }

// ExploitationType follows the Home Office statistics' categories. Several may apply.
type ExploitationType string

const (
	ExploitationSexual            ExploitationType = "sexual"
	ExploitationCriminal          ExploitationType = "criminal"
	ExploitationLabour            ExploitationType = "labour"
	ExploitationDomesticServitude ExploitationType = "domestic_servitude"
	ExploitationOrganHarvesting   ExploitationType = "organ_harvesting"
	ExploitationUnknown           ExploitationType = "unknown"
)

// ExploitationTypes lists every exploitation type, in reporting order.
var ExploitationTypes = []ExploitationType{
	ExploitationSexual, ExploitationCriminal, ExploitationLabour,
	ExploitationDomesticServitude, ExploitationOrganHarvesting, ExploitationUnknown,
}

var exploitationTypes = set(ExploitationTypes...)

func set[T comparable](vs ...T) map[T]bool {
	m := make(map[T]bool, len(vs))
	for _, v := range vs {
		m[v] = true
	}
	return m
}

func oneOf[T ~string](c schemas.Checker, field string, v T, allowed map[T]bool, required bool) {
	if v == "" {
		if required {
			c.Fail(field, "is required")
		}
		return
	}
	if !allowed[v] {
		c.Fail(field, "%q is not one of the allowed values", truncate(string(v)))
	}
}

func checkAuthority(c schemas.Checker, field string, a AuthorityCode, required bool) {
	if a == "" {
		if required {
			c.Fail(field, "is required")
		}
		return
	}
	if !authority.Known(a) {
		c.Fail(field, "%q is not the code of a listed authority", truncate(string(a)))
	}
}

func checkTime(c schemas.Checker, field string, t time.Time, required bool) {
	if t.IsZero() {
		if required {
			c.Fail(field, "is required")
		}
		return
	}
	if y := t.Year(); y < 2000 || y > 2199 {
		c.Fail(field, "year %d is out of range", y)
	}
	if t.Location() != time.UTC {
		c.Fail(field, "must be in UTC")
	}
}

func checkID(c schemas.Checker, field string, id ID, required bool) {
	if id == "" {
		if required {
			c.Fail(field, "is required")
		}
		return
	}
	if !id.Valid() {
		c.Fail(field, "%q is not 32 lower-case hex digits", truncate(string(id)))
	}
}

func checkCaseID(c schemas.Checker, field string, id CaseID, required bool) {
	if id == "" {
		if required {
			c.Fail(field, "is required")
		}
		return
	}
	if !id.Valid() {
		c.Fail(field, "%q is not an authority code, a dash and 16 lower-case hex digits", truncate(string(id)))
	}
}

func checkLen(c schemas.Checker, field string, n, max int) bool {
	if n > max {
		c.Fail(field, "has %d entries, limit %d", n, max)
		return false
	}
	return true
}

// truncate keeps error messages short when quoting hostile input. It cuts at
// a character boundary, so a quoted name is never split mid-character.
func truncate(s string) string {
	if len(s) <= 40 {
		return s
	}
	n := 0
	for i := range s {
		if i > 40 {
			break
		}
		n = i
	}
	return s[:n] + "..."
}

// checkExploitation checks a list of exploitation types: each known, none twice.
// It returns the set of types listed.
func checkExploitation(c schemas.Checker, field string, list []ExploitationType) map[ExploitationType]bool {
	seen := map[ExploitationType]bool{}
	if !checkLen(c, field, len(list), len(ExploitationTypes)) {
		return seen
	}
	for i, e := range list {
		f := field + "[" + itoa(i) + "]"
		oneOf(c, f, e, exploitationTypes, true)
		c.Check(!seen[e], f, "%q is listed twice", truncate(string(e)))
		seen[e] = true
	}
	return seen
}
