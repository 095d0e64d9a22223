package consensus

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/consensus/raftstore"
	v1 "nrmnet/schemas/v1"
)

// FSM is the panel's state machine, supplied by the caller (package panel).
// Beyond raft.FSM it answers whether a command was applied, which is how a
// proposer resolves an ErrAmbiguous outcome.
//
// Apply's return value is handed back to the proposer, also across a
// forwarded Propose, so it must be nil, a []byte, or an error (an error
// becomes ErrRejected with its text). An FSM that persists its state must
// store the applied index atomically with it, or it replays entries on
// restart.
type FSM interface {
	raft.FSM
	// AppliedIndex is the log index of the last command the FSM's state
	// includes, also after Restore (so it belongs in the snapshot). Reads
	// wait on it: raft's own applied index runs ahead of the FSM.
	AppliedIndex() uint64
	// CommandApplied reports whether the command with this ID has been
	// applied to this node's state, and at which log index.
	CommandApplied(id v1.ID) (index uint64, applied bool, err error)
}

// ResponseEncoder is an optional capability of an FSM whose Apply returns
// something other than nil, []byte or error (a result struct, say): it turns
// that answer into bytes, so that Propose can hand it back, also to a
// follower that forwarded the command. Checked by type assertion.
type ResponseEncoder interface {
	EncodeResponse(resp any) ([]byte, error)
}

// Member is one server of a panel's Raft group: an authority's node, or the
// panel's witness.
type Member struct {
	// ID is the node's libp2p peer ID; it is also its Raft server ID and
	// address.
	ID peer.ID `json:"id" yaml:"id"`
	// NonVoter members receive the log but do not vote or count to quorum.
	NonVoter bool `json:"non_voter,omitempty" yaml:"non_voter,omitempty"`
}

// Timeouts are the panel's Raft timings. Raft's defaults suit a data centre
// LAN; authorities' links are slower and less steady, and an election costs
// a pause in decisions, so the defaults here are raised. In files they are
// duration strings ("3s").
type Timeouts struct {
	// Heartbeat is how long a follower waits without hearing from the leader
	// before it stands for election.
	Heartbeat time.Duration `yaml:"heartbeat"`
	// Election is how long a candidate waits for votes.
	Election time.Duration `yaml:"election"`
	// LeaderLease is how long a leader stays leader without reaching a
	// quorum. At most Heartbeat.
	LeaderLease time.Duration `yaml:"leader_lease"`
	// Commit bounds how long the leader batches entries before sending.
	Commit time.Duration `yaml:"commit"`
	// RPC is the I/O deadline of one Raft RPC (scaled up for snapshots).
	RPC time.Duration `yaml:"rpc"`
	// Forward bounds one forwarded request (Propose, read index, progress)
	// when the caller's context has no earlier deadline.
	Forward time.Duration `yaml:"forward"`
}

// DefaultTimeouts returns timings for authorities on ordinary WAN links:
// three times raft's LAN defaults.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		Heartbeat:   3 * time.Second,
		Election:    3 * time.Second,
		LeaderLease: 1500 * time.Millisecond,
		Commit:      50 * time.Millisecond,
		RPC:         10 * time.Second,
		Forward:     30 * time.Second,
	}
}

// Config configures one panel's Raft group on this node.
type Config struct {
	// Panel is the combined panel this group decides for.
	Panel v1.PanelID
	// Self is this node's peer ID: its Raft server ID. It must be Host's ID.
	Self peer.ID
	// Members are the panel's servers from the roster: the configuration a
	// new group bootstraps with. Self must be among them unless Join is set.
	Members []Member
	// Join starts a node that an existing group will add (AddMember): it
	// does not bootstrap, and waits to be contacted by the leader.
	Join bool
	// Admit says whether a peer may exchange this panel's Raft and
	// forwarding traffic; it should follow the roster (a member whose entry
	// lists the panel). Nil admits exactly Members.
	Admit func(peer.ID) bool
	// CheckForwarded, if set, is asked on the leader about every command
	// another member forwards, with the forwarding peer and the command as
	// the proposer gave it (unsealed); an error refuses it unapplied. It is
	// where the caller checks that the command's issuer is the forwarding
	// member (the FSM sees only the command). A witness leader, which cannot
	// read commands, does not call it.
	CheckForwarded func(from peer.ID, cmd []byte) error

	// Host is the node's libp2p host; the caller closes it after the Panel.
	Host host.Host
	// Dir holds the panel's state: the Raft log in Dir/log, snapshots in
	// Dir/snapshots. One directory per panel.
	Dir string
	// EncryptionKey encrypts the log and snapshots at rest (32 bytes). Keep
	// it outside Dir.
	EncryptionKey []byte
	// DataKey is the panel data key (32 bytes) that seals command payloads
	// and FSM snapshots, so that a witness holding the log cannot read it.
	// Every member of a panel with a witness holds the same DataKey; a
	// witness holds none. Nil means commands travel and are logged as given.
	DataKey []byte
	// Witness makes this node the panel's witness: it votes and keeps the
	// log, applies nothing it can read (WitnessFSM), never proposes, and
	// never snapshots, so it keeps the log whole.
	Witness bool

	// FSM applies committed commands. Required for members; a witness runs
	// WitnessFSM and FSM must be nil or a *WitnessFSM.
	FSM FSM
	// FSMPersistsState says the FSM keeps its state on disk with its applied
	// index, so raft does not restore the last snapshot into it at start
	// (raft's NoSnapshotRestoreOnStart); it replays only the log after it.
	FSMPersistsState bool

	Timeouts Timeouts `yaml:"timeouts"`
	// MaxPool is how many raft streams are pooled per peer.
	MaxPool int `yaml:"max_pool"`
	// SnapshotInterval, SnapshotThreshold and TrailingLogs are raft's
	// snapshot settings: check every interval, snapshot once threshold
	// entries are past the last one, keep trailing entries for followers.
	SnapshotInterval  time.Duration `yaml:"snapshot_interval"`
	SnapshotThreshold uint64        `yaml:"snapshot_threshold"`
	TrailingLogs      uint64        `yaml:"trailing_logs"`
	// RetainSnapshots is how many snapshots are kept on disk.
	RetainSnapshots int `yaml:"retain_snapshots"`
	// MaxCommandBytes bounds one command (before sealing).
	MaxCommandBytes int `yaml:"max_command_bytes"`

	// Logger receives the panel's and raft's messages; never command
	// contents. Nil means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the settings for a production panel; the caller
// fills in the panel, identity, members, host, directory, keys and FSM.
func DefaultConfig() Config {
	return Config{
		Timeouts:          DefaultTimeouts(),
		MaxPool:           4,
		SnapshotInterval:  2 * time.Minute,
		SnapshotThreshold: 8192,
		TrailingLogs:      10240,
		RetainSnapshots:   3,
		MaxCommandBytes:   1 << 20,
	}
}

// Validate reports every problem with c at once.
func (c Config) Validate() error { return c.validate(true) }

// validate checks c; offline (Recover) needs no host.
func (c Config) validate(online bool) error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !c.Panel.Valid() {
		add("panel %q is not a valid panel ID", c.Panel)
	}
	if c.Self == "" {
		add("self (this node's peer ID) is required")
	}
	if !online {
		// Recover runs with the panel stopped: no host.
	} else if c.Host == nil {
		add("host is required")
	} else if c.Self != "" && c.Host.ID() != c.Self {
		add("self %s is not the host's peer ID %s", c.Self, c.Host.ID())
	}
	seen := make(map[peer.ID]bool)
	voters, selfListed := 0, false
	for i, m := range c.Members {
		if err := m.ID.Validate(); err != nil {
			add("members[%d]: %v", i, err)
			continue
		}
		if seen[m.ID] {
			add("members[%d]: %s listed twice", i, m.ID)
		}
		seen[m.ID] = true
		if !m.NonVoter {
			voters++
		}
		if m.ID == c.Self {
			selfListed = true
		}
	}
	if !c.Join {
		if voters == 0 {
			add("members: at least one voter is required to bootstrap")
		}
		if c.Self != "" && !selfListed {
			add("self %s is not among the members (set join to be added by the group)", c.Self)
		}
		if voters == 2 {
			add("members: two voters lose quorum on any single failure; add a witness as a third voter")
		}
	}
	if c.Dir == "" {
		add("dir is required")
	}
	if len(c.EncryptionKey) != raftstore.KeySize {
		add("encryption_key is %d bytes, want %d", len(c.EncryptionKey), raftstore.KeySize)
	}
	if c.Witness {
		if len(c.DataKey) != 0 {
			add("a witness must not hold the panel data key")
		}
		if c.FSM != nil {
			if _, ok := c.FSM.(*WitnessFSM); !ok {
				add("a witness runs WitnessFSM; leave fsm nil")
			}
		}
	} else {
		if c.FSM == nil {
			add("fsm is required")
		}
		if c.DataKey != nil && len(c.DataKey) != dataKeySize {
			add("data_key is %d bytes, want %d", len(c.DataKey), dataKeySize)
		}
	}
	t := c.Timeouts
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"heartbeat", t.Heartbeat}, {"election", t.Election}, {"leader_lease", t.LeaderLease},
		{"commit", t.Commit}, {"rpc", t.RPC}, {"forward", t.Forward}} {
		if d.v <= 0 {
			add("timeouts.%s %s must be positive", d.name, d.v)
		}
	}
	if t.LeaderLease > t.Heartbeat {
		add("timeouts.leader_lease %s must not exceed timeouts.heartbeat %s", t.LeaderLease, t.Heartbeat)
	}
	if c.MaxPool < 1 {
		add("max_pool %d must be at least 1", c.MaxPool)
	}
	if c.SnapshotInterval <= 0 {
		add("snapshot_interval %s must be positive", c.SnapshotInterval)
	}
	if c.SnapshotThreshold == 0 {
		add("snapshot_threshold must be positive")
	}
	if c.RetainSnapshots < 1 {
		add("retain_snapshots %d must be at least 1", c.RetainSnapshots)
	}
	if c.MaxCommandBytes < 1 || c.MaxCommandBytes > maxFrame-sealOverhead-64 {
		add("max_command_bytes %d must be between 1 and %d", c.MaxCommandBytes, maxFrame-sealOverhead-64)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

// raftConfig turns c into raft's configuration.
func (c Config) raftConfig(logger *slog.Logger) *raft.Config {
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(c.Self.String())
	conf.HeartbeatTimeout = c.Timeouts.Heartbeat
	conf.ElectionTimeout = c.Timeouts.Election
	conf.LeaderLeaseTimeout = c.Timeouts.LeaderLease
	conf.CommitTimeout = c.Timeouts.Commit
	conf.SnapshotInterval = c.SnapshotInterval
	conf.SnapshotThreshold = c.SnapshotThreshold
	conf.TrailingLogs = c.TrailingLogs
	conf.Logger = raftstore.HCLogger(logger)
	conf.NoLegacyTelemetry = true
	conf.NoSnapshotRestoreOnStart = c.FSMPersistsState && !c.Witness
	if c.Witness {
		// The witness never snapshots: its log is the only copy it holds,
		// and a snapshot of WitnessFSM would hold nothing a member could
		// restore from.
		conf.SnapshotThreshold = ^uint64(0)
	}
	return conf
}

func configuration(members []Member) raft.Configuration {
	var conf raft.Configuration
	for _, m := range members {
		s := raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(m.ID.String()), Address: raft.ServerAddress(m.ID.String())}
		if m.NonVoter {
			s.Suffrage = raft.Nonvoter
		}
		conf.Servers = append(conf.Servers, s)
	}
	return conf
}
