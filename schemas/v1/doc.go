// Package v1 is version 1 of nrmnet's record and message types: the child's
// case, the cross-border alert (which has no identity fields at all), the
// relocation request and response, the panel decision and the audit entry.
//
// Every type has Validate, which names each invalid field. Marshal validates
// and seals a record in the canonical envelope; Unmarshal opens an envelope,
// refuses unknown kinds and versions, decodes strictly and validates, so a
// record that reaches the rest of the node is well-formed.
package v1
