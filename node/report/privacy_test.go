package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"nrmnet/node/calendar"
	"nrmnet/schemas/synthetic"
)

// TestNoChildIdentifiedInOutput seeds canary values into every free-text
// field a report could read, then searches every byte of every output (the
// quarterly return and the per-referral dataset, CSV and JSON, for each
// quarter) for the canaries and for every case's identifiers.
func TestNoChildIdentifiedInOutput(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	g := synthetic.New(7, synthetic.WithAuthority("ISL"), synthetic.WithPeriod(start, time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)))
	cases := g.Cases(400)
	canaries := []string{"CanaryZqxw", "CANARYVYKJ", "canary-Ёжик", "Kanarie0451"}
	for _, c := range canaries {
		k := synthetic.CanaryCase(g, c)
		k.Referral.Source = c
		k.Referral.PresentingIssue = "seen with " + c
		k.Referral.FirstResponderOrg = c + " Youth Club"
		k.LeadWorker = "sw-" + c
		for i := range k.Decisions {
			k.Decisions[i].Reasons = c + " said so."
			k.Decisions[i].DecidedBy = c + " panel"
		}
		cases = append(cases, k)
	}
	var secrets []string
	secrets = append(secrets, canaries...)
	for _, c := range cases {
		secrets = append(secrets, string(c.ID), string(c.ChildID), c.LeadWorker)
		if d := c.Identity.DateOfBirth; d != nil {
			secrets = append(secrets, string(d.Date))
		}
		for _, d := range c.Decisions {
			if d.PanelDecisionID != "" {
				secrets = append(secrets, string(d.PanelDecisionID))
			}
		}
	}

	var out bytes.Buffer
	referrals := 0
	for q := (Quarter{2025, 1}); q.Year == 2025; q = q.Next() {
		r := mustQuarterly(t, cases, q, DefaultConfig())
		if err := WriteReturnCSV(&out, r); err != nil {
			t.Fatal(err)
		}
		if err := WriteReturnJSON(&out, r); err != nil {
			t.Fatal(err)
		}
		rows, err := Referrals(cases, q, calendar.Default(), DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		referrals += len(rows)
		if err := WriteReferralsCSV(&out, rows); err != nil {
			t.Fatal(err)
		}
		if err := WriteReferralsJSON(&out, rows); err != nil {
			t.Fatal(err)
		}
	}
	if referrals < 300 {
		t.Fatalf("only %d referrals in 2025: the test would search too little", referrals)
	}
	text := out.String()
	lower := strings.ToLower(text)
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("output contains %q", s)
		}
	}
	if strings.Contains(lower, "canary") || strings.Contains(lower, "kanarie") {
		t.Error("output contains a canary, in some case")
	}
}
