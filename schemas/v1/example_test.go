package v1_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// Marshal validates a record and seals it in the canonical envelope. The same
// record gives the same bytes on every node.
func ExampleMarshal() {
	ack := &v1.AlertAck{
		AlertID:    "a1e4c7b0d3f6a9c2e5b8d1f4a7c0e3b6",
		Issuer:     "ISL", // Islington raised the alert
		From:       "MAN", // Manchester acknowledges it
		ReceivedAt: time.Date(2025, 5, 10, 22, 40, 3, 0, time.UTC),
	}
	b, err := v1.Marshal(ack)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d bytes\n%x\n", len(b), b)
	// Output:
	// 121 bytes
	// a3617601646b696e6469616c6572745f61636b677061796c6f6164a46466726f6d634d414e65616c65727478206131653463376230643366366139633265356238643166346137633065336236666973737565726349534c6b72656365697665645f617474323032352d30352d31305432323a34303a30335a
}

// Marshal refuses an invalid record, naming every field at fault. The error
// matches schemas.ErrInvalid.
func ExampleMarshal_invalid() {
	ack := &v1.AlertAck{
		AlertID:    "not-an-id",
		Issuer:     "ISL",
		From:       "XYZ",
		ReceivedAt: time.Date(2025, 5, 10, 23, 40, 3, 0, time.FixedZone("BST", 3600)),
	}
	_, err := v1.Marshal(ack)
	fmt.Println(errors.Is(err, schemas.ErrInvalid))
	fmt.Println(err)
	// Output:
	// true
	// alert_ack: field alert: "not-an-id" is not 32 lower-case hex digits
	// field from: "XYZ" is not the code of a listed authority
	// field received_at: must be in UTC
}

// Unmarshal opens any version 1 envelope and returns a validated record; a
// type switch finds out which kind it is.
func ExampleUnmarshal() {
	data, _ := v1.Marshal(&v1.AuditEntry{
		At:        time.Date(2025, 8, 11, 11, 5, 0, 0, time.UTC),
		Authority: "ISL",
		Actor:     "node",
		Action:    v1.ActionBackupCreate,
		Outcome:   v1.AuditAllowed,
	})

	r, err := v1.Unmarshal(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	switch r := r.(type) {
	case *v1.AuditEntry:
		fmt.Println(r.Kind(), r.Action, r.At.Format(time.RFC3339))
	default:
		fmt.Println("some other record:", r.Kind())
	}

	// Anything else is refused with an error saying why.
	_, err = v1.Unmarshal(data[:len(data)-1])
	fmt.Println(errors.Is(err, schemas.ErrMalformed), err)
	future, _ := schemas.Seal(schemas.KindAuditEntry, 2, map[string]string{})
	_, err = v1.Unmarshal(future)
	fmt.Println(errors.Is(err, schemas.ErrUnsupportedVersion), err)
	// Output:
	// audit_entry backup.create 2025-08-11T11:05:00Z
	// true envelope: malformed record: not well-formed CBOR: the input ends inside a data item
	// true audit_entry: unsupported record version 2 (this node reads version 1)
}

// CID names a record by its content: a CIDv1 (dag-cbor, sha2-256) over the
// canonical envelope. Records that differ in any field have different CIDs.
func ExampleCID() {
	ack := &v1.AlertAck{
		AlertID:    "a1e4c7b0d3f6a9c2e5b8d1f4a7c0e3b6",
		Issuer:     "ISL",
		From:       "MAN",
		ReceivedAt: time.Date(2025, 5, 10, 22, 40, 3, 0, time.UTC),
	}
	id, err := v1.CID(ack)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(id)

	// The same CID from the bytes, as a receiver computes it.
	b, _ := v1.Marshal(ack)
	fmt.Println(schemas.CID(b).String() == id)
	// Output:
	// bafyreieea6pu6slpzqblv2ncszb7rbzhkq2lwaxidlabgampp5cl2tqm7i
	// true
}

// An alert is signed by its issuer over SigningBytes, the canonical envelope
// of the alert without its signature; a receiver verifies it the same way.
func ExampleCrossBorderAlert_SigningBytes() {
	seed := make([]byte, ed25519.SeedSize) // a real node loads its key
	key := ed25519.NewKeyFromSeed(seed)

	alert := &v1.CrossBorderAlert{
		ID:                "a1e4c7b0d3f6a9c2e5b8d1f4a7c0e3b6",
		Type:              v1.AlertMissing,
		Issuer:            "ISL",
		TargetAuthorities: []v1.AuthorityCode{"CMD"},
		Urgency:           v1.UrgencyHigh,
		IssuedAt:          time.Date(2025, 5, 10, 22, 40, 0, 0, time.UTC),
		ExpiresAt:         time.Date(2025, 5, 13, 22, 40, 0, 0, time.UTC),
		Contact:           v1.ContactDutyDesk,
		LegalBasis:        v1.BasisSafeguardingChildren,
		AgeBand:           v1.Age13To15,
		Sex:               v1.SexMale,
	}
	msg, _ := alert.SigningBytes()
	alert.Signature = ed25519.Sign(key, msg)
	wire, _ := v1.Marshal(alert)

	// The receiver.
	got, err := v1.UnmarshalAlert(wire)
	if err != nil {
		fmt.Println(err)
		return
	}
	check, _ := got.SigningBytes()
	fmt.Println("signature valid:", ed25519.Verify(key.Public().(ed25519.PublicKey), check, got.Signature))
	// Output:
	// signature valid: true
}
