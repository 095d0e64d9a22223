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
	cmd.AddCommand(newReportQuarterlyCommand())
	return cmd
}

func newReportQuarterlyCommand() *cobra.Command {
	var o clientOptions
	var quarter, format, out string
	cmd := &cobra.Command{
		Use:   "quarterly",
		Short: "The quarterly return in the Home Office statistics' categories, as CSV or JSON",
		Long: `quarterly asks the node for the quarterly return: referrals by exploitation type, sex,
age group, nationality and first-responder type; RG and CG decisions issued and the
share positive; cases awaiting CG and for how long; reconsiderations. Counts below the
suppression threshold are shown as "<5". The node reads every case to build it, and
each read is audited in your name. Roles: nrm_coordinator, regional_coordinator.`,
		Example: `  nrmnet report quarterly --quarter 2026-Q3 > 2026-Q3.csv
  nrmnet report quarterly --quarter 2026-Q3 --format json --out 2026-Q3.json`,
		Args: cobra.NoArgs,
		RunE: o.withClient(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			if format != "csv" && format != "json" {
				return fmt.Errorf("--format %q: want csv or json", format)
			}
			q := url.Values{"quarter": {quarter}, "format": {format}}
			fmt.Fprintf(cmd.ErrOrStderr(), "Building the %s return: the node reads every case (about a minute per 50,000 cases)...\n", quarter)
			if out == "" || out == "-" {
				return c.call(cmd.Context(), "GET", "/v1/reports/quarterly", q, nil, nil, nil, rawWriter{cmd.OutOrStdout()})
			}
			err := writeFileAtomically(out, func(w io.Writer) error {
				return c.call(cmd.Context(), "GET", "/v1/reports/quarterly", q, nil, nil, nil, rawWriter{w})
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Wrote the %s return to %s\n", quarter, out)
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
