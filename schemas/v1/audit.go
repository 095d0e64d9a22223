package v1

import (
	"regexp"
	"time"

	"nrmnet/schemas"
)

// AuditAction is what an audited event did. Actions are dotted: object.verb.
type AuditAction string

var auditActionPattern = regexp.MustCompile(`^[a-z][a-z_]{1,30}\.[a-z][a-z_]{1,30}$`)

// Common audit actions. Any action of the form object.verb is accepted so that
// later versions can add actions without a schema change.
const (
	ActionCaseCreate        AuditAction = "case.create"
	ActionCaseRead          AuditAction = "case.read"
	ActionCaseUpdate        AuditAction = "case.update"
	ActionCaseList          AuditAction = "case.list"
	ActionCaseExport        AuditAction = "case.export"
	ActionCaseErase         AuditAction = "case.erase"
	ActionAlertRaise        AuditAction = "alert.raise"
	ActionAlertReceive      AuditAction = "alert.receive"
	ActionAlertMatchQuery   AuditAction = "alert.match_query"
	ActionShareSend         AuditAction = "share.send"
	ActionShareReceive      AuditAction = "share.receive"
	ActionShareRefuse       AuditAction = "share.refuse" // a recorded decision not to share
	ActionRelocationRequest AuditAction = "relocation.request"
	ActionRelocationAccept  AuditAction = "relocation.accept"
	ActionRelocationReject  AuditAction = "relocation.reject"
	ActionRelocationRevoke  AuditAction = "relocation.revoke"
	ActionDecisionRecord    AuditAction = "decision.record"
	ActionAccessDenied      AuditAction = "access.denied"
	ActionUserCreate        AuditAction = "user.create"
	ActionUserRevoke        AuditAction = "user.revoke"
	ActionBackupCreate      AuditAction = "backup.create"
	ActionBackupRestore     AuditAction = "backup.restore"
	ActionKeyErase          AuditAction = "key.erase"
	// An operator accepted that another member's audit log was replaced
	// (restored from a backup), so this node takes its next checkpoint on
	// trust.
	ActionFederationAcceptHistory AuditAction = "federation.accept_history"
	// Reading the evidence of other members' checkpoint conflicts.
	ActionFederationReadConflicts AuditAction = "federation.read_conflicts"
)

// AuditOutcome says whether the audited action happened.
type AuditOutcome string

const (
	AuditAllowed AuditOutcome = "allowed"
	AuditDenied  AuditOutcome = "denied"
	AuditFailed  AuditOutcome = "failed"
)

var auditOutcomes = set(AuditAllowed, AuditDenied, AuditFailed)

// AuditEntry records who did what, when, to whom, for what purpose and on what
// legal basis. It never holds case content: subjects are identifiers.
type AuditEntry struct {
	At         time.Time     `cbor:"at"`
	Authority  AuthorityCode `cbor:"authority"` // the node's authority
	Actor      string        `cbor:"actor"`     // user ID, or "node" for the node itself
	Role       string        `cbor:"role,omitempty"`
	Action     AuditAction   `cbor:"action"`
	Subject    string        `cbor:"subject,omitempty"`   // case ID, alert ID, user ID...
	Recipient  string        `cbor:"recipient,omitempty"` // for shares: authority code or user ID
	Purpose    string        `cbor:"purpose,omitempty"`
	LegalBasis LegalBasis    `cbor:"basis,omitempty"`
	Outcome    AuditOutcome  `cbor:"outcome"`
	Reason     string        `cbor:"reason,omitempty"` // why denied or refused; never case content
}

// Kind implements Record.
func (*AuditEntry) Kind() schemas.Kind { return schemas.KindAuditEntry }

// Validate checks every field.
func (e *AuditEntry) Validate() error {
	ch := schemas.NewChecker()
	checkTime(ch, "at", e.At, true)
	checkAuthority(ch, "authority", e.Authority, true)
	ch.Text("actor", e.Actor, true, MaxShortText, false)
	ch.Text("role", e.Role, false, MaxShortText, false)
	ch.Check(auditActionPattern.MatchString(string(e.Action)), "action", "%q is not of the form object.verb", truncate(string(e.Action)))
	ch.Text("subject", e.Subject, false, MaxShortText, false)
	ch.Text("recipient", e.Recipient, false, MaxShortText, false)
	ch.Text("purpose", e.Purpose, false, MaxShortText*5, false)
	oneOf(ch, "basis", e.LegalBasis, legalBases, false)
	oneOf(ch, "outcome", e.Outcome, auditOutcomes, true)
	ch.Text("reason", e.Reason, false, MaxShortText*5, false)
	return ch.Err()
}
