package gossip

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"nrmnet/federation/roster"
	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

func TestConfigValidateNamesEveryProblem(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RetryMin, cfg.RetryMax = time.Minute, time.Second
	cfg.DownAfter = cfg.HeartbeatInterval
	cfg.MaxDigestIDs = 0
	err := cfg.Validate()
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("Validate = %v; want ErrConfig", err)
	}
	for _, field := range []string{"Host", "Identity", "Outbox", "Seen", "Handler", "RetryMax", "DownAfter", "MaxDigestIDs"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error does not name %s: %v", field, err)
		}
	}
}

func TestBackoffDoublesToTheCap(t *testing.T) {
	s := &Service{cfg: Config{RetryMin: time.Second, RetryMax: 10 * time.Second}}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if got := s.backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %s; want %s", i+1, got, w)
		}
	}
	if got := s.backoff(1000); got != 10*time.Second {
		t.Errorf("backoff(1000) = %s", got)
	}
}

func TestTopicsAndTargets(t *testing.T) {
	r := &roster.Roster{Region: "London", Members: []roster.Member{
		{Authority: "ISL", Roles: []roster.Role{roster.RoleAuthority}},
		{Authority: "CMD", Roles: []roster.Role{roster.RoleAuthority}},
		{Authority: "HCK", Roles: []roster.Role{roster.RoleAuthority}},
		{Authority: "WND", Roles: []roster.Role{roster.RoleCoordinator}},
	}}
	base := func(mut func(a *v1.CrossBorderAlert)) *v1.CrossBorderAlert {
		a := &v1.CrossBorderAlert{Issuer: "ISL"}
		mut(a)
		return a
	}
	for _, tc := range []struct {
		name        string
		alert       *v1.CrossBorderAlert
		topic       string
		targets     []v1.AuthorityCode
		unreachable []v1.AuthorityCode
	}{
		{"the region", base(func(a *v1.CrossBorderAlert) { a.TargetRegions = []string{"London"} }),
			RegionTopic("London"), []v1.AuthorityCode{"CMD", "HCK"}, nil},
		{"named in region", base(func(a *v1.CrossBorderAlert) { a.TargetAuthorities = []v1.AuthorityCode{"CMD"} }),
			RegionTopic("London"), []v1.AuthorityCode{"CMD"}, nil},
		{"named across regions", base(func(a *v1.CrossBorderAlert) { a.TargetAuthorities = []v1.AuthorityCode{"CMD", "MAN"} }),
			NationalTopic, []v1.AuthorityCode{"CMD"}, []v1.AuthorityCode{"MAN"}},
		{"another region", base(func(a *v1.CrossBorderAlert) { a.TargetRegions = []string{"North West"} }),
			NationalTopic, nil, nil},
		{"national", base(func(a *v1.CrossBorderAlert) { a.National = true }),
			NationalTopic, []v1.AuthorityCode{"CMD", "HCK"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := topicFor(tc.alert, "London"); got != tc.topic {
				t.Errorf("topic = %s; want %s", got, tc.topic)
			}
			targets, unreachable := targetsOf(tc.alert, r)
			if !equalCodes(targets, tc.targets) || !equalCodes(unreachable, tc.unreachable) {
				t.Errorf("targets %v unreachable %v; want %v and %v", targets, unreachable, tc.targets, tc.unreachable)
			}
		})
	}
	if RegionTopic("North East") != "/nrmnet/alerts/1/region/north-east" {
		t.Errorf("RegionTopic(North East) = %s", RegionTopic("North East"))
	}
}

func equalCodes(a, b []v1.AuthorityCode) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestHeartbeatRefusesBadFields(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	good := func() *Heartbeat {
		return &Heartbeat{Authority: "ISL", Region: "London", SentAt: now, StartedAt: now.Add(-time.Hour), Version: "1", Checkpoint: Checkpoint{Size: 1, Root: make([]byte, 32)}}
	}
	if _, err := MarshalHeartbeat(good()); err != nil {
		t.Fatalf("good heartbeat: %v", err)
	}
	for field, mut := range map[string]func(h *Heartbeat){
		"authority":       func(h *Heartbeat) { h.Authority = "ZZZ" },
		"region":          func(h *Heartbeat) { h.Region = "Atlantis" },
		"started_at":      func(h *Heartbeat) { h.StartedAt = now.Add(time.Hour) },
		"version":         func(h *Heartbeat) { h.Version = "a\nb" },
		"panels[0].panel": func(h *Heartbeat) { h.Panels = []PanelState{{Panel: "Not A Panel!", State: "Leader"}} },
		"overdue":         func(h *Heartbeat) { h.Overdue = make([]OverdueCount, maxOverdue+1) },
		"checkpoint.root": func(h *Heartbeat) { h.Checkpoint.Root = make([]byte, maxRootSize+1) },
		"sig":             func(h *Heartbeat) { h.Signature = []byte{1} },
	} {
		h := good()
		mut(h)
		_, err := MarshalHeartbeat(h)
		if !errors.Is(err, schemas.ErrInvalid) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err = %v; want schemas.ErrInvalid naming the field", field, err)
		}
	}
}

func TestReadFrameRefusesOversizeWithoutReading(t *testing.T) {
	var w bytes.Buffer
	if err := writeFrame(&w, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if _, err := readFrame(newReader(w.Bytes()), 99); !errors.Is(err, errFrameTooLarge) {
		t.Errorf("readFrame over the limit = %v; want errFrameTooLarge", err)
	}
}

func newReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
