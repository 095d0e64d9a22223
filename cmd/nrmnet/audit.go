package main

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
	"nrmnet/storage/auditlog"
)

func newAuditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Inspect and verify the node's tamper-evident audit log",
	}
	cmd.AddCommand(newAuditVerifyCommand())
	return cmd
}

func newAuditVerifyCommand() *cobra.Command {
	var dir, checkpointFile string
	var inclusion int64 = -1
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the whole audit log, the witness history, and optional proofs",
		Long: `verify recomputes every hash of the audit log from its entries, checks every
block of the store's table files against its checksum, checks the log against
every checkpoint in the witness file since the last deliberate restore, and
prints the signed checkpoint of the verified log.

With --checkpoint it also checks that a signed checkpoint you kept earlier (for
example one printed by a previous verify, or received from a peer) is a prefix
of today's log: nothing recorded up to then has been changed or removed.
--inclusion N proves and checks that entry N is in the log.

The node must be stopped: verify opens the store itself.`,
		Example: `  nrmnet audit verify --dir /var/lib/nrmnet
  nrmnet audit verify --dir /var/lib/nrmnet --checkpoint saved-checkpoint.txt
  nrmnet audit verify --dir /var/lib/nrmnet --inclusion 42`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			s, cfg, err := openNodeStore(cmd, dir)
			if err != nil {
				return err
			}
			defer closeStore(s, &err)
			out := cmd.OutOrStdout()
			update, finish := progressPrinter(cmd.ErrOrStderr(), "verifying audit log")
			cp, err := s.VerifyAudit(update)
			finish()
			if err != nil {
				return fmt.Errorf("AUDIT LOG FAILED VERIFICATION: %w", err)
			}
			fmt.Fprintf(out, "audit log verified: %d entries, root %s\n", cp.Size, cp.Root)
			if err := s.VerifyTables(); err != nil {
				return fmt.Errorf("STORE FAILED VERIFICATION: %w", err)
			}
			fmt.Fprintf(out, "table files: every block of both databases matches its checksum\n")

			pub, err := authorityPublicKey(cfg.storeConfig(dir))
			if err != nil {
				return err
			}
			n, err := checkWitnessHistory(s, cfg.storeConfig(dir), cp, pub)
			if err != nil {
				return fmt.Errorf("AUDIT LOG FAILED VERIFICATION against the witness file: %w", err)
			}
			fmt.Fprintf(out, "witness history: %d checkpoints since the last restore are consistent with the log\n", n)

			if checkpointFile != "" {
				signed, err := os.ReadFile(checkpointFile)
				if err != nil {
					return err
				}
				old, err := auditlog.Open(signed, cp.Origin, pub)
				if err != nil {
					return fmt.Errorf("checkpoint %s: %w", checkpointFile, err)
				}
				if err := checkConsistent(s, old, cp); err != nil {
					return fmt.Errorf("AUDIT LOG FAILED VERIFICATION against %s: %w", checkpointFile, err)
				}
				fmt.Fprintf(out, "checkpoint %s (%d entries) is a prefix of the log\n", checkpointFile, old.Size)
			}
			if inclusion >= 0 {
				entries, err := s.AuditEntries(inclusion, 1)
				if err != nil {
					return err
				}
				if len(entries) == 0 || inclusion >= cp.Size {
					return fmt.Errorf("--inclusion %d: there is no such entry: the log holds entries 0 to %d", inclusion, cp.Size-1)
				}
				raw, err := auditEntryBytes(entries[0])
				if err != nil {
					return err
				}
				p, err := s.ProveInclusion(inclusion, cp.Size)
				if err != nil {
					return err
				}
				if err := auditlog.CheckInclusion(p, cp, inclusion, raw); err != nil {
					return fmt.Errorf("inclusion of entry %d: %w", inclusion, err)
				}
				e := entries[0]
				fmt.Fprintf(out, "entry %d is in the log (%d hashes): %s %s by %s at %s\n", inclusion, len(p), e.Action, e.Subject, e.Actor, e.At.Format("2006-01-02 15:04:05Z"))
			}
			signed, err := s.SignedCheckpoint()
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "\nsigned checkpoint (keep it to check this log later with --checkpoint):\n%s", signed)
			return nil
		},
	}
	nodeDirFlag(cmd, &dir)
	cmd.Flags().StringVar(&checkpointFile, "checkpoint", "", "a signed checkpoint saved earlier, to check against today's log")
	cmd.Flags().Int64Var(&inclusion, "inclusion", -1, "prove and check that the entry at this index is in the log")
	return cmd
}

func authorityPublicKey(sc storage.Config) (ed25519.PublicKey, error) {
	key, err := storage.LoadAuthorityKey(sc.KeysDir + "/" + storage.AuthorityKeyFile)
	if err != nil {
		return nil, err
	}
	return key.Public().(ed25519.PublicKey), nil
}

// checkWitnessHistory checks every checkpoint in the witness file since the
// last rebase against the verified log, and returns how many it checked.
func checkWitnessHistory(s *storage.Store, sc storage.Config, cp auditlog.Checkpoint, pub ed25519.PublicKey) (int, error) {
	b, err := os.ReadFile(sc.KeysDir + "/" + storage.WitnessFile)
	if err != nil {
		return 0, err
	}
	var since []auditlog.Checkpoint
	err = auditlog.ReadWitness(bytes.NewReader(b), cp.Origin, pub, func(r auditlog.WitnessRecord) error {
		if r.Rebase {
			since = since[:0]
		}
		since = append(since, r.Checkpoint)
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, old := range since {
		if err := checkConsistent(s, old, cp); err != nil {
			return 0, fmt.Errorf("witnessed checkpoint of %d entries: %w", old.Size, err)
		}
	}
	return len(since), nil
}

func checkConsistent(s *storage.Store, old, cur auditlog.Checkpoint) error {
	if old.Size > cur.Size {
		return fmt.Errorf("%w: the log holds %d entries but %d were checkpointed", auditlog.ErrRolledBack, cur.Size, old.Size)
	}
	p, err := s.ProveConsistency(old.Size, cur.Size)
	if err != nil {
		return err
	}
	return auditlog.CheckConsistency(p, old, cur)
}

// auditEntryBytes returns the canonical bytes of an entry, as the log stores them.
func auditEntryBytes(e v1.AuditEntry) ([]byte, error) { return v1.Marshal(&e) }
