package workflow

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"nrmnet/node/calendar"
)

func TestDefaultPolicy(t *testing.T) {
	p := DefaultPolicy()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	// Current guidance, as DOMAIN.md gives it.
	want := map[string]string{
		"rg_decision":            "5 working days",
		"recovery_period":        "30 calendar days",
		"reconsideration_window": "30 calendar days",
		"transfer_in_conference": "15 working days",
		"triage_red":             "4 hours",
		"triage_amber":           "24 hours",
		"triage_green":           "72 hours",
		"scope_margin":           "100 calendar days",
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %q", k, got[k], v)
		}
	}
	if !reflect.DeepEqual(p.PostExitReviews, []int{6, 12}) || !p.AllowSameMeeting {
		t.Errorf("post-exit reviews %v, same meeting %v", p.PostExitReviews, p.AllowSameMeeting)
	}
}

func TestPolicyFromConfig(t *testing.T) {
	const config = `{
		"rg_decision": "5 working days",
		"recovery_period": "45 calendar days",
		"reconsideration_window": "30d",
		"transfer_in_conference": "15 wd",
		"triage_red": "4h", "triage_amber": "24 hours", "triage_green": "72 hours",
		"post_exit_reviews": [6],
		"scope_margin": "100 calendar days",
		"allow_same_meeting": false
	}`
	var p Policy
	if err := json.Unmarshal([]byte(config), &p); err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if p.RecoveryPeriod != (calendar.Period{Amount: 45, Unit: calendar.CalendarDays}) || p.AllowSameMeeting || len(p.PostExitReviews) != 1 {
		t.Errorf("policy %+v", p)
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Policy)
		saying string
	}{
		{"unset", func(p *Policy) { p.RGDecision = calendar.Period{} }, "rg_decision: is not set"},
		{"zero", func(p *Policy) { p.RecoveryPeriod.Amount = 0 }, "recovery_period: 0 calendar days is not a positive period"},
		{"negative", func(p *Policy) { p.TriageRed.Amount = -4 }, "triage_red"},
		{"too long", func(p *Policy) { p.ReconsiderationWindow.Amount = 5000 }, "longer than ten years"},
		{"scope margin in working days", func(p *Policy) { p.ScopeMargin.Unit = calendar.WorkingDays }, "scope_margin: 100 working days must be in calendar days"},
		{"review month", func(p *Policy) { p.PostExitReviews = []int{3} }, "post_exit_reviews[0]: is 3 months"},
		{"review twice", func(p *Policy) { p.PostExitReviews = []int{6, 6} }, "post_exit_reviews[1]: 6 months is listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultPolicy()
			tt.change(&p)
			err := p.Validate()
			if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), tt.saying) {
				t.Errorf("got %v, want an ErrInvalidPolicy saying %q", err, tt.saying)
			}
		})
	}
	var zero Policy
	if err := zero.Validate(); err == nil || strings.Count(err.Error(), "is not set") != 8 {
		t.Errorf("zero policy: %v", err)
	}
}
