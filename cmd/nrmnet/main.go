// Command nrmnet runs an authority's node and administers it. main stays thin:
// signals become a context, the command tree runs, and the exit code reports
// the outcome.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "nrmnet:", err)
		os.Exit(1)
	}
}
