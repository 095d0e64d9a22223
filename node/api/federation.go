package api

import (
	"context"
	"net/http"
	"time"

	"nrmnet/node"
	v1 "nrmnet/schemas/v1"
)

// MemberHistory is the federation's audit-checkpoint checking as the API
// needs it: forget the checkpoint verified for a member, so its next one
// is taken on trust (*gossip.Service, through the node's wiring, which
// maps a member not on the roster to node.ErrInvalid).
type MemberHistory interface {
	AcceptAuditHistory(ctx context.Context, member v1.AuthorityCode) error
}

func (s *Server) federationRoutes() []route {
	return []route{
		{Method: "POST", Path: "/v1/federation/members/{authority}/accept-audit-history", h: s.acceptAuditHistory},
		{Method: "GET", Path: "/v1/federation/conflicts", h: s.checkpointConflicts},
	}
}

// acceptHistoryRequest is the body of accept-audit-history.
type acceptHistoryRequest struct {
	// Reason says who confirmed the restore with the member's authority,
	// and how; it goes to the audit log.
	Reason string `json:"reason"`
}

// decodeAcceptHistory decodes the body of accept-audit-history: an object
// with a reason (the node checks it is there and short enough).
func decodeAcceptHistory(b []byte) (acceptHistoryRequest, error) {
	var req acceptHistoryRequest
	err := decodeStrict(b, &req)
	return req, err
}

type acceptHistoryResponse struct {
	Member   v1.AuthorityCode `json:"member"`
	Accepted bool             `json:"accepted"`
	Message  string           `json:"message"`
}

// acceptAuditHistory records an administrator's decision that a member's
// audit log was legitimately replaced, so this node stops raising the
// conflict and takes the member's next checkpoint on trust.
func (s *Server) acceptAuditHistory(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	if _, err := query(r); err != nil {
		return err
	}
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	req, err := decodeAcceptHistory(b)
	if err != nil {
		return err
	}
	member := v1.AuthorityCode(r.PathValue("authority"))
	var accept func(context.Context, v1.AuthorityCode) error
	if s.federation != nil {
		accept = s.federation.AcceptAuditHistory
	}
	if err := s.node.AcceptMemberAuditHistory(r.Context(), who, member, req.Reason, accept); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, acceptHistoryResponse{Member: member, Accepted: true,
		Message: "this node has forgotten the audit checkpoint it verified for " + string(member) +
			" and takes its next one on trust; growth from there is proved as before"})
	return nil
}

// conflictBody is one checkpoint conflict's evidence. reference and
// heartbeat are the member's signed heartbeat envelopes (base64), each
// signed with its authority key.
type conflictBody struct {
	Authority    v1.AuthorityCode `json:"authority"`
	At           time.Time        `json:"at"`
	Reason       string           `json:"reason"`
	Detail       string           `json:"detail,omitempty"`
	PreviousSize int64            `json:"previous_size"`
	GotSize      int64            `json:"got_size"`
	Reference    []byte           `json:"reference,omitempty"`
	Heartbeat    []byte           `json:"heartbeat,omitempty"`
}

type conflictsResponse struct {
	Conflicts []conflictBody `json:"conflicts"`
}

// checkpointConflicts lists the evidence of other members' checkpoint
// conflicts this node kept.
func (s *Server) checkpointConflicts(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	if _, err := query(r); err != nil {
		return err
	}
	list, err := s.node.CheckpointConflicts(r.Context(), who)
	if err != nil {
		return err
	}
	out := conflictsResponse{Conflicts: []conflictBody{}}
	for _, e := range list {
		out.Conflicts = append(out.Conflicts, conflictBody{Authority: e.Authority, At: e.At, Reason: e.Reason, Detail: e.Detail,
			PreviousSize: e.PreviousSize, GotSize: e.GotSize, Reference: e.Reference, Heartbeat: e.Heartbeat})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
