package consensus_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/consensus"
	v1 "nrmnet/schemas/v1"
)

// Wiring one panel on a node, proposing a command and resolving an
// ambiguous outcome by its ID. fsm is the panel's state machine (package
// panel's, behind an adapter that adds CommandApplied).
func Example() {
	var (
		h        host.Host          // federation.Host.Libp2p()
		self     peer.ID            // h.ID()
		members  []consensus.Member // from the roster: peers whose entry lists the panel
		onRoster func(peer.ID) bool // roster in force, panel listed
		fsm      consensus.FSM
		nodeKey  []byte // 32 bytes, kept outside the data directory
		dataKey  []byte // the panel data key, held by members, not the witness
		dataDir  string
		logger   *slog.Logger
		cmd      []byte // an encoded panel command
		cmdID    v1.ID  // its ID
	)
	if h == nil {
		return // the variables above are placeholders
	}
	cfg := consensus.DefaultConfig()
	cfg.Panel, cfg.Self, cfg.Members, cfg.Admit = "islington-camden", self, members, onRoster
	cfg.Host, cfg.Dir, cfg.EncryptionKey, cfg.DataKey = h, filepath.Join(dataDir, "panels", "islington-camden"), nodeKey, dataKey
	cfg.FSM, cfg.Logger = fsm, logger
	p, err := consensus.New(cfg)
	if err != nil {
		return
	}
	defer p.Close()

	ctx := context.Background()
	_, err = p.Propose(ctx, cmd)
	if errors.Is(err, consensus.ErrAmbiguous) {
		// Not a failure: ask whether it was applied before doing anything.
		_, applied, err := p.CommandApplied(ctx, cmdID)
		_, _ = applied, err
	}
}
