package consensus

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// The leader asks CheckForwarded about every forwarded command, unsealed,
// with the forwarding peer: a refusal is a plain failure (not ambiguous,
// not rejected) and the command is applied nowhere.
func TestCheckForwardedRefusesUnapplied(t *testing.T) {
	c := newCluster(t, clusterOpts{voters: 3, sealed: true, tune: func(cfg *Config) {
		cfg.CheckForwarded = func(from peer.ID, cmd []byte) error {
			var kc kvCommand
			if err := json.Unmarshal(cmd, &kc); err != nil {
				return fmt.Errorf("not a command: %w", err)
			}
			if kc.Value == "forged" {
				return fmt.Errorf("%s may not issue this", from)
			}
			return nil
		}
	}})
	leader := c.waitLeader()
	f := c.follower(leader)
	id := newID()
	_, err := f.panel.Propose(ctxT(t, 20*time.Second), encodeCmd(kvCommand{ID: id, Key: "k", Value: "forged"}))
	if err == nil || errors.Is(err, ErrAmbiguous) || errors.Is(err, ErrRejected) {
		t.Fatalf("forged forwarded command: %v, want a plain failure", err)
	}
	put(t, f, "k2", "fine") // a command the check passes goes through
	if err := leader.panel.Sync(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.nodes {
		if _, applied, err := n.fsm.CommandApplied(id); err != nil || applied {
			t.Fatalf("refused command applied on a member: %v %v", applied, err)
		}
	}
	// The leader's own proposals are not forwarded and not checked.
	put(t, leader, "k3", "forged")
}
