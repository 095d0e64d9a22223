package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"nrmnet/node"
	v1 "nrmnet/schemas/v1"
)

// ReferralDesk is what the new-referral page calls: the node's
// CreateReferral, behind its role table. Errors match node's sentinels
// (node.ErrForbidden, node.ErrInvalid, ...).
type ReferralDesk interface {
	CreateReferral(ctx context.Context, who Principal, r node.NewReferral) (*node.CreatedReferral, error)
}

// ReferralGate is a ReferralDesk that can ask the node whether who may take
// a referral, before the form is shown and before a posted form is read: nil
// if so, otherwise an error matching node.ErrForbidden once the node has
// recorded the refusal in its audit log, as it records a refused
// CreateReferral (node.Node.Authorize with node.CanCreateCase,
// v1.ActionCaseCreate and the subject "new case", the check CreateReferral
// makes). With a desk that is not a ReferralGate the page refuses on the
// role table alone, and that refusal is not audited.
type ReferralGate interface {
	MayCreateReferral(ctx context.Context, who Principal) error
}

// Limits on the new-referral form.
const (
	maxEstimatedAge = 25 // older than this is not a child, even age-disputed
	maxUserIDLen    = 64
)

// referralForm is the new-referral form: what was entered, the choices,
// and what was wrong when it comes back. Its values are shown only on the
// form itself, never logged.
type referralForm struct {
	Given, Family    string
	DateOfBirth, Age string
	Sex, Nationality string
	ResponderOrg     string
	ResponderType    string
	Exploitation     []string
	CountyLines      bool
	Location         string
	PresentingIssue  string
	Source           string
	Risk             string
	RiskReason       string
	LeadWorker       string
	Problems         []string

	Sexes, ResponderTypes, ExploitationTypes, Locations, Risks []option
}

// Checked reports whether the exploitation type v was ticked.
func (f referralForm) Checked(v string) bool { return slices.Contains(f.Exploitation, v) }

var (
	sexOptions = []option{
		{string(v1.SexFemale), "Female"}, {string(v1.SexMale), "Male"},
		{string(v1.SexOther), "Other"}, {string(v1.SexUnknown), "Not known"},
	}
	responderOptions = []option{
		{string(v1.ResponderLocalAuthority), "Local authority"},
		{string(v1.ResponderPolice), "Police"},
		{string(v1.ResponderHomeOffice), "Home Office (UKVI, Border Force, Immigration Enforcement)"},
		{string(v1.ResponderNGO), "Non-governmental organisation"},
		{string(v1.ResponderHealth), "Health"},
		{string(v1.ResponderOther), "Other"},
	}
	exploitationOptions = []option{
		{string(v1.ExploitationSexual), "Sexual"},
		{string(v1.ExploitationCriminal), "Criminal"},
		{string(v1.ExploitationLabour), "Labour"},
		{string(v1.ExploitationDomesticServitude), "Domestic servitude"},
		{string(v1.ExploitationOrganHarvesting), "Organ harvesting"},
		{string(v1.ExploitationUnknown), "Not known"},
	}
	locationOptions = []option{
		{string(v1.LocationUK), "In the UK"}, {string(v1.LocationOverseas), "Overseas"},
		{string(v1.LocationBoth), "Both"}, {string(v1.LocationUnknown), "Not known"},
	}
	riskOptions = []option{
		{string(v1.RAGRed), "Red"}, {string(v1.RAGAmber), "Amber"}, {string(v1.RAGGreen), "Green"},
	}
	alpha3 = regexp.MustCompile(`^[A-Z]{3}$`)
)

func (f *referralForm) choices() {
	f.Sexes, f.ResponderTypes, f.ExploitationTypes = sexOptions, responderOptions, exploitationOptions
	f.Locations, f.Risks = locationOptions, riskOptions
}

func (s *Server) referralRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /cases/new", s.referralFormPage)
	mux.HandleFunc("POST /cases", s.createReferral)
}

// mayRefer answers the request itself unless who may take a referral on a
// node that serves the page. The node decides when the desk is a
// ReferralGate, and then records a refusal in its audit log.
func (s *Server) mayRefer(w http.ResponseWriter, r *http.Request, who Principal) bool {
	if s.cfg.Referrals == nil {
		s.problem(w, r, http.StatusServiceUnavailable, "New referrals unavailable", "This node does not take referrals through its pages.")
		return false
	}
	if gate, ok := s.cfg.Referrals.(ReferralGate); ok {
		if err := gate.MayCreateReferral(r.Context(), who); err != nil {
			s.nodeProblem(w, r, who, err, "a new referral")
			return false
		}
		return true
	}
	if !mayCreateCases(who) {
		s.problem(w, r, http.StatusForbidden, "Not available to your role", fmt.Sprintf("Your role (%s) may not create cases.", who.Role))
		return false
	}
	return true
}

// mayCreateCases reports whether who's role may take a referral, on the
// node's role table; it decides only whether the case list links to the
// form. The page asks the node itself (mayRefer).
func mayCreateCases(who Principal) bool { return node.Role(who.Role).Can(node.CanCreateCase) }

func (s *Server) referralFormPage(w http.ResponseWriter, r *http.Request) {
	who, ok := s.principal(w, r)
	if !ok || !s.mayRefer(w, r, who) {
		return
	}
	f := referralForm{LeadWorker: who.UserID, Location: string(v1.LocationUK)}
	s.showReferralForm(w, r, f, http.StatusOK)
}

func (s *Server) showReferralForm(w http.ResponseWriter, r *http.Request, f referralForm, status int) {
	f.choices()
	s.render(w, r, status, "referral", layoutData{Title: "New referral", Current: "cases", Page: f})
}

// createReferral takes the new-referral form, checks it, and creates the
// case through the node; on success it shows the new case's page.
func (s *Server) createReferral(w http.ResponseWriter, r *http.Request) {
	who, ok := s.principal(w, r)
	if !ok {
		return
	}
	if !sameOrigin(r) {
		s.problem(w, r, http.StatusForbidden, "Referral refused", "The referral form was sent from another site.")
		return
	}
	if !s.mayRefer(w, r, who) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.problem(w, r, http.StatusBadRequest, "Referral not valid", "The form could not be read.")
		return
	}
	f, nr := parseReferral(r.PostForm, s.cfg.Now())
	if len(f.Problems) > 0 {
		s.showReferralForm(w, r, f, http.StatusBadRequest)
		return
	}
	created, err := s.cfg.Referrals.CreateReferral(r.Context(), who, nr)
	if err != nil {
		if errors.Is(err, node.ErrInvalid) {
			f.Problems = append(f.Problems, "The node refused the referral: "+clip200(err.Error()))
			s.showReferralForm(w, r, f, http.StatusBadRequest)
			return
		}
		s.nodeProblem(w, r, who, err, "a new referral")
		return
	}
	id := created.Case.ID
	s.log.Info("referral created from the page", "case", string(id), "user", who.UserID)
	http.Redirect(w, r, "/cases/"+string(id), http.StatusSeeOther)
}

// parseReferral reads the form into what was entered and the referral it
// asks for, naming every problem.
func parseReferral(v map[string][]string, now time.Time) (referralForm, node.NewReferral) {
	get := func(k string) string {
		if vs := v[k]; len(vs) > 0 {
			return strings.TrimSpace(vs[0])
		}
		return ""
	}
	f := referralForm{
		Given: get("given"), Family: get("family"), DateOfBirth: get("dob"), Age: get("age"),
		Sex: get("sex"), Nationality: strings.ToUpper(get("nationality")),
		ResponderOrg: get("fr_org"), ResponderType: get("fr_type"),
		CountyLines: get("county_lines") != "", Location: get("location"),
		PresentingIssue: get("presenting_issue"), Source: get("source"),
		Risk: get("risk"), RiskReason: get("risk_reason"), LeadWorker: get("lead_worker"),
	}
	bad := func(format string, a ...any) { f.Problems = append(f.Problems, fmt.Sprintf(format, a...)) }
	text := func(label, s string, required bool, max int) {
		if s == "" {
			if required {
				bad("Enter the %s.", label)
			}
			return
		}
		if msg := checkText(s, max); msg != "" {
			bad("The %s %s.", label, msg)
		}
	}
	text("child's given name", f.Given, false, v1.MaxShortText)
	text("child's family name", f.Family, false, v1.MaxShortText)
	if f.Given == "" && f.Family == "" {
		bad("Enter the child's given or family name (or both).")
	}
	nr := node.NewReferral{
		Identity: v1.ChildIdentity{Sex: v1.Sex(f.Sex)},
		Referral: v1.Referral{
			ReferredAt: now.UTC(), FirstResponderOrg: f.ResponderOrg,
			FirstResponderType: v1.FirstResponderType(f.ResponderType), CountyLines: f.CountyLines,
			ExploitationLocation: v1.ExploitationLocation(f.Location),
			Source:               f.Source, PresentingIssue: f.PresentingIssue,
		},
		Risk: v1.RAG(f.Risk), RiskReason: f.RiskReason, LeadWorker: f.LeadWorker,
	}
	if f.Given != "" || f.Family != "" {
		nr.Identity.Names = []v1.PersonName{{Kind: v1.NameUsed, Given: f.Given, Family: f.Family}}
	}
	switch {
	case f.DateOfBirth != "" && f.Age != "":
		bad("Give a date of birth or an estimated age, not both.")
	case f.DateOfBirth != "":
		d := v1.Date(f.DateOfBirth)
		t, err := d.Time()
		if !d.Valid() || err != nil {
			bad("The date of birth is not a date (YYYY-MM-DD).")
		} else if t.After(now) {
			bad("The date of birth is in the future.")
		} else {
			nr.Identity.DateOfBirth = &v1.DateOfBirth{Date: d}
		}
	case f.Age != "":
		age, err := strconv.Atoi(f.Age)
		if err != nil || age < 0 || age > maxEstimatedAge {
			bad("The estimated age is not a whole number of years from 0 to %d.", maxEstimatedAge)
		} else {
			// The centre of the year of age, give or take half a year.
			centre := now.UTC().AddDate(-age, 0, 0).Add(-183 * 24 * time.Hour)
			nr.Identity.DateOfBirth = &v1.DateOfBirth{Date: v1.DateOf(centre), Estimated: true, UncertaintyDays: 183, Basis: "age estimated at referral"}
		}
	default:
		bad("Enter the child's date of birth or, if it is not known, an estimated age.")
	}
	if !hasOption(sexOptions, f.Sex) {
		bad("Choose the child's sex (or not known).")
	}
	if !alpha3.MatchString(f.Nationality) {
		bad("Enter the child's nationality as a three-letter code, such as GBR (UNK if not known).")
	} else {
		nr.Identity.Nationalities = []string{f.Nationality}
	}
	text("first responder organisation", f.ResponderOrg, true, v1.MaxShortText)
	if !hasOption(responderOptions, f.ResponderType) {
		bad("Choose the type of first responder.")
	}
	types := v["exploitation"]
	if len(types) > len(exploitationOptions) {
		types = types[:len(exploitationOptions)]
	}
	for _, t := range types {
		switch {
		case !hasOption(exploitationOptions, t):
			bad("%q is not a type of exploitation.", clip(t))
		case slices.Contains(f.Exploitation, t):
		default:
			f.Exploitation = append(f.Exploitation, t)
			nr.Referral.ExploitationTypes = append(nr.Referral.ExploitationTypes, v1.ExploitationType(t))
		}
	}
	if len(nr.Referral.ExploitationTypes) == 0 {
		bad("Tick at least one type of exploitation (not known if it is not known).")
	}
	if f.CountyLines && !f.Checked(string(v1.ExploitationCriminal)) {
		bad("County lines is criminal exploitation: tick criminal as well.")
	}
	if !hasOption(locationOptions, f.Location) {
		bad("Choose where the exploitation took place.")
	}
	text("presenting issue", f.PresentingIssue, true, v1.MaxShortText)
	text("source of the referral", f.Source, true, v1.MaxShortText)
	if !hasOption(riskOptions, f.Risk) {
		bad("Choose the RAG rating at referral.")
	}
	text("reason for the rating", f.RiskReason, false, v1.MaxShortText)
	if len(f.LeadWorker) > maxUserIDLen || strings.ContainsFunc(f.LeadWorker, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		bad("The lead worker is a user ID of at most %d characters, without spaces.", maxUserIDLen)
	}
	return f, nr
}
