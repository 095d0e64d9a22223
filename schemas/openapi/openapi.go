// Package openapi holds the OpenAPI 3 document of the node's HTTP API
// (node/api), embedded so that the node serves the document it was built
// with at /v1/openapi. A test in node/api keeps it in step with the routes.
package openapi

import _ "embed"

// Spec is the OpenAPI 3.0 document, in YAML.
//
//go:embed openapi.yaml
var Spec []byte
