package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"nrmnet/node"
	v1 "nrmnet/schemas/v1"
)

// Relocations is what the API needs of the node's relocation hand-over;
// *node.Relocations satisfies it.
type Relocations interface {
	Request(ctx context.Context, who node.Principal, r node.NewRelocation) (node.Relocation, error)
	List(ctx context.Context, who node.Principal) (*node.RelocationList, error)
	Accept(ctx context.Context, who node.Principal, id v1.ID) (node.Relocation, error)
	Reject(ctx context.Context, who node.Principal, id v1.ID, reason string) (node.Relocation, error)
	Revoke(ctx context.Context, who node.Principal, id v1.ID, reason string) (node.Relocation, error)
}

// relocationRoutes are the relocation hand-over's routes.
func (s *Server) relocationRoutes() []route {
	return []route{
		{Method: "POST", Path: "/v1/cases/{id}/relocations", h: s.requestRelocation},
		{Method: "GET", Path: "/v1/relocations", h: s.listRelocations},
		{Method: "POST", Path: "/v1/relocations/{id}/accept", h: s.acceptRelocation},
		{Method: "POST", Path: "/v1/relocations/{id}/reject", h: s.rejectRelocation},
		{Method: "POST", Path: "/v1/relocations/{id}/revoke", h: s.revokeRelocation},
	}
}

// relocationRequest is the body of POST /v1/cases/{id}/relocations. It has
// no field about the child: the node takes the summary from the case.
type relocationRequest struct {
	Destination v1.AuthorityCode    `json:"destination"`
	Reason      v1.RelocationReason `json:"reason"`
	MoveDate    v1.Date             `json:"move_date,omitempty"`
	Urgency     v1.Urgency          `json:"urgency"`
	LegalBasis  v1.LegalBasis       `json:"legal_basis,omitempty"`
}

// relocationDecisionBody is the body of reject (reason required) and
// revoke (reason optional).
type relocationDecisionBody struct {
	Reason string `json:"reason"`
}

type relocationDecisionView struct {
	Decision v1.RelocationDecision `json:"decision"`
	By       v1.AuthorityCode      `json:"by"`
	At       time.Time             `json:"at"`
	Reason   string                `json:"reason,omitempty"`
}

// relocationView is one hand-over as the API shows it: the minimal request
// (no identity), where it stands on this side, and whether a person should
// look at it.
type relocationView struct {
	ID             v1.ID                   `json:"id"`
	Case           v1.CaseID               `json:"case"`
	Origin         v1.AuthorityCode        `json:"origin"`
	Destination    v1.AuthorityCode        `json:"destination"`
	Side           node.RelocationSide     `json:"side"`
	State          node.RelocationState    `json:"state"`
	RequestedAt    time.Time               `json:"requested_at"`
	Reason         v1.RelocationReason     `json:"reason"`
	MoveDate       v1.Date                 `json:"move_date,omitempty"`
	Urgency        v1.Urgency              `json:"urgency"`
	ProtectionPlan bool                    `json:"protection_plan"`
	LookedAfter    bool                    `json:"looked_after"`
	AgeBand        v1.AgeBand              `json:"age_band"`
	Sex            v1.Sex                  `json:"sex"`
	Exploitation   []v1.ExploitationType   `json:"exploitation"`
	CountyLines    bool                    `json:"county_lines"`
	NRMState       v1.CaseState            `json:"nrm_state"`
	LegalBasis     v1.LegalBasis           `json:"legal_basis"`
	Acked          bool                    `json:"acked"`
	Decision       *relocationDecisionView `json:"decision,omitempty"`
	Failure        string                  `json:"failure,omitempty"`
	Updated        time.Time               `json:"updated"`
	Stale          bool                    `json:"stale"`
	NeedsAttention bool                    `json:"needs_attention"`
}

type relocationsResponse struct {
	Inbox  []relocationView `json:"inbox"`
	Outbox []relocationView `json:"outbox"`
}

func relocationViewOf(r node.Relocation) relocationView {
	q := r.Request
	v := relocationView{ID: q.ID, Case: q.CaseRef, Origin: q.Origin, Destination: q.Destination, Side: r.Side,
		State: r.State, RequestedAt: q.RequestedAt, Reason: q.Reason, MoveDate: q.MoveDate, Urgency: q.Urgency,
		ProtectionPlan: q.ProtectionPlan, LookedAfter: q.LookedAfter, AgeBand: q.AgeBand, Sex: q.Sex,
		Exploitation: nonNil(q.Exploitation), CountyLines: q.CountyLines, NRMState: q.NRMState, LegalBasis: q.LegalBasis,
		Acked: r.Acked, Failure: r.Failure, Updated: r.Updated, Stale: r.Stale, NeedsAttention: r.NeedsAttention()}
	if d := r.Decision; d != nil {
		v.Decision = &relocationDecisionView{Decision: d.Decision, By: d.By, At: d.At, Reason: d.Reason}
	}
	return v
}

// decodeRelocationRequest decodes the body of POST /v1/cases/{id}/relocations.
func decodeRelocationRequest(b []byte) (*relocationRequest, error) {
	var req relocationRequest
	if err := decodeStrict(b, &req); err != nil {
		return nil, err
	}
	return &req, nil
}

// decodeRelocationDecision decodes the body of reject and revoke; an empty
// body is no reason.
func decodeRelocationDecision(b []byte) (*relocationDecisionBody, error) {
	var req relocationDecisionBody
	if len(bytes.TrimSpace(b)) == 0 {
		return &req, nil
	}
	if err := decodeStrict(b, &req); err != nil {
		return nil, err
	}
	return &req, nil
}

// decodeNoBody accepts an empty body or an empty JSON object.
func decodeNoBody(b []byte) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	var none struct{}
	return decodeStrict(b, &none)
}

// relocationsOrUnavailable returns the hand-over, or 503 when the node is
// not federated.
func (s *Server) relocationsOrUnavailable() (Relocations, error) {
	if s.relocations == nil {
		return nil, fmt.Errorf("%w: this node is not federated: relocation hand-over is off", node.ErrUnavailable)
	}
	return s.relocations, nil
}

func (s *Server) requestRelocation(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	if _, err := query(r); err != nil {
		return err
	}
	rl, err := s.relocationsOrUnavailable()
	if err != nil {
		return err
	}
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	req, err := decodeRelocationRequest(b)
	if err != nil {
		return err
	}
	got, err := rl.Request(r.Context(), who, node.NewRelocation{Case: v1.CaseID(r.PathValue("id")),
		Destination: req.Destination, Reason: req.Reason, MoveDate: req.MoveDate, Urgency: req.Urgency,
		LegalBasis: req.LegalBasis})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, relocationViewOf(got))
	return nil
}

func (s *Server) listRelocations(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	if _, err := query(r); err != nil {
		return err
	}
	rl, err := s.relocationsOrUnavailable()
	if err != nil {
		return err
	}
	list, err := rl.List(r.Context(), who)
	if err != nil {
		return err
	}
	out := relocationsResponse{Inbox: []relocationView{}, Outbox: []relocationView{}}
	for _, h := range list.Inbox {
		out.Inbox = append(out.Inbox, relocationViewOf(h))
	}
	for _, h := range list.Outbox {
		out.Outbox = append(out.Outbox, relocationViewOf(h))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) acceptRelocation(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	return s.decideRelocation(w, r, func(ctx context.Context, rl Relocations, id v1.ID, b []byte) (node.Relocation, error) {
		if err := decodeNoBody(b); err != nil {
			return node.Relocation{}, err
		}
		return rl.Accept(ctx, who, id)
	})
}

func (s *Server) rejectRelocation(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	return s.decideRelocation(w, r, func(ctx context.Context, rl Relocations, id v1.ID, b []byte) (node.Relocation, error) {
		req, err := decodeRelocationDecision(b)
		if err != nil {
			return node.Relocation{}, err
		}
		return rl.Reject(ctx, who, id, req.Reason)
	})
}

func (s *Server) revokeRelocation(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	return s.decideRelocation(w, r, func(ctx context.Context, rl Relocations, id v1.ID, b []byte) (node.Relocation, error) {
		req, err := decodeRelocationDecision(b)
		if err != nil {
			return node.Relocation{}, err
		}
		return rl.Revoke(ctx, who, id, req.Reason)
	})
}

// decideRelocation reads the body of a decision on relocation {id} and
// writes the hand-over as it stands after decide.
func (s *Server) decideRelocation(w http.ResponseWriter, r *http.Request,
	decide func(context.Context, Relocations, v1.ID, []byte) (node.Relocation, error)) error {
	if _, err := query(r); err != nil {
		return err
	}
	rl, err := s.relocationsOrUnavailable()
	if err != nil {
		return err
	}
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	got, err := decide(r.Context(), rl, v1.ID(r.PathValue("id")), b)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, relocationViewOf(got))
	return nil
}
