package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/earshot/earshot/endpoint"
	"github.com/earshot/earshot/internal/ingestclient"
)

// Config is the daemon's configuration: a YAML file (--config) overridden
// by flags given on the command line. YAML rather than JSON because IT
// departments keep comments in the files they roll out, and the module
// already depends on gopkg.in/yaml.v3 (for playbooks).
type Config struct {
	URL string `yaml:"url"` // engine base URL, http(s)://host:port (--url: a comma-separated list)
	// URLs are the engines of a cluster (every node, or one load balancer
	// address): a call moves to the next when its node fails. Nil when the
	// file has no urls: key; url and urls exclude each other.
	URLs         []string      `yaml:"urls"`
	Token        string        `yaml:"token"`         // endpoint token (prefer token_file)
	TokenFile    string        `yaml:"token_file"`    // file holding the endpoint token
	Agent        string        `yaml:"agent"`         // agent id; must match the token's agent claim
	AgentDevice  string        `yaml:"agent_device"`  // microphone: id, name or fragment; "default"
	CallerDevice string        `yaml:"caller_device"` // softphone output: monitor source or "loopback"
	Backend      string        `yaml:"backend"`       // force a malgo backend (pulseaudio, alsa, wasapi, coreaudio)
	Buffer       time.Duration `yaml:"buffer"`        // unacknowledged audio kept for resending (both channels)
	// Period is how often the audio devices hand over what they recorded:
	// longer periods wake the PC less often (each wake-up costs more than
	// the audio work it carries) and add that much capture latency.
	Period      time.Duration `yaml:"period"`
	Control     string        `yaml:"control"`      // local control API address (loopback only)
	Auto        bool          `yaml:"auto"`         // start/end calls on speech
	AutoSilence time.Duration `yaml:"auto_silence"` // silence on both channels that ends an auto call
	Status      string        `yaml:"status"`       // "auto" (a live line on a terminal), "line", "off"
	LogFormat   string        `yaml:"log_format"`   // "text" or "json"
	// CPUProfile, when set (flag only), is a file the daemon writes a Go
	// CPU profile of its whole run to, for `go tool pprof`: the way to see
	// where an endpoint's CPU goes on a real PC.
	CPUProfile string `yaml:"-"`
}

func defaultConfig() Config {
	return Config{Buffer: endpoint.DefaultBuffer, Period: endpoint.DefaultPeriod, Control: endpoint.DefaultControl,
		AutoSilence: endpoint.DefaultAutoSilence, AgentDevice: "default", Status: "auto", LogFormat: "text"}
}

// endpoint is the daemon's configuration: c without what only the command
// line uses, logging through log and drawing the status line on term.
func (c Config) endpoint(log *slog.Logger, term *endpoint.TermWriter) endpoint.Config {
	return endpoint.Config{URLs: c.engineURLs(), Token: c.Token, Agent: c.Agent,
		AgentDevice: c.AgentDevice, CallerDevice: c.CallerDevice, Backend: c.Backend, Period: c.Period, Buffer: c.Buffer,
		Control: c.Control, Auto: c.Auto, AutoSilence: c.AutoSilence, Logger: log, Term: term}
}

// loadConfigFile reads a YAML config over cfg. Unknown keys are errors: a
// misspelt key silently ignored would leave a device unset.
func loadConfigFile(path string, cfg *Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) /* an empty file */ {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// engineURLs are the engines the daemon streams to: url (a
// comma-separated list when it comes from --url) or urls.
func (c *Config) engineURLs() []string {
	if c.URL != "" {
		return ingestclient.SplitURLs(c.URL)
	}
	return c.URLs
}

// check validates a merged config and reads the token file.
func (c *Config) check() error {
	var problems []string
	switch {
	case c.URL != "" && c.URLs != nil:
		problems = append(problems, "url and urls are both set: url names one engine, urls lists several (the nodes of a cluster); keep one")
	case c.URLs != nil && len(c.URLs) == 0:
		problems = append(problems, "urls is an empty list: list the engine's nodes, or give url")
	case len(c.engineURLs()) == 0:
		problems = append(problems, "--url (the engine, e.g. https://earshot.example.com:8443; a cluster's nodes separated by commas) or urls is required")
	}
	for _, u := range c.engineURLs() {
		if err := ingestclient.CheckURL(u); err != nil {
			problems = append(problems, fmt.Sprintf("url: %v", err))
		}
	}
	if c.Token == "" && c.TokenFile != "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			problems = append(problems, fmt.Sprintf("--token-file: %v", err))
		}
		c.Token = strings.TrimSpace(string(b))
	}
	if c.Token == "" && len(problems) == 0 {
		problems = append(problems, "an endpoint token is required: --token-file FILE (or --token, or EARSHOT_TOKEN); create one with `earshot token create --role endpoint --agent ID`")
	}
	if c.Agent == "" {
		problems = append(problems, "--agent (the agent id this PC belongs to) is required")
	}
	if c.CallerDevice == "" {
		problems = append(problems, "--caller-device (the softphone's output: a monitor source on Linux, \"loopback\" on Windows) is required; `earshot-capture devices` lists them")
	}
	if c.Buffer < time.Second {
		problems = append(problems, fmt.Sprintf("--buffer %v is too small (at least 1s; default 120s)", c.Buffer))
	}
	if c.Period < 10*time.Millisecond || c.Period > 500*time.Millisecond {
		problems = append(problems, fmt.Sprintf("--period %v is out of range (10ms to 500ms; default %v)", c.Period, endpoint.DefaultPeriod))
	}
	if c.AutoSilence <= 0 {
		problems = append(problems, "--auto-silence must be positive")
	}
	if err := endpoint.CheckControlAddr(c.Control); err != nil {
		problems = append(problems, "--control: "+err.Error())
	}
	switch c.Status {
	case "auto", "line", "off":
	default:
		problems = append(problems, fmt.Sprintf("--status %q (want auto, line or off)", c.Status))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		problems = append(problems, fmt.Sprintf("--log-format %q (want text or json)", c.LogFormat))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n  "))
	}
	return nil
}
