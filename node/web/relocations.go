package web

import (
	"context"
	"net/http"
	"strings"

	"nrmnet/node"
	v1 "nrmnet/schemas/v1"
)

// RelocationDesk is what the relocation inbox page calls: the node's
// relocation hand-over, behind its role table. Errors match node's
// sentinels (node.ErrForbidden, node.ErrInvalid, node.ErrNotAllowedNow...).
type RelocationDesk interface {
	Relocations(ctx context.Context, who Principal) (*node.RelocationList, error)
	AcceptRelocation(ctx context.Context, who Principal, id v1.ID) (node.Relocation, error)
	RejectRelocation(ctx context.Context, who Principal, id v1.ID, reason string) (node.Relocation, error)
	RevokeRelocation(ctx context.Context, who Principal, id v1.ID, reason string) (node.Relocation, error)
}

// maxRelocationReason bounds a rejection's or revocation's reason in
// characters, as the node does.
const maxRelocationReason = v1.MaxShortText * 5

// relocationsPage is the relocation inbox page's data: offers to take a
// child's case (inbox) and this authority's requests (outbox). It shows the
// minimal request, which holds no identity.
type relocationsPage struct {
	List   *node.RelocationList
	Done   string // "accepted", "rejected" or "revoked": what was just done
	DoneID v1.ID
}

// relocationDone maps a form's action to the word the page says after it.
var relocationDone = map[string]string{"accept": "accepted", "reject": "rejected", "revoke": "revoked"}

func (s *Server) relocationRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /relocations", s.relocations)
	mux.HandleFunc("POST /relocations/{id}/{action}", s.decideRelocation)
}

func (s *Server) relocations(w http.ResponseWriter, r *http.Request) {
	who, ok := s.principal(w, r)
	if !ok {
		return
	}
	if s.cfg.Relocations == nil {
		s.problem(w, r, http.StatusServiceUnavailable, "Relocations unavailable", "This node is not federated, so it cannot hand cases over.")
		return
	}
	list, err := s.cfg.Relocations.Relocations(r.Context(), who)
	if err != nil {
		s.nodeProblem(w, r, who, err, "relocations")
		return
	}
	p := relocationsPage{List: list}
	q := r.URL.Query()
	for _, done := range relocationDone {
		if q.Get("done") == done {
			p.Done = done
		}
	}
	if id := v1.ID(q.Get("id")); p.Done != "" && id.Valid() {
		p.DoneID = id
	} else {
		p.Done = ""
	}
	s.render(w, r, http.StatusOK, "relocations", layoutData{Title: s.name + " relocations", Current: "relocations", Page: p})
}

// decideRelocation takes the accept, reject and revoke forms.
func (s *Server) decideRelocation(w http.ResponseWriter, r *http.Request) {
	who, ok := s.principal(w, r)
	if !ok {
		return
	}
	if !sameOrigin(r) {
		s.problem(w, r, http.StatusForbidden, "Decision refused", "The form was sent from another site.")
		return
	}
	if s.cfg.Relocations == nil {
		s.problem(w, r, http.StatusServiceUnavailable, "Relocations unavailable", "This node is not federated, so it cannot hand cases over.")
		return
	}
	action := r.PathValue("action")
	done, known := relocationDone[action]
	id := v1.ID(r.PathValue("id"))
	if !known || !id.Valid() {
		s.problem(w, r, http.StatusNotFound, "Page not found", "There is no page at this address.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.problem(w, r, http.StatusBadRequest, "Decision not valid", "The form could not be read.")
		return
	}
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	if msg := checkText(reason, maxRelocationReason); msg != "" {
		s.problem(w, r, http.StatusBadRequest, "Decision not valid", "The reason "+msg+".")
		return
	}
	var err error
	switch action {
	case "accept":
		_, err = s.cfg.Relocations.AcceptRelocation(r.Context(), who, id)
	case "reject":
		if reason == "" {
			s.problem(w, r, http.StatusBadRequest, "Decision not valid", "Give a reason for the rejection; the requesting authority sees it. Do not name the child.")
			return
		}
		_, err = s.cfg.Relocations.RejectRelocation(r.Context(), who, id, reason)
	case "revoke":
		_, err = s.cfg.Relocations.RevokeRelocation(r.Context(), who, id, reason)
	}
	if err != nil {
		s.nodeProblem(w, r, who, err, "relocation "+string(id))
		return
	}
	s.log.Info("relocation decided from the inbox page", "request", string(id), "action", action, "user", who.UserID)
	http.Redirect(w, r, "/relocations?done="+done+"&id="+string(id), http.StatusSeeOther)
}
