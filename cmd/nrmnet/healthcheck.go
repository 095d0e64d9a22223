package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"
)

// newHealthcheckCommand is `nrmnet healthcheck`: a probe for container
// runtimes whose images have no shell and no curl (the FROM scratch image).
// It asks one of the node's own health endpoints and exits 0 on a 2xx answer.
func newHealthcheckCommand() *cobra.Command {
	var (
		target  string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Probe a node's /healthz or /readyz; exit 0 when it answers 2xx",
		Long: `healthcheck sends one GET to --url and exits 0 if the answer is 2xx within
--timeout, 1 otherwise, naming what went wrong. It is meant for Docker's
HEALTHCHECK in an image without a shell: point it at the node's /readyz
(ready once the store is open and every member has been tried) or /healthz
(serving at all). Only http URLs on the node itself make sense here; it sends
no token and reads at most 4 KiB of the answer.`,
		Example: `  nrmnet healthcheck --url http://127.0.0.1:8080/readyz
  nrmnet healthcheck --url http://127.0.0.1:8080/healthz --timeout 2s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			u, err := url.Parse(target)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("healthcheck: --url %q is not an http(s) URL such as http://127.0.0.1:8080/readyz", target)
			}
			if timeout <= 0 {
				return errors.New("healthcheck: --timeout must be positive, e.g. 3s")
			}
			ctx, cancel := context.WithTimeout(contextOf(cmd), timeout)
			defer cancel()
			return probe(ctx, u.String())
		},
	}
	cmd.Flags().StringVar(&target, "url", "http://127.0.0.1:8080/readyz", "the endpoint to probe")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	return cmd
}

// probe GETs target and returns nil on a 2xx answer.
func probe(ctx context.Context, target string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	client := &http.Client{
		// A health endpoint never redirects; following one would probe
		// something else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("healthcheck: %s answered %s: %q", target, resp.Status, body)
	}
	return nil
}
