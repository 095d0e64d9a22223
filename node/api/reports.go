package api

import (
	"bytes"
	"fmt"
	"net/http"

	"nrmnet/node"
	"nrmnet/node/report"
	v1 "nrmnet/schemas/v1"
)

func (s *Server) quarterly(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	q, err := query(r, "quarter", "format")
	if err != nil {
		return err
	}
	quarter, err := report.ParseQuarter(q.Get("quarter"))
	if err != nil {
		return &apiError{http.StatusBadRequest, codeInvalidQuery, fmt.Sprintf("query parameter quarter must be like 2026-Q3: %v", err)}
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		return &apiError{http.StatusBadRequest, codeInvalidQuery, "query parameter format must be json or csv"}
	}
	ret, err := s.node.QuarterlyReturn(r.Context(), who, quarter)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	ctype := "application/json; charset=utf-8"
	if format == "csv" {
		ctype = "text/csv; charset=utf-8"
		err = report.WriteReturnCSV(&buf, ret)
	} else {
		err = report.WriteReturnJSON(&buf, ret)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", ctype)
	_, _ = w.Write(buf.Bytes())
	return nil
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
