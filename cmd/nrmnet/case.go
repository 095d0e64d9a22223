package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// The parts of the API's case answers the commands print.
type (
	apiDeadline struct {
		Kind string    `json:"kind"`
		Name string    `json:"name"`
		Due  time.Time `json:"due"`
		Met  bool      `json:"met"`
	}
	apiCase struct {
		ID           string     `json:"id"`
		ChildID      string     `json:"child_id"`
		Revision     uint64     `json:"revision"`
		State        string     `json:"state"`
		Responsible  string     `json:"responsible"`
		LeadWorker   string     `json:"lead_worker"`
		NextDeadline *time.Time `json:"next_deadline"`
		Identity     struct {
			Names []struct {
				Kind   string `json:"kind"`
				Given  string `json:"given"`
				Family string `json:"family"`
			} `json:"names"`
			DateOfBirth *struct {
				Date      string `json:"date"`
				Estimated bool   `json:"estimated"`
			} `json:"date_of_birth"`
			Sex         string `json:"sex"`
			AgeDisputed bool   `json:"age_disputed"`
		} `json:"identity"`
		Referral struct {
			ReferredAt        time.Time `json:"referred_at"`
			FirstResponderOrg string    `json:"first_responder_org"`
			ExploitationTypes []string  `json:"exploitation_types"`
			CountyLines       bool      `json:"county_lines"`
			PresentingIssue   string    `json:"presenting_issue"`
		} `json:"referral"`
		Risk []struct {
			Rating string `json:"rating"`
			Stage  string `json:"stage"`
		} `json:"risk"`
		Wishes []struct {
			RecordedAt time.Time `json:"recorded_at"`
			RecordedBy string    `json:"recorded_by"`
			Views      string    `json:"views"`
		} `json:"wishes_and_feelings"`
		Decisions []struct {
			Stage     string    `json:"stage"`
			Outcome   string    `json:"outcome"`
			DecidedAt time.Time `json:"decided_at"`
			Reasons   string    `json:"reasons"`
		} `json:"decisions"`
	}
	apiCaseResponse struct {
		Case          apiCase       `json:"case"`
		Deadlines     []apiDeadline `json:"deadlines"`
		AllowedEvents []string      `json:"allowed_events"`
		Scope         *struct {
			InScope bool   `json:"in_scope"`
			Reason  string `json:"reason"`
		} `json:"scope"`
	}
	apiCaseSummary struct {
		ID           string     `json:"id"`
		State        string     `json:"state"`
		LeadWorker   string     `json:"lead_worker"`
		NextDeadline *time.Time `json:"next_deadline"`
		Revision     uint64     `json:"revision"`
	}
	apiCaseDue struct {
		Case   string    `json:"case"`
		State  string    `json:"state"`
		Worker string    `json:"worker"`
		Due    time.Time `json:"due"`
	}
	apiDueCounts struct {
		Overdue int `json:"overdue"`
		DueSoon int `json:"due_soon"`
	}
	apiDueReport struct {
		At            time.Time               `json:"at"`
		WithinSeconds int64                   `json:"due_soon_within_seconds"`
		CountsOnly    bool                    `json:"counts_only"`
		Overdue       []apiCaseDue            `json:"overdue"`
		DueSoon       []apiCaseDue            `json:"due_soon"`
		ByWorker      map[string]apiDueCounts `json:"by_worker"`
		ByAuthority   map[string]apiDueCounts `json:"by_authority"`
	}
)

const timeLayout = "Mon 2 Jan 2006 15:04 MST"

// london is where times are shown: the NRM is a UK process.
var london = func() *time.Location {
	if loc, err := time.LoadLocation("Europe/London"); err == nil {
		return loc
	}
	return time.UTC
}()

func showTime(t time.Time) string { return t.In(london).Format(timeLayout) }

func newCaseCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "case",
		Short: "Create, read, list and work NRM cases through a node's API",
		Long: `case works with the node's cases through its HTTP API (never the store directly),
as the user whose token is in NRMNET_TOKEN; what you may do depends on your role.
Every read of a case is recorded in the audit log with who you are, the purpose you
give and the legal basis.`,
	}
	cmd.AddCommand(newCaseCreateCommand(), newCaseShowCommand(), newCaseListCommand(),
		newCaseOverdueCommand(), newCaseEventCommand(), newCaseViewsCommand(), newCaseRecordCommand())
	return cmd
}

// readJSONArg reads a JSON document from a file, or stdin for "-".
func readJSONArg(cmd *cobra.Command, path string) (json.RawMessage, error) {
	var r io.Reader
	if path == "-" {
		r = cmd.InOrStdin()
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, 4<<20))
	if err != nil {
		return nil, err
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("%s is not valid JSON", path)
	}
	return json.RawMessage(b), nil
}

func newCaseCreateCommand() *cobra.Command {
	var o clientOptions
	var file string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Take a referral: create a case from a JSON file",
		Long: `create sends a referral (the body of POST /v1/cases, described in /v1/openapi) and
prints the new case's ID, its first deadlines and what the scope rule says.`,
		Example: `  cat > referral.json <<'JSON'
  {"identity": {"names": [{"kind": "used", "given": "Thi", "family": "Nguyen"}], "sex": "female",
                "date_of_birth": {"date": "2010-09-01", "estimated": true, "uncertainty_days": 180}},
   "referral": {"referred_at": "2025-03-03T09:00:00Z", "first_responder_org": "Islington Children's Services",
                "first_responder_type": "local_authority", "exploitation_types": ["labour"],
                "exploitation_location": "both", "source": "school", "presenting_issue": "nail bar"},
   "risk": "amber"}
  JSON
  nrmnet case create --file referral.json`,
		Args: cobra.NoArgs,
		RunE: o.withClient(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			body, err := readJSONArg(cmd, file)
			if err != nil {
				return err
			}
			if o.json {
				return c.call(cmd.Context(), "POST", "/v1/cases", nil, nil, body, nil, cmd.OutOrStdout())
			}
			var res apiCaseResponse
			if err := c.call(cmd.Context(), "POST", "/v1/cases", nil, nil, body, &res, nil); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Created case %s (%s, revision %d, lead worker %s)\n", res.Case.ID, res.Case.State, res.Case.Revision, orDash(res.Case.LeadWorker))
			if res.Scope != nil {
				verdict := "out of scope or needs a person's decision"
				if res.Scope.InScope {
					verdict = "in scope for a devolved decision"
				}
				fmt.Fprintf(out, "Scope rule: %s: %s\n", verdict, res.Scope.Reason)
			}
			printDeadlines(out, res.Deadlines)
			return nil
		}),
	}
	o.register(cmd)
	cmd.Flags().StringVar(&file, "file", "", "the referral as JSON; - reads stdin (required)")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

func printDeadlines(out io.Writer, ds []apiDeadline) {
	if len(ds) == 0 {
		return
	}
	fmt.Fprintln(out, "Deadlines:")
	for _, d := range ds {
		mark := "due"
		if d.Met {
			mark = "met"
		}
		fmt.Fprintf(out, "  %-40s %s %s\n", d.Name, mark, showTime(d.Due))
	}
}

func newCaseShowCommand() *cobra.Command {
	var o clientOptions
	var purpose, basis string
	cmd := &cobra.Command{
		Use:   "show CASE_ID",
		Short: "Read one case (you must say why; the read is audited)",
		Example: `  nrmnet case show ISL-3f9a0c1b2d4e5f60 --purpose "prepare for Thursday's panel"
  nrmnet case show ISL-3f9a0c1b2d4e5f60 --purpose "strategy meeting" --json`,
		Args: cobra.ExactArgs(1),
		RunE: o.withClient(func(cmd *cobra.Command, c *apiClient, args []string) error {
			h := http.Header{}
			h.Set("Nrmnet-Purpose", purpose)
			if basis != "" {
				h.Set("Nrmnet-Legal-Basis", basis)
			}
			path := "/v1/cases/" + pathEscape(args[0])
			if o.json {
				return c.call(cmd.Context(), "GET", path, nil, h, nil, nil, cmd.OutOrStdout())
			}
			var res apiCaseResponse
			if err := c.call(cmd.Context(), "GET", path, nil, h, nil, &res, nil); err != nil {
				return err
			}
			printCase(cmd.OutOrStdout(), res)
			return nil
		}),
	}
	o.register(cmd)
	cmd.Flags().StringVar(&purpose, "purpose", "", "why you are reading the case; recorded in the audit log (required)")
	cmd.Flags().StringVar(&basis, "basis", "", "legal basis: dpa2018-sch1-para18 (default), ukgdpr-6-1-e, ukgdpr-6-1-c or ukgdpr-6-1-d")
	_ = cmd.MarkFlagRequired("purpose")
	return cmd
}

func printCase(out io.Writer, res apiCaseResponse) {
	c := res.Case
	fmt.Fprintf(out, "Case %s  (%s, revision %d)\n", c.ID, c.State, c.Revision)
	var names []string
	for _, n := range c.Identity.Names {
		names = append(names, strings.TrimSpace(n.Given+" "+n.Family)+" ("+n.Kind+")")
	}
	fmt.Fprintf(out, "  Child:        %s\n", strings.Join(names, ", "))
	if d := c.Identity.DateOfBirth; d != nil {
		est := ""
		if d.Estimated {
			est = " (estimated)"
		}
		fmt.Fprintf(out, "  Born:         %s%s\n", d.Date, est)
	}
	if c.Identity.AgeDisputed {
		fmt.Fprintln(out, "  Age:          disputed")
	}
	fmt.Fprintf(out, "  Responsible:  %s, lead worker %s\n", c.Responsible, orDash(c.LeadWorker))
	types := strings.Join(c.Referral.ExploitationTypes, ", ")
	if c.Referral.CountyLines {
		types += " (county lines)"
	}
	fmt.Fprintf(out, "  Referred:     %s by %s: %s; %s\n", showTime(c.Referral.ReferredAt), c.Referral.FirstResponderOrg, types, c.Referral.PresentingIssue)
	if n := len(c.Risk); n > 0 {
		fmt.Fprintf(out, "  Risk:         %s (%s)\n", c.Risk[n-1].Rating, c.Risk[n-1].Stage)
	}
	for _, d := range c.Decisions {
		fmt.Fprintf(out, "  Decision:     %s %s on %s: %s\n", d.Stage, d.Outcome, showTime(d.DecidedAt), oneLine(d.Reasons))
	}
	for _, w := range c.Wishes {
		fmt.Fprintf(out, "  Child's view: %q (recorded by %s, %s)\n", oneLine(w.Views), w.RecordedBy, showTime(w.RecordedAt))
	}
	printDeadlines(out, res.Deadlines)
	if len(res.AllowedEvents) > 0 {
		fmt.Fprintf(out, "Allowed now: %s\n", strings.Join(res.AllowedEvents, ", "))
	}
}

func newCaseListCommand() *cobra.Command {
	var o clientOptions
	var state, worker, cursor, purpose string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List cases (summaries only: no names)",
		Example: `  nrmnet case list
  nrmnet case list --state rg_pending --worker a.khan`,
		Args: cobra.NoArgs,
		RunE: o.withClient(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"state": state, "lead_worker": worker, "cursor": cursor} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			h := http.Header{}
			if purpose != "" {
				h.Set("Nrmnet-Purpose", purpose)
			}
			if o.json {
				return c.call(cmd.Context(), "GET", "/v1/cases", q, h, nil, nil, cmd.OutOrStdout())
			}
			var res struct {
				Cases []apiCaseSummary `json:"cases"`
				Next  string           `json:"next"`
			}
			if err := c.call(cmd.Context(), "GET", "/v1/cases", q, h, nil, &res, nil); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CASE\tSTATE\tLEAD WORKER\tNEXT DEADLINE\tREV")
			for _, s := range res.Cases {
				due := "-"
				if s.NextDeadline != nil {
					due = showTime(*s.NextDeadline)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", s.ID, s.State, orDash(s.LeadWorker), due, s.Revision)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if res.Next != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "More: nrmnet case list --cursor %s\n", res.Next)
			}
			return nil
		}),
	}
	o.register(cmd)
	cmd.Flags().StringVar(&state, "state", "", "only cases in this state, e.g. rg_pending")
	cmd.Flags().StringVar(&worker, "worker", "", "only cases of this lead worker (user ID)")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many (default 100, at most 1000)")
	cmd.Flags().StringVar(&cursor, "cursor", "", "continue a list where the last page ended")
	cmd.Flags().StringVar(&purpose, "purpose", "", "why you are listing; recorded in the audit log (default \"case list\")")
	return cmd
}

func newCaseOverdueCommand() *cobra.Command {
	var o clientOptions
	var worker string
	cmd := &cobra.Command{
		Use:   "overdue",
		Short: "List overdue and due-soon cases, per worker and per authority",
		Example: `  nrmnet case overdue
  nrmnet case overdue --worker a.khan`,
		Args: cobra.NoArgs,
		RunE: o.withClient(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			q := url.Values{}
			if worker != "" {
				q.Set("worker", worker)
			}
			if o.json {
				return c.call(cmd.Context(), "GET", "/v1/overdue", q, nil, nil, nil, cmd.OutOrStdout())
			}
			var res apiDueReport
			if err := c.call(cmd.Context(), "GET", "/v1/overdue", q, nil, nil, &res, nil); err != nil {
				return err
			}
			printDueReport(cmd.OutOrStdout(), res)
			return nil
		}),
	}
	o.register(cmd)
	cmd.Flags().StringVar(&worker, "worker", "", "only this lead worker's cases (user ID)")
	return cmd
}

func printDueReport(out io.Writer, r apiDueReport) {
	within := time.Duration(r.WithinSeconds) * time.Second
	fmt.Fprintf(out, "At %s (due soon: within %s)\n", showTime(r.At), within)
	if !r.CountsOnly {
		for _, sec := range []struct {
			title string
			list  []apiCaseDue
		}{{"Overdue", r.Overdue}, {"Due soon", r.DueSoon}} {
			fmt.Fprintf(out, "%s: %d\n", sec.title, len(sec.list))
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			for _, d := range sec.list {
				fmt.Fprintf(tw, "  %s\t%s\t%s\tdue %s\n", d.Case, d.State, orDash(d.Worker), showTime(d.Due))
			}
			tw.Flush()
		}
		fmt.Fprintln(out, "By worker:")
		for _, w := range sortedKeys(r.ByWorker) {
			fmt.Fprintf(out, "  %-20s overdue %d, due soon %d\n", orDash(w), r.ByWorker[w].Overdue, r.ByWorker[w].DueSoon)
		}
	}
	fmt.Fprintln(out, "By authority:")
	for _, a := range sortedKeys(r.ByAuthority) {
		fmt.Fprintf(out, "  %-20s overdue %d, due soon %d\n", a, r.ByAuthority[a].Overdue, r.ByAuthority[a].DueSoon)
	}
}

func newCaseEventCommand() *cobra.Command {
	var o clientOptions
	var typ, data string
	var revision uint64
	cmd := &cobra.Command{
		Use:   "event CASE_ID",
		Short: "Apply a workflow event to a case (from the revision you last saw)",
		Long: `event moves a case through the NRM process. --revision is the revision you last
saw: if someone changed the case since, the node refuses (revision_conflict) rather
than overwrite their change; show the case again and redo yours. The event types and
their data are in /v1/openapi (EventRequest); 'case show' lists the events allowed now.`,
		Example: `  nrmnet case event ISL-3f9a0c1b2d4e5f60 --revision 1 --type start_scope_check
  nrmnet case event ISL-3f9a0c1b2d4e5f60 --revision 2 --type record_scope --data '{"in_scope": true, "reason": "13 years old"}'
  nrmnet case event ISL-3f9a0c1b2d4e5f60 --revision 3 --type record_rg_decision \
    --data '{"outcome": "positive", "reasons": "...", "child_views": "..."}'
  nrmnet case event CMD-3f9a0c1b2d4e5f60 --revision 7 --type assign_lead_worker --data '{"lead_worker": "sw-0042"}'`,
		Args: cobra.ExactArgs(1),
		RunE: o.withClient(func(cmd *cobra.Command, c *apiClient, args []string) error {
			body := map[string]any{"revision": revision, "type": typ}
			if data != "" {
				if !json.Valid([]byte(data)) {
					return fmt.Errorf("--data is not valid JSON")
				}
				body["data"] = json.RawMessage(data)
			}
			return caseWrite(cmd, c, o.json, "/v1/cases/"+pathEscape(args[0])+"/events", body)
		}),
	}
	o.register(cmd)
	cmd.Flags().StringVar(&typ, "type", "", "the event type, e.g. record_rg_decision (required)")
	cmd.Flags().Uint64Var(&revision, "revision", 0, "the revision of the case you are changing (required)")
	cmd.Flags().StringVar(&data, "data", "", "the event's fields as a JSON object")
	_ = cmd.MarkFlagRequired("type")
	_ = cmd.MarkFlagRequired("revision")
	return cmd
}

func newCaseViewsCommand() *cobra.Command {
	var o clientOptions
	var views, how string
	var revision uint64
	cmd := &cobra.Command{
		Use:     "views CASE_ID",
		Short:   "Record the child's wishes and feelings",
		Example: `  nrmnet case views ISL-3f9a0c1b2d4e5f60 --views "Wants to stay at her school." --how-considered "Placement kept local."`,
		Args:    cobra.ExactArgs(1),
		RunE: o.withClient(func(cmd *cobra.Command, c *apiClient, args []string) error {
			body := map[string]any{"views": views}
			if how != "" {
				body["how_considered"] = how
			}
			if revision != 0 {
				body["revision"] = revision
			}
			return caseWrite(cmd, c, o.json, "/v1/cases/"+pathEscape(args[0])+"/views", body)
		}),
	}
	o.register(cmd)
	cmd.Flags().StringVar(&views, "views", "", "the child's views, in their words where possible (required)")
	cmd.Flags().StringVar(&how, "how-considered", "", "how they were taken into account")
	cmd.Flags().Uint64Var(&revision, "revision", 0, "the revision you saw (default: add to the latest)")
	_ = cmd.MarkFlagRequired("views")
	return cmd
}

// caseWrite posts a change and prints the case's new state.
func caseWrite(cmd *cobra.Command, c *apiClient, raw bool, path string, body any) error {
	if raw {
		return c.call(cmd.Context(), "POST", path, nil, nil, body, nil, cmd.OutOrStdout())
	}
	var res apiCaseResponse
	if err := c.call(cmd.Context(), "POST", path, nil, nil, body, &res, nil); err != nil {
		if isAPIError(err, "revision_conflict") {
			return fmt.Errorf("%w\nsomeone changed the case since you read it: run 'nrmnet case show' again and redo your change", err)
		}
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "Case %s is now %s, revision %d\n", res.Case.ID, res.Case.State, res.Case.Revision)
	if d := res.Case.NextDeadline; d != nil {
		fmt.Fprintf(out, "Next deadline: %s\n", showTime(*d))
	}
	return nil
}

func pathEscape(s string) string { return url.PathEscape(s) }

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
