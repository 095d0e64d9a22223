package gossip

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"nrmnet/federation"
	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrConfig: a Config field is missing or out of range.
	ErrConfig = errors.New("invalid gossip config")
	// ErrClosed: the service is closed.
	ErrClosed = errors.New("gossip service closed")
	// ErrNotIssuer: Publish was given an alert another authority issued, or
	// signed with another key.
	ErrNotIssuer = errors.New("alert not issued by this node's authority")
	// ErrDuplicate: Publish was given an alert whose ID this node already
	// holds (published before, or received).
	ErrDuplicate = errors.New("alert ID already published")
	// ErrExpired: the alert has already expired.
	ErrExpired = errors.New("alert expired")
	// ErrMalformed: a message does not decode, or a field is invalid.
	ErrMalformed = errors.New("malformed gossip message")
	// ErrBadSignature: a signature does not verify under the key the roster
	// gives the signer.
	ErrBadSignature = errors.New("bad signature")
	// ErrNotMember: the signer, issuer or sender is not on the roster in force,
	// or lacks the role the message needs.
	ErrNotMember = errors.New("not a roster member with that role")
)

// OutboxEntry is a message waiting for acknowledgements. Its fields are
// those of storage.OutboxMessage, in the same order, so the composition
// root converts one into the other with a type conversion.
type OutboxEntry struct {
	ID            v1.ID
	Kind          schemas.Kind
	Payload       []byte
	Targets       []v1.AuthorityCode // authorities that have not acknowledged yet
	Acked         []v1.AuthorityCode // authorities that have
	CreatedAt     time.Time
	ExpiresAt     time.Time
	Attempts      int
	NextAttemptAt time.Time
}

// Outbox is the durable queue of alerts this node issued and not every
// target has acknowledged. storage.Store implements it through a small
// adapter (its methods take storage.OutboxMessage). Every change must be
// durable before the call returns.
type Outbox interface {
	EnqueueOutbox(ctx context.Context, m OutboxEntry) error
	DueOutbox(now time.Time, limit int) ([]OutboxEntry, error)
	AckOutbox(ctx context.Context, id v1.ID, from v1.AuthorityCode) (complete bool, err error)
	MarkAttempt(ctx context.Context, id v1.ID, next time.Time) error
	ExpireOutbox(ctx context.Context, now time.Time) (n int, err error)
	OutboxDepth() int
}

// SeenStore is the persistent set of alerts this node has accepted, each
// kept with its envelope until it expires. *storage.Store implements it.
type SeenStore interface {
	// PutSeen records an alert; added is false if the ID was already there.
	PutSeen(ctx context.Context, id v1.ID, seenAt, expires time.Time, alert []byte) (added bool, err error)
	// GetSeen returns a recorded alert; found is false if there is none.
	GetSeen(id v1.ID) (alert []byte, seenAt time.Time, found bool, err error)
	// LiveSeen lists up to limit IDs of alerts that expire after now.
	LiveSeen(now time.Time, limit int) ([]v1.ID, error)
	// PruneSeen deletes records of alerts expired at or before now.
	PruneSeen(ctx context.Context, now time.Time) (n int, err error)
}

// Received is an alert that passed validation and targets this node.
type Received struct {
	Alert *v1.CrossBorderAlert
	// Envelope is the alert exactly as its issuer signed it.
	Envelope []byte
	// From is the peer it came from: the issuer over gossip, any member over
	// a digest repair.
	From peer.ID
	// Via is "gossip" or "digest".
	Via string
}

// AlertHandler receives the alerts that target this node. It stores the
// alert and checks for matches; when it returns nil, the alert is recorded
// as seen and acknowledged to its issuer. An error leaves the alert
// unacknowledged, so a later copy (re-publish or digest) is handed over
// again. It may be called again for an alert it already stored (after a
// crash between storing and recording), so it must be idempotent by alert
// ID.
type AlertHandler interface {
	HandleAlert(ctx context.Context, r Received) error
}

// AlertHandlerFunc adapts a function to AlertHandler.
type AlertHandlerFunc func(ctx context.Context, r Received) error

// HandleAlert calls f.
func (f AlertHandlerFunc) HandleAlert(ctx context.Context, r Received) error { return f(ctx, r) }

// Config configures a Service. Start from DefaultConfig.
type Config struct {
	// Host is the node's federation host; the service runs on its libp2p
	// host and takes membership, roles and keys from its roster.
	Host *federation.Host
	// Identity is the node's ed25519 key (the host's identity). It signs
	// the alerts this node publishes, its acknowledgements and heartbeats.
	Identity ed25519.PrivateKey
	// Outbox keeps this node's alerts until acknowledged or expired.
	Outbox Outbox
	// Seen keeps the alerts this node accepted until they expire.
	Seen SeenStore
	// Handler receives the alerts that target this node.
	Handler AlertHandler
	// Status, if set, reports the node's panels, overdue counts and audit
	// checkpoint for each heartbeat. It must be quick and never block.
	Status func() StatusReport
	// Version is the software version heartbeats report.
	Version string

	// HeartbeatInterval is how often a heartbeat is published; a member is
	// shown down after DownAfter without one.
	HeartbeatInterval time.Duration
	DownAfter         time.Duration
	// OutboxInterval is how often the outbox is checked for alerts due for
	// re-publishing; RetryMin and RetryMax bound the backoff between
	// re-publishes of one alert (doubling).
	OutboxInterval time.Duration
	RetryMin       time.Duration
	RetryMax       time.Duration
	// DigestInterval is how often the node exchanges digests with one random
	// connected member (it also does so with every member that connects).
	DigestInterval time.Duration
	// PruneInterval is how often expired seen alerts are deleted.
	PruneInterval time.Duration
	// StreamTimeout bounds one ack or digest exchange, and one call to the
	// handler.
	StreamTimeout time.Duration
	// ClockSkew is how far in the future a message's time may be.
	ClockSkew time.Duration
	// MaxDigestIDs bounds the alert IDs in one digest.
	MaxDigestIDs int

	// OnCheckpointConflict, if set, is called (on its own goroutine, in
	// order) when a member publishes an audit checkpoint inconsistent with
	// the one it published before.
	OnCheckpointConflict func(CheckpointConflict)
	// OnAck, if set, is called (in order, never concurrently) with every
	// valid acknowledgement of an alert this node issued.
	OnAck func(AckReceived)

	// Registry receives the service's metrics; nil registers none.
	Registry prometheus.Registerer
	// Logger receives the service's logs (never alert content beyond IDs);
	// nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig returns a configuration with every setting but the host,
// identity, stores and handler filled in.
func DefaultConfig() Config {
	return Config{
		Version:           "dev",
		HeartbeatInterval: 15 * time.Second,
		DownAfter:         50 * time.Second,
		OutboxInterval:    time.Second,
		RetryMin:          10 * time.Second,
		RetryMax:          10 * time.Minute,
		DigestInterval:    time.Minute,
		PruneInterval:     15 * time.Minute,
		StreamTimeout:     10 * time.Second,
		ClockSkew:         5 * time.Minute,
		MaxDigestIDs:      4096,
	}
}

// Validate checks the configuration and names every problem.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, why string) { errs = append(errs, fmt.Errorf("%w: %s %s", ErrConfig, field, why)) }
	if c.Host == nil {
		bad("Host", "is required")
	}
	if len(c.Identity) != ed25519.PrivateKeySize {
		bad("Identity", "must be an ed25519 private key")
	} else if c.Host != nil {
		if id, err := peer.IDFromPublicKey(mustLibp2pPub(c.Identity)); err != nil || id != c.Host.ID() {
			bad("Identity", "is not the host's key")
		}
	}
	if c.Outbox == nil {
		bad("Outbox", "is required")
	}
	if c.Seen == nil {
		bad("Seen", "is required")
	}
	if c.Handler == nil {
		bad("Handler", "is required")
	}
	if len(c.Version) == 0 || len(c.Version) > maxVersionLen {
		bad("Version", fmt.Sprintf("must be 1 to %d characters", maxVersionLen))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
		min  time.Duration
	}{
		{"HeartbeatInterval", c.HeartbeatInterval, 10 * time.Millisecond},
		{"DownAfter", c.DownAfter, 10 * time.Millisecond},
		{"OutboxInterval", c.OutboxInterval, 10 * time.Millisecond},
		{"RetryMin", c.RetryMin, 10 * time.Millisecond},
		{"RetryMax", c.RetryMax, 10 * time.Millisecond},
		{"DigestInterval", c.DigestInterval, 10 * time.Millisecond},
		{"PruneInterval", c.PruneInterval, 10 * time.Millisecond},
		{"StreamTimeout", c.StreamTimeout, 10 * time.Millisecond},
		{"ClockSkew", c.ClockSkew, 0},
	} {
		if d.v < d.min {
			bad(d.name, fmt.Sprintf("must be at least %s", d.min))
		}
	}
	if c.DownAfter <= c.HeartbeatInterval {
		bad("DownAfter", "must be longer than HeartbeatInterval")
	}
	if c.RetryMax < c.RetryMin {
		bad("RetryMax", "must be at least RetryMin")
	}
	if c.MaxDigestIDs < 1 || c.MaxDigestIDs > maxDigestIDs {
		bad("MaxDigestIDs", fmt.Sprintf("must be 1 to %d", maxDigestIDs))
	}
	return errors.Join(errs...)
}
