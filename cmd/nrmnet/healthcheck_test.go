package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHealthcheckProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			_, _ = w.Write([]byte("ready\n"))
		case "/moved":
			http.Redirect(w, r, "/readyz", http.StatusFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready\n"))
		}
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, tc := range []struct {
		path, wantErr string
	}{
		{"/readyz", ""},
		{"/starting", "503"},
		{"/moved", "302"},
	} {
		err := probe(ctx, srv.URL+tc.path)
		if tc.wantErr == "" && err != nil {
			t.Errorf("%s: %v", tc.path, err)
		}
		if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: error %v, want one naming %s", tc.path, err, tc.wantErr)
		}
	}
}

func TestHealthcheckCommandRefusesBadURL(t *testing.T) {
	cmd := newRootCommand()
	cmd.SetArgs([]string{"healthcheck", "--url", "127.0.0.1:8080/readyz"})
	cmd.SetOut(&strings.Builder{})
	cmd.SetErr(&strings.Builder{})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "--url") {
		t.Fatalf("got %v, want an error naming --url", err)
	}
}
