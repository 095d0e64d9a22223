package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"nrmnet/storage"
)

func newBackupCommand() *cobra.Command {
	var dir, out, keysOut string
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Write an encrypted, authenticated backup of the node's data (and optionally its per-child keys)",
		Long: `backup writes the node's data directory (cases as ciphertext, indexes, the audit
log, the outbox) to one file, encrypted and authenticated under a key derived
from the node's storage key: a copy of keys/storage.key is needed to restore it.

The per-child data keys are NOT in the data backup. Back them up with
--keys-out into a separate file and keep it on short retention, apart from the
data backups: erasing a child deletes their key, and an old key backup is the
only thing that could bring an erased child's record back.

The node must be stopped: backup opens the store itself.`,
		Example: `  nrmnet backup --dir /var/lib/nrmnet --out /backup/isl-2026-11-22.nrmbak
  nrmnet backup --dir /var/lib/nrmnet --out data.nrmbak --keys-out childkeys.nrmkeys`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if out == "" {
				return fmt.Errorf("--out is required: the file to write the backup to")
			}
			s, _, err := openNodeStore(cmd, dir)
			if err != nil {
				return err
			}
			defer closeStore(s, &err)
			ctx := contextOf(cmd)
			var info storage.BackupInfo
			if err := writeFileAtomically(out, func(w io.Writer) error {
				var err error
				info, err = s.Backup(ctx, w, countPrinter(cmd, "data records"))
				return err
			}); err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d records, %d bytes, audit log of %d entries (root %s)\n",
				out, info.Records, info.Bytes, info.Checkpoint.Size, info.Checkpoint.Root)
			if keysOut != "" {
				if err := writeFileAtomically(keysOut, func(w io.Writer) error {
					var err error
					info, err = s.BackupKeys(ctx, w, countPrinter(cmd, "child keys"))
					return err
				}); err != nil {
					return fmt.Errorf("backup of child keys: %w", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d records, %d bytes (keep on short retention)\n", keysOut, info.Records, info.Bytes)
			}
			return nil
		},
	}
	nodeDirFlag(cmd, &dir)
	cmd.Flags().StringVar(&out, "out", "", "file to write the data backup to (required; must not exist)")
	cmd.Flags().StringVar(&keysOut, "keys-out", "", "also write the per-child keys to this file")
	return cmd
}

func newRestoreCommand() *cobra.Command {
	var dir, from, keysFrom string
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Restore the node's data (and optionally its per-child keys) from backups",
		Long: `restore reads a backup written by 'nrmnet backup' into the node's data directory,
which must be empty or absent: move the damaged one aside first. The whole
backup is authenticated before it is used. Children erased since the backup was
taken stay erased (the erasure ledger lives with the keys, not the data). The
audit log is verified, and the witness file records that the log was rolled
back to the backup's checkpoint, so the rollback stays visible to auditors.

--keys-from restores the per-child keys too (only after losing keys/childkeys).`,
		Example: `  mv /var/lib/nrmnet/data /var/lib/nrmnet/data.damaged
  nrmnet restore --dir /var/lib/nrmnet --from /backup/isl-2026-11-22.nrmbak`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" && keysFrom == "" {
				return fmt.Errorf("--from (a data backup) or --keys-from (a child-keys backup) is required")
			}
			cfg, err := loadNodeConfig(dir, os.LookupEnv)
			if err != nil {
				return err
			}
			sc := cfg.storeConfig(dir)
			ctx := contextOf(cmd)
			if keysFrom != "" {
				f, err := os.Open(keysFrom)
				if err != nil {
					return err
				}
				err = storage.RestoreKeys(ctx, sc, f, countPrinter(cmd, "child keys"))
				f.Close()
				if err != nil {
					return fmt.Errorf("restore child keys from %s: %w", keysFrom, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "restored child keys from %s\n", keysFrom)
			}
			if from != "" {
				f, err := os.Open(from)
				if err != nil {
					return err
				}
				err = storage.Restore(ctx, sc, f, countPrinter(cmd, "data records"))
				f.Close()
				if err != nil {
					return fmt.Errorf("restore from %s: %w", from, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "restored %s into %s; run 'nrmnet audit verify' to see the log\n", from, sc.DataDir)
			}
			return nil
		},
	}
	nodeDirFlag(cmd, &dir)
	cmd.Flags().StringVar(&from, "from", "", "the data backup file")
	cmd.Flags().StringVar(&keysFrom, "keys-from", "", "a child-keys backup file")
	return cmd
}

// countPrinter shows a running count on stderr.
func countPrinter(cmd *cobra.Command, what string) func(int64) {
	w := cmd.ErrOrStderr()
	var last int64
	return func(done int64) {
		if done-last >= 1000 {
			last = done
			fmt.Fprintf(w, "\r%s: %d", what, done)
		}
	}
}

// writeFileAtomically writes a new file (mode 0600) through a temporary file,
// syncs it and links it into place, refusing to replace an existing file
// (the link fails if one appeared meanwhile; where hard links are not
// supported it renames instead), then syncs the directory so the new name
// survives a power cut.
func writeFileAtomically(path string, write func(io.Writer) error) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s already exists; choose a new file name", path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.partial")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists; choose a new file name", path)
		}
		// No hard links here (some network shares): rename, which would
		// replace a file created since the check above.
		if _, serr := os.Stat(path); serr == nil {
			return fmt.Errorf("%s already exists; choose a new file name", path)
		}
		if err := os.Rename(tmp.Name(), path); err != nil {
			return err
		}
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	// Some file systems (network shares) cannot sync a directory; the file
	// itself is synced already.
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return fmt.Errorf("sync directory of %s: %w", path, err)
	}
	return nil
}
