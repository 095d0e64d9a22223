package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"nrmnet/federation/roster"
	"nrmnet/storage"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunCommand makes a node the way an operator would (init, two anchor
// keys, a roster created and signed with the roster commands), configures
// its federation from NRMNET_* variables, runs `nrmnet run`, checks its
// endpoints and JSON logs, and stops it by cancelling its context (what
// SIGINT does through main).
func TestRunCommand(t *testing.T) {
	dir := t.TempDir()
	node := filepath.Join(dir, "isl")
	mustRunCLI(t, "init", "--dir", node, "--authority", "ISL")
	var anchors []string
	for i := 1; i <= 2; i++ {
		key := filepath.Join(dir, fmt.Sprintf("anchor-%d.key", i))
		mustRunCLI(t, "roster", "anchor-key", "--out", key)
		pub, err := os.ReadFile(key + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		anchors = append(anchors, strings.TrimSpace(string(pub)))
	}
	id, err := storage.LoadAuthorityKey(filepath.Join(node, "keys", storage.AuthorityKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := roster.PeerIDOf(id.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	desc := filepath.Join(dir, "london.yaml")
	if err := os.WriteFile(desc, []byte(`region: London
serial: 1
valid_for: 24h
members:
  - authority: ISL
    peer_id: `+pid+`
    roles: [authority]
    contacts:
      duty_desk: {team: Contact Team, phone: 020 7946 0001}
      out_of_hours: {team: Emergency Duty Team, phone: 020 7946 0002}
      nrm_coordinator: {team: Exploitation Team, email: nrm@isl.example.invalid}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	rosterFile := filepath.Join(node, "region.roster")
	mustRunCLI(t, "roster", "create", "--from", desc, "--out", rosterFile)
	mustRunCLI(t, "roster", "sign", "--key", filepath.Join(dir, "anchor-1.key"), rosterFile)
	mustRunCLI(t, "roster", "sign", "--key", filepath.Join(dir, "anchor-2.key"), rosterFile)

	t.Setenv("NRMNET_FEDERATION_ANCHORS", strings.Join(anchors, ","))
	t.Setenv("NRMNET_FEDERATION_LISTEN", "/ip4/127.0.0.1/tcp/0")
	t.Setenv("NRMNET_HTTP_LISTEN", "127.0.0.1:0")
	t.Setenv("NRMNET_LOG_LEVEL", "debug")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	cmd := newRootCommand()
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"run", "--dir", node})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	serving := regexp.MustCompile(`serving on http://(\S+) `)
	var base string
	deadline := time.Now().Add(30 * time.Second)
	for base == "" {
		if m := serving.FindStringSubmatch(stdout.String()); m != nil {
			base = "http://" + m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run ended before serving: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("run did not start within 30s\n%s", stderr.String())
		}
	}
	for {
		code, _ := httpGet(t, base+"/readyz")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready within 30s: %d", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := httpGet(t, base+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz %d %q", code, body)
	}
	if _, body := httpGet(t, base+"/metrics"); !strings.Contains(body, `nrmnet_ready{authority="ISL"} 1`) || !strings.Contains(body, "go_goroutines") {
		t.Error("/metrics lacks nrmnet_ready 1 or the Go collector")
	}
	if code, body := httpGet(t, base+"/federation"); code != http.StatusOK || !strings.Contains(body, "<strong>1 of 1</strong>") {
		t.Errorf("/federation %d", code)
	}
	// A production node has no open case list: it asks for sign-in.
	if code, body := httpGet(t, base+"/cases"); code != http.StatusUnauthorized || !strings.Contains(body, `action="/signin"`) {
		t.Errorf("/cases without sign-in: %d, want 401 and the sign-in form", code)
	}
	if code, body := httpGet(t, base+"/v1/whoami"); code != http.StatusUnauthorized {
		t.Errorf("/v1/whoami without a token: %d %s, want 401", code, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop within 30s of its context ending")
	}

	// Every log line is a JSON object; start and stop are logged in order.
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if msg, _ := rec["msg"].(string); msg != "" {
			msgs = append(msgs, msg)
		}
	}
	log := strings.Join(msgs, "\n")
	started, stopped := strings.Index(log, "node started"), strings.Index(log, "node stopped")
	if started < 0 || stopped < started {
		t.Errorf("logs lack an ordered start and stop:\n%s", log)
	}
	// The store closed cleanly: another command can open it at once.
	mustRunCLI(t, "audit", "verify", "--dir", node)
}

func mustRunCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runCLI(t, args...)
	if err != nil {
		t.Fatalf("nrmnet %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestRunSettingsNameEveryProblem checks that a node directory unfit to run
// is refused with every problem named by its config key, at once.
func TestRunSettingsNameEveryProblem(t *testing.T) {
	dir := t.TempDir()
	cfg := defaultNodeConfig("ISL")
	cfg.Federation.Listen = nil
	cfg.Federation.Anchors = []string{"ed25519:not-a-key"}
	cfg.HTTP.Listen = "8080"
	_, err := runSettings(dir, cfg)
	if err == nil {
		t.Fatal("runSettings accepted an empty node directory")
	}
	for _, want := range []string{"federation.listen:", "http.listen:", "federation.anchors[0]:", "federation.roster_file:", "authority key:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
	cfg = defaultNodeConfig("ISL")
	if _, err := runSettings(dir, cfg); err == nil || !strings.Contains(err.Error(), "federation.anchors: the region's trust-anchor public keys are required") {
		t.Errorf("missing anchors: %v", err)
	}
}
