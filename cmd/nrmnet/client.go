package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Environment variables read by the commands that use the node's API.
const (
	envServer = "NRMNET_SERVER"
	envToken  = "NRMNET_TOKEN"
)

// maxResponseSize bounds what the client reads of one API response.
const maxResponseSize = 64 << 20

// clientOptions are the flags of every command that talks to a node's API.
type clientOptions struct {
	server string
	token  string
	json   bool
	// httpClient, if set, replaces the default client (tests).
	httpClient *http.Client
}

// register adds --server, --token and --json to cmd.
func (o *clientOptions) register(cmd *cobra.Command) {
	server := os.Getenv(envServer)
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	cmd.Flags().StringVar(&o.server, "server", server, "the node's API address; default $"+envServer+" or http://127.0.0.1:8080")
	cmd.Flags().StringVar(&o.token, "token", "", "your bearer token; default $"+envToken+" (prefer the variable: flags show in the process list)")
	cmd.Flags().BoolVar(&o.json, "json", false, "print the API's JSON instead of a table")
}

// withClient makes a cobra RunE that builds the client from the flags
// before running fn.
func (o *clientOptions) withClient(fn func(cmd *cobra.Command, c *apiClient, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := o.client()
		if err != nil {
			return err
		}
		return fn(cmd, c, args)
	}
}

// apiClient calls a node's API as one user.
type apiClient struct {
	base  *url.URL
	token string
	http  *http.Client
}

// client checks the flags and returns a client.
func (o *clientOptions) client() (*apiClient, error) {
	token := o.token
	if token == "" {
		token = os.Getenv(envToken)
	}
	if token == "" {
		return nil, fmt.Errorf("no token: set %s (or pass --token); an administrator issues one with `nrmnet user add`", envToken)
	}
	u, err := url.Parse(o.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q is not an http:// or https:// address such as http://127.0.0.1:8080", o.server)
	}
	hc := o.httpClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	return &apiClient{base: u, token: token, http: hc}, nil
}

// apiError is an error answer of the API.
type apiError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (%s, HTTP %d)", e.Message, e.Code, e.Status)
}

// call sends one request. body, if not nil, is sent as JSON (a
// json.RawMessage as it is); the answer is decoded into out, or copied raw
// into rawOut when that is set.
func (c *apiClient) call(ctx context.Context, method, path string, q url.Values, header http.Header, body, out any, rawOut io.Writer) error {
	u := c.base.JoinPath(path)
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the node at %s: %w (is it running? check --server or %s)", c.base, err, envServer)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize))
	if err != nil {
		return fmt.Errorf("reading the node's answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		e := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(b, e) != nil || e.Code == "" {
			return fmt.Errorf("the node answered HTTP %d: %.200s", resp.StatusCode, strings.TrimSpace(string(b)))
		}
		return e
	}
	if rawOut != nil {
		var pretty bytes.Buffer
		if _, asIs := rawOut.(rawWriter); !asIs && json.Indent(&pretty, b, "", "  ") == nil {
			b = pretty.Bytes()
		}
		_, err := rawOut.Write(b)
		return err
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("the node's answer is not what this version of nrmnet expects: %w", err)
		}
	}
	return nil
}

// isAPIError reports whether err is an API error with the given code.
func isAPIError(err error, code string) bool {
	var e *apiError
	return errors.As(err, &e) && e.Code == code
}
