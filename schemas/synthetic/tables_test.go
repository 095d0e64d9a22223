package synthetic

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	v1 "nrmnet/schemas/v1"
)

func isCode(s string, upper bool) bool {
	if len(s) != 3 {
		return false
	}
	for _, c := range s {
		if upper && (c < 'A' || c > 'Z') || !upper && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

func TestNationalityTables(t *testing.T) {
	withNames := 0
	for _, n := range nationalities {
		t.Run(n.code, func(t *testing.T) {
			if !isCode(n.code, true) {
				t.Errorf("code %q is not ISO 3166-1 alpha-3 shaped", n.code)
			}
			for _, s := range n.second {
				if !isCode(s, true) {
					t.Errorf("second nationality %q", s)
				}
			}
			for _, l := range n.languages {
				if !isCode(l.v, false) || l.w <= 0 {
					t.Errorf("language %q weight %v", l.v, l.w)
				}
			}
			for name, share := range map[string]float64{
				"weight": n.weight / 100, "maleShare": n.maleShare, "documented": n.documented, "disputed": n.disputed,
				"interpreter": n.interpreter, "oneName": n.oneName, "originals": n.originals, "secondShare": n.secondShare,
			} {
				if share < 0 || share > 1 {
					t.Errorf("%s is %v", name, share)
				}
			}
			if n.weight <= 0 || n.profile == nil || len(n.profile.ages) == 0 {
				t.Fatalf("weight %v, profile %v", n.weight, n.profile)
			}
			if n.secondShare > 0 && len(n.second) == 0 {
				t.Error("dual nationals without second nationalities")
			}
			if len(n.male) == 0 {
				if len(n.female)+len(n.family) > 0 || n.code != "UNK" {
					t.Error("only the unknown group may have no names")
				}
				return
			}
			withNames++
			if len(n.male) < 16 || len(n.female) < 6 || len(n.family) < 12 {
				t.Errorf("pools too small: %d male, %d female, %d family", len(n.male), len(n.female), len(n.family))
			}
			for pool, forms := range map[string][]nameForm{"male": n.male, "female": n.female, "family": n.family, "familyFemale": n.familyFemale} {
				for _, f := range forms {
					checkForm(t, pool, f)
				}
			}
		})
	}
	if withNames < 15 {
		t.Errorf("%d nationalities have names, want at least 15", withNames)
	}
}

func checkForm(t *testing.T, pool string, f nameForm) {
	t.Helper()
	seen := map[string]bool{}
	for _, s := range append(append([]string(nil), f.spellings...), f.original) {
		if s == f.original && s == "" {
			continue
		}
		if s == "" || strings.TrimSpace(s) != s || strings.Contains(s, "  ") || !utf8.ValidString(s) || utf8.RuneCountInString(s) > v1.MaxShortText {
			t.Errorf("%s: bad spelling %q in %v", pool, s, f.spellings)
		}
		for _, r := range s {
			if unicode.IsControl(r) || r == '|' || r == '=' {
				t.Errorf("%s: %q contains %U", pool, s, r)
			}
		}
	}
	for _, s := range f.spellings {
		if seen[s] {
			t.Errorf("%s: %q is listed twice in %v", pool, s, f.spellings)
		}
		seen[s] = true
	}
}

// TestTransliterationGroups pins the variant spellings the matching tests
// rely on: each list must be spellings of one name in some group's table.
func TestTransliterationGroups(t *testing.T) {
	tests := []struct {
		nat    string
		family bool
		names  []string
	}{
		{"IRQ", false, []string{"Mohammed", "Muhammad", "Mohamed", "Mohammad"}},
		{"VNM", true, []string{"Nguyen", "Nguyễn"}},
		{"ERI", false, []string{"Tesfay", "Tesfaye", "Tesfai"}},
		{"EGY", false, []string{"Yusuf", "Youssef", "Yousef"}},
		{"NGA", false, []string{"Aliu", "Aliou", "Aliyu"}},
		{"AFG", false, []string{"Hussain", "Hossain", "Husain"}},
		{"AFG", true, []string{"Ahmadi", "Ahmady"}},
		{"ROU", false, []string{"Ştefan", "Ștefan", "Stefan"}},
		{"ALB", false, []string{"Dritan"}},
		{"ALB", false, []string{"Bekim", "Beqim"}},
		{"ALB", true, []string{"Hoxha", "Hoxhaj"}},
		{"CHN", true, []string{"Zhang", "Chang", "Cheung"}},
		{"XXX", true, []string{"Al-Enezi", "Alenezi", "Al Anzi"}},
		{"SOM", false, []string{"Mohamed", "Maxamed"}},
		{"POL", true, []string{"Wiśniewska", "Wisniewska"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.names, "/"), func(t *testing.T) {
			n := tables.byCode[tt.nat]
			index := n.givenIndex
			if tt.family {
				index = n.familyIndex
			}
			first := index[tt.names[0]]
			if first == nil {
				t.Fatalf("%s has no %q", tt.nat, tt.names[0])
			}
			for _, s := range tt.names[1:] {
				if index[s] != first {
					t.Errorf("%q and %q are not spellings of one name", tt.names[0], s)
				}
			}
		})
	}
}

func TestNoAvoidedNames(t *testing.T) {
	for seed := range int64(5) {
		for _, c := range New(seed).Cases(2000) {
			if n := c.Identity.Names[0]; avoided(n) {
				t.Errorf("case %s uses the avoided name %s %s", c.ID, n.Given, n.Family)
			}
		}
	}
}

func TestSwapDayMonth(t *testing.T) {
	tests := []struct {
		in   v1.Date
		want v1.Date
		ok   bool
	}{
		{"2009-06-03", "2009-03-06", true},
		{"2009-12-01", "2009-01-12", true},
		{"2009-05-05", "", false}, // the same date
		{"2009-06-13", "", false}, // no 13th month
		{"2009-02-11", "2009-11-02", true},
	}
	for _, tt := range tests {
		t.Run(string(tt.in), func(t *testing.T) {
			got, ok := swapDayMonth(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("swapDayMonth(%s) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestWorkingDays(t *testing.T) {
	d := func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }
	tests := []struct {
		from string
		n    int
		want string
	}{
		{"2025-12-22", 5, "2025-12-31"}, // skips Christmas, Boxing Day and a weekend
		{"2025-12-29", 4, "2026-01-05"}, // skips New Year's Day and a weekend
		{"2026-01-09", 1, "2026-01-12"}, // Friday to Monday
		{"2026-01-05", 5, "2026-01-12"},
	}
	for _, tt := range tests {
		if got := addWorkingDays(d(tt.from), tt.n); !got.Equal(d(tt.want)) {
			t.Errorf("addWorkingDays(%s, %d) = %s, want %s", tt.from, tt.n, got.Format(time.DateOnly), tt.want)
		}
	}
}
