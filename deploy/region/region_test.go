package region

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nrmnet/federation/roster"
)

func TestDefaultConfigIsValid(t *testing.T) {
	c := DefaultConfig()
	c.Dir = t.TempDir()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	panel := 0
	for _, m := range c.Members {
		if len(m.Panels) > 0 {
			panel++
		}
	}
	if len(c.Members) != 5 || panel != 3 {
		t.Fatalf("%d members, %d on the panel; want 5 and 3", len(c.Members), panel)
	}
}

func TestValidateNamesEveryProblem(t *testing.T) {
	c := DefaultConfig()
	c.Binary = ""
	c.Members[1].Code = "XXX"
	c.Members[2].Host = c.Members[0].Host
	c.Members = append(c.Members, Member{Code: "KEN", Host: "ken", Roles: []roster.Role{roster.RoleAuthority}})
	c.Members[3].Panels = append(c.Members[3].Panels, "Not A Panel")
	c.Threshold = 3
	c.HTTPPort = 0
	err := c.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("got %v, want ErrInvalidConfig", err)
	}
	for _, want := range []string{"Dir", "Binary", `"XXX"`, `Host "hmf"`, "KEN is in South East", `"Not A Panel"`, "Threshold 3 of 2", "HTTPPort 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
}

func TestPrepareRefusesADirectoryInUse(t *testing.T) {
	c := DefaultConfig()
	c.Dir = t.TempDir()
	keep := filepath.Join(c.Dir, "keep")
	if err := os.WriteFile(keep, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare(context.Background(), c); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("got %v, want a refusal naming the non-empty directory", err)
	}
	if b, err := os.ReadFile(keep); err != nil || string(b) != "x" {
		t.Fatalf("the directory's file was touched: %q %v", b, err)
	}
}

func TestFirstToken(t *testing.T) {
	out := "Created a node\n\nFirst administrator: admin (Node administrator)\nToken, shown this once (the node keeps only its hash):\n\n  nrm_abc123\n\nKeep it\n"
	if tok, err := firstToken([]byte(out)); err != nil || tok != "nrm_abc123" {
		t.Fatalf("got %q %v", tok, err)
	}
	if _, err := firstToken([]byte("Created a node\n")); err == nil {
		t.Fatal("no error for output without a token")
	}
}
