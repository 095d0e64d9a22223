package panel

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// sealUnchecked wraps a command in its envelope without validating it, as a
// faulty or hostile proposer might.
func sealUnchecked(c Command) ([]byte, error) { return schemas.Seal(KindCommand, CommandVersion, &c) }

func TestEveryCommandRoundTrips(t *testing.T) {
	ops := map[Op]bool{}
	for _, c := range scenario(newFixture()) {
		data := mustEncode(t, c)
		got, err := Decode(data)
		if err != nil {
			t.Fatalf("%s: decode: %v", c.Op, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("%s: round trip\n got %+v\nwant %+v", c.Op, got, c)
		}
		again, err := Encode(got)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("%s: re-encoding differs (%v)", c.Op, err)
		}
		ops[c.Op] = true
	}
	for _, op := range Ops {
		if !ops[op] {
			t.Errorf("the scenario has no %s command", op)
		}
	}
}

func TestNewCommandNormalisesTime(t *testing.T) {
	f := newFixture()
	h := f.header(lead, leadSW, RoleSocialWorker)
	h.At = h.At.In(time.FixedZone("BST", 3600))
	c := NewCommand(h, &RecordChildViews{Views: "x"})
	if c.At.Location() != time.UTC || !c.At.Equal(h.At) || c.Op != OpRecordChildViews || c.Body() == nil {
		t.Fatalf("NewCommand = %+v", c)
	}
}

// Decode names the field at fault, and every refusal wraps a schemas sentinel.
func TestDecodeNamesTheField(t *testing.T) {
	f := newFixture()
	cases := []struct {
		name   string
		mutate func(c *Command)
		field  string
	}{
		{"bad command ID", func(c *Command) { c.ID = "xyz" }, "field id:"},
		{"unknown op", func(c *Command) { c.Op = "delete_everything" }, "field op:"},
		{"bad panel", func(c *Command) { c.Panel = "A" }, "field panel:"},
		{"bad case", func(c *Command) { c.Case = "ISL-1" }, "field case:"},
		{"unknown authority", func(c *Command) { c.Authority = "ZZZ" }, "field authority:"},
		{"no person", func(c *Command) { c.Actor.PersonID = "" }, "field actor.person:"},
		{"unknown role", func(c *Command) { c.Actor.Role = "king" }, "field actor.role:"},
		{"no time", func(c *Command) { c.At = time.Time{} }, "field at:"},
		{"no body", func(c *Command) { c.RecordMeeting = nil }, "field body:"},
		{"two bodies", func(c *Command) { c.CloseCase = &CloseCase{Reason: CloseDecided} }, "field body:"},
		{"body and op disagree", func(c *Command) { c.Op = OpCloseCase }, "field record_meeting:"},
		{"no attendance", func(c *Command) { c.RecordMeeting.Attendance = nil }, "field record_meeting.attendance:"},
		{"no chair", func(c *Command) { c.RecordMeeting.Attendance[0].Chair = false }, "field record_meeting.attendance:"},
		{"two chairs", func(c *Command) { c.RecordMeeting.Attendance[1].Chair = true }, "field record_meeting.attendance:"},
		{"unknown capacity", func(c *Command) { c.RecordMeeting.Attendance[2].Capacity = "judge" }, "field record_meeting.attendance[2].capacity:"},
		{"LA without authority", func(c *Command) { c.RecordMeeting.Attendance[1].Authority = "" }, "field record_meeting.attendance[1].authority:"},
		{"member twice", func(c *Command) { c.RecordMeeting.Attendance[3].MemberID = laISL }, "field record_meeting.attendance[3].member:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := f.meeting(f.id(), fullAttendance())
			tc.mutate(&c)
			if _, err := Encode(c); err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Encode: %v, want an error naming %q", err, tc.field)
			}
			data, err := sealUnchecked(c)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Decode(data)
			if !errors.Is(err, schemas.ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Decode: %v, want ErrInvalid naming %q", err, tc.field)
			}
		})
	}
}

func TestDecodeBodyFields(t *testing.T) {
	f := newFixture()
	p := f.id()
	cases := []struct {
		c     Command
		field string
	}{
		{func() Command { c := f.open(); c.OpenCase.Touches = []v1.AuthorityCode{lead}; return c }(), "open_case.touches[0]"},
		{func() Command { c := f.open(); c.OpenCase.Rules.ReconsiderationWindow = 0; return c }(), "open_case.rules.reconsideration_window"},
		{func() Command { c := f.open(); c.OpenCase.LeadSocialWorker = ""; return c }(), "open_case.lead_social_worker"},
		{f.propose(p, f.id(), chair, cg, rg), "propose.stages"},
		{f.propose(p, f.id(), chair), "propose.stages"},
		{f.vote(p, police, rg, "maybe"), "vote.choice"},
		{func() Command { c := f.conclude(p, chair); c.Conclude.Reasons = ""; return c }(), "conclude.reasons"},
		{func() Command {
			c := f.conclude(p, chair)
			c.Conclude.ChildViewsConsidered = strings.Repeat("x", MaxChildViews+1)
			return c
		}(), "conclude.child_views_considered"},
		{f.conclude(p, chair, CastingVote{Stage: cg, Outcome: v1.OutcomePositive}, CastingVote{Stage: rg, Outcome: v1.OutcomePositive}), "conclude.casting_votes[1].stage"},
		{f.assurance(p, v1.AssuranceQueried, ""), "record_assurance.query"},
		{f.assurance(p, v1.AssuranceAssured, "a query"), "record_assurance.query"},
		{f.close("forgotten"), "close_case.reason"},
		{func() Command { c := f.reconsider(p); c.Reconsider.Grounds = "dislike"; return c }(), "reconsider.grounds"},
	}
	for _, tc := range cases {
		_, err := Encode(tc.c)
		if !errors.Is(err, schemas.ErrInvalid) || !strings.Contains(err.Error(), "field "+tc.field+":") {
			t.Errorf("%s: %v, want an error naming %s", tc.c.Op, err, tc.field)
		}
	}
}

func TestDecodeRefusesOtherEnvelopes(t *testing.T) {
	c := newFixture().open()
	other, err := schemas.Seal(schemas.KindPanelDecision, CommandVersion, &c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(other); !errors.Is(err, schemas.ErrUnknownKind) {
		t.Fatalf("another kind: %v", err)
	}
	v2, err := schemas.Seal(KindCommand, CommandVersion+1, &c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(v2); !errors.Is(err, schemas.ErrUnsupportedVersion) {
		t.Fatalf("version 2: %v", err)
	}
	data := mustEncode(t, c)
	if _, err := Decode(append(bytes.Clone(data), 0)); !errors.Is(err, schemas.ErrMalformed) {
		t.Fatalf("trailing byte: %v", err)
	}
}
