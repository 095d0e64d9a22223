package authority

import (
	"strings"
	"testing"
)

func TestEmbeddedList(t *testing.T) {
	list := All()
	if len(list) != 207 {
		t.Fatalf("got %d authorities, want 207", len(list))
	}
	nations := map[string]int{}
	for _, a := range list {
		nations[a.Nation]++
	}
	want := map[string]int{"England": 153, "Wales": 22, "Scotland": 32}
	for n, c := range want {
		if nations[n] != c {
			t.Errorf("%s: got %d authorities, want %d", n, nations[n], c)
		}
	}
	if got := len(Regions()); got != 11 {
		t.Errorf("got %d regions, want 11", got)
	}
	isl, ok := Lookup("ISL")
	if !ok || isl.Name != "Islington" || isl.Region != "London" {
		t.Errorf("Lookup(ISL) = %+v, %v", isl, ok)
	}
	if Known("XXX") {
		t.Error("Known(XXX) = true")
	}
	if d, _ := Lookup("DBY"); d.Region != "East Midlands" {
		t.Errorf("Derbyshire region = %q, want East Midlands", d.Region)
	}
	if got := len(InRegion("London")); got != 33 {
		t.Errorf("London has %d authorities, want 33", got)
	}
}

func TestParseRejectsBadFiles(t *testing.T) {
	header := "code,gss_code,name,official_name,nation,region,type,population_2020,lat,long\n"
	for name, tc := range map[string]struct{ in, want string }{
		"header":     {"a,b\n", "header has 2 columns"},
		"code":       {header + "isl,E1,I,I,England,London,LBO,1,1,1\n", "not three capital letters"},
		"population": {header + "ISL,E1,I,I,England,London,LBO,x,1,1\n", "population"},
		"duplicate":  {header + "ISL,E1,I,I,England,London,LBO,1,1,1\nISL,E1,I,I,England,London,LBO,1,1,1\n", "duplicate"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parse(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
