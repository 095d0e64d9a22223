package node

import (
	"context"
	"errors"
	"fmt"

	"nrmnet/schemas"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// AcceptMemberAuditHistory records and carries out an administrator's
// decision that another member's audit log was legitimately replaced
// (restored from a backup, say) after this node raised a checkpoint
// conflict about it: accept (the federation's) forgets the checkpoint this
// node verified for the member, so that its next one is taken on trust. The
// reason (who confirmed it with the member's authority, and how) is
// required and written to the audit log with the outcome. accept's refusal
// of a member not on the roster should wrap ErrInvalid.
func (n *Node) AcceptMemberAuditHistory(ctx context.Context, who Principal, member v1.AuthorityCode, reason string,
	accept func(context.Context, v1.AuthorityCode) error) error {
	subject := "member:" + string(member)
	if err := n.require(ctx, who, CanTrustMembers, v1.ActionFederationAcceptHistory, subject); err != nil {
		return err
	}
	ch := schemas.NewChecker()
	ch.Check(authority.Known(authority.Code(member)), "member", "%.16q is not a known authority code", member)
	ch.Check(member != n.authority, "member", "is this node's own authority; 'nrmnet audit verify' checks its own log")
	ch.Text("reason", reason, true, v1.MaxShortText, false)
	if err := ch.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if accept == nil {
		return fmt.Errorf("%w: this node is not federated: it checks no member's audit log", ErrUnavailable)
	}
	err := accept(ctx, member)
	e := &v1.AuditEntry{At: n.now().UTC(), Authority: n.authority, Actor: who.ID, Role: string(who.Role),
		Action: v1.ActionFederationAcceptHistory, Subject: subject, Recipient: string(member),
		Purpose: "accept a member's new audit history: " + reason, LegalBasis: v1.BasisPublicTask, Outcome: v1.AuditAllowed}
	if err != nil {
		e.Outcome, e.Reason = v1.AuditFailed, clipReason(err.Error())
	}
	if aerr := n.store.Audit(ctx, e); aerr != nil {
		if err != nil {
			return errors.Join(err, classify(aerr))
		}
		// Done but not recorded: say so rather than claim success.
		return fmt.Errorf("the member's new history was accepted but recording it in the audit log failed: %w", classify(aerr))
	}
	if err != nil {
		return err
	}
	n.log.Warn("member's new audit history accepted", "member", string(member), "actor", who.ID)
	return nil
}

// clipReason keeps an audited reason within the audit entry's limit.
func clipReason(s string) string {
	if r := []rune(s); len(r) > v1.MaxShortText {
		return string(r[:v1.MaxShortText])
	}
	return s
}

// CheckpointConflicts lists the evidence this node kept of other members'
// audit checkpoint conflicts, newest first: for each, the member's signed
// heartbeat that carried the checkpoint verified before and the one that
// contradicts it. Auditors and administrators (who see checkpoints).
func (n *Node) CheckpointConflicts(ctx context.Context, who Principal) ([]storage.ConflictEvidence, error) {
	if err := n.require(ctx, who, CanSeeCheckpoint, v1.ActionFederationReadConflicts, "checkpoint conflicts"); err != nil {
		return nil, err
	}
	out, err := n.store.ConflictEvidenceList()
	if err != nil {
		return nil, classify(err)
	}
	return out, nil
}
