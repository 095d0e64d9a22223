package main

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"nrmnet/schemas/synthetic"
	"nrmnet/storage"
)

// TestPagesMetricsAndLogsCarryNoCaseContent stores a canary case in a
// running node, then reads everything the node serves without a case
// purpose (the coordinator view, the case list, metrics, health) and every
// log line all three nodes wrote, and searches them for the canary: names,
// aliases and the child's words must never appear there.
func TestPagesMetricsAndLogsCarryNoCaseContent(t *testing.T) {
	const canary = "Zq7canaryXv"
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m, err := createDevnet(ctx, dir, time.Now().UTC(), smallLayout, 3, log)
	if err != nil {
		t.Fatal(err)
	}
	opts := devnetStartOptions(log)
	nodes, err := startDevnet(ctx, dir, m, "127.0.0.1", 0, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := stopDevnet(nodes); err != nil {
			t.Error(err)
		}
	}()
	isl := nodes[0]
	g := synthetic.New(99, synthetic.WithAuthority(isl.Authority), synthetic.WithClock(time.Now().Add(-devnetBacklog)))
	c := synthetic.CanaryCase(g, canary)
	c.Revision = 1
	if err := isl.store.CreateCase(ctx, c, storage.Access{Actor: "test", Role: "administrator", Purpose: "seed a canary case"}); err != nil {
		t.Fatal(err)
	}
	got, err := isl.store.Case(ctx, c.ID, storage.Access{Actor: "test", Role: "administrator", Purpose: "check the canary is stored"})
	if err != nil || !strings.Contains(got.Identity.Names[0].Given+got.Identity.Names[0].Family, canary) {
		t.Fatalf("the canary case is not stored as seeded: %v", err)
	}
	for _, n := range nodes {
		waitReady(t, n)
	}
	// Let a few heartbeats go round, carrying ISL's counts to the others.
	time.Sleep(5 * time.Second)

	var served []string
	for _, n := range nodes {
		base := "http://" + n.HTTPAddr()
		for _, path := range []string{"/", "/federation", "/cases", "/cases?view=all", "/metrics", "/healthz", "/readyz", "/signin"} {
			code, body := httpGet(t, base+path)
			if code != http.StatusOK {
				t.Errorf("%s %s: %d", n.Authority, path, code)
			}
			served = append(served, body)
		}
	}
	if !strings.Contains(strings.Join(served, ""), string(c.ID)) {
		t.Error("the canary case's ID is not on ISL's case list: the list did not include it, so the search proves nothing")
	}
	for i, body := range served {
		if strings.Contains(body, canary) {
			t.Errorf("served page %d carries the canary", i)
		}
	}
	if strings.Contains(logs.String(), canary) {
		t.Error("the logs carry the canary")
	}
	if !strings.Contains(logs.String(), `"msg":"node started"`) {
		t.Error("no logs were captured, so the search proves nothing")
	}
}
