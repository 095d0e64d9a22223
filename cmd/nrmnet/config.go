package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"nrmnet/federation/match"
	"nrmnet/node/web"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// ConfigFile is the name of the node's configuration file in its directory.
const ConfigFile = "config.yaml"

// envPrefix starts every environment override: NRMNET_STORAGE_SYNC_INTERVAL
// overrides storage.sync_interval.
const envPrefix = "NRMNET_"

// maxConfigSize bounds what we read of a config file.
const maxConfigSize = 1 << 20

// nodeConfig is the node's config.yaml. Paths are relative to the node
// directory unless absolute. Durations are strings such as "1s" or "10m".
type nodeConfig struct {
	Authority  v1.AuthorityCode `yaml:"authority"`
	Region     string           `yaml:"region"`
	DataDir    string           `yaml:"data_dir"`
	KeysDir    string           `yaml:"keys_dir"`
	Storage    storageConfig    `yaml:"storage"`
	Federation federationConfig `yaml:"federation"`
	HTTP       httpConfig       `yaml:"http"`
	Panels     panelsConfig     `yaml:"panels"`
	Matching   matchingConfig   `yaml:"matching"`
	Log        logConfig        `yaml:"log"`
}

// matchingConfig bounds the private-matching queries other nodes make about
// this node's alerts (federation/match's issuer): the bound on guessing.
type matchingConfig struct {
	// PeerElementsPerHour bounds the elements one authority may have
	// evaluated in an hour, across all of this node's alerts.
	PeerElementsPerHour int `yaml:"peer_elements_per_hour"`
	// AlertElementsPerHour bounds the elements evaluated for one alert in
	// an hour, across all authorities: raise it for national alerts to
	// authorities with large caseloads (docs/matching.md).
	AlertElementsPerHour int `yaml:"alert_elements_per_hour"`
}

// federationConfig is how the node joins its region (nrmnet run). The trust
// anchors and threshold are the node's own: never read from a roster.
type federationConfig struct {
	// Listen are the libp2p multiaddrs to listen on (TCP and QUIC v1).
	Listen []string `yaml:"listen"`
	// RosterFile holds the newest signed roster the node has; the node
	// replaces it when it moves to a newer one.
	RosterFile string `yaml:"roster_file"`
	// Anchors are the region's trust-anchor public keys, "ed25519:...".
	Anchors   []string `yaml:"anchors"`
	Threshold int      `yaml:"threshold"`
	// OtherRegions are the other regions whose rosters this node holds, so
	// that national alerts, their acknowledgements and match queries, and
	// hand-overs of a child who moves cross regions. Each comes from the
	// national trust bundle: the region's anchors and threshold, and a file
	// for its roster (kept up to date by the node).
	OtherRegions []otherRegionConfig `yaml:"other_regions"`
}

// otherRegionConfig is how this node checks another region's roster.
type otherRegionConfig struct {
	Region string `yaml:"region"`
	// RosterFile holds that region's newest signed roster; if it does not
	// exist yet, the node learns the roster from its region's bridge.
	RosterFile string   `yaml:"roster_file"`
	Anchors    []string `yaml:"anchors"`
	Threshold  int      `yaml:"threshold"`
}

// httpConfig is the node's web server: pages, /metrics, /healthz, /readyz.
type httpConfig struct {
	// Listen is host:port; keep it on loopback or behind a reverse proxy
	// with TLS.
	Listen string `yaml:"listen"`
	// ShutdownTimeout bounds how long requests in flight may finish.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// SessionLifetime and SessionIdleTimeout bound a sign-in to the pages.
	SessionLifetime    time.Duration `yaml:"session_lifetime"`
	SessionIdleTimeout time.Duration `yaml:"session_idle_timeout"`
	// SecureCookies marks the session cookie Secure although the node
	// serves plain HTTP: set it when users come through a TLS proxy.
	SecureCookies bool `yaml:"secure_cookies"`
}

type storageConfig struct {
	SyncInterval   time.Duration `yaml:"sync_interval"`
	SyncReads      bool          `yaml:"sync_reads"`
	GCInterval     time.Duration `yaml:"gc_interval"`
	GCDiscardRatio float64       `yaml:"gc_discard_ratio"`
	MemTableMiB    int64         `yaml:"memtable_mib"`
	BlockCacheMiB  int64         `yaml:"block_cache_mib"`
	IndexCacheMiB  int64         `yaml:"index_cache_mib"`
}

type logConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json or text
}

func defaultNodeConfig(a v1.AuthorityCode) nodeConfig {
	d := storage.DefaultConfig()
	region := ""
	if info, ok := authority.Lookup(a); ok {
		region = info.Region
	}
	return nodeConfig{
		Authority: a,
		Region:    region,
		DataDir:   "data",
		KeysDir:   "keys",
		Storage: storageConfig{
			SyncInterval:   d.SyncInterval,
			SyncReads:      d.SyncReads,
			GCInterval:     d.GCInterval,
			GCDiscardRatio: d.GCDiscardRatio,
			MemTableMiB:    d.MemTableSize >> 20,
			BlockCacheMiB:  d.BlockCacheSize >> 20,
			IndexCacheMiB:  d.IndexCacheSize >> 20,
		},
		Federation: federationConfig{
			Listen:     []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"},
			RosterFile: "region.roster",
			Threshold:  2,
		},
		HTTP: httpConfig{Listen: "127.0.0.1:8080", ShutdownTimeout: 10 * time.Second,
			SessionLifetime: web.DefaultConfig().SessionLifetime, SessionIdleTimeout: web.DefaultConfig().SessionIdleTimeout},
		Panels: defaultPanelsConfig(),
		Matching: matchingConfig{
			PeerElementsPerHour:  match.DefaultIssuerConfig().PeerElementsPerWindow,
			AlertElementsPerHour: match.DefaultIssuerConfig().AlertElementsPerWindow,
		},
		Log: logConfig{Level: "info", Format: "json"},
	}
}

func (c nodeConfig) validate() error {
	var errs []error
	if c.Authority == "" {
		errs = append(errs, errors.New("authority: is required (the three-letter code, e.g. ISL)"))
	} else if !authority.Known(c.Authority) {
		errs = append(errs, fmt.Errorf("authority: %q is not the code of a listed authority", c.Authority))
	}
	if c.Region != "" && !slices.Contains(authority.Regions(), c.Region) {
		errs = append(errs, fmt.Errorf("region: %q is not a region (one of %s)", c.Region, strings.Join(authority.Regions(), ", ")))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir: is required"))
	}
	if c.KeysDir == "" {
		errs = append(errs, errors.New("keys_dir: is required"))
	}
	switch {
	case c.HTTP.SessionLifetime < time.Minute || c.HTTP.SessionLifetime > 7*24*time.Hour:
		errs = append(errs, fmt.Errorf("http.session_lifetime: %s is not between 1m and 168h", c.HTTP.SessionLifetime))
	case c.HTTP.SessionIdleTimeout < time.Minute || c.HTTP.SessionIdleTimeout > c.HTTP.SessionLifetime:
		errs = append(errs, fmt.Errorf("http.session_idle_timeout: %s is not between 1m and http.session_lifetime (%s)", c.HTTP.SessionIdleTimeout, c.HTTP.SessionLifetime))
	}
	if mr := match.DefaultIssuerConfig().MaxElementsPerRequest; c.Matching.PeerElementsPerHour < mr || c.Matching.PeerElementsPerHour > 1<<24 {
		errs = append(errs, fmt.Errorf("matching.peer_elements_per_hour: %d is not between %d (one request) and %d", c.Matching.PeerElementsPerHour, mr, 1<<24))
	} else if c.Matching.AlertElementsPerHour < c.Matching.PeerElementsPerHour || c.Matching.AlertElementsPerHour > 1<<26 {
		errs = append(errs, fmt.Errorf("matching.alert_elements_per_hour: %d is not between matching.peer_elements_per_hour (%d) and %d",
			c.Matching.AlertElementsPerHour, c.Matching.PeerElementsPerHour, 1<<26))
	}
	errs = append(errs, c.Panels.validate()...)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Log.Level))
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q is not json or text", c.Log.Format))
	}
	return errors.Join(errs...)
}

// storageConfig returns the store's configuration for the node in dir.
func (c nodeConfig) storeConfig(dir string) storage.Config {
	s := storage.DefaultConfig()
	s.DataDir = resolve(dir, c.DataDir)
	s.KeysDir = resolve(dir, c.KeysDir)
	s.Authority = c.Authority
	s.SyncInterval = c.Storage.SyncInterval
	s.SyncReads = c.Storage.SyncReads
	s.GCInterval = c.Storage.GCInterval
	s.GCDiscardRatio = c.Storage.GCDiscardRatio
	s.MemTableSize = c.Storage.MemTableMiB << 20
	s.BlockCacheSize = c.Storage.BlockCacheMiB << 20
	s.IndexCacheSize = c.Storage.IndexCacheMiB << 20
	return s
}

func resolve(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// loadNodeConfig reads dir/config.yaml strictly (an unknown key is an error
// that names it), then applies NRMNET_* environment overrides, then validates.
func loadNodeConfig(dir string, env func(string) (string, bool)) (nodeConfig, error) {
	path := filepath.Join(dir, ConfigFile)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nodeConfig{}, fmt.Errorf("no node here: %s does not exist (create a node with: nrmnet init --dir %s --authority CODE)", path, dir)
		}
		return nodeConfig{}, err
	}
	defer f.Close()
	c, err := parseNodeConfig(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nodeConfig{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := applyEnv(&c, env); err != nil {
		return nodeConfig{}, err
	}
	if err := c.validate(); err != nil {
		return nodeConfig{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func parseNodeConfig(r io.Reader) (nodeConfig, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nodeConfig{}, err
	}
	if len(b) > maxConfigSize {
		return nodeConfig{}, fmt.Errorf("config is larger than %d bytes", maxConfigSize)
	}
	c := defaultNodeConfig("")
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nodeConfig{}, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// applyEnv overrides fields from environment variables named after their
// YAML paths: NRMNET_AUTHORITY, NRMNET_STORAGE_SYNC_INTERVAL, NRMNET_LOG_LEVEL.
func applyEnv(c *nodeConfig, env func(string) (string, bool)) error {
	return walkEnv(reflect.ValueOf(c).Elem(), envPrefix, env)
}

func walkEnv(v reflect.Value, prefix string, env func(string) (string, bool)) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + strings.ToUpper(tag)
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			if err := walkEnv(fv, name+"_", env); err != nil {
				return err
			}
			continue
		}
		s, ok := env(name)
		if !ok {
			continue
		}
		if err := setFromString(fv, s); err != nil {
			return fmt.Errorf("environment %s=%q: %w", name, s, err)
		}
	}
	return nil
}

func setFromString(v reflect.Value, s string) error {
	if v.Type() == reflect.TypeOf(time.Duration(0)) {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("not a duration such as 1s or 10m")
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Struct {
			return setFromYAML(v, s)
		}
		if v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("cannot be set from the environment")
		}
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		v.Set(reflect.ValueOf(parts))
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("not true or false")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("not a whole number")
		}
		v.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("not a number")
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

// setFromYAML sets a list of tables (federation.other_regions) from a YAML
// flow sequence, read as strictly as the file: an unknown key is an error.
func setFromYAML(v reflect.Value, s string) error {
	dec := yaml.NewDecoder(strings.NewReader(s))
	dec.KnownFields(true)
	p := reflect.New(v.Type())
	if err := dec.Decode(p.Interface()); err != nil {
		if errors.Is(err, io.EOF) {
			v.Set(reflect.Zero(v.Type())) // empty: no entries
			return nil
		}
		return fmt.Errorf("not a YAML list of tables such as [{region: South East, roster_file: ..., anchors: [...], threshold: 2}]: %v", err)
	}
	v.Set(p.Elem())
	return nil
}

// writeNodeConfig writes a commented config.yaml for a new node.
func writeNodeConfig(path string, c nodeConfig) error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	head := "# nrmnet node configuration. Paths are relative to this directory.\n" +
		"# Every key can be overridden from the environment: storage.sync_interval\n" +
		"# by NRMNET_STORAGE_SYNC_INTERVAL. Unknown keys are refused.\n"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(append([]byte(head), b...)); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
