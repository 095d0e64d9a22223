package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// ReturnCSVHeader is the header of the quarterly return as CSV: one line per
// published figure.
var ReturnCSVHeader = []string{"quarter", "table", "category", "value"}

// WriteReturnCSV writes the return as CSV in long form: a header, then one
// line per figure ("2026-Q3,referrals_by_sex,female,<5"), each table's total
// first. The suppression rule is the last line.
func WriteReturnCSV(w io.Writer, r *Return) error {
	if r == nil {
		return fmt.Errorf("report: nil return")
	}
	cw := csv.NewWriter(w)
	q := r.Quarter.String()
	rows := [][]string{ReturnCSVHeader}
	table := func(name string, t Table) {
		rows = append(rows, []string{q, name, "total", t.Total.String()})
		for _, c := range t.Cells {
			rows = append(rows, []string{q, name, c.Category, c.Count.String()})
		}
	}
	table("referrals_by_exploitation", r.Referrals.ByExploitation)
	rows = append(rows, []string{q, "referrals_county_lines", "total", r.Referrals.CountyLines.String()})
	table("referrals_by_sex", r.Referrals.BySex)
	table("referrals_by_age_group", r.Referrals.ByAgeGroup)
	table("referrals_by_nationality", r.Referrals.ByNationality)
	table("referrals_by_first_responder", r.Referrals.ByFirstResponder)
	table("rg_decisions", r.RGDecisions.Issued)
	rows = append(rows, []string{q, "rg_decisions", "share_positive", r.RGDecisions.SharePositive.String()})
	table("cg_decisions", r.CGDecisions.Issued)
	rows = append(rows, []string{q, "cg_decisions", "share_positive", r.CGDecisions.SharePositive.String()})
	table("awaiting_cg", r.AwaitingCG)
	table("reconsiderations_requested", r.Reconsiderations.Requested)
	table("reconsiderations_decided", r.Reconsiderations.Decided)
	rows = append(rows, []string{q, "suppression", "threshold", strconv.Itoa(r.Suppression.Threshold)})
	rows = append(rows, []string{q, "suppression", "rule", r.Suppression.Rule})
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("report: write CSV: %w", err)
	}
	return nil
}

// WriteReturnJSON writes the return as indented JSON. A suppressed count is
// the string "<5"; a suppressed share the string "suppressed".
func WriteReturnJSON(w io.Writer, r *Return) error {
	if r == nil {
		return fmt.Errorf("report: nil return")
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("report: write JSON: %w", err)
	}
	return nil
}

// ReferralsCSVHeader is the header of the per-referral dataset as CSV.
var ReferralsCSVHeader = []string{
	"quarter", "source", "presenting_issue", "rag_before", "rag_after", "outcome",
	"working_days_to_rg", "working_days_to_outcome",
}

// WriteReferralsCSV writes the per-referral dataset as CSV, one line per
// referral; an empty cell is a figure not yet known.
func WriteReferralsCSV(w io.Writer, rows []ReferralRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(ReferralsCSVHeader); err != nil {
		return fmt.Errorf("report: write CSV: %w", err)
	}
	for _, r := range rows {
		if err := cw.Write([]string{
			r.Quarter.String(), r.Source, r.PresentingIssue, string(r.RAGBefore), string(r.RAGAfter), string(r.Outcome),
			optInt(r.WorkingDaysToRG), optInt(r.WorkingDaysToOutcome),
		}); err != nil {
			return fmt.Errorf("report: write CSV: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("report: write CSV: %w", err)
	}
	return nil
}

// WriteReferralsJSON writes the per-referral dataset as an indented JSON
// array (never null).
func WriteReferralsJSON(w io.Writer, rows []ReferralRow) error {
	if rows == nil {
		rows = []ReferralRow{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rows); err != nil {
		return fmt.Errorf("report: write JSON: %w", err)
	}
	return nil
}

func optInt(p *int) string {
	if p == nil {
		return ""
	}
	return strconv.Itoa(*p)
}
