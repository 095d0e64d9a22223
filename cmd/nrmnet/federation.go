package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"nrmnet/federation/gossip"
	"nrmnet/federation/roster"
	"nrmnet/schemas/authority"
	"nrmnet/storage"
)

func newFederationCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "federation",
		Short: "Act on what this node trusts of the other members of its region",
		Long: `Commands that change how this node treats another member of the federation.
They talk to a running node's API and are for its administrator.`,
	}
	cmd.AddCommand(newFederationAcceptHistoryCommand(), newFederationConflictsCommand())
	return cmd
}

// apiAcceptHistory is the answer of accept-audit-history.
type apiAcceptHistory struct {
	Member   string `json:"member"`
	Accepted bool   `json:"accepted"`
	Message  string `json:"message"`
}

func newFederationAcceptHistoryCommand() *cobra.Command {
	var o clientOptions
	var reason string
	cmd := &cobra.Command{
		Use:   "accept-history AUTHORITY --reason TEXT",
		Short: "Accept a member's new audit history after a checkpoint conflict",
		Long: `When another member's audit log no longer extends the checkpoint this node
verified, the coordinator view marks it "inconsistent with its earlier log" and the
node raises an alarm: its history was rewritten or forked. A member restored from a
backup looks the same. Once you have confirmed with that authority (not through this
federation) that it restored its node, and when, run this: the node forgets the
checkpoint it verified for the member, takes its next one on trust and proves its
growth from there as before. The reason (who confirmed it, and how) is audited.
Administrator only.`,
		Example: `  nrmnet federation accept-history CMD --reason "CMD restored from its 1 Dec backup; confirmed by phone with A. Khan, CMD IT"`,
		Args:    cobra.ExactArgs(1),
		RunE: o.withClient(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if !authority.Known(authority.Code(args[0])) {
				return fmt.Errorf("%q is not an authority code (e.g. CMD)", args[0])
			}
			if reason == "" {
				return fmt.Errorf("--reason is required: say who confirmed the restore with %s, and how", args[0])
			}
			path := "/v1/federation/members/" + pathEscape(args[0]) + "/accept-audit-history"
			body := map[string]string{"reason": reason}
			if o.json {
				return c.call(cmd.Context(), "POST", path, nil, nil, body, nil, cmd.OutOrStdout())
			}
			var res apiAcceptHistory
			if err := c.call(cmd.Context(), "POST", path, nil, nil, body, &res, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Accepted the new audit history of %s: %s.\n", res.Member, res.Message)
			return nil
		}),
	}
	o.register(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "who confirmed the restore with the member's authority, and how (required; audited)")
	return cmd
}

// keepConflictEvidence is the gossip layer's conflict observer: it keeps
// the member's two signed heartbeats in the store, which show the conflict
// to anyone holding the roster after this node's logs have gone.
func keepConflictEvidence(ctx context.Context, store *storage.Store, log *slog.Logger) func(gossip.CheckpointConflict) {
	return func(c gossip.CheckpointConflict) {
		e := storage.ConflictEvidence{Authority: c.Authority, At: c.At.UTC(), Reason: c.Reason, Detail: clipText(c.Detail, 1000),
			PreviousSize: c.Previous.Size, GotSize: c.Got.Size, Reference: c.Reference, Heartbeat: c.Heartbeat}
		if err := store.PutConflictEvidence(ctx, e); err != nil && ctx.Err() == nil {
			log.Error("could not keep the evidence of a checkpoint conflict", "authority", string(c.Authority), "err", err)
		}
	}
}

// clipText keeps s within n characters (runes).
func clipText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// apiConflicts is the answer of GET /v1/federation/conflicts.
type apiConflicts struct {
	Conflicts []struct {
		Authority    string    `json:"authority"`
		At           time.Time `json:"at"`
		Reason       string    `json:"reason"`
		Detail       string    `json:"detail"`
		PreviousSize int64     `json:"previous_size"`
		GotSize      int64     `json:"got_size"`
		Reference    []byte    `json:"reference"`
		Heartbeat    []byte    `json:"heartbeat"`
	} `json:"conflicts"`
}

func newFederationConflictsCommand() *cobra.Command {
	var o clientOptions
	var out, rosterFile string
	cmd := &cobra.Command{
		Use:   "conflicts [--out DIR] [--roster FILE]",
		Short: "List the evidence of other members' audit checkpoint conflicts",
		Long: `For each audit checkpoint conflict this node raised about another member (at most
16 per member, newest first), the reason and the two checkpoint sizes. The node keeps the
member's two signed heartbeats: the one that carried the checkpoint it verified before,
and the one that contradicts it. --out writes them to DIR, one file each
(<authority>-<time>-reference.hb and -contradicting.hb), for whoever investigates.
--roster checks both signatures against the member's key on that roster file (check the
file itself with 'nrmnet roster verify'). Auditor or administrator.`,
		Example: `  nrmnet federation conflicts
  nrmnet federation conflicts --out /tmp/evidence --roster /var/lib/nrmnet/region.roster`,
		Args: cobra.NoArgs,
		RunE: o.withClient(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var res apiConflicts
			if err := c.call(cmd.Context(), "GET", "/v1/federation/conflicts", nil, nil, nil, &res, nil); err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd.OutOrStdout(), res)
			}
			var r *roster.Roster
			if rosterFile != "" {
				sr, err := roster.LoadFile(rosterFile)
				if err != nil {
					return err
				}
				r = sr.Unverified()
			}
			if out != "" {
				if err := os.MkdirAll(out, 0o700); err != nil {
					return fmt.Errorf("evidence directory: %w", err)
				}
			}
			w := cmd.OutOrStdout()
			if len(res.Conflicts) == 0 {
				fmt.Fprintln(w, "No checkpoint conflicts recorded.")
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MEMBER\tAT\tREASON\tFROM\tTO\tEVIDENCE")
			for _, e := range res.Conflicts {
				evidence := "reference and contradicting heartbeats"
				if len(e.Reference) == 0 {
					evidence = "contradicting heartbeat only"
				}
				if r != nil {
					evidence = checkEvidence(r, e.Authority, e.Reference, e.Heartbeat)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", e.Authority, e.At.UTC().Format(time.RFC3339), e.Reason, e.PreviousSize, e.GotSize, evidence)
				if out == "" {
					continue
				}
				base := filepath.Join(out, fmt.Sprintf("%s-%s", e.Authority, e.At.UTC().Format("20060102T150405.000000000Z")))
				for suffix, b := range map[string][]byte{"-reference.hb": e.Reference, "-contradicting.hb": e.Heartbeat} {
					if len(b) == 0 {
						continue
					}
					if err := os.WriteFile(base+suffix, b, 0o600); err != nil {
						return fmt.Errorf("write evidence: %w", err)
					}
				}
			}
			return tw.Flush()
		}),
	}
	o.register(cmd)
	cmd.Flags().StringVar(&out, "out", "", "write each signed heartbeat to this directory")
	cmd.Flags().StringVar(&rosterFile, "roster", "", "check the heartbeats' signatures against this roster file")
	return cmd
}

// checkEvidence says whether a conflict's heartbeats are signed by the
// member's key on roster r and carry the checkpoints.
func checkEvidence(r *roster.Roster, code string, reference, contradicting []byte) string {
	m, ok := r.Member(authority.Code(code))
	if !ok {
		return "not checked: " + code + " is not on the roster given"
	}
	pub, err := m.PublicKey()
	if err != nil {
		return "not checked: " + err.Error()
	}
	say := func(what string, b []byte) string {
		if len(b) == 0 {
			return what + " not kept"
		}
		hb, err := gossip.VerifyHeartbeat(b, ed25519.PublicKey(pub))
		if err != nil {
			return what + " NOT VALID (" + err.Error() + ")"
		}
		return fmt.Sprintf("%s signed by %s (size %d)", what, hb.Authority, hb.Checkpoint.Size)
	}
	return say("reference", reference) + "; " + say("contradicting", contradicting)
}
