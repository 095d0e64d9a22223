package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
)

func newRunCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the node: join the region's federation and serve its pages",
		Long: `run starts the authority's node from its directory: it opens the encrypted
store, joins the region's federation over libp2p (admitting only the members
of the signed roster), and serves over HTTP:

  /             the node's pages: the region's federation view, the case list
  /metrics      Prometheus metrics (counts and health, never case content)
  /healthz      200 while the process is serving
  /readyz       200 once the store is open and every member has been tried

It logs to stderr (JSON by default, see log: in config.yaml) and runs until
SIGINT or SIGTERM, then stops in order: HTTP, federation, store.

config.yaml needs, besides what init writes:

  federation:
    listen: [/ip4/0.0.0.0/tcp/4001, /ip4/0.0.0.0/udp/4001/quic-v1]
    roster_file: region.roster      # the region's signed roster
    anchors: [ed25519:..., ed25519:...]
    threshold: 2
  http:
    listen: 127.0.0.1:8080`,
		Example: `  nrmnet run --dir /var/lib/nrmnet
  NRMNET_HTTP_LISTEN=127.0.0.1:9090 nrmnet run --dir ./isl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadNodeConfig(dir, os.LookupEnv)
			if err != nil {
				return err
			}
			log := newLogger(cmd.ErrOrStderr(), cfg.Log)
			ctx := contextOf(cmd)
			n, err := startNode(ctx, dir, cfg, startOptions{Logger: log})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "nrmnet %s: %s node serving on http://%s (Ctrl-C to stop)\n", buildVersion(), cfg.Authority, n.HTTPAddr())
			select {
			case <-ctx.Done():
				log.Info("shutting down", "reason", "signal")
			case err := <-n.Failed():
				_ = n.Close()
				return fmt.Errorf("http server: %w", err)
			}
			return n.Close()
		},
	}
	nodeDirFlag(cmd, &dir)
	return cmd
}

// newLogger returns the node's structured logger as config.yaml's log:
// section asks: JSON or text, at the given level.
func newLogger(w io.Writer, c logConfig) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
