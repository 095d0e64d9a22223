package deploytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"nrmnet/deploy/region"
	"nrmnet/schemas/authority"
)

// Bounds of the test's waits. The catch-up bound covers the gossip layer's
// default digest interval (one minute, one random peer) and the outbox's
// retry backoff, which nrmnet run does not let a config file shorten.
const (
	testBudget    = 6 * time.Minute
	healthyWithin = 90 * time.Second
	deliverWithin = 45 * time.Second
	catchUpWithin = 3 * time.Minute
	// noticeWithin bounds how long the others take to drop their
	// connections to the node cut off the network: libp2p's keepalive, about
	// 45 s here.
	noticeWithin = 2 * time.Minute
)

// imageUID is the USER of deploy/Dockerfile.
const imageUID = 10001

func TestRegionSurvivesKilledAndPartitionedNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testBudget)
	defer cancel()
	d := newDocker(t, ctx)
	d.sweepStale(testBudget + 5*time.Minute)
	repo := moduleRoot(t)
	suffix := randomSuffix(t)

	// The binary and the image. The build context holds the Dockerfile and
	// the binary only; the binary is built with the flags docs/install.md
	// gives, so Go's build cache makes a rebuild cheap.
	buildDir := t.TempDir()
	for _, f := range []string{"Dockerfile", ".dockerignore"} {
		b, err := os.ReadFile(filepath.Join(repo, "deploy", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(buildDir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(buildDir, "nrmnet")
	// Built as the Dockerfile says, with the version stamped in.
	version := "deploytest-" + suffix
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", bin, "./cmd/nrmnet")
	build.Dir = repo
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the static binary: %v\n%s", err, out)
	}
	image := imageRepo + ":" + suffix
	t.Cleanup(func() { d.quiet("rmi", "-f", image) })
	d.must("build", "-q", "-t", image, buildDir)
	if out := d.must("run", "--rm", image, "version"); !strings.Contains(string(out), version) {
		t.Fatalf("the image's nrmnet version says %q; want %s", out, version)
	}

	// The region's nodes, owned by the image's user.
	uid, gid := imageUID, imageUID
	if os.Geteuid() != 0 {
		uid, gid = os.Getuid(), os.Getgid() // cannot chown; run the containers as us
	}
	cfg := region.DefaultConfig()
	cfg.Dir = filepath.Join(t.TempDir(), "region")
	cfg.Binary = bin
	if os.Geteuid() == 0 {
		cfg.UID, cfg.GID = uid, gid
	}
	prep, err := region.Prepare(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}

	c := &composeRegion{
		d: d, t: t, project: projectPrefix + suffix,
		file: filepath.Join(repo, "deploy", "compose.yaml"),
		env: []string{
			"NRMNET_IMAGE=" + image,
			"NRMNET_REGION_DIR=" + cfg.Dir,
			"NRMNET_UID=" + strconv.Itoa(uid),
			"NRMNET_GID=" + strconv.Itoa(gid),
		},
		prep: prep,
	}
	t.Cleanup(c.down)
	c.compose("up", "-d")

	hosts := make([]string, 0, len(prep.Nodes))
	for _, n := range prep.Nodes {
		hosts = append(hosts, n.Host)
	}
	c.waitHealthy(ctx, hosts...)
	c.waitConnected(ctx, len(prep.Nodes)-1, hosts...)
	t.Logf("region up: %d nodes healthy, each connected to the %d others", len(hosts), len(hosts)-1)

	// A worker at every node: the alert list is theirs to read.
	workers := map[string]string{}
	for _, n := range prep.Nodes {
		workers[n.Host] = c.createWorker(ctx, n.Host, n.AdminToken)
	}
	canary := "Canaryq" + strings.ToLower(suffix)

	// The tri-borough panel loses its Raft leader: the other two members
	// still decide, and the leader, restarted, catches up on the decision.
	c.panelSurvivesLeaderKill(ctx, workers, canary)
	c.waitConnected(ctx, len(prep.Nodes)-1, hosts...)

	issuer := "hmf"
	caseID := c.createCase(ctx, issuer, workers[issuer], canary)
	others := slices.DeleteFunc(slices.Clone(prep.Nodes), func(n region.Node) bool { return n.Host == issuer })
	targets := make([]authority.Code, 0, len(others))
	for _, n := range others {
		targets = append(targets, n.Code)
	}

	first, status := c.raiseAlert(ctx, issuer, workers[issuer], caseID, targets)
	if status == http.StatusServiceUnavailable {
		t.Fatalf("POST /v1/cases/{id}/alerts answered 503: nrmnet run does not give the API its cross-border alerts (api.Config.Alerts is nil in cmd/nrmnet/startnode.go)")
	}
	for _, h := range hostsOf(others) {
		c.waitReceived(ctx, h, workers[h], first, deliverWithin)
	}
	t.Logf("alert %s delivered to all four targets", first)

	// Faults: one node killed outright, another cut off the network.
	killed, cut := "isl", "cmd"
	killedID, cutID := c.container(killed), c.container(cut)
	d.must("kill", killedID)
	d.must("network", "disconnect", c.network(), cutID)
	reachable := []string{"kec", "wsm"}
	c.waitConnected(ctx, len(reachable), append([]string{issuer}, reachable...)...)

	missed, status := c.raiseAlert(ctx, issuer, workers[issuer], caseID, targets)
	if status != http.StatusCreated {
		t.Fatalf("raising an alert with two nodes down answered %d", status)
	}
	for _, h := range reachable {
		c.waitReceived(ctx, h, workers[h], missed, deliverWithin)
	}
	if acked := c.acked(ctx, issuer, workers[issuer], missed); slices.Contains(acked, "ISL") || slices.Contains(acked, "CMD") {
		t.Fatalf("alert %s acknowledged by %v while ISL was killed and CMD cut off", missed, acked)
	}
	t.Logf("with %s killed and %s cut off, alert %s reached %v", killed, cut, missed, reachable)

	// Both come back: the killed node restarts from its volume, the cut one
	// rejoins under its service name.
	d.must("start", killedID)
	d.must("network", "connect", "--alias", cut, c.network(), cutID)
	c.waitHealthy(ctx, killed, cut)
	c.waitConnected(ctx, len(prep.Nodes)-1, hosts...)
	for _, h := range []string{killed, cut} {
		c.waitReceived(ctx, h, workers[h], missed, catchUpWithin)
		c.waitReceived(ctx, h, workers[h], first, deliverWithin) // still there after the kill
		if l, err := c.alerts(ctx, h, workers[h]); err == nil {
			for _, r := range l.Received {
				if r.Alert.ID == missed {
					t.Logf("%s received the alert it missed via %q", h, r.Via)
				}
			}
		}
	}
	deadline := time.Now().Add(catchUpWithin)
	for {
		acked := c.acked(ctx, issuer, workers[issuer], missed)
		if len(acked) == len(targets) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alert %s acknowledged only by %v after both nodes returned", missed, acked)
		}
		sleep(ctx, 2*time.Second)
	}
	t.Logf("%s and %s caught up on alert %s, and the issuer has every acknowledgement", killed, cut, missed)

	// Nothing the child is called crossed to another node's API or into
	// any node's logs.
	for _, h := range hostsOf(others) {
		body := c.get(ctx, h, workers[h], "/v1/alerts")
		if bytes.Contains(body, []byte(canary)) {
			t.Errorf("%s's alert list carries the child's name", h)
		}
	}
	for _, h := range hosts {
		logs, err := d.run("logs", c.container(h))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(logs, []byte(canary)) {
			t.Errorf("%s's logs carry the child's name", h)
		}
	}
}

// composeRegion is the running compose project.
type composeRegion struct {
	d       *docker
	t       *testing.T
	project string
	file    string
	env     []string
	prep    *region.Prepared
	ids     map[string]string
}

func (c *composeRegion) compose(args ...string) []byte {
	c.t.Helper()
	out, err := c.d.compose(c.env, append([]string{"-f", c.file, "-p", c.project}, args...)...)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

// down stops and removes the project's containers, network and volumes,
// first keeping the end of each node's log in the test's output if it
// failed.
func (c *composeRegion) down() {
	base := []string{"-f", c.file, "-p", c.project}
	if c.t.Failed() {
		if out, err := c.d.compose(c.env, append(base, "logs", "--no-color", "--tail", "40")...); err == nil {
			c.t.Logf("last log lines of each node:\n%s", out)
		}
	}
	if out, err := c.d.compose(c.env, append(base, "down", "-v", "--remove-orphans", "-t", "10")...); err != nil {
		c.t.Errorf("compose down: %v\n%s", err, out)
	}
}

// container returns the ID of service's container.
func (c *composeRegion) container(service string) string {
	c.t.Helper()
	if id, ok := c.ids[service]; ok {
		return id
	}
	id := strings.TrimSpace(string(c.compose("ps", "-q", service)))
	if id == "" {
		c.t.Fatalf("no container for %s", service)
	}
	if c.ids == nil {
		c.ids = map[string]string{}
	}
	c.ids[service] = id
	return id
}

// network is the name of the region's compose network.
func (c *composeRegion) network() string { return c.project + "_region" }

// addr is the service's HTTP address on the region's network, or "" while
// the container has no address on it.
func (c *composeRegion) addr(service string) string {
	out, err := c.d.run("inspect", "-f", `{{with index .NetworkSettings.Networks "`+c.network()+`"}}{{.IPAddress}}{{end}}`, c.container(service))
	ip := strings.TrimSpace(string(out))
	if err != nil || ip == "" {
		return ""
	}
	return ip + ":" + strconv.Itoa(region.DefaultConfig().HTTPPort)
}

func (c *composeRegion) waitHealthy(ctx context.Context, services ...string) {
	c.t.Helper()
	c.waitFor(ctx, healthyWithin, "healthy", func() (bool, string) {
		var sick []string
		for _, s := range services {
			out, _ := c.d.run("inspect", "-f", "{{.State.Health.Status}}", c.container(s))
			if st := strings.TrimSpace(string(out)); st != "healthy" {
				sick = append(sick, s+"="+st)
			}
		}
		return len(sick) == 0, strings.Join(sick, ", ")
	})
}

// waitConnected waits until each service reports want other members
// connected in /metrics.
func (c *composeRegion) waitConnected(ctx context.Context, want int, services ...string) {
	c.t.Helper()
	c.waitFor(ctx, noticeWithin, fmt.Sprintf("connected to %d members", want), func() (bool, string) {
		var off []string
		for _, s := range services {
			n, err := c.metric(ctx, s, "nrmnet_federation_members_connected")
			if err != nil || n != float64(want) {
				off = append(off, fmt.Sprintf("%s=%v(%v)", s, n, err))
			}
		}
		return len(off) == 0, strings.Join(off, ", ")
	})
}

func (c *composeRegion) metric(ctx context.Context, service, name string) (float64, error) {
	body, status, err := c.do(ctx, service, "", "GET", "/metrics", nil)
	if err != nil || status != http.StatusOK {
		return 0, fmt.Errorf("/metrics: %d %v", status, err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			f := strings.Fields(line)
			return strconv.ParseFloat(f[len(f)-1], 64)
		}
	}
	return 0, fmt.Errorf("no %s", name)
}

func (c *composeRegion) createWorker(ctx context.Context, service, adminToken string) string {
	c.t.Helper()
	return c.createUser(ctx, service, adminToken, "sw."+service, "Synthetic Worker", "social_worker")
}

// createUser adds a user with role at service and returns their token.
func (c *composeRegion) createUser(ctx context.Context, service, adminToken, id, name, role string) string {
	c.t.Helper()
	var out struct {
		Token string `json:"token"`
	}
	c.call(ctx, service, adminToken, "POST", "/v1/users", map[string]any{
		"id": id, "name": name, "role": role,
	}, http.StatusCreated, &out)
	return out.Token
}

// createCase records a synthetic referral whose child is named canary.
func (c *composeRegion) createCase(ctx context.Context, service, token, canary string) string {
	c.t.Helper()
	id, _ := c.createCaseRev(ctx, service, token, canary)
	return id
}

// createCaseRev is createCase that also returns the new case's revision.
func (c *composeRegion) createCaseRev(ctx context.Context, service, token, canary string) (string, uint64) {
	c.t.Helper()
	var out struct {
		Case struct {
			ID       string `json:"id"`
			Revision uint64 `json:"revision"`
		} `json:"case"`
	}
	c.call(ctx, service, token, "POST", "/v1/cases", map[string]any{
		"identity": map[string]any{
			"names":         []any{map[string]any{"kind": "used", "given": canary, "family": canary}},
			"date_of_birth": map[string]any{"date": "2010-09-01", "estimated": true, "uncertainty_days": 180, "basis": "age assessment"},
			"sex":           "female",
			"nationalities": []string{"VNM"},
		},
		"referral": map[string]any{
			"referred_at": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339), "first_responder_org": "Synthetic Borough Council",
			"first_responder_type": "local_authority", "exploitation_types": []string{"labour"},
			"exploitation_location": "both", "source": "school", "presenting_issue": "working in a nail bar",
		},
		"risk": "amber",
	}, http.StatusCreated, &out)
	return out.Case.ID, out.Case.Revision
}

// raiseAlert raises a may-be-in-area alert about caseID to targets and
// returns its ID and the status code.
func (c *composeRegion) raiseAlert(ctx context.Context, service, token, caseID string, targets []authority.Code) (string, int) {
	c.t.Helper()
	body, status, err := c.do(ctx, service, token, "POST", "/v1/cases/"+caseID+"/alerts", map[string]any{
		"type": "may_be_in_area", "urgency": "immediate", "target_authorities": targets,
		"contact": "out_of_hours", "lifetime_hours": 48,
	})
	if err != nil {
		c.t.Fatal(err)
	}
	if status != http.StatusCreated {
		c.t.Logf("raise alert at %s: %d %s", service, status, body)
		return "", status
	}
	var out struct {
		Alert struct {
			ID string `json:"id"`
		} `json:"alert"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Alert.ID == "" {
		c.t.Fatalf("raise alert at %s: %v: %s", service, err, body)
	}
	return out.Alert.ID, status
}

type alertList struct {
	Raised []struct {
		Alert struct {
			ID string `json:"id"`
		} `json:"alert"`
		Acked []string `json:"acked"`
	} `json:"raised"`
	Received []struct {
		Alert struct {
			ID string `json:"id"`
		} `json:"alert"`
		Via string `json:"via"`
	} `json:"received"`
}

func (c *composeRegion) alerts(ctx context.Context, service, token string) (alertList, error) {
	var l alertList
	body, status, err := c.do(ctx, service, token, "GET", "/v1/alerts", nil)
	if err != nil {
		return l, err
	}
	if status != http.StatusOK {
		return l, fmt.Errorf("GET /v1/alerts: %d %s", status, body)
	}
	return l, json.Unmarshal(body, &l)
}

func (c *composeRegion) waitReceived(ctx context.Context, service, token, alert string, within time.Duration) {
	c.t.Helper()
	c.waitFor(ctx, within, service+" received alert "+alert, func() (bool, string) {
		l, err := c.alerts(ctx, service, token)
		if err != nil {
			return false, err.Error()
		}
		for _, r := range l.Received {
			if r.Alert.ID == alert {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d received, not this one", len(l.Received))
	})
}

// acked returns the authorities that acknowledged alert, as its issuer
// lists them.
func (c *composeRegion) acked(ctx context.Context, service, token, alert string) []string {
	c.t.Helper()
	l, err := c.alerts(ctx, service, token)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, r := range l.Raised {
		if r.Alert.ID == alert {
			return r.Acked
		}
	}
	c.t.Fatalf("%s does not list alert %s among those it raised", service, alert)
	return nil
}

func (c *composeRegion) get(ctx context.Context, service, token, path string) []byte {
	c.t.Helper()
	body, status, err := c.do(ctx, service, token, "GET", path, nil)
	if err != nil || status != http.StatusOK {
		c.t.Fatalf("GET %s at %s: %d %v %s", path, service, status, err, body)
	}
	return body
}

func (c *composeRegion) call(ctx context.Context, service, token, method, path string, in any, want int, out any) {
	c.t.Helper()
	body, status, err := c.do(ctx, service, token, method, path, in)
	if err != nil {
		c.t.Fatal(err)
	}
	if status != want {
		c.t.Fatalf("%s %s at %s: %d, want %d: %s", method, path, service, status, want, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		c.t.Fatalf("%s %s at %s: %v: %s", method, path, service, err, body)
	}
}

func (c *composeRegion) do(ctx context.Context, service, token, method, path string, in any) ([]byte, int, error) {
	addr := c.addr(service)
	if addr == "" {
		return nil, 0, fmt.Errorf("%s has no address on %s", service, c.network())
	}
	var rd io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, 0, err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, rd)
	if err != nil {
		return nil, 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return body, resp.StatusCode, err
}

// waitFor polls cond until it holds, failing the test with cond's last
// explanation after within.
func (c *composeRegion) waitFor(ctx context.Context, within time.Duration, what string, cond func() (bool, string)) {
	c.t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	for {
		ok, why := cond()
		if ok {
			c.t.Logf("%s after %s", what, time.Since(start).Round(100*time.Millisecond))
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			c.t.Fatalf("not %s within %s: %s", what, within, why)
		}
		sleep(ctx, time.Second)
	}
}

// docker runs the docker CLI and the compose command this machine has.
type docker struct {
	t       *testing.T
	ctx     context.Context
	compose func(env []string, args ...string) ([]byte, error)
}

// newDocker skips the test when the Docker daemon cannot be reached and
// fails it when the daemon is there but compose is not.
func newDocker(t *testing.T, ctx context.Context) *docker {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("skipping the Docker fault test: no docker command on PATH")
	}
	d := &docker{t: t, ctx: ctx}
	if out, err := d.run("version", "--format", "{{.Server.Version}}"); err != nil {
		t.Skipf("skipping the Docker fault test: the Docker daemon is unreachable: %v %s", err, out)
	}
	// Run with a background context: cleanups must work after ctx ends.
	runCompose := func(name string, pre []string) func([]string, ...string) ([]byte, error) {
		return func(env []string, args ...string) ([]byte, error) {
			cctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(cctx, name, append(slices.Clone(pre), args...)...)
			cmd.Env = append(os.Environ(), env...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				return out, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(append(pre, args...), " "), err, out)
			}
			return out, nil
		}
	}
	if _, err := d.run("compose", "version"); err == nil {
		d.compose = runCompose("docker", []string{"compose"})
	} else if _, err := exec.LookPath("docker-compose"); err == nil {
		d.compose = runCompose("docker-compose", nil)
	} else {
		t.Fatal("the Docker daemon is up but neither `docker compose` nor docker-compose is installed")
	}
	return d
}

func (d *docker) run(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return append(stdout.Bytes(), stderr.Bytes()...), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return append(stdout.Bytes(), stderr.Bytes()...), nil
}

func (d *docker) must(args ...string) []byte {
	d.t.Helper()
	out, err := d.run(args...)
	if err != nil {
		d.t.Fatal(err)
	}
	return out
}

// quiet runs a cleanup command, reporting a failure without stopping.
func (d *docker) quiet(args ...string) {
	if out, err := d.run(args...); err != nil && !errors.Is(err, context.Canceled) {
		d.t.Logf("cleanup: %v %s", err, out)
	}
}

// Prefixes of what the test names, so that leftovers of a run that was
// killed before its cleanups ran can be found.
const (
	projectPrefix = "nrmnetdt"
	imageRepo     = "nrmnet-deploytest"
)

// sweepStale removes the containers, networks and images of earlier runs
// of this test older than age, which a run killed outright (a test binary
// timeout, SIGKILL) leaves behind. Younger ones may belong to a run still
// going, and are left alone.
func (d *docker) sweepStale(age time.Duration) {
	old := func(kind, id string) bool {
		out, err := d.run(kind, "inspect", "-f", "{{.Created}}", id)
		if err != nil {
			return false
		}
		s := strings.TrimSpace(string(out))
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil { // networks show Go's time.Time.String form
			at, err = time.Parse("2006-01-02 15:04:05.999999999 -0700 MST", s)
		}
		return err == nil && time.Since(at) > age
	}
	out, _ := d.run("ps", "-a", "--filter", "label=com.docker.compose.project", "--format", `{{.ID}} {{.Label "com.docker.compose.project"}}`)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && strings.HasPrefix(f[1], projectPrefix) && old("container", f[0]) {
			d.t.Logf("removing container %s left by an earlier run (project %s)", f[0], f[1])
			d.quiet("rm", "-f", "-v", f[0])
		}
	}
	out, _ = d.run("network", "ls", "--filter", "name="+projectPrefix, "--format", "{{.Name}}")
	for _, n := range strings.Fields(string(out)) {
		if strings.HasPrefix(n, projectPrefix) && old("network", n) {
			d.quiet("network", "rm", n) // refused while a younger run uses it
		}
	}
	out, _ = d.run("images", imageRepo, "--format", "{{.Repository}}:{{.Tag}}")
	for _, img := range strings.Fields(string(out)) {
		if old("image", img) {
			d.quiet("rmi", img)
		}
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		t.Fatal("not inside the nrmnet module")
	}
	return filepath.Dir(mod)
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	const letters = "abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

func hostsOf(ns []region.Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Host
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
