package roster

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"nrmnet/schemas"
)

// SignedRoster is a roster body with the anchors' signatures over it. Decoding
// one checks its form, not its signatures; only Verify says whether it may be
// trusted.
type SignedRoster struct {
	// Body is the roster sealed as KindRoster: exactly the bytes signed.
	Body []byte `cbor:"roster"`
	// Signatures are sorted by key, one per key.
	Signatures []Signature `cbor:"sigs,omitempty"`

	roster *Roster // Body decoded
}

// Signature is one anchor's ed25519 signature over a roster body.
type Signature struct {
	Key []byte `cbor:"key"` // the anchor's public key, 32 bytes
	Sig []byte `cbor:"sig"` // 64 bytes
}

// NewUnsigned wraps a roster, with no signatures yet. It refuses a roster
// whose content is invalid (time against now is not checked).
func NewUnsigned(r *Roster) (*SignedRoster, error) {
	if err := r.validateContent(); err != nil {
		return nil, fmt.Errorf("roster: %w", err)
	}
	body, err := r.Body()
	if err != nil {
		return nil, fmt.Errorf("roster: %w", err)
	}
	return &SignedRoster{Body: body, roster: r.Clone()}, nil
}

// Sign returns the roster signed by one anchor. Further anchors add their
// signatures with AddSignature.
func Sign(r *Roster, anchorKey ed25519.PrivateKey) (*SignedRoster, error) {
	s, err := NewUnsigned(r)
	if err != nil {
		return nil, err
	}
	if err := s.AddSignature(anchorKey); err != nil {
		return nil, err
	}
	return s, nil
}

// AddSignature signs the roster body with an anchor's key. A signature already
// present from the same key is replaced.
func (s *SignedRoster) AddSignature(anchorKey ed25519.PrivateKey) error {
	if len(anchorKey) != ed25519.PrivateKeySize {
		return fmt.Errorf("roster: sign: anchor key is %d bytes, want %d", len(anchorKey), ed25519.PrivateKeySize)
	}
	if s.roster == nil {
		return fmt.Errorf("roster: sign: %w: no roster body", schemas.ErrMalformed)
	}
	if err := s.roster.validateContent(); err != nil {
		return fmt.Errorf("roster: refusing to sign an invalid roster: %w", err)
	}
	pub := anchorKey.Public().(ed25519.PublicKey)
	sig := Signature{Key: slices.Clone(pub), Sig: ed25519.Sign(anchorKey, s.Body)}
	i, found := slices.BinarySearchFunc(s.Signatures, pub, func(a Signature, k ed25519.PublicKey) int {
		return bytes.Compare(a.Key, k)
	})
	if found {
		s.Signatures[i] = sig
		return nil
	}
	if len(s.Signatures) >= MaxSignatures {
		return fmt.Errorf("roster: sign: already %d signatures, limit %d", len(s.Signatures), MaxSignatures)
	}
	s.Signatures = slices.Insert(s.Signatures, i, sig)
	return nil
}

// Encode returns the canonical encoding of the signed roster.
func (s *SignedRoster) Encode() ([]byte, error) {
	if err := s.checkSignatures(); err != nil {
		return nil, fmt.Errorf("roster: encode: %w", err)
	}
	b, err := schemas.Seal(KindSignedRoster, Version, s)
	if err != nil {
		return nil, fmt.Errorf("roster: encode: %w", err)
	}
	if len(b) > MaxSignedRosterSize {
		return nil, fmt.Errorf("roster: encode: %w: %d bytes, limit %d", schemas.ErrTooLarge, len(b), MaxSignedRosterSize)
	}
	return b, nil
}

// Unverified returns a copy of the roster inside, WITHOUT checking any
// signature or field. It is for showing a roster to a person (an anchor about
// to sign, an operator); a node must use Verify.
func (s *SignedRoster) Unverified() *Roster {
	if s.roster == nil {
		return nil
	}
	return s.roster.Clone()
}

// DecodeSignedRoster decodes a signed roster, refusing input longer than
// MaxSignedRosterSize, not in canonical form, or of the wrong kind or version.
// It checks the form of the signatures but not whether they are valid.
func DecodeSignedRoster(data []byte) (*SignedRoster, error) {
	if len(data) > MaxSignedRosterSize {
		return nil, fmt.Errorf("roster: %w: %d bytes, limit %d", schemas.ErrTooLarge, len(data), MaxSignedRosterSize)
	}
	env, err := openEnvelope(data, KindSignedRoster)
	if err != nil {
		return nil, err
	}
	var s SignedRoster
	if err := schemas.Unmarshal(env.Payload, &s); err != nil {
		return nil, fmt.Errorf("roster: signed roster: %w", err)
	}
	if err := s.checkSignatures(); err != nil {
		return nil, fmt.Errorf("roster: %w", err)
	}
	body, err := openEnvelope(s.Body, KindRoster)
	if err != nil {
		return nil, fmt.Errorf("roster: field roster: %w", err)
	}
	var r Roster
	if err := schemas.Unmarshal(body.Payload, &r); err != nil {
		return nil, fmt.Errorf("roster: field roster: %w", err)
	}
	s.roster = &r
	return &s, nil
}

func openEnvelope(data []byte, kind schemas.Kind) (schemas.Envelope, error) {
	env, err := schemas.OpenEnvelope(data)
	if err != nil {
		return env, fmt.Errorf("roster: %w", err)
	}
	if env.Kind != kind {
		return env, fmt.Errorf("roster: %w: envelope holds %q, want %q", schemas.ErrUnknownKind, clip(string(env.Kind)), kind)
	}
	if env.Version != Version {
		return env, fmt.Errorf("roster: %w: %s version %d, want %d", schemas.ErrUnsupportedVersion, kind, env.Version, Version)
	}
	return env, nil
}

// checkSignatures checks the form of the signature list: sizes, count, and
// keys strictly ascending (sorted, no key twice).
func (s *SignedRoster) checkSignatures() error {
	ch := schemas.NewChecker()
	ch.Check(len(s.Body) > 0, "roster", "is empty")
	if len(s.Signatures) > MaxSignatures {
		ch.Fail("sigs", "has %d entries, limit %d", len(s.Signatures), MaxSignatures)
	}
	for i, sig := range s.Signatures {
		sc := ch.Index("sigs", i)
		sc.Check(len(sig.Key) == ed25519.PublicKeySize, "key", "is %d bytes, want %d", len(sig.Key), ed25519.PublicKeySize)
		sc.Check(len(sig.Sig) == ed25519.SignatureSize, "sig", "is %d bytes, want %d", len(sig.Sig), ed25519.SignatureSize)
		if i > 0 && bytes.Compare(s.Signatures[i-1].Key, sig.Key) >= 0 {
			sc.Fail("key", "is not after the key of sigs[%d] (signatures are sorted by key, one per key)", i-1)
		}
	}
	return ch.Err()
}

// SignatureStatus is what Check found about one signature.
type SignatureStatus struct {
	Key    ed25519.PublicKey
	Valid  bool // the signature verifies under Key
	Anchor bool // Key is one of the anchors given
}

// Check reports on each signature: whether it verifies, and whether its key is
// one of anchors (which may be nil to check signatures only).
func (s *SignedRoster) Check(anchors []ed25519.PublicKey) []SignatureStatus {
	out := make([]SignatureStatus, 0, len(s.Signatures))
	for _, sig := range s.Signatures {
		st := SignatureStatus{Key: ed25519.PublicKey(slices.Clone(sig.Key))}
		st.Valid = len(sig.Key) == ed25519.PublicKeySize && ed25519.Verify(sig.Key, s.Body, sig.Sig)
		st.Anchor = slices.ContainsFunc(anchors, func(a ed25519.PublicKey) bool { return bytes.Equal(a, sig.Key) })
		out = append(out, st)
	}
	return out
}

// Verify decodes a signed roster and returns the roster inside if, and only
// if, at least threshold distinct keys among anchors signed it validly and
// every field is valid at time now. Signatures by other keys are ignored, so
// that nodes part-way through an anchor rotation still agree.
func Verify(signed []byte, anchors []ed25519.PublicKey, threshold int, now time.Time) (*Roster, error) {
	if err := CheckTrust(anchors, threshold); err != nil {
		return nil, err
	}
	s, err := DecodeSignedRoster(signed)
	if err != nil {
		return nil, err
	}
	return s.Verify(anchors, threshold, now)
}

// Verify is Verify for a roster already decoded.
func (s *SignedRoster) Verify(anchors []ed25519.PublicKey, threshold int, now time.Time) (*Roster, error) {
	if err := CheckTrust(anchors, threshold); err != nil {
		return nil, err
	}
	if s.roster == nil {
		return nil, fmt.Errorf("roster: %w: no roster body", schemas.ErrMalformed)
	}
	valid := 0
	var problems []string
	for _, st := range s.Check(anchors) {
		switch {
		case st.Anchor && st.Valid:
			valid++
		case st.Anchor:
			problems = append(problems, "anchor "+FormatAnchorKey(st.Key)+": signature does not verify")
		case st.Valid:
			problems = append(problems, "key "+FormatAnchorKey(st.Key)+": not a configured anchor")
		default:
			problems = append(problems, "key "+FormatAnchorKey(st.Key)+": not a configured anchor, signature does not verify")
		}
	}
	if valid < threshold {
		detail := ""
		if len(problems) > 0 {
			detail = " (" + strings.Join(problems, "; ") + ")"
		}
		return nil, fmt.Errorf("roster: %w: %d valid of %d required%s", ErrThreshold, valid, threshold, detail)
	}
	r := s.roster.Clone()
	if err := r.Validate(now); err != nil {
		return nil, fmt.Errorf("roster: region %s serial %d: %w", clip(r.Region), r.Serial, err)
	}
	return r, nil
}

// CheckTrust checks a node's trust configuration: at least one anchor, each a
// distinct ed25519 public key, and 1 <= threshold <= len(anchors).
func CheckTrust(anchors []ed25519.PublicKey, threshold int) error {
	var errs []error
	if len(anchors) == 0 {
		errs = append(errs, errors.New("no trust anchors"))
	}
	for i, a := range anchors {
		if len(a) != ed25519.PublicKeySize {
			errs = append(errs, fmt.Errorf("anchor %d is %d bytes, want %d", i, len(a), ed25519.PublicKeySize))
			continue
		}
		for j := range i {
			if bytes.Equal(anchors[j], a) {
				errs = append(errs, fmt.Errorf("anchor %d repeats anchor %d", i, j))
			}
		}
	}
	if threshold < 1 || threshold > len(anchors) {
		errs = append(errs, fmt.Errorf("threshold %d is not between 1 and the number of anchors (%d)", threshold, len(anchors)))
	}
	if len(errs) > 0 {
		return fmt.Errorf("roster: %w: %w", ErrTrustConfig, errors.Join(errs...))
	}
	return nil
}

// Succession is how a candidate roster relates to the one a node holds.
type Succession int

const (
	// Newer: the candidate has a higher serial and replaces the one held.
	Newer Succession = iota + 1
	// Same: the candidate is the roster held (perhaps with other signatures).
	Same
	// Older: the candidate has a lower serial and is ignored.
	Older
)

func (s Succession) String() string {
	switch s {
	case Newer:
		return "newer"
	case Same:
		return "same"
	case Older:
		return "older"
	}
	return fmt.Sprintf("Succession(%d)", int(s))
}

// Supersede decides what a node holding current (nil for none) does with a
// verified candidate next. Equal serials with different content are
// ErrConflict; a roster for another region is ErrWrongRegion.
func Supersede(current, next *Roster) (Succession, error) {
	if current == nil {
		return Newer, nil
	}
	if current.Region != next.Region {
		return 0, fmt.Errorf("roster: %w: holding %s, offered %s", ErrWrongRegion, current.Region, clip(next.Region))
	}
	switch {
	case next.Serial > current.Serial:
		return Newer, nil
	case next.Serial < current.Serial:
		return Older, nil
	case Equal(current, next):
		return Same, nil
	}
	return 0, fmt.Errorf("roster: %w: serial %d", ErrConflict, next.Serial)
}
