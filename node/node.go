package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"nrmnet/node/calendar"
	"nrmnet/node/workflow"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
	"nrmnet/storage/auditlog"
)

// Store is what the node needs of the authority's store; *storage.Store
// satisfies it. Every change it makes is audited in the same transaction;
// refusals decided by the node are recorded with Audit.
type Store interface {
	CreateCase(ctx context.Context, c *v1.Case, who storage.Access) error
	UpdateCase(ctx context.Context, c *v1.Case, who storage.Access) error
	Case(ctx context.Context, id v1.CaseID, who storage.Access) (*v1.Case, error)
	ListCases(ctx context.Context, q storage.CaseQuery, who storage.Access) ([]storage.CaseSummary, error)
	Audit(ctx context.Context, e *v1.AuditEntry) error
	AuditCheckpoint() (auditlog.Checkpoint, error)
	ConflictEvidenceList() ([]storage.ConflictEvidence, error)
	AuditEntries(from int64, n int) ([]v1.AuditEntry, error)

	CreateUser(ctx context.Context, u storage.User, who storage.Access) (storage.User, string, error)
	User(id string) (storage.User, error)
	Users() ([]storage.User, error)
	UserByToken(token string) (storage.User, error)
	RevokeUser(ctx context.Context, id string, who storage.Access) (storage.User, error)
}

// Config is the configuration of a Node. Start from DefaultConfig.
type Config struct {
	// Store holds the cases, users and audit log (required).
	Store Store
	// Authority is the code of the authority that runs the node (required).
	Authority v1.AuthorityCode
	// Calendar holds the bank holidays for working days; nil means
	// calendar.Default(). It replaces Policy.Calendar.
	Calendar *calendar.Calendar
	// Policy holds the statutory periods; DefaultConfig sets
	// workflow.DefaultPolicy().
	Policy workflow.Policy
	// DueSoon is how far ahead a deadline counts as due soon. Default 48h.
	DueSoon time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives the node's logs (never case content); nil discards.
	Logger *slog.Logger
}

// DefaultConfig returns a Config with every field but Store and Authority
// set to its default.
func DefaultConfig() Config {
	return Config{Policy: workflow.DefaultPolicy(), DueSoon: 48 * time.Hour}
}

// Validate reports every missing or invalid field.
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, fmt.Errorf("%w: Store is required", ErrInvalidConfig))
	}
	if !authority.Known(c.Authority) {
		errs = append(errs, fmt.Errorf("%w: Authority %q is not the code of a listed authority", ErrInvalidConfig, c.Authority))
	} else if _, err := workflow.DivisionOf(c.Authority); err != nil {
		errs = append(errs, fmt.Errorf("%w: Authority: %w", ErrInvalidConfig, err))
	}
	if err := c.Policy.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: Policy: %w", ErrInvalidConfig, err))
	}
	if c.DueSoon <= 0 {
		errs = append(errs, fmt.Errorf("%w: DueSoon is %v, want a positive duration", ErrInvalidConfig, c.DueSoon))
	}
	return errors.Join(errs...)
}

// Node is an authority's application. Its methods are safe for concurrent
// use: it holds no mutable state of its own (the store serialises writes).
type Node struct {
	store     Store
	authority v1.AuthorityCode
	policy    workflow.Policy
	cal       *calendar.Calendar
	div       calendar.Division
	dueSoon   time.Duration
	now       func() time.Time
	log       *slog.Logger
}

// New validates cfg and returns a Node.
func New(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	div, _ := workflow.DivisionOf(cfg.Authority) // checked by Validate
	n := &Node{store: cfg.Store, authority: cfg.Authority, policy: cfg.Policy,
		cal: cfg.Calendar, div: div, dueSoon: cfg.DueSoon, now: cfg.Now, log: cfg.Logger}
	if n.cal == nil {
		n.cal = calendar.Default()
	}
	n.policy.Calendar = n.cal
	if n.now == nil {
		n.now = time.Now
	}
	if n.log == nil {
		n.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	n.log = n.log.With("component", "node", "authority", string(cfg.Authority))
	return n, nil
}

// Authority returns the code of the authority the node serves.
func (n *Node) Authority() v1.AuthorityCode { return n.authority }

// Policy returns the statutory periods in force.
func (n *Node) Policy() workflow.Policy { return n.policy }

// Principal is an authenticated user acting on the node.
type Principal struct {
	ID        string
	Name      string
	Role      Role
	Authority v1.AuthorityCode
}

func (p Principal) access(purpose string, basis v1.LegalBasis) storage.Access {
	return storage.Access{Actor: p.ID, Role: string(p.Role), Purpose: purpose, LegalBasis: basis}
}

// Authenticate returns the live user whose bearer token this is, or
// ErrUnauthenticated. It is not audited (what the user then does is).
func (n *Node) Authenticate(token string) (Principal, error) {
	u, err := n.store.UserByToken(token)
	if errors.Is(err, storage.ErrNotFound) {
		return Principal{}, fmt.Errorf("%w: the token is unknown or revoked; ask an administrator for a new one", ErrUnauthenticated)
	}
	if err != nil {
		return Principal{}, classify(err)
	}
	p := Principal{ID: u.ID, Name: u.Name, Role: Role(u.Role), Authority: u.Authority}
	if !p.Role.Valid() || p.Authority != n.authority {
		return Principal{}, fmt.Errorf("%w: user %s has role %q at %s, which this node does not serve", ErrUnauthenticated, u.ID, u.Role, u.Authority)
	}
	return p, nil
}

// require checks that who may do c. A refusal is audited (action on
// subject, outcome denied, with the reason) and returned as ErrForbidden.
func (n *Node) require(ctx context.Context, who Principal, c Capability, action v1.AuditAction, subject string) error {
	if who.Role.Can(c) {
		return nil
	}
	return n.deny(ctx, who, action, subject, fmt.Sprintf("role %s may not %s", who.Role, c))
}

// Authorize checks that who may do c, as the node's own methods do before
// they act: nil if the role may, otherwise ErrForbidden, after recording the
// refusal in the audit log (action on subject, outcome denied, with the
// reason). A page calls it before it shows a form for something the node
// would refuse, so that the refusal is audited as the node's would be. An
// allowed check is not recorded: the action itself is, when it is done.
func (n *Node) Authorize(ctx context.Context, who Principal, c Capability, action v1.AuditAction, subject string) error {
	return n.require(ctx, who, c, action, subject)
}

// deny records a refused access and returns ErrForbidden with the reason.
func (n *Node) deny(ctx context.Context, who Principal, action v1.AuditAction, subject, reason string) error {
	e := &v1.AuditEntry{
		At: n.now().UTC(), Authority: n.authority, Actor: who.ID, Role: string(who.Role),
		Action: action, Subject: subject, Outcome: v1.AuditDenied, Reason: reason,
	}
	if e.Actor == "" {
		e.Actor = "anonymous"
	}
	n.log.Info("access refused", "actor", e.Actor, "role", e.Role, "action", string(action), "reason", reason)
	if err := n.store.Audit(ctx, e); err != nil {
		// The refusal stands; the caller learns that it could not be recorded.
		return fmt.Errorf("%w: %s (and recording the refusal failed: %w)", ErrForbidden, reason, classify(err))
	}
	return fmt.Errorf("%w: %s", ErrForbidden, reason)
}
