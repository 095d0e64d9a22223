package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/consensus"
	"nrmnet/consensus/panel"
	"nrmnet/node"
	v1 "nrmnet/schemas/v1"
)

// Panels is what the API needs of the node's combined panels; *node.Panels
// satisfies it.
type Panels interface {
	OpenPanelCase(ctx context.Context, who node.Principal, id v1.PanelID, o node.PanelCaseOpening) (node.PanelOutcome, error)
	RecordPanelMeeting(ctx context.Context, who node.Principal, id v1.PanelID, ref v1.CaseID, m node.PanelMeeting) (node.PanelOutcome, error)
	RecordPanelChildViews(ctx context.Context, who node.Principal, id v1.PanelID, ref v1.CaseID, views string) (node.PanelOutcome, error)
	ProposePanelDecision(ctx context.Context, who node.Principal, id v1.PanelID, ref v1.CaseID, p node.PanelProposal) (node.PanelOutcome, error)
	CastPanelVote(ctx context.Context, who node.Principal, id v1.PanelID, ref v1.CaseID, v panel.CastVote) (node.PanelOutcome, error)
	ConcludePanelDecision(ctx context.Context, who node.Principal, id v1.PanelID, ref v1.CaseID, c panel.ConcludeDecision) (node.PanelOutcome, error)
	RequestPanelReconsideration(ctx context.Context, who node.Principal, id v1.PanelID, ref v1.CaseID, r panel.RequestReconsideration) (node.PanelOutcome, error)
	RecordPanelAssurance(ctx context.Context, who node.Principal, id v1.PanelID, ref v1.CaseID, a panel.RecordAssurance) (node.PanelOutcome, error)
	ClosePanelCase(ctx context.Context, who node.Principal, id v1.PanelID, ref v1.CaseID, reason panel.CloseReason) (node.PanelOutcome, error)
	PanelCase(ctx context.Context, who node.Principal, id v1.PanelID, ref v1.CaseID) (panel.PanelCase, error)
	PanelCommand(ctx context.Context, who node.Principal, id v1.PanelID, cmd v1.ID) (node.PanelOutcome, error)
	PanelStatus(ctx context.Context, who node.Principal, id v1.PanelID) (node.PanelStatus, error)
	AddPanelMember(ctx context.Context, who node.Principal, id v1.PanelID, m consensus.Member) error
	RemovePanelMember(ctx context.Context, who node.Principal, id v1.PanelID, member peer.ID) error
	ReconcilePanel(ctx context.Context, who node.Principal, id v1.PanelID) error
}

// panelRoutes are the routes of combined panels; they answer 503 on a node
// without panels.
func (s *Server) panelRoutes() []route {
	return []route{
		{Method: "POST", Path: "/v1/panels/{panel}/cases", h: s.withPanels(s.openPanelCase)},
		{Method: "GET", Path: "/v1/panels/{panel}/cases/{ref}", h: s.withPanels(s.readPanelCase)},
		{Method: "POST", Path: "/v1/panels/{panel}/cases/{ref}/meetings", h: panelCommand(s, decodePanelMeeting)},
		{Method: "POST", Path: "/v1/panels/{panel}/cases/{ref}/views", h: panelCommand(s, decodePanelViews)},
		{Method: "POST", Path: "/v1/panels/{panel}/cases/{ref}/proposals", h: panelCommand(s, decodePanelProposal)},
		{Method: "POST", Path: "/v1/panels/{panel}/cases/{ref}/votes", h: panelCommand(s, decodePanelVote)},
		{Method: "POST", Path: "/v1/panels/{panel}/cases/{ref}/conclusions", h: panelCommand(s, decodePanelConclusion)},
		{Method: "POST", Path: "/v1/panels/{panel}/cases/{ref}/reconsiderations", h: panelCommand(s, decodePanelReconsideration)},
		{Method: "POST", Path: "/v1/panels/{panel}/cases/{ref}/assurance", h: panelCommand(s, decodePanelAssurance)},
		{Method: "POST", Path: "/v1/panels/{panel}/cases/{ref}/close", h: panelCommand(s, decodePanelClose)},
		{Method: "GET", Path: "/v1/panels/{panel}/commands/{command}", h: s.withPanels(s.readPanelCommand)},
		{Method: "GET", Path: "/v1/panels/{panel}/status", h: s.withPanels(s.panelStatus)},
		{Method: "POST", Path: "/v1/panels/{panel}/members", h: s.withPanels(s.addPanelMember)},
		{Method: "POST", Path: "/v1/panels/{panel}/members/{peer}/remove", h: s.withPanels(s.removePanelMember)},
		{Method: "POST", Path: "/v1/panels/{panel}/reconcile", h: s.withPanels(s.reconcilePanel)},
	}
}

// withPanels serves a panel route: it refuses query parameters (the panel
// routes take none) and answers 503 on a node that sits on no combined
// panel, then hands h the panels.
func (s *Server) withPanels(h func(w http.ResponseWriter, r *http.Request, who node.Principal, p Panels) error) handler {
	return func(w http.ResponseWriter, r *http.Request, who node.Principal) error {
		if _, err := query(r); err != nil {
			return err
		}
		if s.panels == nil {
			return fmt.Errorf("%w: this node sits on no combined panel", node.ErrUnavailable)
		}
		return h(w, r, who, s.panels)
	}
}

// panelOp is one decoded panel command body, ready to submit.
type panelOp func(ctx context.Context, p Panels, who node.Principal, id v1.PanelID, ref v1.CaseID) (node.PanelOutcome, error)

// panelCommand serves a POST that proposes one command on a panel case: the
// body is decoded in full before anything is proposed.
func panelCommand(s *Server, decode func([]byte) (panelOp, error)) handler {
	return s.withPanels(func(w http.ResponseWriter, r *http.Request, who node.Principal, p Panels) error {
		b, err := s.readBody(w, r)
		if err != nil {
			return err
		}
		op, err := decode(b)
		if err != nil {
			return err
		}
		out, err := op(r.Context(), p, who, v1.PanelID(r.PathValue("panel")), v1.CaseID(r.PathValue("ref")))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, panelOutcomeOf(out))
		return nil
	})
}

func (s *Server) openPanelCase(w http.ResponseWriter, r *http.Request, who node.Principal, p Panels) error {
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var req openPanelCaseRequest
	if err := decodeStrict(b, &req); err != nil {
		return err
	}
	id := v1.PanelID(r.PathValue("panel"))
	out, err := p.OpenPanelCase(r.Context(), who, id, node.PanelCaseOpening{Case: req.Case, LeadSocialWorker: req.LeadSocialWorker, Touches: req.Touches})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/panels/"+string(id)+"/cases/"+string(req.Case))
	writeJSON(w, http.StatusCreated, panelOutcomeOf(out))
	return nil
}

func (s *Server) readPanelCase(w http.ResponseWriter, r *http.Request, who node.Principal, p Panels) error {
	pc, err := p.PanelCase(r.Context(), who, v1.PanelID(r.PathValue("panel")), v1.CaseID(r.PathValue("ref")))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, panelCaseOf(pc))
	return nil
}

func (s *Server) readPanelCommand(w http.ResponseWriter, r *http.Request, who node.Principal, p Panels) error {
	out, err := p.PanelCommand(r.Context(), who, v1.PanelID(r.PathValue("panel")), v1.ID(r.PathValue("command")))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, panelOutcomeOf(out))
	return nil
}

func (s *Server) panelStatus(w http.ResponseWriter, r *http.Request, who node.Principal, p Panels) error {
	st, err := p.PanelStatus(r.Context(), who, v1.PanelID(r.PathValue("panel")))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, panelStatusOf(st))
	return nil
}

func (s *Server) addPanelMember(w http.ResponseWriter, r *http.Request, who node.Principal, p Panels) error {
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var req panelMemberRequest
	if err := decodeStrict(b, &req); err != nil {
		return err
	}
	id, err := peer.Decode(req.Peer)
	if err != nil {
		return badBody("invalid_field", "field peer is not a libp2p peer ID")
	}
	if err := p.AddPanelMember(r.Context(), who, v1.PanelID(r.PathValue("panel")), consensus.Member{ID: id, NonVoter: req.NonVoter}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, panelMemberResponse{Peer: id.String(), NonVoter: req.NonVoter})
	return nil
}

func (s *Server) removePanelMember(w http.ResponseWriter, r *http.Request, who node.Principal, p Panels) error {
	id, err := peer.Decode(r.PathValue("peer"))
	if err != nil {
		return &apiError{http.StatusBadRequest, "invalid_field", "the path's peer is not a libp2p peer ID"}
	}
	if err := p.RemovePanelMember(r.Context(), who, v1.PanelID(r.PathValue("panel")), id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, panelMemberResponse{Peer: id.String()})
	return nil
}

// reconcilePanel queues a catch-up of the panel on this node (decisions the
// case's workflow refused are tried again) and answers 202 at once: the
// panel's status shows the outcome. The body is optional; if sent, it is {}.
func (s *Server) reconcilePanel(w http.ResponseWriter, r *http.Request, who node.Principal, p Panels) error {
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	if b = bytes.TrimSpace(b); len(b) > 0 {
		if err := decodeStrict(b, &struct{}{}); err != nil {
			return err
		}
		if b[0] != '{' { // null decodes into a struct without error
			return badBody("invalid_json", "send no body, or an empty JSON object {}")
		}
	}
	id := v1.PanelID(r.PathValue("panel"))
	if err := p.ReconcilePanel(r.Context(), who, id); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, panelReconcileResponse{Panel: id, Queued: true,
		Status: "/v1/panels/" + string(id) + "/status",
		Message: "reconciliation queued: the node will compare every decision of the panel with this authority's cases and record what is missing; " +
			"the panel's status shows the outcome (a decision still refused stays there with its reason)"})
	return nil
}

// Request bodies. Field names follow the panel's own records.

type openPanelCaseRequest struct {
	Case             v1.CaseID          `json:"case"`
	LeadSocialWorker string             `json:"lead_social_worker,omitempty"`
	Touches          []v1.AuthorityCode `json:"touches,omitempty"`
}

type panelAttendee struct {
	Member    string           `json:"member"`
	Capacity  v1.Capacity      `json:"capacity"`
	Authority v1.AuthorityCode `json:"authority,omitempty"`
	Chair     bool             `json:"chair,omitempty"`
}

type panelMeetingRequest struct {
	Meeting    v1.ID           `json:"meeting,omitempty"`
	HeldAt     time.Time       `json:"held_at"`
	Attendance []panelAttendee `json:"attendance"`
}

type panelViewsRequest struct {
	Views string `json:"views"`
}

type panelProposalRequest struct {
	Proposal v1.ID              `json:"proposal,omitempty"`
	Meeting  v1.ID              `json:"meeting"`
	Stages   []v1.DecisionStage `json:"stages"`
}

type panelVoteRequest struct {
	Proposal v1.ID            `json:"proposal"`
	Stage    v1.DecisionStage `json:"stage"`
	Choice   v1.VoteChoice    `json:"choice"`
}

type castingVote struct {
	Stage   v1.DecisionStage `json:"stage"`
	Outcome v1.Outcome       `json:"outcome"`
}

type panelConclusionRequest struct {
	Proposal             v1.ID         `json:"proposal"`
	Reasons              string        `json:"reasons"`
	ChildViewsConsidered string        `json:"child_views_considered"`
	CastingVotes         []castingVote `json:"casting_votes,omitempty"`
}

type panelReconsiderationRequest struct {
	Decision v1.ID         `json:"decision"`
	Grounds  panel.Grounds `json:"grounds"`
	Detail   string        `json:"detail"`
}

type panelAssuranceRequest struct {
	Decision v1.ID              `json:"decision"`
	Status   v1.AssuranceStatus `json:"status"`
	Query    string             `json:"query,omitempty"`
}

type panelCloseRequest struct {
	Reason panel.CloseReason `json:"reason"`
}

type panelMemberRequest struct {
	Peer     string `json:"peer"`
	NonVoter bool   `json:"non_voter,omitempty"`
}

type panelReconcileResponse struct {
	Panel   v1.PanelID `json:"panel"`
	Queued  bool       `json:"queued"`
	Status  string     `json:"status"`
	Message string     `json:"message"`
}

type panelMemberResponse struct {
	Peer     string `json:"peer"`
	NonVoter bool   `json:"non_voter,omitempty"`
}

// Decoders: each decodes strictly (no unknown field, none twice) and
// leaves the rules to the panel, which names the field at fault.

// panelDecoder decodes a body of type T strictly and turns it into the
// operation to submit.
func panelDecoder[T any](op func(req T) (panelOp, error)) func([]byte) (panelOp, error) {
	return func(b []byte) (panelOp, error) {
		var req T
		if err := decodeStrict(b, &req); err != nil {
			return nil, err
		}
		return op(req)
	}
}

var (
	decodePanelMeeting = panelDecoder(func(req panelMeetingRequest) (panelOp, error) {
		if req.HeldAt.IsZero() {
			return nil, badBody("invalid_field", "field held_at is required: when the meeting was held")
		}
		att := make([]v1.Attendee, len(req.Attendance))
		for i, a := range req.Attendance {
			att[i] = v1.Attendee{MemberID: a.Member, Capacity: a.Capacity, Authority: a.Authority, Chair: a.Chair}
		}
		m := node.PanelMeeting{Meeting: req.Meeting, HeldAt: req.HeldAt, Attendance: att}
		return func(ctx context.Context, p Panels, who node.Principal, id v1.PanelID, ref v1.CaseID) (node.PanelOutcome, error) {
			return p.RecordPanelMeeting(ctx, who, id, ref, m)
		}, nil
	})
	decodePanelViews = panelDecoder(func(req panelViewsRequest) (panelOp, error) {
		return func(ctx context.Context, p Panels, who node.Principal, id v1.PanelID, ref v1.CaseID) (node.PanelOutcome, error) {
			return p.RecordPanelChildViews(ctx, who, id, ref, req.Views)
		}, nil
	})
	decodePanelProposal = panelDecoder(func(req panelProposalRequest) (panelOp, error) {
		pr := node.PanelProposal{Proposal: req.Proposal, Meeting: req.Meeting, Stages: req.Stages}
		return func(ctx context.Context, p Panels, who node.Principal, id v1.PanelID, ref v1.CaseID) (node.PanelOutcome, error) {
			return p.ProposePanelDecision(ctx, who, id, ref, pr)
		}, nil
	})
	decodePanelVote = panelDecoder(func(req panelVoteRequest) (panelOp, error) {
		v := panel.CastVote{Proposal: req.Proposal, Stage: req.Stage, Choice: req.Choice}
		return func(ctx context.Context, p Panels, who node.Principal, id v1.PanelID, ref v1.CaseID) (node.PanelOutcome, error) {
			return p.CastPanelVote(ctx, who, id, ref, v)
		}, nil
	})
	decodePanelConclusion = panelDecoder(func(req panelConclusionRequest) (panelOp, error) {
		c := panel.ConcludeDecision{Proposal: req.Proposal, Reasons: req.Reasons, ChildViewsConsidered: req.ChildViewsConsidered}
		for _, cv := range req.CastingVotes {
			c.CastingVotes = append(c.CastingVotes, panel.CastingVote{Stage: cv.Stage, Outcome: cv.Outcome})
		}
		return func(ctx context.Context, p Panels, who node.Principal, id v1.PanelID, ref v1.CaseID) (node.PanelOutcome, error) {
			return p.ConcludePanelDecision(ctx, who, id, ref, c)
		}, nil
	})
	decodePanelReconsideration = panelDecoder(func(req panelReconsiderationRequest) (panelOp, error) {
		rr := panel.RequestReconsideration{Decision: req.Decision, Grounds: req.Grounds, Detail: req.Detail}
		return func(ctx context.Context, p Panels, who node.Principal, id v1.PanelID, ref v1.CaseID) (node.PanelOutcome, error) {
			return p.RequestPanelReconsideration(ctx, who, id, ref, rr)
		}, nil
	})
	decodePanelAssurance = panelDecoder(func(req panelAssuranceRequest) (panelOp, error) {
		a := panel.RecordAssurance{Decision: req.Decision, Status: req.Status, Query: req.Query}
		return func(ctx context.Context, p Panels, who node.Principal, id v1.PanelID, ref v1.CaseID) (node.PanelOutcome, error) {
			return p.RecordPanelAssurance(ctx, who, id, ref, a)
		}, nil
	})
	decodePanelClose = panelDecoder(func(req panelCloseRequest) (panelOp, error) {
		return func(ctx context.Context, p Panels, who node.Principal, id v1.PanelID, ref v1.CaseID) (node.PanelOutcome, error) {
			return p.ClosePanelCase(ctx, who, id, ref, req.Reason)
		}, nil
	})
)

// Responses.

type panelOutcome struct {
	Command   v1.ID      `json:"command"`
	Subject   v1.ID      `json:"subject,omitempty"`
	Index     uint64     `json:"index"`
	Code      panel.Code `json:"code"`
	Message   string     `json:"message,omitempty"`
	Duplicate bool       `json:"duplicate,omitempty"`
}

func panelOutcomeOf(o node.PanelOutcome) panelOutcome {
	return panelOutcome{Command: o.Command, Subject: o.Subject, Index: o.Index, Code: o.Code, Message: o.Message, Duplicate: o.Duplicate}
}

// panelCaseResponse is a panel case as JSON: the same fields as the panel's
// record (panel.PanelCase), in snake case.
type panelCaseResponse struct {
	Panel            v1.PanelID         `json:"panel"`
	Case             v1.CaseID          `json:"case"`
	Lead             v1.AuthorityCode   `json:"lead"`
	LeadSocialWorker string             `json:"lead_social_worker"`
	Touches          []v1.AuthorityCode `json:"touches"`
	OpenedAt         time.Time          `json:"opened_at"`
	RG               panelStage         `json:"rg"`
	CG               panelStage         `json:"cg"`
	Meetings         []panelMeeting     `json:"meetings"`
	ChildViews       []panelChildViews  `json:"child_views"`
	Proposals        []panelProposal    `json:"proposals"`
	Decisions        []panelDecision    `json:"decisions"`
	Closed           *panelClosure      `json:"closed,omitempty"`
}

type panelStage struct {
	Status    panel.StageStatus `json:"status"`
	Decision  v1.ID             `json:"decision,omitempty"`
	DecidedAt *time.Time        `json:"decided_at,omitempty"`
}

type panelMeeting struct {
	ID         v1.ID           `json:"id"`
	HeldAt     time.Time       `json:"held_at"`
	Attendance []panelAttendee `json:"attendance"`
}

type panelChildViews struct {
	Command    v1.ID            `json:"command"`
	At         time.Time        `json:"at"`
	Authority  v1.AuthorityCode `json:"authority"`
	RecordedBy string           `json:"recorded_by"`
	Views      string           `json:"views"`
}

type panelVote struct {
	Member string           `json:"member"`
	Stage  v1.DecisionStage `json:"stage"`
	Choice v1.VoteChoice    `json:"choice"`
}

type panelProposal struct {
	ID         v1.ID                `json:"id"`
	Meeting    v1.ID                `json:"meeting"`
	Stages     []v1.DecisionStage   `json:"stages"`
	ProposedAt time.Time            `json:"proposed_at"`
	Votes      []panelVote          `json:"votes"`
	Status     panel.ProposalStatus `json:"status"`
}

type panelStageOutcome struct {
	Stage       v1.DecisionStage `json:"stage"`
	Outcome     v1.Outcome       `json:"outcome"`
	Test        string           `json:"test"`
	Unanimous   bool             `json:"unanimous,omitempty"`
	CastingVote bool             `json:"casting_vote,omitempty"`
}

type panelDecision struct {
	ID              v1.ID               `json:"id"`
	Index           uint64              `json:"index"`
	MeetingAt       time.Time           `json:"meeting_at"`
	DecidedAt       time.Time           `json:"decided_at"`
	Attendance      []panelAttendee     `json:"attendance"`
	Votes           []panelVote         `json:"votes"`
	Outcomes        []panelStageOutcome `json:"outcomes"`
	Reasons         string              `json:"reasons"`
	ChildViews      string              `json:"child_views"`
	Reconsideration bool                `json:"reconsideration_requested,omitempty"`
	Assurance       v1.AssuranceStatus  `json:"assurance,omitempty"`
}

type panelClosure struct {
	At     time.Time         `json:"at"`
	Reason panel.CloseReason `json:"reason"`
}

func attendeesOf(as []v1.Attendee) []panelAttendee {
	out := make([]panelAttendee, len(as))
	for i, a := range as {
		out[i] = panelAttendee{Member: a.MemberID, Capacity: a.Capacity, Authority: a.Authority, Chair: a.Chair}
	}
	return out
}

func votesOf(vs []v1.Vote) []panelVote {
	out := make([]panelVote, len(vs))
	for i, v := range vs {
		out[i] = panelVote{Member: v.MemberID, Stage: v.Stage, Choice: v.Choice}
	}
	return out
}

func panelCaseOf(pc panel.PanelCase) panelCaseResponse {
	out := panelCaseResponse{Panel: pc.Panel, Case: pc.Case, Lead: pc.Lead, LeadSocialWorker: pc.LeadSocialWorker,
		Touches: append([]v1.AuthorityCode{}, pc.Touches...), OpenedAt: pc.OpenedAt,
		RG:       panelStage{Status: pc.RG.Status, Decision: pc.RG.Decision, DecidedAt: pc.RG.DecidedAt},
		CG:       panelStage{Status: pc.CG.Status, Decision: pc.CG.Decision, DecidedAt: pc.CG.DecidedAt},
		Meetings: []panelMeeting{}, ChildViews: []panelChildViews{}, Proposals: []panelProposal{}, Decisions: []panelDecision{}}
	for _, m := range pc.Meetings {
		out.Meetings = append(out.Meetings, panelMeeting{ID: m.ID, HeldAt: m.HeldAt, Attendance: attendeesOf(m.Attendance)})
	}
	for _, v := range pc.ChildViews {
		out.ChildViews = append(out.ChildViews, panelChildViews{Command: v.Command, At: v.At, Authority: v.Authority, RecordedBy: v.RecordedBy.PersonID, Views: v.Views})
	}
	for _, p := range pc.Proposals {
		out.Proposals = append(out.Proposals, panelProposal{ID: p.ID, Meeting: p.Meeting, Stages: p.Stages, ProposedAt: p.ProposedAt, Votes: votesOf(p.Votes), Status: p.Status})
	}
	for _, d := range pc.Decisions {
		pd := panelDecision{ID: d.Record.ID, Index: d.Index, MeetingAt: d.Record.MeetingAt, DecidedAt: d.Record.DecidedAt,
			Attendance: attendeesOf(d.Record.Attendance), Votes: votesOf(d.Record.Votes), Reasons: d.Record.Reasons,
			ChildViews: d.Record.ChildViews, Reconsideration: d.Reconsideration != nil}
		for _, o := range d.Record.Outcomes {
			pd.Outcomes = append(pd.Outcomes, panelStageOutcome{Stage: o.Stage, Outcome: o.Outcome, Test: o.TestApplied, Unanimous: o.Unanimous, CastingVote: o.CastingVote})
		}
		if d.Assurance != nil {
			pd.Assurance = d.Assurance.Status
		}
		out.Decisions = append(out.Decisions, pd)
	}
	if pc.Closed != nil {
		out.Closed = &panelClosure{At: pc.Closed.At, Reason: pc.Closed.Reason}
	}
	return out
}

type panelPeerStatus struct {
	ID           string `json:"id"`
	NonVoter     bool   `json:"non_voter,omitempty"`
	Reachable    bool   `json:"reachable"`
	LastIndex    uint64 `json:"last_index"`
	AppliedIndex uint64 `json:"applied_index"`
	Lag          uint64 `json:"lag"`
}

type panelStatusResponse struct {
	Panel         v1.PanelID        `json:"panel"`
	Self          string            `json:"self"`
	State         string            `json:"state"`
	Leader        string            `json:"leader,omitempty"`
	Term          uint64            `json:"term"`
	LastIndex     uint64            `json:"last_index"`
	CommitIndex   uint64            `json:"commit_index"`
	AppliedIndex  uint64            `json:"applied_index"`
	LeaderChanges uint64            `json:"leader_changes"`
	Peers         []panelPeerStatus `json:"peers"`
	Unrecorded    int               `json:"unrecorded_decisions"`
	Refused       int               `json:"refused_decisions"`
	Problems      []panelProblem    `json:"problems"`
}

// panelProblem is a decision the node could not record on its case.
type panelProblem struct {
	Decision v1.ID     `json:"decision"`
	Case     v1.CaseID `json:"case"`
	Reason   string    `json:"reason"`
	Refused  bool      `json:"refused"`
}

func panelStatusOf(st node.PanelStatus) panelStatusResponse {
	r := st.Raft
	out := panelStatusResponse{Panel: r.Panel, Self: r.Self.String(), State: r.State, Term: r.Term,
		LastIndex: r.LastIndex, CommitIndex: r.CommitIndex, AppliedIndex: r.AppliedIndex, LeaderChanges: r.LeaderChanges,
		Peers: []panelPeerStatus{}, Unrecorded: st.Unrecorded, Refused: st.Refused, Problems: []panelProblem{}}
	for _, p := range st.Problems {
		out.Problems = append(out.Problems, panelProblem{Decision: p.Decision, Case: p.Case, Reason: p.Reason, Refused: p.Refused})
	}
	if r.Leader != "" {
		out.Leader = r.Leader.String()
	}
	for _, p := range r.Peers {
		out.Peers = append(out.Peers, panelPeerStatus{ID: p.ID.String(), NonVoter: p.NonVoter, Reachable: p.Reachable,
			LastIndex: p.LastIndex, AppliedIndex: p.AppliedIndex, Lag: p.Lag})
	}
	return out
}
