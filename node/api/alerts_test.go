package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"nrmnet/node"
	"nrmnet/storage"
)

// The cross-border routes over a real HTTP server on loopback: an alert is
// raised from a case and handed to the federation with no identity in it
// or in any response; the alert list shows who has still to acknowledge;
// a match task is listed, resolved once, and refused a second time.
func TestAlertsAndTasksOverHTTP(t *testing.T) {
	tn := newTestNode(t, true)
	c := tn.createCase() // Thi Nguyen, 2010-09-01 (estimated), female
	identity := []string{"Thi", "Nguyen", "2010-09-01", "nail bar"}

	r := tn.do(node.RoleSocialWorker, "POST", "/v1/cases/"+string(c.ID)+"/alerts", map[string]any{
		"type": "may_be_in_area", "urgency": "immediate", "target_authorities": []string{"CMD", "HRY"},
		"contact": "out_of_hours", "lifetime_hours": 48})
	if r.status != http.StatusCreated {
		t.Fatalf("raise: %d %s", r.status, r.body)
	}
	var raised raisedAlertView
	r.decode(t, &raised)
	if raised.Case != c.ID || raised.Alert.Issuer != testAuthority || len(raised.Pending) != 2 || raised.Alert.AgeBand == "" ||
		raised.Alert.Sex != "female" || raised.Alert.ExpiresAt.Sub(raised.Alert.IssuedAt).Hours() != 48 {
		t.Errorf("raised = %+v", raised)
	}
	sent := tn.sent.all()
	if len(sent) != 1 || sent[0].ID != raised.Alert.ID || len(sent[0].Signature) == 0 {
		t.Fatalf("handed to the federation: %+v", sent)
	}

	r2 := tn.do(node.RoleNRMCoordinator, "GET", "/v1/alerts", nil)
	if r2.status != http.StatusOK {
		t.Fatalf("list alerts: %d %s", r2.status, r2.body)
	}
	var list alertsResponse
	r2.decode(t, &list)
	if len(list.Raised) != 1 || list.Raised[0].Alert.ID != raised.Alert.ID || len(list.Received) != 0 {
		t.Errorf("alerts = %+v", list)
	}

	task := tn.openTask(c.ID)
	r3 := tn.do(node.RoleSocialWorker, "GET", "/v1/tasks", nil)
	var tasks tasksResponse
	r3.decode(t, &tasks)
	if r3.status != http.StatusOK || len(tasks.Tasks) != 1 || tasks.Tasks[0].ID != task.ID || tasks.Tasks[0].Status != "open" {
		t.Fatalf("tasks: %d %+v", r3.status, tasks)
	}
	path := "/v1/tasks/" + string(task.ID) + "/resolve"
	r4 := tn.do(node.RoleNRMCoordinator, "POST", path, map[string]any{"resolution": "same_child", "reason": "spoke to Camden's duty desk"})
	var done taskView
	r4.decode(t, &done)
	if r4.status != http.StatusOK || done.Status != "resolved" || done.ResolvedBy != "coord" || done.ResolvedAt == nil {
		t.Fatalf("resolve: %d %s", r4.status, r4.body)
	}
	if r := tn.do(node.RoleSocialWorker, "POST", path, map[string]any{"resolution": "not_same_child", "reason": "x"}); r.status != http.StatusConflict || r.errorCode() != "not_allowed_now" {
		t.Errorf("second resolution: %d %s", r.status, r.body)
	}
	for _, q := range []string{"", "?status=open"} {
		var open tasksResponse
		tn.do(node.RoleSocialWorker, "GET", "/v1/tasks"+q, nil).decode(t, &open)
		if len(open.Tasks) != 0 {
			t.Errorf("open tasks%s after resolution: %d", q, len(open.Tasks))
		}
	}
	var all tasksResponse
	tn.do(node.RoleSocialWorker, "GET", "/v1/tasks?status=all", nil).decode(t, &all)
	if len(all.Tasks) != 1 || all.Tasks[0].Resolution != storage.TaskSameChild {
		t.Errorf("all tasks = %+v", all.Tasks)
	}

	for _, bad := range []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{"GET", "/v1/tasks?status=closed", nil, 400, codeInvalidQuery},
		{"GET", "/v1/tasks?limit=0", nil, 400, codeInvalidQuery},
		{"GET", "/v1/alerts?case=" + string(c.ID), nil, 400, codeInvalidQuery},
		{"POST", "/v1/tasks/not-a-task/resolve", map[string]any{"resolution": "no_action", "reason": "x"}, 422, "invalid"},
		{"POST", "/v1/tasks/" + strings.Repeat("a", 32) + "/resolve", map[string]any{"resolution": "no_action", "reason": "x"}, 404, "not_found"},
		{"POST", "/v1/cases/ISL-0000000000000000/alerts", map[string]any{"type": "missing", "urgency": "high", "contact": "duty_desk", "national": true}, 404, "not_found"},
	} {
		if r := tn.do(node.RoleSocialWorker, bad.method, bad.path, bad.body); r.status != bad.status || r.errorCode() != bad.code {
			t.Errorf("%s %s: %d %s, want %d %s", bad.method, bad.path, r.status, r.body, bad.status, bad.code)
		}
	}

	for _, body := range [][]byte{r.body, r2.body, r3.body, r4.body} {
		for _, s := range identity {
			if strings.Contains(string(body), s) {
				t.Errorf("a response carries %q: %s", s, body)
			}
		}
	}
	if n := len(tn.sent.all()); n != 1 {
		t.Errorf("%d alerts handed to the federation, want 1", n)
	}
}

// A node without federation answers the cross-border routes with 503.
func TestAlertsUnavailableWithoutFederation(t *testing.T) {
	tn := newTestNode(t, false)
	s, err := New(Config{Node: tn.node, MaxBodyBytes: DefaultMaxBodyBytes})
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range []struct{ method, path string }{
		{"GET", "/v1/alerts"}, {"GET", "/v1/tasks"},
		{"POST", "/v1/cases/ISL-0000000000000000/alerts"}, {"POST", "/v1/tasks/" + strings.Repeat("a", 32) + "/resolve"},
	} {
		req := httptest.NewRequest(rt.method, rt.path, strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+tn.tokens[node.RoleSocialWorker])
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "not federated") {
			t.Errorf("%s %s: %d %s", rt.method, rt.path, w.Code, w.Body)
		}
	}
}

func FuzzDecodeRaiseAlert(f *testing.F) {
	f.Add([]byte(`{"type":"missing","urgency":"high","target_authorities":["CMD"],"contact":"duty_desk","lifetime_hours":24}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeRaiseAlert(b)
		checkDecodeErr(t, b, err)
		if err == nil && (req.LifetimeHours < 0 || req.LifetimeHours > maxAlertLifetimeHours) {
			t.Fatalf("accepted %q with lifetime %d", b, req.LifetimeHours)
		}
	})
}

func FuzzDecodeResolveTask(f *testing.F) {
	f.Add([]byte(`{"resolution":"not_same_child","reason":"different child"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeResolveTask(b)
		checkDecodeErr(t, b, err)
		if err == nil && (!storage.ValidResolution(req.Resolution) || strings.TrimSpace(req.Reason) == "") {
			t.Fatalf("accepted %q", b)
		}
	})
}
