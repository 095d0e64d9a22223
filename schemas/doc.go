// Package schemas holds what every nrmnet node must agree on byte for byte: the
// envelope that wraps every stored record and wire message, the one canonical
// encoding, and the content identifiers computed over it. The record types
// themselves live in versioned subpackages (schemas/v1).
//
// The canonical encoding is CBOR in RFC 8949 core deterministic form (shortest
// integer forms, map keys sorted, definite lengths, no floats, no tags), which
// is a subset of DAG-CBOR; times are RFC 3339 text in UTC. A decoder accepts
// only input that re-encodes to the identical bytes, so anything a node accepts
// has exactly one encoding and one CID.
package schemas
