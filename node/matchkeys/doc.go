// Package matchkeys derives a child's identity keys: the few byte strings
// that two authorities holding differently recorded identities of the same
// child both derive, so that an oblivious PRF over them can say "possibly the
// same child" without either side showing the other a name or a date of birth.
//
// It is pure: it reads a v1.ChildIdentity and returns bytes. It sends nothing,
// stores nothing and imports only schemas. The keys are personal data in a
// thin disguise (a folded name and a birth year); they must never leave the
// node except blinded by package federation/match, and must never be logged.
//
// # What meets what
//
// A key joins a name (an unordered pair of folded name parts) with a date
// component:
//
//   - exact: the year with the day and month as an unordered pair, so a date
//     entered day-for-month still meets (3 April and 4 March share a key);
//   - year: one key per calendar year the date of birth may fall in, from
//     Date−UncertaintyDays to Date+UncertaintyDays, so two estimates of the
//     same child whose ranges overlap share a year; a documented date gives
//     its own year too, so it meets an estimate;
//   - name only: the name with no date, for records without a date of birth
//     (off unless Config.NameOnly; see the privacy trade-off below).
//
// Names are folded so the spellings records show meet: case, diacritics and
// punctuation go; Arabic al-/el- prefixes joined or split; -aj endings; a
// phonetic skeleton that drops vowels and folds the usual transliteration
// pairs (kh/k, gh/g, ph/f, th/t, sh/s, ch/k, q/k, c/k, j/g, xh/zh/dj/gj/j,
// w/v, doubled letters); multi-word parts also give their last word, so
// "Van Nam" meets "Nam"; and given and family name form an unordered pair,
// so a swapped order meets. A name in its own script gives a key of its own
// from its sorted words, with Arabic letter variants folded.
//
// Sex is not key material: it is a narrowing field (Candidate), where an
// unknown sex on either side is a wildcard rather than a miss.
//
// # Narrowing
//
// An alert carries a coarse AgeBand and Sex (AlertFields). A receiving
// authority asks the issuer only about its cases that Candidate admits for
// those fields: the same sex (or an unknown one), and an age band reachable
// within the date-of-birth uncertainty plus BandSlackDays.
//
// # The privacy trade-off
//
// Every key is one more OPRF query a receiver makes per candidate, and one
// more way a child can be found. More keys (more date windows, name-only keys,
// more name forms) raise recall and cost queries against the issuer's rate
// limit; looser keys (name only, a year rather than a date) also make an
// online guessing attack by a dishonest member cheaper, since fewer guesses
// cover the space. The defaults keep every key bound to a date of birth, and
// report each match's Strength so the person reviewing it knows how loose it
// was. docs/matching.md gives the measured precision and recall.
package matchkeys
