// Package synthetic generates SYNTHETIC National Referral Mechanism cases for
// tests, benchmarks and the demo network. Nothing in it is real: every child,
// name combination, date, voluntary-sector organisation, guardian and sentence
// of a child's wishes is invented. Never load real data in its
// place, and never use these cases outside test, benchmark and demo systems.
//
// # Use
//
//	g := synthetic.New(42, synthetic.WithAuthority("ISL")) // default: an English authority drawn from the seed
//	c := g.Case()                                          // passes c.Validate()
//	cs := g.Cases(1000)
//
// The same seed and options give the same cases in the same order (for a
// given version of this package; assert properties, not content). Cases are
// observed at a fixed clock (DefaultClock, or WithClock) with referral dates
// in the three years before it (or WithPeriod): each case's history is drawn
// in full and cut at the clock, so its state, its decisions, its open deadline
// and its revision agree with each other. A case in cg_positive holds a
// positive RG and a positive CG decision with reasons and the v1 test text; a
// case awaiting RG has its 5-working-day target as its next deadline; a
// transferred-out case has an accepted relocation; an age-disputed child, or
// one within 100 days of 18 at referral, is referred to the SCA.
//
// # What the cases look like
//
// The mix follows the published picture of child referrals: UK nationals are
// the largest group, then Sudanese, Albanian, Vietnamese, Eritrean, Afghan,
// Iraqi, Iranian, Ethiopian, Egyptian and others, with stateless (Kuwaiti
// Bidoon, "XXX") and unknown ("UNK") children. About four in five are boys.
// Criminal exploitation is the most common type, most of it county lines for
// UK nationals, then sexual exploitation, labour and unknown, with domestic
// servitude less common and organ harvesting rare; some cases record two
// types. Local authorities and the police make most referrals, the Home
// Office mainly for children from abroad. Most children are 14 to 17. Dates of birth are documented for most UK nationals and
// estimated, with an uncertainty of 180, 365 or 730 days and a basis, for most
// others; some are age-disputed. Names come from per-nationality tables in
// names.go, with the transliteration variants real records show.
//
// # Matching tests
//
// Variant returns the same child as another authority might have recorded
// them (another spelling, swapped order, an alias, a shifted or day-month
// swapped date of birth) at rates set by VariantRates; VariantDetail also
// says which changes were made. Identity returns an unrelated child. Together
// they give the true and false pairs for measuring the precision and recall of
// private matching.
//
// # Leak tests
//
// CanaryCase returns a case whose names and wishes carry a canary string, to
// be searched for in every byte a node sends or stores.
//
// # Sizing
//
// ReferralsPerMonth and Caseload scale the national number of child referrals
// (ChildReferralsPerYear) to an authority by population.
package synthetic
