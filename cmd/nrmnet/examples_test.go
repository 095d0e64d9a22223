package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"nrmnet/federation/roster"
)

// TestExampleConfigsParse: the example configs in deploy/examples use only
// keys the node knows (strict decoding), with the commented other_regions
// block uncommented too, so the documentation cannot drift from the code.
func TestExampleConfigsParse(t *testing.T) {
	for _, name := range []string{"config.yaml", "container-config.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		c, err := parseNodeConfig(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if name != "config.yaml" {
			continue
		}
		if len(c.Federation.OtherRegions) != 0 {
			t.Fatalf("%s: other_regions should be commented out", name)
		}
		// Uncomment the block: "  # other_regions:" and the lines under it.
		un := regexp.MustCompile(`(?m)^  # (other_regions:|  [- ].*)$`).ReplaceAll(b, []byte("  $1"))
		c, err = parseNodeConfig(bytes.NewReader(un))
		if err != nil {
			t.Fatalf("%s with other_regions uncommented: %v", name, err)
		}
		if len(c.Federation.OtherRegions) != 1 || c.Federation.OtherRegions[0].Region != "South East" ||
			len(c.Federation.OtherRegions[0].Anchors) != 2 || c.Federation.OtherRegions[0].Threshold != 2 {
			t.Fatalf("other_regions parsed as %+v", c.Federation.OtherRegions)
		}
	}
}

// TestOtherRegionSettings: each mistake in federation.other_regions is
// named with its key; a roster file not yet written is not one.
func TestOtherRegionSettings(t *testing.T) {
	key := "ed25519:" + strings.Repeat("A", 43)
	k1, _ := roster.GenerateAnchorKeyFile(filepath.Join(t.TempDir(), "a1"))
	k2, _ := roster.GenerateAnchorKeyFile(filepath.Join(t.TempDir(), "a2"))
	good := []string{roster.FormatAnchorKey(k1), roster.FormatAnchorKey(k2)}
	dir := t.TempDir()
	trust, at, errs := otherRegionSettings(dir, "London", []otherRegionConfig{
		{Region: "South East", RosterFile: "south-east.roster", Anchors: good, Threshold: 2},
	})
	if len(errs) != 0 || len(trust) != 1 || trust[0].Roster != nil || at["South East"] != filepath.Join(dir, "south-east.roster") {
		t.Fatalf("a missing roster file: %v %+v %v", errs, trust, at)
	}
	_, _, errs = otherRegionSettings(dir, "London", []otherRegionConfig{
		{Region: "London", RosterFile: "a", Anchors: good, Threshold: 2},
		{Region: "Atlantis", RosterFile: "b", Anchors: good, Threshold: 2},
		{Region: "South East", RosterFile: "c", Anchors: []string{key, "rsa:nope"}, Threshold: 2},
		{Region: "South East", Anchors: good, Threshold: 3},
	})
	want := []string{
		"other_regions[0].region: London is this node's own region",
		`other_regions[1].region: "Atlantis" is not a region`,
		"other_regions[2].anchors[1]",
		"other_regions[3].region: South East is listed twice",
		"other_regions[3].roster_file: is required",
		"other_regions[3]: ",
	}
	joined := fmt.Sprint(errs)
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("errors do not say %q:\n%s", w, joined)
		}
	}
}

// TestOtherRegionsFromEnvironment: NRMNET_FEDERATION_OTHER_REGIONS takes the
// list as YAML, read as strictly as the file; a mistake names the variable
// and leaves the file's value alone.
func TestOtherRegionsFromEnvironment(t *testing.T) {
	apply := func(c *nodeConfig, v string) error {
		return applyEnv(c, func(k string) (string, bool) {
			if k == "NRMNET_FEDERATION_OTHER_REGIONS" {
				return v, true
			}
			return "", false
		})
	}
	fromFile := []otherRegionConfig{{Region: "East of England", RosterFile: "east.roster", Anchors: []string{"ed25519:x"}, Threshold: 1}}
	c := nodeConfig{Federation: federationConfig{OtherRegions: slices.Clone(fromFile)}}
	err := apply(&c, `[{region: South East, roster_file: south-east.roster, anchors: ["ed25519:a", "ed25519:b"], threshold: 2}, {region: Wales, roster_file: wales.roster, anchors: ["ed25519:c"], threshold: 1}]`)
	if err != nil {
		t.Fatal(err)
	}
	want := []otherRegionConfig{
		{Region: "South East", RosterFile: "south-east.roster", Anchors: []string{"ed25519:a", "ed25519:b"}, Threshold: 2},
		{Region: "Wales", RosterFile: "wales.roster", Anchors: []string{"ed25519:c"}, Threshold: 1},
	}
	if !reflect.DeepEqual(c.Federation.OtherRegions, want) {
		t.Fatalf("other_regions from the environment: %+v", c.Federation.OtherRegions)
	}
	for _, bad := range []string{
		`[{region: Wales, rosterfile: wales.roster}]`, // unknown key
		`{region: Wales}`,                   // not a list
		`[{region: Wales, threshold: two}]`, // not a number
	} {
		c := nodeConfig{Federation: federationConfig{OtherRegions: slices.Clone(fromFile)}}
		err := apply(&c, bad)
		if err == nil || !strings.Contains(err.Error(), "NRMNET_FEDERATION_OTHER_REGIONS") || !strings.Contains(err.Error(), "YAML list of tables") {
			t.Errorf("%s: %v; want an error naming the variable", bad, err)
		}
		if !reflect.DeepEqual(c.Federation.OtherRegions, fromFile) {
			t.Errorf("%s: the file's value was changed to %+v", bad, c.Federation.OtherRegions)
		}
	}
	c = nodeConfig{Federation: federationConfig{OtherRegions: slices.Clone(fromFile)}}
	if err := apply(&c, ""); err != nil || len(c.Federation.OtherRegions) != 0 {
		t.Fatalf("an empty variable should clear the list: %+v, %v", c.Federation.OtherRegions, err)
	}
}

// TestSessionSettingsChecked: the page sessions' durations are checked with
// the keys named.
func TestSessionSettingsChecked(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"authority: ISL\nhttp:\n  session_lifetime: 30s\n", "http.session_lifetime: 30s"},
		{"authority: ISL\nhttp:\n  session_lifetime: 1h\n  session_idle_timeout: 2h\n", "http.session_idle_timeout: 2h0m0s"},
	} {
		c, err := parseNodeConfig(strings.NewReader(tc.yaml))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v; want an error naming %q", tc.yaml, err, tc.want)
		}
	}
	c, err := parseNodeConfig(strings.NewReader("authority: ISL\nhttp:\n  secure_cookies: true\n"))
	if err != nil || c.validate() != nil || !c.HTTP.SecureCookies || c.HTTP.SessionLifetime != 8*time.Hour {
		t.Fatalf("defaults with secure_cookies: %+v, %v", c.HTTP, err)
	}
}

// TestPanelStatusPrintsProblems: `nrmnet panel status` says which decisions
// are not on their cases, and which the workflow refused.
func TestPanelStatusPrintsProblems(t *testing.T) {
	var st apiPanelStatus
	if err := json.Unmarshal([]byte(`{"panel":"islington-camden","self":"p","state":"Follower","unrecorded_decisions":2,"refused_decisions":1,
		"problems":[{"decision":"d1","case":"ISL-1","reason":"case is cg_pending; a reasonable grounds decision needs rg_pending","refused":true},
		{"decision":"d2","case":"ISL-2","reason":"store unavailable","refused":false}]}`), &st); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	printPanelStatus(&out, st)
	for _, want := range []string{
		"Decisions not yet on this authority's cases: 2 (1 refused",
		"decision d1 on case ISL-1 (refused): case is cg_pending",
		"decision d2 on case ISL-2 (retried): store unavailable",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
}

// TestMatchingSettingsChecked: the issuer's rate limits are node settings,
// checked with their keys named, and can be set from the environment.
func TestMatchingSettingsChecked(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"authority: ISL\nmatching:\n  peer_elements_per_hour: 10\n", "matching.peer_elements_per_hour: 10"},
		{"authority: ISL\nmatching:\n  peer_elements_per_hour: 8192\n  alert_elements_per_hour: 4096\n", "matching.alert_elements_per_hour: 4096"},
	} {
		c, err := parseNodeConfig(strings.NewReader(tc.yaml))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v; want an error naming %q", tc.yaml, err, tc.want)
		}
	}
	c, err := parseNodeConfig(strings.NewReader("authority: ISL\n"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"NRMNET_MATCHING_ALERT_ELEMENTS_PER_HOUR": "1000000"}
	if err := applyEnv(&c, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if err := c.validate(); err != nil || c.Matching.AlertElementsPerHour != 1000000 || c.Matching.PeerElementsPerHour != 4096 {
		t.Fatalf("matching from the environment: %+v, %v", c.Matching, err)
	}
}
