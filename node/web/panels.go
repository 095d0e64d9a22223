package web

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"nrmnet/consensus/panel"
	"nrmnet/node"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// PanelDesk is what the panel pages call: the node's combined panels, behind
// its role table (node.Panels through an adapter that adds the user's
// authority). Errors match node's sentinels.
type PanelDesk interface {
	// Panels lists the panels this node sits on as a member, with the
	// references of the cases before each (no case content).
	Panels(ctx context.Context, who Principal) ([]PanelSummary, error)
	PanelCase(ctx context.Context, who Principal, id v1.PanelID, ref v1.CaseID) (panel.PanelCase, error)
	CastPanelVote(ctx context.Context, who Principal, id v1.PanelID, ref v1.CaseID, v panel.CastVote) (node.PanelOutcome, error)
	ConcludePanelDecision(ctx context.Context, who Principal, id v1.PanelID, ref v1.CaseID, c panel.ConcludeDecision) (node.PanelOutcome, error)
}

// PanelSummary is one panel on the panels page.
type PanelSummary struct {
	ID    v1.PanelID
	Cases []v1.CaseID
	// Status is this node's Raft view of the panel, when the user's role
	// may see it.
	Status *PanelRaftStatus
}

// PanelRaftStatus is the part of a panel's Raft state the page shows.
type PanelRaftStatus struct {
	State  string         // this node: Leader, Follower, Candidate
	Leader authority.Code // the leading authority, or "" when none is known
	Term   uint64
	// Lag is the largest lag of a member behind the leader (leader only).
	Lag *uint64
}

// maxPanelFormBytes bounds a panel form: a decision's reasons may be long.
const maxPanelFormBytes = 4 * v1.MaxLongText * 2

// panelsPage is the panels index's data.
type panelsPage struct {
	Panels []PanelSummary
}

// panelCasePage is a panel meeting page's data: everything the panel holds
// about one case, and the forms the user may use.
type panelCasePage struct {
	Panel v1.PanelID
	Case  panel.PanelCase
	User  Principal
	// Open are the proposals still being voted on, with who has still to
	// vote.
	Open []openProposal
	Done string // "vote" or "conclude": what was just done
}

type openProposal struct {
	P        panel.Proposal
	Meeting  panel.Meeting
	Chair    string
	Awaiting []string // voting members present who have not voted on every stage
	// CanVote and CanConclude say which forms the signed-in user gets: a
	// voting member present who has not voted yet; the meeting's chair.
	CanVote, CanConclude bool
}

func (s *Server) panelRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /panels", s.panels)
	mux.HandleFunc("GET /panels/{panel}/cases/{case}", s.panelCase)
	mux.HandleFunc("POST /panels/{panel}/cases/{case}/{action}", s.panelAction)
}

func (s *Server) panelsUnavailable(w http.ResponseWriter, r *http.Request) {
	s.problem(w, r, http.StatusServiceUnavailable, "Panels unavailable", "This node sits on no combined panel.")
}

func (s *Server) panels(w http.ResponseWriter, r *http.Request) {
	who, ok := s.principal(w, r)
	if !ok {
		return
	}
	if s.cfg.Panels == nil {
		s.panelsUnavailable(w, r)
		return
	}
	list, err := s.cfg.Panels.Panels(r.Context(), who)
	if err != nil {
		s.nodeProblem(w, r, who, err, "panels")
		return
	}
	s.render(w, r, http.StatusOK, "panels", layoutData{Title: s.name + " combined panels", Current: "panels", Page: panelsPage{Panels: list}})
}

// panelRequest is the start of every panel case request: the user, the
// same-origin check for a form, and the panel and case in the address,
// checked. It has answered the request when ok is false.
func (s *Server) panelRequest(w http.ResponseWriter, r *http.Request, form bool) (who Principal, id v1.PanelID, ref v1.CaseID, ok bool) {
	if who, ok = s.principal(w, r); !ok {
		return
	}
	if form && !sameOrigin(r) {
		s.problem(w, r, http.StatusForbidden, "Form refused", "The form was sent from another site.")
		return who, "", "", false
	}
	if s.cfg.Panels == nil {
		s.panelsUnavailable(w, r)
		return who, "", "", false
	}
	id, ref = v1.PanelID(r.PathValue("panel")), v1.CaseID(r.PathValue("case"))
	if !id.Valid() || !ref.Valid() {
		s.problem(w, r, http.StatusNotFound, "Page not found", "There is no page at this address.")
		return who, "", "", false
	}
	return who, id, ref, true
}

func (s *Server) panelCase(w http.ResponseWriter, r *http.Request) {
	who, id, ref, ok := s.panelRequest(w, r, false)
	if !ok {
		return
	}
	pc, err := s.cfg.Panels.PanelCase(r.Context(), who, id, ref)
	if err != nil {
		s.nodeProblem(w, r, who, err, "panel case "+string(ref))
		return
	}
	p := panelCasePage{Panel: id, Case: pc, User: who}
	for _, pr := range pc.Proposals {
		if pr.Status != panel.ProposalOpen {
			continue
		}
		op := openProposal{P: pr}
		for _, m := range pc.Meetings {
			if m.ID == pr.Meeting {
				op.Meeting = m
			}
		}
		voted := map[string]int{}
		for _, v := range pr.Votes {
			voted[v.MemberID]++
		}
		for _, a := range op.Meeting.Attendance {
			if a.Chair {
				op.Chair = a.MemberID
			}
			if a.Capacity.Voting() && voted[a.MemberID] < len(pr.Stages) {
				op.Awaiting = append(op.Awaiting, a.MemberID)
			}
		}
		op.CanVote = slices.Contains(op.Awaiting, who.UserID) && (who.Role == string(node.RolePanelMember) || who.Role == string(node.RolePanelChair))
		op.CanConclude = op.Chair == who.UserID && who.Role == string(node.RolePanelChair)
		p.Open = append(p.Open, op)
	}
	if d := r.URL.Query().Get("done"); d == "vote" || d == "conclude" {
		p.Done = d
	}
	s.render(w, r, http.StatusOK, "panels-case", layoutData{Title: "Panel case " + string(ref), Current: "panels", Page: p})
}

// panelAction takes the vote and conclude forms.
func (s *Server) panelAction(w http.ResponseWriter, r *http.Request) {
	who, id, ref, ok := s.panelRequest(w, r, true)
	if !ok {
		return
	}
	action := r.PathValue("action")
	if action != "vote" && action != "conclude" {
		s.problem(w, r, http.StatusNotFound, "Page not found", "There is no page at this address.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxPanelFormBytes)
	if err := r.ParseForm(); err != nil {
		s.problem(w, r, http.StatusBadRequest, "Form not valid", "The form could not be read.")
		return
	}
	f := r.PostForm
	proposal := v1.ID(f.Get("proposal"))
	if !proposal.Valid() {
		s.problem(w, r, http.StatusBadRequest, "Form not valid", "The form does not name a proposal.")
		return
	}
	var (
		out node.PanelOutcome
		err error
	)
	switch action {
	case "vote":
		stage, choice := v1.DecisionStage(f.Get("stage")), v1.VoteChoice(f.Get("choice"))
		if stage != v1.StageRG && stage != v1.StageCG {
			s.problem(w, r, http.StatusBadRequest, "Vote not valid", "Choose the stage you are voting on.")
			return
		}
		if choice != v1.VotePositive && choice != v1.VoteNegative && choice != v1.VoteAbstain {
			s.problem(w, r, http.StatusBadRequest, "Vote not valid", "Choose positive, negative or abstain.")
			return
		}
		out, err = s.cfg.Panels.CastPanelVote(r.Context(), who, id, ref, panel.CastVote{Proposal: proposal, Stage: stage, Choice: choice})
	case "conclude":
		reasons := strings.TrimSpace(f.Get("reasons"))
		considered := strings.TrimSpace(f.Get("views_considered"))
		for _, t := range []struct{ name, v string }{{"reasons", reasons}, {"account of the child's views", considered}} {
			if t.v == "" {
				s.problem(w, r, http.StatusBadRequest, "Decision not valid", "Give the "+t.name+": the decision is recorded with them.")
				return
			}
			if msg := checkText(t.v, v1.MaxLongText); msg != "" {
				s.problem(w, r, http.StatusBadRequest, "Decision not valid", "The "+t.name+" "+msg+".")
				return
			}
		}
		out, err = s.cfg.Panels.ConcludePanelDecision(r.Context(), who, id, ref, panel.ConcludeDecision{Proposal: proposal, Reasons: reasons, ChildViewsConsidered: considered})
	}
	if err != nil {
		s.nodeProblem(w, r, who, err, "panel case "+string(ref))
		return
	}
	if !out.Accepted() {
		s.problem(w, r, http.StatusConflict, "The panel refused this", clip200(out.Message))
		return
	}
	s.log.Info("panel form applied", "panel", string(id), "action", action, "command", string(out.Command), "user", who.UserID)
	http.Redirect(w, r, "/panels/"+string(id)+"/cases/"+string(ref)+"?done="+action, http.StatusSeeOther)
}
