package node

import (
	"slices"

	"nrmnet/node/workflow"
)

// Role is what a user does at the authority. Each user has exactly one.
type Role string

// The roles. DOMAIN.md ("Who uses it") describes the people behind them.
const (
	// RoleSocialWorker creates and works cases: referral, safeguarding, risk,
	// the NRM process steps, the child's views.
	RoleSocialWorker Role = "social_worker"
	// RoleNRMCoordinator does all a social worker does and records the
	// panel's decisions.
	RoleNRMCoordinator Role = "nrm_coordinator"
	// RolePanelMember reads cases to prepare for and sit on the panel.
	RolePanelMember Role = "panel_member"
	// RolePanelChair reads cases and records the panel's decisions, never on
	// a case where they are the child's lead social worker.
	RolePanelChair Role = "panel_chair"
	// RoleAdvocate is the Independent Child Trafficking Guardian or the
	// advocate the child chose: reads the case and adds the child's views;
	// no vote, no other change.
	RoleAdvocate Role = "advocate"
	// RoleRegionalCoordinator sees counts only, never a case.
	RoleRegionalCoordinator Role = "regional_coordinator"
	// RoleAuditor reads the audit log, never case content.
	RoleAuditor Role = "auditor"
	// RoleAdministrator manages users, never case content.
	RoleAdministrator Role = "administrator"
)

// Roles lists every role.
var Roles = []Role{
	RoleSocialWorker, RoleNRMCoordinator, RolePanelMember, RolePanelChair,
	RoleAdvocate, RoleRegionalCoordinator, RoleAuditor, RoleAdministrator,
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Capability is one kind of thing a role may do.
type Capability string

// The capabilities checked by the node.
const (
	CanCreateCase     Capability = "create_case"     // take a referral
	CanReadCase       Capability = "read_case"       // read one case, with a purpose
	CanListCases      Capability = "list_cases"      // list case summaries (no identity)
	CanWorkCase       Capability = "work_case"       // NRM process steps other than decisions
	CanSafeguard      Capability = "safeguard"       // safeguarding, risk, advocate
	CanRecordDecision Capability = "record_decision" // RG, CG and reconsideration decisions
	CanRecordViews    Capability = "record_views"    // the child's wishes and feelings
	CanAllocate       Capability = "allocate"        // assign a case's lead social worker
	CanSeeOverdue     Capability = "see_overdue"     // overdue and due-soon lists, with case IDs
	CanSeeCounts      Capability = "see_counts"      // overdue and due-soon counts only
	CanReadAudit      Capability = "read_audit"      // audit entries
	CanSeeCheckpoint  Capability = "see_checkpoint"  // the audit log's checkpoint
	CanManageUsers    Capability = "manage_users"    // add, list and revoke users
	CanTrustMembers   Capability = "trust_members"   // accept a member's new audit history
	CanReadReports    Capability = "read_reports"    // aggregate management information
	// CanReadReferralData is the per-referral dataset: one row per referral,
	// not suppressed, so it stays with the authority's own NRM coordinator and
	// never goes to a regional coordinator, who sees aggregates only.
	CanReadReferralData Capability = "read_referral_data"
	CanReadChildRecord  Capability = "read_child_record" // the child's plain-language record
)

// capabilities is the role table: what each role may do, and nothing else.
var capabilities = map[Role][]Capability{
	RoleSocialWorker: {CanCreateCase, CanReadCase, CanListCases, CanWorkCase, CanSafeguard,
		CanRecordViews, CanSeeOverdue, CanSeeCounts, CanReadChildRecord},
	RoleNRMCoordinator: {CanCreateCase, CanReadCase, CanListCases, CanWorkCase, CanSafeguard,
		CanRecordDecision, CanRecordViews, CanAllocate, CanSeeOverdue, CanSeeCounts, CanReadReports, CanReadReferralData,
		CanReadChildRecord},
	RolePanelMember:         {CanReadCase, CanListCases},
	RolePanelChair:          {CanReadCase, CanListCases, CanRecordDecision},
	RoleAdvocate:            {CanReadCase, CanRecordViews, CanReadChildRecord},
	RoleRegionalCoordinator: {CanSeeCounts, CanReadReports},
	RoleAuditor:             {CanReadAudit, CanSeeCheckpoint},
	RoleAdministrator:       {CanManageUsers, CanSeeCheckpoint, CanTrustMembers},
}

// Can reports whether role r has capability c.
func (r Role) Can(c Capability) bool { return slices.Contains(capabilities[r], c) }

// Capabilities returns what r may do.
func (r Role) Capabilities() []Capability { return slices.Clone(capabilities[r]) }

// eventCapability is the capability an event needs. Transfer out is made
// by the relocation hand-over once the destination has accepted, never
// directly by a person: it needs a capability no role has.
func eventCapability(k workflow.EventKind) Capability {
	switch k {
	case workflow.KindRecordRGDecision, workflow.KindRecordCGDecision,
		workflow.KindRecordSameMeeting, workflow.KindDecideReconsideration:
		return CanRecordDecision
	case workflow.KindRecordChildViews:
		return CanRecordViews
	case workflow.KindAssignLeadWorker:
		return CanAllocate
	case workflow.KindUpdateSafeguarding, workflow.KindRateRisk, workflow.KindAssignAdvocate,
		workflow.KindRecordTransferInConference:
		return CanSafeguard
	case workflow.KindTransferOut:
		return "relocation_handover"
	default:
		return CanWorkCase
	}
}

// isDecision reports whether an event records a panel's decision.
func isDecision(k workflow.EventKind) bool { return eventCapability(k) == CanRecordDecision }
