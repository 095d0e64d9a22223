package api

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	"nrmnet/node"
	"nrmnet/node/report"
	v1 "nrmnet/schemas/v1"
)

// reportQuery reads the quarter and format query parameters the report
// routes share.
func reportQuery(r *http.Request) (report.Quarter, string, error) {
	q, err := query(r, "quarter", "format")
	if err != nil {
		return report.Quarter{}, "", err
	}
	quarter, err := report.ParseQuarter(q.Get("quarter"))
	if err != nil {
		return report.Quarter{}, "", &apiError{http.StatusBadRequest, codeInvalidQuery, fmt.Sprintf("query parameter quarter must be like 2026-Q3: %v", err)}
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		return report.Quarter{}, "", &apiError{http.StatusBadRequest, codeInvalidQuery, "query parameter format must be json or csv"}
	}
	return quarter, format, nil
}

// writeReport writes a report as JSON or, when format is "csv", as CSV. It
// is built in memory first, so a failure sends an error, never half a file.
func writeReport(w http.ResponseWriter, format string, asJSON, asCSV func(io.Writer) error) error {
	var buf bytes.Buffer
	ctype, write := "application/json; charset=utf-8", asJSON
	if format == "csv" {
		ctype, write = "text/csv; charset=utf-8", asCSV
	}
	if err := write(&buf); err != nil {
		return err
	}
	w.Header().Set("Content-Type", ctype)
	_, _ = w.Write(buf.Bytes())
	return nil
}

func (s *Server) quarterly(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	quarter, format, err := reportQuery(r)
	if err != nil {
		return err
	}
	ret, err := s.node.QuarterlyReturn(r.Context(), who, quarter)
	if err != nil {
		return err
	}
	return writeReport(w, format,
		func(w io.Writer) error { return report.WriteReturnJSON(w, ret) },
		func(w io.Writer) error { return report.WriteReturnCSV(w, ret) })
}

func (s *Server) referrals(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	quarter, format, err := reportQuery(r)
	if err != nil {
		return err
	}
	rows, err := s.node.ReferralDataset(r.Context(), who, quarter)
	if err != nil {
		return err
	}
	return writeReport(w, format,
		func(w io.Writer) error { return report.WriteReferralsJSON(w, rows) },
		func(w io.Writer) error { return report.WriteReferralsCSV(w, rows) })
}

func (s *Server) childRecord(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	q, err := query(r, "format")
	if err != nil {
		return err
	}
	format := node.ChildRecordHTML
	ctype := "text/html; charset=utf-8"
	switch q.Get("format") {
	case "", "html":
	case "text":
		format, ctype = node.ChildRecordText, "text/plain; charset=utf-8"
	default:
		return &apiError{http.StatusBadRequest, codeInvalidQuery, "query parameter format must be html or text"}
	}
	page, err := s.node.ChildRecord(r.Context(), who, v1.CaseID(r.PathValue("id")), readOf(r), format)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, _ = w.Write(page)
	return nil
}
