package panel

import (
	"fmt"

	"nrmnet/schemas"
)

// Encode validates c and returns its canonical envelope: the bytes to put in
// the panel's Raft log (raft.Apply). Equal commands encode to equal bytes.
func Encode(c Command) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("panel command: %w", err)
	}
	return schemas.Seal(KindCommand, CommandVersion, &c)
}

// Decode opens a command envelope, decodes it strictly (canonical CBOR only,
// no unknown fields) and validates it. Every error wraps one of the schemas
// sentinels (ErrTooLarge, ErrMalformed, ErrNotCanonical, ErrUnknownKind,
// ErrUnsupportedVersion, ErrInvalid) and names the field at fault.
func Decode(data []byte) (Command, error) {
	env, err := schemas.OpenEnvelope(data)
	if err != nil {
		return Command{}, fmt.Errorf("panel command: %w", err)
	}
	if env.Kind != KindCommand {
		return Command{}, fmt.Errorf("panel command: %w %q (want %q)", schemas.ErrUnknownKind, clip(string(env.Kind)), KindCommand)
	}
	if env.Version != CommandVersion {
		return Command{}, fmt.Errorf("panel command: %w %d (this node reads version %d)", schemas.ErrUnsupportedVersion, env.Version, CommandVersion)
	}
	var c Command
	if err := schemas.Unmarshal(env.Payload, &c); err != nil {
		return Command{}, fmt.Errorf("panel command: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Command{}, fmt.Errorf("panel command: %w", err)
	}
	return c, nil
}
