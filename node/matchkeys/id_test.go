package matchkeys_test

import (
	"testing"

	"nrmnet/node/matchkeys"
)

// Deriver.ID names the keys: configurations that derive different keys have
// different IDs, and BandSlackDays, which changes only Candidate, does not
// change it (cached keys stay valid).
func TestDeriverIDNamesTheKeys(t *testing.T) {
	id := func(c matchkeys.Config) string {
		t.Helper()
		d, err := matchkeys.New(c)
		if err != nil {
			t.Fatal(err)
		}
		return d.ID()
	}
	base := matchkeys.DefaultConfig()
	seen := map[string]string{id(base): "default"}
	for name, change := range map[string]func(*matchkeys.Config){
		"MaxKeys":  func(c *matchkeys.Config) { c.MaxKeys-- },
		"YearKeys": func(c *matchkeys.Config) { c.YearKeys = !c.YearKeys },
		"NameOnly": func(c *matchkeys.Config) { c.NameOnly = !c.NameOnly },
	} {
		c := base
		change(&c)
		if other, dup := seen[id(c)]; dup {
			t.Errorf("changing %s gives the ID of %s", name, other)
		}
		seen[id(c)] = name
	}
	slack := base
	slack.BandSlackDays = 30
	if id(slack) != id(base) {
		t.Error("BandSlackDays changed the ID, though the keys are the same")
	}
}
