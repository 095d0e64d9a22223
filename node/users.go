package node

import (
	"context"
	"errors"
	"fmt"

	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
	"nrmnet/storage/auditlog"
)

// NewUser is a user an administrator adds.
type NewUser struct {
	ID   string // login name, e.g. "a.khan"
	Name string
	Role Role
}

// AddUser adds a user of the node's authority and returns the user and
// their bearer token. The token is shown this once: only its hash is kept.
func (n *Node) AddUser(ctx context.Context, who Principal, u NewUser) (storage.User, string, error) {
	if err := n.require(ctx, who, CanManageUsers, v1.ActionUserCreate, u.ID); err != nil {
		return storage.User{}, "", err
	}
	if !u.Role.Valid() {
		return storage.User{}, "", fmt.Errorf("%w: role %.40q is not one of %v", ErrInvalid, u.Role, Roles)
	}
	return n.addUser(ctx, u, who.access("user administration", v1.BasisPublicTask))
}

// AddFirstAdministrator adds an administrator on behalf of the node itself,
// for `nrmnet init`: it refuses if the node has any user already.
func (n *Node) AddFirstAdministrator(ctx context.Context, id, name string) (storage.User, string, error) {
	users, err := n.store.Users()
	if err != nil {
		return storage.User{}, "", classify(err)
	}
	if len(users) > 0 {
		return storage.User{}, "", fmt.Errorf("%w: the node has users already; an administrator adds more with `nrmnet user add`", ErrExists)
	}
	who := storage.Access{Actor: "node", Role: "node", Purpose: "first administrator at initialisation", LegalBasis: v1.BasisPublicTask}
	return n.addUser(ctx, NewUser{ID: id, Name: name, Role: RoleAdministrator}, who)
}

func (n *Node) addUser(ctx context.Context, u NewUser, who storage.Access) (storage.User, string, error) {
	if err := storage.ValidateUserID(u.ID); err != nil {
		return storage.User{}, "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	created, token, err := n.store.CreateUser(ctx, storage.User{ID: u.ID, Name: u.Name, Role: string(u.Role), Authority: n.authority}, who)
	if err != nil {
		return storage.User{}, "", classify(err)
	}
	n.log.Info("user added", "user", u.ID, "role", string(u.Role), "actor", who.Actor)
	return created, token, nil
}

// Users lists every user, revoked ones included.
func (n *Node) Users(ctx context.Context, who Principal) ([]storage.User, error) {
	if err := n.require(ctx, who, CanManageUsers, "user.list", "users"); err != nil {
		return nil, err
	}
	users, err := n.store.Users()
	return users, classify(err)
}

// RevokeUser revokes a user's token for good. An administrator cannot
// revoke themself (so a node always keeps one): ask another.
func (n *Node) RevokeUser(ctx context.Context, who Principal, id string) (storage.User, error) {
	if err := n.require(ctx, who, CanManageUsers, v1.ActionUserRevoke, id); err != nil {
		return storage.User{}, err
	}
	if err := storage.ValidateUserID(id); err != nil {
		return storage.User{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if id == who.ID {
		return storage.User{}, fmt.Errorf("%w: you cannot revoke yourself; ask another administrator", ErrInvalid)
	}
	u, err := n.store.RevokeUser(ctx, id, who.access("user administration", v1.BasisPublicTask))
	if err != nil {
		return storage.User{}, classify(err)
	}
	n.log.Info("user revoked", "user", id, "actor", who.ID)
	return u, nil
}

// AuditCheckpoint returns the checkpoint of the audit log (its size and
// root hash), for auditors and administrators.
func (n *Node) AuditCheckpoint(ctx context.Context, who Principal) (auditlog.Checkpoint, error) {
	if err := n.require(ctx, who, CanSeeCheckpoint, "audit.checkpoint", "audit log"); err != nil {
		return auditlog.Checkpoint{}, err
	}
	cp, err := n.store.AuditCheckpoint()
	return cp, classify(err)
}

// MaxAuditPage is the most audit entries returned at once.
const MaxAuditPage = 1000

// AuditEntries returns up to limit audit entries from index from, for
// auditors. Reading the audit log is itself audited.
func (n *Node) AuditEntries(ctx context.Context, who Principal, from int64, limit int) ([]v1.AuditEntry, error) {
	if err := n.require(ctx, who, CanReadAudit, "audit.read", "audit log"); err != nil {
		return nil, err
	}
	if from < 0 || limit < 1 || limit > MaxAuditPage {
		return nil, fmt.Errorf("%w: from must be at least 0 and limit 1 to %d", ErrInvalid, MaxAuditPage)
	}
	entries, err := n.store.AuditEntries(from, limit)
	if err != nil {
		if errors.Is(err, auditlog.ErrOutOfRange) {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		return nil, classify(err)
	}
	e := &v1.AuditEntry{At: n.now().UTC(), Authority: n.authority, Actor: who.ID, Role: string(who.Role),
		Action: "audit.read", Subject: fmt.Sprintf("entries %d+%d", from, len(entries)), Outcome: v1.AuditAllowed}
	if err := n.store.Audit(ctx, e); err != nil {
		return nil, classify(err)
	}
	return entries, nil
}
