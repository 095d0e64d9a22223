package rpc

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"nrmnet/federation"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// Network is what the service needs of the federation host
// (*federation.Host satisfies it): the libp2p host to open and accept
// streams on, and the rosters held to check who is who.
type Network interface {
	Libp2p() host.Host
	// Lookup finds an authority's member on any roster the node holds: its
	// own region's, or another region's (a child may move across regions).
	Lookup(code authority.Code) (federation.Listing, bool)
}

// CaseSource is the origin node's side of a hand-over.
type CaseSource interface {
	// ExportCase returns the case to send. It must keep returning it while
	// a hand-over of the case is unfinished, even after MarkTransferredOut
	// (a crash may come between that and the record of completion).
	ExportCase(ctx context.Context, id v1.CaseID) (*v1.Case, error)
	// MarkTransferredOut records that the destination holds the case now
	// and this authority is no longer responsible. It must be idempotent.
	MarkTransferredOut(ctx context.Context, req v1.RelocationRequest) error
}

// CaseSink is the destination node's side of a hand-over.
type CaseSink interface {
	// InstallCase stores an accepted case provisionally: held, readable,
	// but not yet this authority's responsibility (the origin is until it
	// has marked the case transferred out). Installing again, with the
	// same or a newer copy, replaces the provisional copy.
	InstallCase(ctx context.Context, req v1.RelocationRequest, c *v1.Case) error
	// ActivateCase makes the installed case this authority's
	// responsibility. It must be idempotent.
	ActivateCase(ctx context.Context, req v1.RelocationRequest) error
}

// Auditor records a hand-over step in the node's audit log: who did what,
// to which case or request, with which authority, on what legal basis. The
// entry holds identifiers only. A step whose audit fails is not taken.
type Auditor interface {
	Audit(ctx context.Context, e v1.AuditEntry) error
}

// Config configures the relocation service. Start from DefaultConfig.
type Config struct {
	// Authority is this node's authority code, as on the roster.
	Authority v1.AuthorityCode
	// Identity is the node's ed25519 key (the one behind its peer ID): it
	// signs every message this node sends.
	Identity ed25519.PrivateKey

	// Store keeps the hand-over records.
	Store HandoverStore
	// Cases, Intake and Audit are the node's callbacks.
	Cases  CaseSource
	Intake CaseSink
	Audit  Auditor
	// Observer, when set, is told of every stored change of a record, in
	// order and without loss, on a goroutine of its own: a rejection or a
	// new offer reaches the node this way. It may call the service.
	Observer func(Handover)

	// RetryMin and RetryMax bound the wait before resending a message the
	// peer did not acknowledge: it doubles from min to max, with jitter.
	RetryMin time.Duration
	RetryMax time.Duration
	// StreamTimeout bounds one exchange (open, send, answer).
	StreamTimeout time.Duration

	// Logger receives the service's logs, which never hold case content;
	// nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig returns a configuration with the timings filled in.
func DefaultConfig() Config {
	return Config{
		RetryMin:      time.Second,
		RetryMax:      5 * time.Minute,
		StreamTimeout: 30 * time.Second,
	}
}

// Validate checks the configuration and names every problem.
func (c *Config) Validate() error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !authority.Known(c.Authority) {
		fail("authority %q is not a listed authority code", clip(string(c.Authority)))
	}
	if len(c.Identity) != ed25519.PrivateKeySize {
		fail("identity is %d bytes, want an ed25519 private key", len(c.Identity))
	}
	if c.Store == nil {
		fail("store is required")
	}
	if c.Cases == nil {
		fail("cases (CaseSource) is required")
	}
	if c.Intake == nil {
		fail("intake (CaseSink) is required")
	}
	if c.Audit == nil {
		fail("audit is required")
	}
	if c.RetryMin <= 0 || c.RetryMax < c.RetryMin {
		fail("retry bounds %s..%s: need 0 < min <= max", c.RetryMin, c.RetryMax)
	}
	if c.StreamTimeout <= 0 {
		fail("stream timeout %s must be positive", c.StreamTimeout)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
	}
	return nil
}
