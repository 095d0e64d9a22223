package v1_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// whyMinimal is the reason every failure in this file gives.
const whyMinimal = `
Records that cross an authority's border before a case is accepted must stay
minimal (DOMAIN.md, "Crossing borders"): no name, no date of birth, no address,
no free text. A cross-border alert is gossiped to many authorities and kept by
each; anything it can hold will one day hold a child's identity. Matching is done
with the issuer's OPRF tokens, never with identifiers (ARCHITECTURE.md). If you
need to add a field, make it a closed enum or an ID checked by Validate, add it
to the allow-list here, and have the change reviewed as a data-sharing decision.`

// minimalTypes are the string types whose every value Validate checks against a
// closed list or a fixed pattern, so they cannot carry free text.
var minimalTypes = map[reflect.Type]string{
	reflect.TypeFor[v1.AlertType]():        "closed enum",
	reflect.TypeFor[v1.AuthorityCode]():    "listed authority code",
	reflect.TypeFor[v1.Urgency]():          "closed enum",
	reflect.TypeFor[v1.ContactRoute]():     "closed enum naming a route on the roster, never a person",
	reflect.TypeFor[v1.LegalBasis]():       "closed enum",
	reflect.TypeFor[v1.AgeBand]():          "closed enum, coarse",
	reflect.TypeFor[v1.Sex]():              "closed enum",
	reflect.TypeFor[v1.ExploitationType](): "closed enum",
	reflect.TypeFor[v1.ID]():               "32 random hex digits",
}

// minimalExtras are allowed for one record type only, with the reason.
var minimalExtras = map[reflect.Type]map[reflect.Type]string{
	reflect.TypeFor[v1.RelocationRequest](): {
		reflect.TypeFor[v1.CaseID]():           "authority code and random hex, opaque to the destination",
		reflect.TypeFor[v1.RelocationReason](): "closed enum",
		reflect.TypeFor[v1.CaseState]():        "closed enum",
		reflect.TypeFor[v1.Date]():             "the move date, checked as YYYY-MM-DD; never a date of birth",
	},
}

// plainStringFields are fields of plain string type that Validate checks
// against a closed list.
var plainStringFields = map[string]string{
	"CrossBorderAlert.regions": "region names, checked against the authority list",
}

// byteFields are the only byte-string fields allowed, each of a fixed size.
var byteFields = map[string]int{
	"CrossBorderAlert.tokens": v1.MatchTokenSize,
	"CrossBorderAlert.sig":    v1.SignatureSize,
	"AlertAck.sig":            v1.SignatureSize,
}

// wireFields pins every field of the minimal records. Adding one fails this
// test on purpose: see whyMinimal.
var wireFields = map[reflect.Type][]string{
	reflect.TypeFor[v1.CrossBorderAlert](): {
		"id", "type", "issuer", "targets", "regions", "national", "urgency", "issued_at",
		"expires_at", "contact", "basis", "age_band", "sex", "exploitation", "tokens", "sig",
	},
	reflect.TypeFor[v1.AlertAck](): {"alert", "issuer", "from", "received_at", "sig"},
	reflect.TypeFor[v1.RelocationRequest](): {
		"id", "case", "origin", "destination", "requested_at", "reason", "move_date", "urgency",
		"protection_plan", "looked_after", "age_band", "sex", "exploitation", "county_lines",
		"nrm_state", "basis",
	},
}

// identityWords must not appear in a field name of a minimal record.
var identityWords = []string{
	"name", "birth", "dob", "address", "postcode", "phone", "email", "note", "comment",
	"text", "description", "detail", "school", "nationality", "language", "photo", "nhs",
}

// leaf is one value-holding position in a record type, with its path.
type leaf struct {
	path string // Go type name then CBOR keys: CrossBorderAlert.tokens[]
	key  string // the CBOR key of the top-level field
	typ  reflect.Type
}

func leaves(t reflect.Type) []leaf {
	var out []leaf
	var walk func(path, key string, t reflect.Type)
	walk = func(path, key string, t reflect.Type) {
		switch {
		case t == reflect.TypeFor[time.Time]():
			out = append(out, leaf{path, key, t})
		case t.Kind() == reflect.Pointer:
			walk(path, key, t.Elem())
		case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
			walk(path+"[]", key, t.Elem())
		case t.Kind() == reflect.Struct:
			for i := 0; i < t.NumField(); i++ {
				sf := t.Field(i)
				name := strings.Split(sf.Tag.Get("cbor"), ",")[0]
				k := key
				if k == "" {
					k = name
				}
				walk(path+"."+name, k, sf.Type)
			}
		default:
			out = append(out, leaf{path, key, t})
		}
	}
	walk(t.Name(), "", t)
	return out
}

// borderRecords are the records checked here, each with a valid fixture.
var borderRecords = []struct {
	typ     reflect.Type
	fixture func() v1.Record
}{
	{reflect.TypeFor[v1.CrossBorderAlert](), func() v1.Record { return goldenAlert() }},
	{reflect.TypeFor[v1.AlertAck](), func() v1.Record { return goldenAlertAck() }},
	{reflect.TypeFor[v1.RelocationRequest](), func() v1.Record { return goldenRelocationRequest() }},
}

// TestMinimalRecordsHoldNoFreeText checks, from the types themselves, that no
// field of an alert, an ack or a relocation request can carry free text or
// identity: every string is a closed enum or an ID, every byte string is a
// fixed-size token or signature, and nothing else is there.
func TestMinimalRecordsHoldNoFreeText(t *testing.T) {
	for _, rec := range borderRecords {
		for _, p := range freeTextProblems(rec.typ) {
			t.Error(p + whyMinimal)
		}
	}
}

// TestFreeTextCheckCatchesAdditions makes sure the check above fails for the
// additions it exists to stop.
func TestFreeTextCheckCatchesAdditions(t *testing.T) {
	type CrossBorderAlert struct {
		ID        v1.ID                 `cbor:"id"`
		Note      string                `cbor:"note"`     // free text
		Hint      v1.ContactRoute       `cbor:"hint"`     // allowed type: passes
		Child     v1.PersonName         `cbor:"child"`    // a nested identity
		Photo     []byte                `cbor:"photo"`    // bytes of any size
		Extra     map[string]string     `cbor:"extra"`    // anything
		Born      v1.Date               `cbor:"born"`     // a date, not allowed in alerts
		Postcodes []string              `cbor:"postcode"` // plain strings
		Count     int                   `cbor:"count"`    // a number could encode anything
		Urgency   *v1.Urgency           `cbor:"urgency"`  // pointer to an allowed type: passes
		Types     []v1.ExploitationType `cbor:"types"`    // list of an allowed type: passes
	}
	got := strings.Join(freeTextProblems(reflect.TypeFor[CrossBorderAlert]()), "\n")
	for _, want := range []string{
		"CrossBorderAlert.note is a plain string",
		"CrossBorderAlert.child.given is a plain string",
		"CrossBorderAlert.child.kind has type v1.NameKind",
		"CrossBorderAlert.photo is a byte string of no fixed size",
		"CrossBorderAlert.extra has type map[string]string",
		"CrossBorderAlert.born has type v1.Date",
		"CrossBorderAlert.postcode[] is a plain string",
		"CrossBorderAlert.postcode[] looks like an identity field",
		"CrossBorderAlert.count has type int",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the check misses %q; it reported:\n%s", want, got)
		}
	}
	for _, allowed := range []string{"CrossBorderAlert.id ", "CrossBorderAlert.hint ", "CrossBorderAlert.urgency ", "CrossBorderAlert.types[] "} {
		if strings.Contains(got, allowed) {
			t.Errorf("the check refuses the allowed field %s:\n%s", allowed, got)
		}
	}
}

// freeTextProblems lists every position in a record type that could carry free
// text or identity.
func freeTextProblems(typ reflect.Type) []string {
	var out []string
	for _, l := range leaves(typ) {
		bare := strings.TrimSuffix(l.path, "[]")
		switch {
		case l.typ == reflect.TypeFor[time.Time]():
		case l.typ.Kind() == reflect.Bool:
		case l.typ.Kind() == reflect.String && l.typ == reflect.TypeFor[string]():
			if _, ok := plainStringFields[bare]; !ok {
				out = append(out, fmt.Sprintf("%s is a plain string, which can hold free text.", l.path))
			}
		case l.typ.Kind() == reflect.String:
			_, general := minimalTypes[l.typ]
			_, extra := minimalExtras[typ][l.typ]
			if !general && !extra {
				out = append(out, fmt.Sprintf("%s has type %s, which is not on the allow-list of closed enums and IDs.", l.path, l.typ))
			}
		case l.typ.Kind() == reflect.Slice && l.typ.Elem().Kind() == reflect.Uint8:
			if _, ok := byteFields[bare]; !ok {
				out = append(out, fmt.Sprintf("%s is a byte string of no fixed size, which can hold anything.", l.path))
			}
		default:
			out = append(out, fmt.Sprintf("%s has type %s; only enums, IDs, times, booleans and fixed-size tokens are allowed.", l.path, l.typ))
		}
		for _, w := range identityWords {
			if strings.Contains(strings.ToLower(l.path), w) {
				out = append(out, fmt.Sprintf("%s looks like an identity field (%q).", l.path, w))
			}
		}
	}
	return out
}

// TestMinimalRecordsFieldsArePinned fails when a field is added to or removed
// from a minimal record, so that the change is reviewed.
func TestMinimalRecordsFieldsArePinned(t *testing.T) {
	for typ, want := range wireFields {
		var got []string
		for i := 0; i < typ.NumField(); i++ {
			got = append(got, strings.Split(typ.Field(i).Tag.Get("cbor"), ",")[0])
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s has fields %q, the reviewed list is %q.%s", typ.Name(), got, want, whyMinimal)
		}
	}
}

// TestMinimalRecordsRefuseFreeText proves the allow-list: put free text or a
// date of birth in every string position and a wrong-sized value in every byte
// string, and Validate must refuse the record naming that field.
func TestMinimalRecordsRefuseFreeText(t *testing.T) {
	for _, rec := range borderRecords {
		t.Run(rec.typ.Name(), func(t *testing.T) {
			for _, l := range leaves(rec.typ) {
				bare := strings.TrimSuffix(l.path, "[]")
				var smuggle []reflect.Value
				switch {
				case l.typ.Kind() == reflect.String:
					for _, s := range []string{freeText, "2009-06-15", "Lula Tesfay"} {
						smuggle = append(smuggle, reflect.ValueOf(s).Convert(l.typ))
					}
				case l.typ.Kind() == reflect.Slice && l.typ.Elem().Kind() == reflect.Uint8:
					n := byteFields[bare]
					smuggle = []reflect.Value{reflect.ValueOf([]byte(freeText)), reflect.ValueOf(make([]byte, n+1))}
				default:
					continue
				}
				for _, v := range smuggle {
					r := rec.fixture()
					set(t, reflect.ValueOf(r).Elem(), strings.Split(l.path, ".")[1:], v)
					err := r.Validate()
					if err == nil {
						t.Errorf("%s accepted %.40q.%s", l.path, v.Interface(), whyMinimal)
						continue
					}
					if !errors.Is(err, schemas.ErrInvalid) {
						t.Errorf("%s: err = %v, want ErrInvalid", l.path, err)
					}
					var named bool
					for _, p := range fieldPaths(err) {
						if p == l.key || strings.HasPrefix(p, l.key+"[") {
							named = true
						}
					}
					if !named {
						t.Errorf("%s: error does not name field %s: %v", l.path, l.key, err)
					}
				}
			}
		})
	}
}

// set stores v at the path of CBOR keys below a struct value; for a list it
// sets the first element, adding one if the list is empty.
func set(t *testing.T, s reflect.Value, keys []string, v reflect.Value) {
	t.Helper()
	key := strings.TrimSuffix(keys[0], "[]")
	for i := 0; i < s.NumField(); i++ {
		if strings.Split(s.Type().Field(i).Tag.Get("cbor"), ",")[0] != key {
			continue
		}
		f := s.Field(i)
		if f.Kind() == reflect.Slice && f.Type().Elem().Kind() != reflect.Uint8 {
			if f.Len() == 0 {
				f.Set(reflect.Append(f, reflect.Zero(f.Type().Elem())))
			}
			f = f.Index(0)
		}
		if len(keys) == 1 {
			f.Set(v)
			return
		}
		set(t, f, keys[1:], v)
		return
	}
	t.Fatalf("no field %s in %s", key, s.Type())
}
