package v1

import (
	"time"

	"nrmnet/schemas"
	"nrmnet/schemas/authority"
)

// AlertType is what a cross-border alert says about a child known to the issuer.
type AlertType string

const (
	AlertMissing        AlertType = "missing"          // a child known to us is missing
	AlertMayBeInArea    AlertType = "may_be_in_area"   // may be in your area
	AlertRiskOfMovement AlertType = "risk_of_movement" // at risk of being moved
	AlertCountyLines    AlertType = "county_lines"     // moved by a county lines operation
)

var alertTypes = set(AlertMissing, AlertMayBeInArea, AlertRiskOfMovement, AlertCountyLines)

// Urgency of an alert.
type Urgency string

const (
	UrgencyImmediate Urgency = "immediate"
	UrgencyHigh      Urgency = "high"
	UrgencyStandard  Urgency = "standard"
)

var urgencies = set(UrgencyImmediate, UrgencyHigh, UrgencyStandard)

// ContactRoute names which of the issuer's published contacts (on the signed
// roster) to use. It is a route, never a person's details.
type ContactRoute string

const (
	ContactDutyDesk       ContactRoute = "duty_desk"
	ContactOutOfHours     ContactRoute = "out_of_hours"
	ContactNRMCoordinator ContactRoute = "nrm_coordinator"
)

var contactRoutes = set(ContactDutyDesk, ContactOutOfHours, ContactNRMCoordinator)

// AgeBand is a coarse age, used to narrow private matching.
type AgeBand string

const (
	AgeUnder10 AgeBand = "under_10"
	Age10To12  AgeBand = "10_12"
	Age13To15  AgeBand = "13_15"
	Age16To17  AgeBand = "16_17"
	AgeUnknown AgeBand = "unknown"
)

var ageBands = set(AgeUnder10, Age10To12, Age13To15, Age16To17, AgeUnknown)

// AgeBandOf returns the band of a child of the given age in whole years.
func AgeBandOf(years int) AgeBand {
	switch {
	case years < 0:
		return AgeUnknown
	case years < 10:
		return AgeUnder10
	case years < 13:
		return Age10To12
	case years < 16:
		return Age13To15
	case years < 18:
		return Age16To17
	}
	return AgeUnknown
}

// Limits on alerts.
const (
	MaxAlertLifetime = 30 * 24 * time.Hour
	MaxMatchTokens   = 64
	MatchTokenSize   = 64 // bytes of one OPRF output (ristretto255-SHA512)
	MaxTargets       = 256
	SignatureSize    = 64 // ed25519
)

// CrossBorderAlert says that a child known to the issuer is missing, may be in
// the targets' area, or is at risk of being moved. It is minimal by
// construction: the type has no field that can hold a name, a date of birth,
// an address or free text. Match tokens are outputs of an oblivious PRF keyed
// by the issuer for this alert alone; nobody else can compute or test them.
type CrossBorderAlert struct {
	ID                ID                 `cbor:"id"`
	Type              AlertType          `cbor:"type"`
	Issuer            AuthorityCode      `cbor:"issuer"`
	TargetAuthorities []AuthorityCode    `cbor:"targets,omitempty"`
	TargetRegions     []string           `cbor:"regions,omitempty"`
	National          bool               `cbor:"national,omitempty"` // for cross-region cases
	Urgency           Urgency            `cbor:"urgency"`
	IssuedAt          time.Time          `cbor:"issued_at"`
	ExpiresAt         time.Time          `cbor:"expires_at"`
	Contact           ContactRoute       `cbor:"contact"`
	LegalBasis        LegalBasis         `cbor:"basis"`
	AgeBand           AgeBand            `cbor:"age_band"`
	Sex               Sex                `cbor:"sex"`
	Exploitation      []ExploitationType `cbor:"exploitation,omitempty"`
	MatchTokens       [][]byte           `cbor:"tokens,omitempty"`
	Signature         []byte             `cbor:"sig,omitempty"` // the issuer's ed25519 signature over SigningBytes
}

// Kind implements Record.
func (*CrossBorderAlert) Kind() schemas.Kind { return schemas.KindAlert }

// SigningBytes returns the canonical encoding of the alert without its signature.
func (a *CrossBorderAlert) SigningBytes() ([]byte, error) {
	c := *a
	c.Signature = nil
	return schemas.Seal(schemas.KindAlert, Version, &c)
}

// Validate checks every field and names each invalid one.
func (a *CrossBorderAlert) Validate() error {
	ch := schemas.NewChecker()
	checkID(ch, "id", a.ID, true)
	oneOf(ch, "type", a.Type, alertTypes, true)
	checkAuthority(ch, "issuer", a.Issuer, true)
	if len(a.TargetAuthorities) == 0 && len(a.TargetRegions) == 0 && !a.National {
		ch.Fail("targets", "an alert needs target authorities, target regions, or national")
	}
	if checkLen(ch, "targets", len(a.TargetAuthorities), MaxTargets) {
		seen := map[AuthorityCode]bool{}
		for i, t := range a.TargetAuthorities {
			checkAuthority(ch, "targets["+itoa(i)+"]", t, true)
			ch.Check(!seen[t], "targets["+itoa(i)+"]", "%q is listed twice", string(t))
			seen[t] = true
		}
	}
	if checkLen(ch, "regions", len(a.TargetRegions), 16) {
		known := set(authority.Regions()...)
		seen := map[string]bool{}
		for i, r := range a.TargetRegions {
			ch.Check(known[r], "regions["+itoa(i)+"]", "%q is not a region", truncate(r))
			ch.Check(!seen[r], "regions["+itoa(i)+"]", "%q is listed twice", truncate(r))
			seen[r] = true
		}
	}
	oneOf(ch, "urgency", a.Urgency, urgencies, true)
	checkTime(ch, "issued_at", a.IssuedAt, true)
	checkTime(ch, "expires_at", a.ExpiresAt, true)
	if !a.ExpiresAt.After(a.IssuedAt) {
		ch.Fail("expires_at", "must be after issued_at")
	} else if a.ExpiresAt.Sub(a.IssuedAt) > MaxAlertLifetime {
		ch.Fail("expires_at", "is more than %d days after issued_at", int(MaxAlertLifetime.Hours()/24))
	}
	oneOf(ch, "contact", a.Contact, contactRoutes, true)
	oneOf(ch, "basis", a.LegalBasis, legalBases, true)
	oneOf(ch, "age_band", a.AgeBand, ageBands, true)
	oneOf(ch, "sex", a.Sex, sexes, true)
	checkExploitation(ch, "exploitation", a.Exploitation)
	if checkLen(ch, "tokens", len(a.MatchTokens), MaxMatchTokens) {
		for i, t := range a.MatchTokens {
			ch.Check(len(t) == MatchTokenSize, "tokens["+itoa(i)+"]", "is %d bytes, want %d", len(t), MatchTokenSize)
		}
	}
	if a.Signature != nil {
		ch.Check(len(a.Signature) == SignatureSize, "sig", "is %d bytes, want %d", len(a.Signature), SignatureSize)
	}
	return ch.Err()
}

// AlertAck is a targeted authority's signed acknowledgement that it holds an alert.
type AlertAck struct {
	AlertID    ID            `cbor:"alert"`
	Issuer     AuthorityCode `cbor:"issuer"` // the alert's issuer
	From       AuthorityCode `cbor:"from"`   // the acknowledging authority
	ReceivedAt time.Time     `cbor:"received_at"`
	Signature  []byte        `cbor:"sig,omitempty"`
}

// Kind implements Record.
func (*AlertAck) Kind() schemas.Kind { return schemas.KindAlertAck }

// SigningBytes returns the canonical encoding of the ack without its signature.
func (a *AlertAck) SigningBytes() ([]byte, error) {
	c := *a
	c.Signature = nil
	return schemas.Seal(schemas.KindAlertAck, Version, &c)
}

// Validate checks every field.
func (a *AlertAck) Validate() error {
	ch := schemas.NewChecker()
	checkID(ch, "alert", a.AlertID, true)
	checkAuthority(ch, "issuer", a.Issuer, true)
	checkAuthority(ch, "from", a.From, true)
	checkTime(ch, "received_at", a.ReceivedAt, true)
	if a.Signature != nil {
		ch.Check(len(a.Signature) == SignatureSize, "sig", "is %d bytes, want %d", len(a.Signature), SignatureSize)
	}
	return ch.Err()
}
