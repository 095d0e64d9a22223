package synthetic_test

import (
	"fmt"

	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
)

// A generator for one authority gives valid cases; the same seed gives the
// same cases every time.
func Example() {
	g := synthetic.New(42, synthetic.WithAuthority("ISL"))
	c := g.Case()
	fmt.Println("held by:", c.Responsible, c.ID.Authority())
	fmt.Println("valid:", c.Validate() == nil)

	again := synthetic.New(42, synthetic.WithAuthority("ISL")).Case()
	fmt.Println("same case for the same seed:", again.ID == c.ID)

	// The same child as another authority recorded them.
	v, changes := g.VariantDetail(c)
	fmt.Println("same sex and nationality:", v.Sex == c.Identity.Sex && v.Nationalities[0] == c.Identity.Nationalities[0])
	fmt.Println("changed something:", changes != 0)
	// Output:
	// held by: ISL ISL
	// valid: true
	// same case for the same seed: true
	// same sex and nationality: true
	// changed something: true
}

// A leak test seeds a canary and looks for it in every byte a node writes.
func ExampleCanaryCase() {
	g := synthetic.New(1)
	c := synthetic.CanaryCase(g, "CANARY-5b1e")
	b, _ := v1.Marshal(c)
	fmt.Println(c.Identity.Names[0].Given, len(b) > 0)
	// Output: CANARY-5b1e true
}

// Sizing a node: how many cases a large city accumulates in ten years.
func ExampleCaseload() {
	g := synthetic.New(1, synthetic.WithAuthority("BIR"))
	a := g.Authority()
	fmt.Printf("%s: %.0f referrals a month, %d cases in 10 years\n", a.Name, synthetic.ReferralsPerMonth(a), synthetic.Caseload(a, 10))
	// Output: Birmingham: 11 referrals a month, 1337 cases in 10 years
}
