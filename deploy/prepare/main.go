// Command prepare makes the node directories of the region deploy/compose.yaml
// runs (five London authorities, the tri-borough combined panel), using the
// nrmnet binary for init and the roster commands:
//
//	CGO_ENABLED=0 go build -trimpath -o deploy/nrmnet ./cmd/nrmnet
//	go run ./deploy/prepare --bin deploy/nrmnet --dir deploy/region-data --uid 10001 --gid 10001
//	NRMNET_REGION_DIR=./region-data docker-compose -f deploy/compose.yaml up -d
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"nrmnet/deploy/region"
)

func main() {
	cfg := region.DefaultConfig()
	flag.StringVar(&cfg.Dir, "dir", "", "directory to prepare the region in (must not exist or be empty)")
	flag.StringVar(&cfg.Binary, "bin", cfg.Binary, "the nrmnet binary to run init and the roster commands with")
	flag.IntVar(&cfg.UID, "uid", cfg.UID, "owner to give every file (the container's user, 10001 in deploy/Dockerfile); -1 leaves it")
	flag.IntVar(&cfg.GID, "gid", cfg.GID, "group to give every file; -1 leaves it")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	p, err := region.Prepare(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "prepare:", err)
		os.Exit(1)
	}
	fmt.Printf("Region %s prepared in %s (roster %s, signed by %d anchors)\n", p.Region, cfg.Dir, p.Roster, len(p.Anchors))
	for _, n := range p.Nodes {
		fmt.Printf("  %s  %-4s %s\n", n.Code, n.Host, n.PeerID)
	}
	fmt.Printf("Administrators' tokens are in %s/%s (mode 0600).\n", cfg.Dir, region.TokensFile)
}
