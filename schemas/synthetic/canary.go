package synthetic

import (
	"fmt"

	v1 "nrmnet/schemas/v1"
)

// CanaryCase returns a valid case from g whose used given name, used family
// name, alias and a record of the child's wishes and feelings all contain
// canary, so that a leak test can seed it and then search every byte that
// leaves a node or lands on disk for the canary string.
//
// The canary must be valid single-line text of at most 100 characters (no
// control characters); CanaryCase panics otherwise, since the case could not
// validate. It draws from g's case stream, like Case.
func CanaryCase(g *Generator, canary string) *v1.Case {
	c := g.Case()
	used := c.Identity.Names[0]
	used.Given, used.Family, used.Original = canary, canary, ""
	alias := v1.PersonName{Kind: v1.NameAlias, Given: canary}
	if f := c.Identity.Names[0].Family; f != "" {
		alias.Family = f
	}
	c.Identity.Names = []v1.PersonName{used, alias}
	c.WishesAndFeelings = append(c.WishesAndFeelings, v1.ChildView{
		RecordedAt: c.UpdatedAt,
		RecordedBy: c.LeadWorker,
		Views:      fmt.Sprintf("They said they want to be called %s at school. They would like to keep playing football.", canary),
	})
	c.Revision++
	if n := len([]rune(canary)); n == 0 || n > 100 {
		panic(fmt.Sprintf("synthetic: canary is %d characters, want 1 to 100", n))
	}
	if err := c.Validate(); err != nil {
		panic(fmt.Sprintf("synthetic: canary %q does not make a valid case: %v", canary, err))
	}
	return c
}
