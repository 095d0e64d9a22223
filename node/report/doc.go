// Package report builds the management information an authority reports on
// its NRM work: the per-referral dataset (source of referral, presenting
// issue, RAG rating before and after the multi-agency discussion, outcome,
// time taken in working days) and the quarterly return in the Home Office
// NRM statistics' categories (referrals by exploitation type, sex, age
// group, nationality and first-responder type; RG and CG decisions issued
// and the share positive; cases awaiting a CG decision and for how long;
// reconsiderations).
//
// Everything here is a pure function of the cases, a Quarter and a
// bank holiday calendar: no storage, no clock, no I/O but the writers. The
// output never identifies a child: no row carries an ID, a name, a date of
// birth or a date; free text is mapped onto a fixed vocabulary; the
// quarterly return's counts are small-number suppressed (see Suppress and
// DESIGN.md).
//
//	q, _ := report.ParseQuarter("2026-Q3")
//	ret, err := report.Quarterly(cases, q, calendar.Default(), report.DefaultConfig())
//	err = report.WriteReturnCSV(w, ret) // or WriteReturnJSON
//
//	rows, err := report.Referrals(cases, q, calendar.Default(), report.DefaultConfig())
//	err = report.WriteReferralsCSV(w, rows) // or WriteReferralsJSON
//
// A caller that streams the cases rather than holding them all uses the
// builders Quarterly and Referrals wrap, which keep no case:
//
//	b, err := report.NewQuarterly(q, calendar.Default(), report.DefaultConfig())
//	err = store.ExportCases(ctx, who, b.Add) // or b.Add(c) for each case
//	ret := b.Return()
package report
