package api

import (
	"net/http"

	"nrmnet/node"
	v1 "nrmnet/schemas/v1"
)

func (s *Server) createCase(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	if _, err := query(r); err != nil {
		return err
	}
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	req, err := decodeCreateCase(b)
	if err != nil {
		return err
	}
	created, err := s.node.CreateReferral(r.Context(), who, req.toNode())
	if err != nil {
		return err
	}
	sc := created.Scope
	w.Header().Set("Location", "/v1/cases/"+string(created.Case.ID))
	writeJSON(w, http.StatusCreated, createCaseResponse{caseResponse: caseResponseOf(&created.CaseRecord), Scope: scopeResult{
		InScope: sc.InScope, AgeDisputed: sc.AgeDisputed, NeedsAssessment: sc.NeedsAssessment, Uncertain: sc.Uncertain,
		Eighteenth: sc.Eighteenth, DaysToEighteenth: sc.DaysToEighteenth, Reason: sc.Reason,
	}})
	return nil
}

func (s *Server) listCases(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	q, err := query(r, "state", "lead_worker", "limit", "cursor")
	if err != nil {
		return err
	}
	limit, err := intParam(q, "limit", 0, 0, 1000)
	if err != nil {
		return err
	}
	f := node.CaseFilter{State: v1.CaseState(q.Get("state")), LeadWorker: q.Get("lead_worker"), Limit: int(limit), Cursor: q.Get("cursor")}
	list, err := s.node.ListCases(r.Context(), who, f, readOf(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, caseListOf(list))
	return nil
}

// readOf takes the purpose and legal basis of a read from the headers.
func readOf(r *http.Request) node.Read {
	return node.Read{Purpose: r.Header.Get(HeaderPurpose), Basis: v1.LegalBasis(r.Header.Get(HeaderLegalBasis))}
}

func (s *Server) readCase(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	if _, err := query(r); err != nil {
		return err
	}
	rec, err := s.node.Case(r.Context(), who, v1.CaseID(r.PathValue("id")), readOf(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, caseResponseOf(rec))
	return nil
}

func (s *Server) applyEvent(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	if _, err := query(r); err != nil {
		return err
	}
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	rev, ev, err := decodeEvent(b)
	if err != nil {
		return err
	}
	rec, err := s.node.Apply(r.Context(), who, node.Change{Case: v1.CaseID(r.PathValue("id")), Revision: rev, Event: ev})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, caseResponseOf(rec))
	return nil
}

func (s *Server) recordViews(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	if _, err := query(r); err != nil {
		return err
	}
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	req, err := decodeViews(b)
	if err != nil {
		return err
	}
	rec, err := s.node.RecordChildViews(r.Context(), who, node.ChildViews{Case: v1.CaseID(r.PathValue("id")),
		Revision: req.Revision, Views: req.Views, HowConsidered: req.HowConsidered})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, caseResponseOf(rec))
	return nil
}

func (s *Server) overdue(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	q, err := query(r, "worker")
	if err != nil {
		return err
	}
	rep, err := s.node.Overdue(r.Context(), who, q.Get("worker"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, dueReportOf(rep))
	return nil
}
