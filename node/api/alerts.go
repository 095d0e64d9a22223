package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"nrmnet/node"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// Alerts is what the API needs of the node's cross-border work;
// *node.CrossBorder satisfies it.
type Alerts interface {
	RaiseAlert(ctx context.Context, who node.Principal, a node.NewAlert) (*node.RaisedAlert, error)
	Alerts(ctx context.Context, who node.Principal, limit int) (*node.AlertList, error)
	Tasks(ctx context.Context, who node.Principal, openOnly bool, limit int) ([]storage.MatchTask, error)
	ResolveTask(ctx context.Context, who node.Principal, id v1.ID, resolution, reason string) (storage.MatchTask, error)
}

// maxAlertLifetimeHours is the longest lifetime a request may ask for.
const maxAlertLifetimeHours = int(v1.MaxAlertLifetime / time.Hour)

// raiseAlertRequest is the body of POST /v1/cases/{id}/alerts. It has no
// field for anything about the child: the node takes the age band and sex
// from the case.
type raiseAlertRequest struct {
	Type              v1.AlertType       `json:"type"`
	Urgency           v1.Urgency         `json:"urgency"`
	TargetAuthorities []v1.AuthorityCode `json:"target_authorities,omitempty"`
	TargetRegions     []string           `json:"target_regions,omitempty"`
	National          bool               `json:"national,omitempty"`
	Contact           v1.ContactRoute    `json:"contact"`
	LegalBasis        v1.LegalBasis      `json:"legal_basis,omitempty"`
	LifetimeHours     int                `json:"lifetime_hours,omitempty"`
}

// resolveTaskRequest is the body of POST /v1/tasks/{id}/resolve.
type resolveTaskRequest struct {
	Resolution string `json:"resolution"`
	Reason     string `json:"reason"`
}

// alertView is an alert as the API shows it: every field but the match
// tokens (shown as a count) and the signature.
type alertView struct {
	ID                v1.ID                 `json:"id"`
	Type              v1.AlertType          `json:"type"`
	Issuer            v1.AuthorityCode      `json:"issuer"`
	TargetAuthorities []v1.AuthorityCode    `json:"target_authorities"`
	TargetRegions     []string              `json:"target_regions"`
	National          bool                  `json:"national"`
	Urgency           v1.Urgency            `json:"urgency"`
	IssuedAt          time.Time             `json:"issued_at"`
	ExpiresAt         time.Time             `json:"expires_at"`
	Contact           v1.ContactRoute       `json:"contact"`
	LegalBasis        v1.LegalBasis         `json:"legal_basis"`
	AgeBand           v1.AgeBand            `json:"age_band"`
	Sex               v1.Sex                `json:"sex"`
	Exploitation      []v1.ExploitationType `json:"exploitation"`
	MatchTokens       int                   `json:"match_tokens"`
}

type raisedAlertView struct {
	Alert   alertView          `json:"alert"`
	Case    v1.CaseID          `json:"case"`
	Acked   []v1.AuthorityCode `json:"acked"`
	Pending []v1.AuthorityCode `json:"pending"`
}

type receivedAlertView struct {
	Alert      alertView  `json:"alert"`
	ReceivedAt time.Time  `json:"received_at"`
	Via        string     `json:"via"`
	MatchedAt  *time.Time `json:"matched_at,omitempty"`
	Tasks      int        `json:"tasks"`
}

type alertsResponse struct {
	Raised   []raisedAlertView   `json:"raised"`
	Received []receivedAlertView `json:"received"`
}

type taskView struct {
	ID             v1.ID            `json:"id"`
	Alert          v1.ID            `json:"alert"`
	Issuer         v1.AuthorityCode `json:"issuer"`
	Case           v1.CaseID        `json:"case"`
	Strength       string           `json:"strength"`
	RaisedAt       time.Time        `json:"raised_at"`
	AlertExpiresAt time.Time        `json:"alert_expires_at"`
	Status         string           `json:"status"`
	Resolution     string           `json:"resolution,omitempty"`
	ResolvedBy     string           `json:"resolved_by,omitempty"`
	ResolvedAt     *time.Time       `json:"resolved_at,omitempty"`
	Reason         string           `json:"reason,omitempty"`
}

type tasksResponse struct {
	Tasks []taskView `json:"tasks"`
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func alertViewOf(a v1.CrossBorderAlert) alertView {
	return alertView{ID: a.ID, Type: a.Type, Issuer: a.Issuer, TargetAuthorities: nonNil(a.TargetAuthorities),
		TargetRegions: nonNil(a.TargetRegions), National: a.National, Urgency: a.Urgency, IssuedAt: a.IssuedAt,
		ExpiresAt: a.ExpiresAt, Contact: a.Contact, LegalBasis: a.LegalBasis, AgeBand: a.AgeBand, Sex: a.Sex,
		Exploitation: nonNil(a.Exploitation), MatchTokens: len(a.MatchTokens)}
}

func raisedViewOf(r node.RaisedAlert) raisedAlertView {
	return raisedAlertView{Alert: alertViewOf(r.Alert), Case: r.Case, Acked: nonNil(r.Acked), Pending: nonNil(r.Pending)}
}

func taskViewOf(t storage.MatchTask) taskView {
	status := "open"
	if !t.Open() {
		status = "resolved"
	}
	return taskView{ID: t.ID, Alert: t.Alert, Issuer: t.Issuer, Case: t.Case, Strength: t.Strength,
		RaisedAt: t.RaisedAt, AlertExpiresAt: t.AlertExpiresAt, Status: status, Resolution: t.Resolution,
		ResolvedBy: t.ResolvedBy, ResolvedAt: timePtr(t.ResolvedAt), Reason: t.Reason}
}

// decodeRaiseAlert decodes the body of POST /v1/cases/{id}/alerts.
func decodeRaiseAlert(b []byte) (*raiseAlertRequest, error) {
	var req raiseAlertRequest
	if err := decodeStrict(b, &req); err != nil {
		return nil, err
	}
	if req.LifetimeHours < 0 || req.LifetimeHours > maxAlertLifetimeHours {
		return nil, badBody("invalid_field", "field lifetime_hours must be 1 to %d (0 or absent for the node's default)", maxAlertLifetimeHours)
	}
	if len(req.TargetAuthorities) > v1.MaxTargets || len(req.TargetRegions) > 16 {
		return nil, badBody("invalid_field", "at most %d target_authorities and 16 target_regions", v1.MaxTargets)
	}
	return &req, nil
}

// decodeResolveTask decodes the body of POST /v1/tasks/{id}/resolve.
func decodeResolveTask(b []byte) (*resolveTaskRequest, error) {
	var req resolveTaskRequest
	if err := decodeStrict(b, &req); err != nil {
		return nil, err
	}
	if !storage.ValidResolution(req.Resolution) {
		return nil, badBody("invalid_field", "field resolution must be %s, %s or %s", node.ResolutionSameChild, node.ResolutionNotSameChild, node.ResolutionNoAction)
	}
	if strings.TrimSpace(req.Reason) == "" {
		return nil, badBody("invalid_field", "field reason is required: why you decided so")
	}
	return &req, nil
}

// alerts returns the cross-border side of the node, or 503 when the node
// is not federated.
func (s *Server) alertsOrUnavailable() (Alerts, error) {
	if s.alerts == nil {
		return nil, fmt.Errorf("%w: this node is not federated: cross-border alerts are off", node.ErrUnavailable)
	}
	return s.alerts, nil
}

func (s *Server) raiseAlert(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	if _, err := query(r); err != nil {
		return err
	}
	al, err := s.alertsOrUnavailable()
	if err != nil {
		return err
	}
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	req, err := decodeRaiseAlert(b)
	if err != nil {
		return err
	}
	got, err := al.RaiseAlert(r.Context(), who, node.NewAlert{Case: v1.CaseID(r.PathValue("id")), Type: req.Type,
		Urgency: req.Urgency, TargetAuthorities: req.TargetAuthorities, TargetRegions: req.TargetRegions,
		National: req.National, Contact: req.Contact, LegalBasis: req.LegalBasis,
		Lifetime: time.Duration(req.LifetimeHours) * time.Hour})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, raisedViewOf(*got))
	return nil
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	q, err := query(r, "limit")
	if err != nil {
		return err
	}
	limit, err := intParam(q, "limit", storage.DefaultListLimit, 1, storage.MaxListLimit)
	if err != nil {
		return err
	}
	al, err := s.alertsOrUnavailable()
	if err != nil {
		return err
	}
	list, err := al.Alerts(r.Context(), who, int(limit))
	if err != nil {
		return err
	}
	out := alertsResponse{Raised: []raisedAlertView{}, Received: []receivedAlertView{}}
	for _, a := range list.Raised {
		out.Raised = append(out.Raised, raisedViewOf(a))
	}
	for _, a := range list.Received {
		out.Received = append(out.Received, receivedAlertView{Alert: alertViewOf(a.Alert), ReceivedAt: a.ReceivedAt,
			Via: a.Via, MatchedAt: timePtr(a.MatchedAt), Tasks: a.Tasks})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	q, err := query(r, "status", "limit")
	if err != nil {
		return err
	}
	openOnly := true
	switch q.Get("status") {
	case "", "open":
	case "all":
		openOnly = false
	default:
		return &apiError{http.StatusBadRequest, codeInvalidQuery, "query parameter status must be open or all"}
	}
	limit, err := intParam(q, "limit", storage.DefaultListLimit, 1, storage.MaxListLimit)
	if err != nil {
		return err
	}
	al, err := s.alertsOrUnavailable()
	if err != nil {
		return err
	}
	ts, err := al.Tasks(r.Context(), who, openOnly, int(limit))
	if err != nil {
		return err
	}
	out := tasksResponse{Tasks: []taskView{}}
	for _, t := range ts {
		out.Tasks = append(out.Tasks, taskViewOf(t))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) resolveTask(w http.ResponseWriter, r *http.Request, who node.Principal) error {
	if _, err := query(r); err != nil {
		return err
	}
	al, err := s.alertsOrUnavailable()
	if err != nil {
		return err
	}
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	req, err := decodeResolveTask(b)
	if err != nil {
		return err
	}
	t, err := al.ResolveTask(r.Context(), who, v1.ID(r.PathValue("id")), req.Resolution, req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, taskViewOf(t))
	return nil
}
