package main

import (
	"fmt"
	"io"
	"net/url"

	"github.com/spf13/cobra"
)

func newReportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Management information: aggregate figures that identify no child",
	}
	cmd.AddCommand(newReportQuarterlyCommand(), newReportReferralsCommand())
	return cmd
}

func newReportQuarterlyCommand() *cobra.Command {
	return newReportFetchCommand(reportFetch{
		use:   "quarterly",
		what:  "return",
		path:  "/v1/reports/quarterly",
		short: "The quarterly return in the Home Office statistics' categories, as CSV or JSON",
		long: `quarterly asks the node for the quarterly return: referrals by exploitation type, sex,
age group, nationality and first-responder type; RG and CG decisions issued and the
share positive; cases awaiting CG and for how long; reconsiderations. Counts below the
suppression threshold are shown as "<5". The node reads every case in one bulk read,
audited once in your name. Roles: nrm_coordinator, regional_coordinator.`,
		example: `  nrmnet report quarterly --quarter 2026-Q3 > 2026-Q3.csv
  nrmnet report quarterly --quarter 2026-Q3 --format json --out 2026-Q3.json`,
	})
}

func newReportReferralsCommand() *cobra.Command {
	return newReportFetchCommand(reportFetch{
		use:   "referrals",
		what:  "per-referral dataset",
		path:  "/v1/reports/referrals",
		short: "The per-referral dataset for a quarter: source, presenting issue, RAG, outcome, time taken",
		long: `referrals asks the node for its per-referral management information: one row per
referral received in the quarter, with the source of referral, the presenting issue, the
RAG rating before and after the multi-agency discussion, the outcome and the time taken
in working days. It holds no name, date of birth or case ID, but it is not suppressed,
so it is the authority's own: only the nrm_coordinator may read it. The node reads every
case in one bulk read, audited once in your name.`,
		example: `  nrmnet report referrals --quarter 2026-Q3 --out referrals-2026-Q3.csv
  nrmnet report referrals --quarter 2026-Q3 --format json`,
	})
}

// reportFetch describes a report the node builds and the CLI fetches.
type reportFetch struct {
	use, what, path, short, long, example string
}

func newReportFetchCommand(r reportFetch) *cobra.Command {
	var o clientOptions
	var quarter, format, out string
	cmd := &cobra.Command{
		Use:     r.use,
		Short:   r.short,
		Long:    r.long,
		Example: r.example,
		Args:    cobra.NoArgs,
		RunE: o.withClient(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			if format != "csv" && format != "json" {
				return fmt.Errorf("--format %q: want csv or json", format)
			}
			q := url.Values{"quarter": {quarter}, "format": {format}}
			fmt.Fprintf(cmd.ErrOrStderr(), "Building the %s %s: the node reads every case...\n", quarter, r.what)
			if out == "" || out == "-" {
				return c.call(cmd.Context(), "GET", r.path, q, nil, nil, nil, rawWriter{cmd.OutOrStdout()})
			}
			err := writeFileAtomically(out, func(w io.Writer) error {
				return c.call(cmd.Context(), "GET", r.path, q, nil, nil, nil, rawWriter{w})
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Wrote the %s %s to %s\n", quarter, r.what, out)
			return nil
		}),
	}
	o.register(cmd)
	cmd.Flags().StringVar(&quarter, "quarter", "", "the quarter, e.g. 2026-Q3 (July to September 2026) (required)")
	cmd.Flags().StringVar(&format, "format", "csv", "csv or json")
	cmd.Flags().StringVarP(&out, "out", "o", "", "write to this file instead of standard output")
	_ = cmd.MarkFlagRequired("quarter")
	_ = cmd.Flags().MarkHidden("json") // the format flag says it
	return cmd
}

// rawWriter marks a writer that takes the answer's bytes as they are
// (call pretty-prints JSON answers otherwise).
type rawWriter struct{ io.Writer }

func newCaseRecordCommand() *cobra.Command {
	var o clientOptions
	var format, out, purpose string
	cmd := &cobra.Command{
		Use:   "record CASE_ID",
		Short: "The child's own record: their case in plain language, as HTML or text",
		Example: `  nrmnet case record ISL-3f9a0c1b2d4e5f60 --out record.html
  nrmnet case record ISL-3f9a0c1b2d4e5f60 --format text`,
		Args: cobra.ExactArgs(1),
		RunE: o.withClient(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if format != "html" && format != "text" {
				return fmt.Errorf("--format %q: want html or text", format)
			}
			q := url.Values{"format": {format}}
			h := map[string][]string{}
			if purpose != "" {
				h["Nrmnet-Purpose"] = []string{purpose}
			}
			path := "/v1/cases/" + pathEscape(args[0]) + "/child-record"
			if out == "" || out == "-" {
				return c.call(cmd.Context(), "GET", path, q, h, nil, nil, rawWriter{cmd.OutOrStdout()})
			}
			return writeFileAtomically(out, func(w io.Writer) error {
				return c.call(cmd.Context(), "GET", path, q, h, nil, nil, rawWriter{w})
			})
		}),
	}
	o.register(cmd)
	cmd.Flags().StringVar(&format, "format", "html", "html or text")
	cmd.Flags().StringVarP(&out, "out", "o", "", "write to this file instead of standard output")
	cmd.Flags().StringVar(&purpose, "purpose", "", "why; recorded in the audit log (default \"the child's own record\")")
	_ = cmd.Flags().MarkHidden("json")
	return cmd
}
