package main

import (
	"context"
	"errors"
	"fmt"

	"nrmnet/federation/gossip"
	"nrmnet/node"
	"nrmnet/node/web"
	"nrmnet/node/workflow"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// The adapters that join storage, federation and node for cross-border
// alerts and private matching live in internal/wiring, shared with the test
// harness node/nodetest. Below are the pages' adapters.

// asNode is the node's principal for a user signed in to the pages.
func asNode(who web.Principal, code v1.AuthorityCode) node.Principal {
	return node.Principal{ID: who.UserID, Role: node.Role(who.Role), Authority: code}
}

// webCaseFiles lets the case page read a case through the node's audited
// read, for the purpose the user gave.
type webCaseFiles struct{ app *node.Node }

// MayCreateReferral lets the new-referral page ask the node, which audits a
// refusal as the API's refusal is.
func (f webCaseFiles) MayCreateReferral(ctx context.Context, who web.Principal) error {
	return f.app.Authorize(ctx, asNode(who, f.app.Authority()), node.CanCreateCase, v1.ActionCaseCreate, "new case")
}

func (f webCaseFiles) Case(ctx context.Context, who web.Principal, id v1.CaseID, purpose string) (*node.CaseRecord, error) {
	return f.app.Case(ctx, asNode(who, f.app.Authority()), id, node.Read{Purpose: purpose})
}

// AssignLeadWorker lets the case page's allocation form apply the node's
// assign_lead_worker event.
func (f webCaseFiles) AssignLeadWorker(ctx context.Context, who web.Principal, id v1.CaseID, revision uint64, worker string) (*node.CaseRecord, error) {
	return f.app.Apply(ctx, asNode(who, f.app.Authority()), node.Change{Case: id, Revision: revision, Event: workflow.AssignLeadWorker{Worker: worker}})
}

// CreateReferral lets the new-referral page create a case through the
// node's CreateReferral.
func (f webCaseFiles) CreateReferral(ctx context.Context, who web.Principal, r node.NewReferral) (*node.CreatedReferral, error) {
	return f.app.CreateReferral(ctx, asNode(who, f.app.Authority()), r)
}

// memberHistory lets the API accept a member's new audit history through
// the gossip service, whose refusal of a non-member is the node's
// ErrInvalid to the API.
type memberHistory struct{ svc *gossip.Service }

func (m memberHistory) AcceptAuditHistory(ctx context.Context, code v1.AuthorityCode) error {
	err := m.svc.AcceptAuditHistory(ctx, code)
	if errors.Is(err, gossip.ErrNotMember) {
		return fmt.Errorf("%w: %w", node.ErrInvalid, err)
	}
	return err
}

// webAlerts lets the alert and task pages use the node's CrossBorder.
type webAlerts struct {
	cb   *node.CrossBorder
	self v1.AuthorityCode
}

func (a webAlerts) RaiseAlert(ctx context.Context, who web.Principal, r node.NewAlert) (*node.RaisedAlert, error) {
	return a.cb.RaiseAlert(ctx, asNode(who, a.self), r)
}

func (a webAlerts) Alerts(ctx context.Context, who web.Principal, limit int) (*node.AlertList, error) {
	return a.cb.Alerts(ctx, asNode(who, a.self), limit)
}

func (a webAlerts) Tasks(ctx context.Context, who web.Principal, openOnly bool, limit int) ([]storage.MatchTask, error) {
	return a.cb.Tasks(ctx, asNode(who, a.self), openOnly, limit)
}

func (a webAlerts) ResolveTask(ctx context.Context, who web.Principal, id v1.ID, resolution, reason string) (storage.MatchTask, error) {
	return a.cb.ResolveTask(ctx, asNode(who, a.self), id, resolution, reason)
}
