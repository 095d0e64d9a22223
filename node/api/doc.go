// Package api is the authority's HTTP JSON API, under /v1, described by the
// OpenAPI 3 document in schemas/openapi (served at /v1/openapi).
//
// Every route but /v1/openapi needs a bearer token (Authorization: Bearer
// nrmnet_...), issued by an administrator and stored only as a hash. What a
// user may do is decided by their role in package node; this package maps
// the node's sentinel errors to HTTP statuses and stable error codes:
//
//	{"code": "revision_conflict", "message": "case ISL-... is at revision 4, ..."}
//
// Reading a case needs a stated purpose, sent in the Nrmnet-Purpose header
// (a header, not a query parameter, so that it does not end up in proxy
// logs with the URL); Nrmnet-Legal-Basis optionally names the legal basis
// (default dpa2018-sch1-para18, safeguarding of children). Both are
// recorded in the audit log with who read the case.
//
// Request bodies are JSON objects of at most Config.MaxBodyBytes, decoded
// strictly: an unknown field, a field given twice, trailing data or a value
// of the wrong type is refused with a 4xx naming the field, before anything
// is stored. A write is one store transaction, so nothing partial is ever
// stored.
package api
