package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

func newInitCommand() *cobra.Command {
	var dir, code, adminID, adminName string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a new node directory: configuration, keys and an empty encrypted store",
		Long: `init creates a node directory for one authority:

  config.yaml      the node's configuration (edit it, or override from NRMNET_* variables)
  keys/            the storage key, the authority's signing key, per-child keys and the
                   audit witness file; keep it apart from data/ in backups
  data/            the encrypted Badger store: cases, indexes, the audit log, the outbox

It also creates the first administrator and prints their token, once: the node
keeps only its hash. Store it safely; the administrator adds the other users with
'nrmnet user add'.

It refuses to touch a directory that already holds a node.`,
		Example: `  nrmnet init --dir /var/lib/nrmnet --authority ISL`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			a := v1.AuthorityCode(code)
			info, ok := authority.Lookup(a)
			if !ok {
				return fmt.Errorf("--authority %q is not the code of a listed authority (for example ISL for Islington)", code)
			}
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return err
			}
			cfgPath := filepath.Join(dir, ConfigFile)
			if _, err := os.Stat(cfgPath); err == nil {
				return fmt.Errorf("%s already exists: %s holds a node already", cfgPath, dir)
			}
			cfg := defaultNodeConfig(a)
			sc := cfg.storeConfig(dir)
			if err := storage.CreateKeys(sc.KeysDir); err != nil {
				if errors.Is(err, storage.ErrExists) {
					return fmt.Errorf("%s already holds keys; refusing to replace them: %w", sc.KeysDir, err)
				}
				return err
			}
			s, err := storage.Open(sc)
			if err != nil {
				return err
			}
			admin, token, err := addFirstAdministrator(cmd.Context(), s, a, adminID, adminName)
			if err := errors.Join(err, s.Close()); err != nil {
				return err
			}
			if err := writeNodeConfig(cfgPath, cfg); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Created a node for %s (%s, %s) in %s\n", info.Name, info.Code, info.Region, absDir(dir))
			fmt.Fprintf(out, "  keys: %s (back these up separately from data/)\n", sc.KeysDir)
			fmt.Fprintf(out, "  data: %s\n", sc.DataDir)
			printFirstAdministrator(out, admin, token)
			return nil
		},
	}
	nodeDirFlag(cmd, &dir)
	cmd.Flags().StringVar(&code, "authority", "", "the authority's three-letter code, e.g. ISL (required)")
	_ = cmd.MarkFlagRequired("authority")
	cmd.Flags().StringVar(&adminID, "admin-id", "admin", "login name of the first administrator, whose token init prints once")
	cmd.Flags().StringVar(&adminName, "admin-name", "Node administrator", "name of the first administrator")
	return cmd
}
