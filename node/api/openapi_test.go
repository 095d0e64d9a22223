package api

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"nrmnet/node"
	"nrmnet/node/workflow"
	"nrmnet/schemas/openapi"
	v1 "nrmnet/schemas/v1"
)

type openAPIDoc struct {
	OpenAPI    string                               `yaml:"openapi"`
	Paths      map[string]map[string]yaml.Node      `yaml:"paths"`
	Components map[string]map[string]map[string]any `yaml:"components"`
}

func loadSpec(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := yaml.Unmarshal(openapi.Spec, &doc); err != nil {
		t.Fatalf("schemas/openapi/openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi: %q, want 3.x", doc.OpenAPI)
	}
	return doc
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// TestOpenAPIMatchesRoutes keeps the document in step with the server:
// every registered route is documented and every documented operation is
// routed, with the same public/authenticated choice.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadSpec(t)
	s, err := New(Config{Node: &node.Node{}, MaxBodyBytes: DefaultMaxBodyBytes})
	if err != nil {
		t.Fatal(err)
	}
	routed := map[string]route{}
	for _, rt := range s.routes {
		routed[strings.ToLower(rt.Method)+" "+rt.Path] = rt
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if !slices.Contains(httpMethods, method) {
				continue // "parameters" and the like
			}
			key := method + " " + path
			documented[key] = true
			rt, ok := routed[key]
			if !ok {
				t.Errorf("documented but not routed: %s", key)
				continue
			}
			var o struct {
				Security *[]map[string][]string `yaml:"security"`
			}
			if err := op.Decode(&o); err != nil {
				t.Fatal(err)
			}
			public := o.Security != nil && len(*o.Security) == 0
			if public != rt.Public {
				t.Errorf("%s: documented public=%v, routed public=%v", key, public, rt.Public)
			}
		}
	}
	var missing []string
	for key := range routed {
		if !documented[key] {
			missing = append(missing, key)
		}
	}
	sort.Strings(missing)
	for _, key := range missing {
		t.Errorf("routed but not documented: %s", key)
	}
}

// TestOpenAPIReferencesResolve checks every $ref points at a component.
func TestOpenAPIReferencesResolve(t *testing.T) {
	doc := loadSpec(t)
	var root yaml.Node
	if err := yaml.Unmarshal(openapi.Spec, &root); err != nil {
		t.Fatal(err)
	}
	var walk func(n *yaml.Node)
	n := 0
	walk = func(nd *yaml.Node) {
		for i := 0; i+1 < len(nd.Content); i++ {
			if nd.Kind == yaml.MappingNode && i%2 == 0 && nd.Content[i].Value == "$ref" {
				n++
				ref := nd.Content[i+1].Value
				parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
				if !strings.HasPrefix(ref, "#/components/") || len(parts) != 2 || doc.Components[parts[0]][parts[1]] == nil {
					t.Errorf("$ref %q does not resolve", ref)
				}
			}
		}
		for _, c := range nd.Content {
			walk(c)
		}
	}
	walk(&root)
	if n < 50 {
		t.Fatalf("only %d $refs found; is the walker broken?", n)
	}
}

// TestOpenAPIEventTypes: the document lists every event type the API
// accepts.
func TestOpenAPIEventTypes(t *testing.T) {
	doc := loadSpec(t)
	enum, _ := doc.Components["schemas"]["EventType"]["enum"].([]any)
	for _, k := range eventTypes {
		if !slices.Contains(enum, any(string(k))) {
			t.Errorf("event type %s is accepted but not in EventType", k)
		}
	}
	for _, st := range v1.CaseStates {
		for _, k := range workflow.Allowed(st, workflow.DefaultPolicy()) {
			if !slices.Contains(enum, any(string(k))) {
				t.Errorf("event type %s is allowed in %s but not in EventType", k, st)
			}
		}
	}
}
