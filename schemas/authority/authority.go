// Package authority is the reference list of the 207 children's-services
// authorities in Great Britain, with their official three-letter codes, ONS GSS
// codes, nations and regions. Nodes, rosters, alerts and panels name authorities
// by these codes; the list is embedded so every node agrees on it offline.
//
// The data is derived from mySociety's UK local authority names and codes
// dataset (MIT licence), with the regions of Derbyshire and Lincolnshire
// corrected to East Midlands. Northern Ireland is not listed: its children's
// services sit with health and social care trusts.
package authority

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
)

//go:embed children-services-authorities.csv
var authoritiesCSV []byte

// Code is an authority's official three-letter code, e.g. "ISL" for Islington.
type Code string

// Authority is one children's-services authority.
type Authority struct {
	Code         Code
	GSSCode      string // ONS Government Statistical Service code, e.g. E09000019
	Name         string // short name, e.g. "Islington"
	OfficialName string // e.g. "London Borough of Islington"
	Nation       string // England, Wales or Scotland
	Region       string // e.g. "London"; Wales and Scotland are one region each
	Type         string // CTY, UA, MD, LBO, CC, UTA...
	Population   int    // 2020 estimate
	Lat, Long    float64
}

var (
	loadOnce sync.Once
	all      []Authority
	byCode   map[Code]int
)

func load() {
	loadOnce.Do(func() {
		list, err := parse(bytes.NewReader(authoritiesCSV))
		if err != nil {
			// The file is embedded and pinned by tests; a failure here is a build defect.
			panic(fmt.Sprintf("authority: embedded list is invalid: %v", err))
		}
		all = list
		byCode = make(map[Code]int, len(list))
		for i, a := range list {
			byCode[a.Code] = i
		}
	})
}

func parse(r io.Reader) ([]Authority, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	want := []string{"code", "gss_code", "name", "official_name", "nation", "region", "type", "population_2020", "lat", "long"}
	if len(header) != len(want) {
		return nil, fmt.Errorf("header has %d columns, want %d", len(header), len(want))
	}
	for i := range want {
		if header[i] != want[i] {
			return nil, fmt.Errorf("header column %d is %q, want %q", i+1, header[i], want[i])
		}
	}
	var list []Authority
	seen := map[string]bool{}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		pop, err := strconv.Atoi(rec[7])
		if err != nil {
			return nil, fmt.Errorf("line %d: population %q: %w", line, rec[7], err)
		}
		lat, err1 := strconv.ParseFloat(rec[8], 64)
		long, err2 := strconv.ParseFloat(rec[9], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("line %d: bad centroid %q,%q", line, rec[8], rec[9])
		}
		if !validCode(rec[0]) {
			return nil, fmt.Errorf("line %d: code %q is not three capital letters", line, rec[0])
		}
		if seen[rec[0]] {
			return nil, fmt.Errorf("line %d: duplicate code %q", line, rec[0])
		}
		seen[rec[0]] = true
		list = append(list, Authority{
			Code: Code(rec[0]), GSSCode: rec[1], Name: rec[2], OfficialName: rec[3],
			Nation: rec[4], Region: rec[5], Type: rec[6], Population: pop, Lat: lat, Long: long,
		})
	}
	return list, nil
}

func validCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// All returns every authority, in the order of the reference file. The slice is
// a copy; callers may keep or change it.
func All() []Authority {
	load()
	return append([]Authority(nil), all...)
}

// Lookup returns the authority with the given code.
func Lookup(code Code) (Authority, bool) {
	load()
	i, ok := byCode[code]
	if !ok {
		return Authority{}, false
	}
	return all[i], true
}

// Known reports whether code is the code of a listed authority.
func Known(code Code) bool {
	_, ok := Lookup(code)
	return ok
}

// Regions returns the names of the regions, sorted.
func Regions() []string {
	load()
	set := map[string]bool{}
	for _, a := range all {
		set[a.Region] = true
	}
	out := make([]string, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// InRegion returns the authorities of one region, in file order.
func InRegion(region string) []Authority {
	load()
	var out []Authority
	for _, a := range all {
		if a.Region == region {
			out = append(out, a)
		}
	}
	return out
}
