package storage

import (
	"fmt"
	"time"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// Access says who is asking and why. The store records it in the audit
// entry of every operation; it does not decide whether the access is
// allowed (the node does, and records refusals with Audit).
type Access struct {
	Actor      string        // user ID, or "node" for the node itself
	Role       string        // the actor's role, e.g. "social_worker"
	Purpose    string        // why; required to read case data
	LegalBasis v1.LegalBasis // optional; must be a known basis when set
	Recipient  string        // for a disclosure: the authority code or user ID it goes to
}

// nodeAccess is the node acting on its own behalf (erasure-ledger repair,
// backups).
var nodeAccess = Access{Actor: "node", Role: "node", Purpose: "storage maintenance", LegalBasis: v1.BasisPublicTask}

// check validates who; a read also needs a purpose.
func (a Access) check(read bool) error {
	if a.Actor == "" {
		return ErrNoActor
	}
	if read && a.Purpose == "" {
		return ErrNoPurpose
	}
	ch := schemas.NewChecker()
	ch.Text("actor", a.Actor, true, v1.MaxShortText, false)
	ch.Text("role", a.Role, false, v1.MaxShortText, false)
	ch.Text("purpose", a.Purpose, false, 5*v1.MaxShortText, false)
	ch.Text("recipient", a.Recipient, false, v1.MaxShortText, false)
	ch.Check(a.LegalBasis == "" || a.LegalBasis.Valid(), "basis", "is not a known legal basis")
	if err := ch.Err(); err != nil {
		return fmt.Errorf("access: %w", err)
	}
	return nil
}

// entry starts the audit entry of an operation by who on subject.
func (s *Store) entry(who Access, action v1.AuditAction, subject string) *v1.AuditEntry {
	return &v1.AuditEntry{
		At:         time.Now().UTC(),
		Authority:  s.cfg.Authority,
		Actor:      who.Actor,
		Role:       who.Role,
		Action:     action,
		Subject:    subject,
		Recipient:  who.Recipient,
		Purpose:    who.Purpose,
		LegalBasis: who.LegalBasis,
		Outcome:    v1.AuditAllowed,
	}
}

// failed marks an audit entry as recording a refused operation.
func failed(e *v1.AuditEntry, reason string) *v1.AuditEntry {
	e.Outcome = v1.AuditFailed
	e.Reason = reason
	return e
}
