package federation_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"nrmnet/federation"
)

func TestDefaultConfigNeedsOnlyIdentityAndTrust(t *testing.T) {
	cfg := federation.DefaultConfig()
	err := cfg.Validate()
	for _, field := range []string{"Identity", "Region", "Anchors", "Roster"} {
		if err == nil || !strings.Contains(err.Error(), field+":") {
			t.Errorf("empty default config: error does not name %s: %v", field, err)
		}
	}
	nodes := newNodes(1)
	cfg.Identity = nodes[0].key
	cfg.Region = region
	cfg.Anchors = anchors
	cfg.Roster = []byte{1}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidateNamesTheField(t *testing.T) {
	tests := []struct {
		field  string
		change func(c *federation.Config)
	}{
		{"Identity", func(c *federation.Config) { c.Identity = c.Identity[:32] }},
		{"Region", func(c *federation.Config) { c.Region = "Mercia" }},
		{"Anchors", func(c *federation.Config) { c.Threshold = 0 }},
		{"Anchors", func(c *federation.Config) { c.Anchors = append(c.Anchors, c.Anchors[0]) }},
		{"Roster", func(c *federation.Config) { c.Roster = make([]byte, 1<<20) }},
		{"ListenAddrs", func(c *federation.Config) { c.ListenAddrs = nil }},
		{"ListenAddrs[1]", func(c *federation.Config) {
			c.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic"}
		}},
		{"ListenAddrs[0]", func(c *federation.Config) { c.ListenAddrs = []string{"127.0.0.1:4001"} }},
		{"ReconnectInterval", func(c *federation.Config) { c.ReconnectInterval = 0 }},
		{"DialBackoffMin", func(c *federation.Config) { c.DialBackoffMax = c.DialBackoffMin - time.Millisecond }},
		{"DialTimeout", func(c *federation.Config) { c.DialTimeout = -time.Second }},
		{"MaxConcurrentDials", func(c *federation.Config) { c.MaxConcurrentDials = 0 }},
		{"Limits", func(c *federation.Config) { c.Limits.Peers = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			nodes := newNodes(1)
			cfg := testConfig(t, nodes[0], []byte{1})
			tt.change(&cfg)
			err := cfg.Validate()
			if !errors.Is(err, federation.ErrConfig) {
				t.Fatalf("err = %v", err)
			}
			if !strings.Contains(err.Error(), tt.field+":") {
				t.Fatalf("error does not name %s: %v", tt.field, err)
			}
		})
	}
}
