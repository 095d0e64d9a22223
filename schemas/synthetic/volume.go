package synthetic

import (
	"math"
	"sync"

	"nrmnet/schemas/authority"
)

// ChildReferralsPerYear is the number of children referred into the NRM each
// year across England and Wales that the volume helpers scale from (about
// 7,000 a year recently, up from 4,550 in 2019).
const ChildReferralsPerYear = 7000

// englandAndWales is the population the national figure is spread over.
var englandAndWales = sync.OnceValue(func() int {
	total := 0
	for _, a := range authority.All() {
		if a.Nation == "England" || a.Nation == "Wales" {
			total += a.Population
		}
	}
	return total
})

// ReferralsPerMonth returns how many children an authority of a's population
// refers into the NRM in a month: ChildReferralsPerYear spread over England
// and Wales by population. The same rate per head is applied to Scottish
// authorities, which overstates them somewhat; it is for sizing, not
// statistics. Real rates are higher in cities and on transport routes.
func ReferralsPerMonth(a authority.Authority) float64 {
	return ChildReferralsPerYear / 12.0 * float64(a.Population) / float64(englandAndWales())
}

// Caseload returns how many case records a node for a accumulates over the
// given number of years, rounded up: every referral stays on the node
// (closed cases are kept for their retention period). It does not count
// cases transferred in, which roughly balance those transferred out. The
// design target of 100,000+ records per node leaves a wide margin over this.
func Caseload(a authority.Authority, years int) int {
	if years <= 0 {
		return 0
	}
	return int(math.Ceil(ReferralsPerMonth(a) * 12 * float64(years)))
}
