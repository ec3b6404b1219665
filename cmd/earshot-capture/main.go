// Command earshot-capture is the Earshot endpoint daemon. It runs on an
// agent's PC, records the agent's microphone and the caller's audio (the
// softphone's output) and streams both to the engine while a call is
// active, buffering through network outages. Calls start and end through a
// local control API (for softphone integration) or automatically on speech.
// It links malgo (miniaudio) but not the speech recognizer.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/earshot/earshot/audio/capture"
	"github.com/earshot/earshot/endpoint"
	"github.com/earshot/earshot/internal/cli"
)

const usageText = `earshot-capture records both sides of an agent's calls and streams them to Earshot.

Usage:
  earshot-capture devices [--backend NAME]        list capture, monitor and loopback devices
  earshot-capture run [flags]                     run the daemon (see run --help)
  earshot-capture call start --call-id ID         start streaming a call (softphone integration)
  earshot-capture call end [--call-id ID]         end it; waits for the engine to store it
  earshot-capture pause | resume                  stop/restart sending audio (card numbers)
  earshot-capture status                          the daemon's status as JSON
  earshot-capture --version

The call, pause, resume and status commands talk to the daemon's control API
(--control, default 127.0.0.1:8471). Setup: docs/capture.md.
`

// app is the binary's command framework, shared with earshot.
var app = &cli.App{Name: "earshot-capture", Usage: usageText}

var errUsage = cli.ErrUsage

func init() {
	app.Register(cli.Command{Name: "devices", Summary: "list capture, monitor and loopback devices", Run: cmdDevices})
	app.Register(cli.Command{Name: "run", Summary: "run the daemon", Run: cmdRun})
	app.Register(cli.Command{Name: "call", Summary: "start or end a call through the control API", Run: cmdCall})
	for _, name := range []string{"pause", "resume", "status"} {
		app.Register(cli.Command{Name: name, Summary: name + " through the control API",
			Run: func(ctx context.Context, env *cli.Env, args []string) error { return cmdControl(ctx, env, name, args) }})
	}
}

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

// runMain runs the command line args and returns the exit status.
func runMain(args []string, stdout, stderr io.Writer) int {
	return app.Run(args, stdout, stderr)
}

func cmdDevices(ctx context.Context, env *cli.Env, args []string) error {
	stdout, stderr := env.Stdout, env.Stderr
	fs := flag.NewFlagSet("devices", flag.ContinueOnError)
	fs.SetOutput(stderr)
	backend := fs.String("backend", "", "audio backend (pulseaudio, alsa, wasapi, coreaudio); default: the OS's usual one")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	devs, err := capture.ListDevicesOf(*backend)
	if err != nil {
		return err
	}
	if *asJSON {
		type dev struct {
			ID      string `json:"id"`
			Name    string `json:"name"`
			Kind    string `json:"kind"`
			Default bool   `json:"default"`
		}
		out := make([]dev, len(devs))
		for i, d := range devs {
			out[i] = dev{d.ID, d.Name, d.Kind.String(), d.Default}
		}
		e := json.NewEncoder(stdout)
		e.SetIndent("", "  ")
		return e.Encode(out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tDEFAULT\tID\tNAME")
	for _, d := range devs {
		def := ""
		if d.Default {
			def = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.Kind, def, d.ID, d.Name)
	}
	tw.Flush()
	if len(devs) == 0 {
		fmt.Fprintln(stderr, "no capture devices found")
	}
	return nil
}

func cmdCall(ctx context.Context, env *cli.Env, args []string) error {
	if len(args) < 1 || (args[0] != "start" && args[0] != "end") {
		fmt.Fprintln(env.Stderr, "usage: earshot-capture call start --call-id ID | call end [--call-id ID]")
		return errUsage
	}
	return cmdControl(ctx, env, "call "+args[0], args[1:])
}

// cmdControl sends the control command name (call start, call end, pause,
// resume, status) to a running daemon and prints its answer.
func cmdControl(ctx context.Context, env *cli.Env, name string, args []string) error {
	stdout, stderr := env.Stdout, env.Stderr
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("control", "127.0.0.1:8471", "the daemon's control address")
	var id *string
	if strings.HasPrefix(name, "call") {
		id = fs.String("call-id", "", "call id: 1-64 characters from A-Z a-z 0-9 . _ : - (the softphone's call id)")
	}
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	if name == "call start" && *id == "" {
		fmt.Fprintln(stderr, "call start needs --call-id")
		return errUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	var out map[string]any
	var err error
	switch name {
	case "call start":
		err = endpoint.Control(ctx, *addr, "POST", "/v1/call/start", map[string]string{"call_id": *id}, &out)
	case "call end":
		err = endpoint.Control(ctx, *addr, "POST", "/v1/call/end", map[string]string{"call_id": *id}, &out)
	case "pause":
		err = endpoint.Control(ctx, *addr, "POST", "/v1/pause", nil, &out)
	case "resume":
		err = endpoint.Control(ctx, *addr, "POST", "/v1/resume", nil, &out)
	case "status":
		err = endpoint.Control(ctx, *addr, "GET", "/v1/status", nil, &out)
	}
	if err != nil {
		return err
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	fmt.Fprintln(stdout, string(b))
	return nil
}

// runFlags parses `run` flags over the defaults and the config file.
func runFlags(args []string, stderr io.Writer) (Config, error) {
	cfg := defaultConfig()
	var f Config
	fs, configPath := runFlagSet(stderr, cfg, &f)
	if err := cli.ParseFlags(fs, args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "run: unexpected argument %q\n", fs.Arg(0))
		return cfg, errUsage
	}
	if *configPath != "" {
		if err := loadConfigFile(*configPath, &cfg); err != nil {
			return cfg, err
		}
	}
	overrideSet(fs, &cfg, f)
	if cfg.Token == "" && cfg.TokenFile == "" {
		cfg.Token = os.Getenv("EARSHOT_TOKEN")
	}
	if err := cfg.check(); err != nil {
		fmt.Fprintf(stderr, "run: configuration:\n  %v\n", err)
		return cfg, errUsage
	}
	return cfg, nil
}

// runFlagSet defines `run`'s flags into f, showing def's defaults, and
// returns the flag set and the --config flag.
func runFlagSet(stderr io.Writer, def Config, f *Config) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: earshot-capture run [flags]

Records the agent device and the caller device and streams calls to the
engine. Flags override the --config file (YAML, same names with _ for -).
The daemon runs its Go code on one processor (it needs a few percent of
one core); set GOMAXPROCS in the environment to change that.

`)
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "YAML config file (see docs/capture.md)")
	fs.StringVar(&f.URL, "url", "", "engine base URL, e.g. https://earshot.example.com:8443, or a comma-separated list of a cluster's nodes (replaces url and urls of --config)")
	fs.StringVar(&f.Token, "token", "", "endpoint token (visible in ps; prefer --token-file or EARSHOT_TOKEN)")
	fs.StringVar(&f.TokenFile, "token-file", "", "file holding the endpoint token")
	fs.StringVar(&f.Agent, "agent", "", "agent id (must match the token's agent)")
	fs.StringVar(&f.AgentDevice, "agent-device", def.AgentDevice, "agent microphone: id, name or unique fragment from `devices`; \"default\"")
	fs.StringVar(&f.CallerDevice, "caller-device", "", "caller audio: a monitor source (Linux), \"loopback\" (Windows), a loopback device (macOS)")
	fs.StringVar(&f.Backend, "backend", "", "force an audio backend (pulseaudio, alsa, wasapi, coreaudio)")
	fs.DurationVar(&f.Buffer, "buffer", def.Buffer, "audio kept for resending through an outage; older audio is dropped and reported as a gap")
	fs.DurationVar(&f.Period, "period", def.Period, "how often the audio devices deliver: longer wakes the PC less and adds that much latency")
	fs.StringVar(&f.Control, "control", def.Control, "local control API address (loopback only)")
	fs.BoolVar(&f.Auto, "auto", false, "start a call when speech is heard on both channels, end it after --auto-silence")
	fs.DurationVar(&f.AutoSilence, "auto-silence", def.AutoSilence, "silence on both channels that ends an --auto call")
	fs.StringVar(&f.Status, "status", def.Status, "live status line: auto (on a terminal), line (always), off")
	fs.StringVar(&f.LogFormat, "log-format", def.LogFormat, "log format: text or json")
	fs.StringVar(&f.CPUProfile, "cpuprofile", "", "write a Go CPU profile of the run to `FILE` when the daemon stops (for go tool pprof)")
	return fs, configPath
}

// overrideSet copies into cfg the values of the flags given on the
// command line, which win over the config file.
func overrideSet(fs *flag.FlagSet, cfg *Config, f Config) {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	over := func(name string, dst *string, v string) {
		if set[name] {
			*dst = v
		}
	}
	if set["url"] {
		// --url replaces whichever of url and urls the file gave.
		cfg.URL, cfg.URLs = f.URL, nil
	}
	over("token", &cfg.Token, f.Token)
	over("token-file", &cfg.TokenFile, f.TokenFile)
	over("agent", &cfg.Agent, f.Agent)
	over("agent-device", &cfg.AgentDevice, f.AgentDevice)
	over("caller-device", &cfg.CallerDevice, f.CallerDevice)
	over("backend", &cfg.Backend, f.Backend)
	over("control", &cfg.Control, f.Control)
	over("status", &cfg.Status, f.Status)
	over("log-format", &cfg.LogFormat, f.LogFormat)
	over("cpuprofile", &cfg.CPUProfile, f.CPUProfile)
	if set["buffer"] {
		cfg.Buffer = f.Buffer
	}
	if set["period"] {
		cfg.Period = f.Period
	}
	if set["auto"] {
		cfg.Auto = f.Auto
	}
	if set["auto-silence"] {
		cfg.AutoSilence = f.AutoSilence
	}
}

// cmdRun is `run`: the daemon until the first signal, which drains (ends
// the call, waits briefly for its last frames); a second one exits at once.
func cmdRun(ctx context.Context, env *cli.Env, args []string) error {
	cfg, err := runFlags(args, env.Stderr)
	if err != nil {
		return err
	}
	oneProc()
	term := endpoint.NewTermWriter(env.Stderr, cfg.Status)
	var h slog.Handler
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(term, nil)
	} else {
		h = slog.NewTextHandler(term, nil)
	}
	log := slog.New(h)
	if cfg.CPUProfile != "" {
		stopProfile, err := startCPUProfile(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer stopProfile(log)
	}
	return runDaemon(ctx, cfg, log, term)
}

// runDaemon runs the daemon with the merged configuration.
func runDaemon(ctx context.Context, cfg Config, log *slog.Logger, term *endpoint.TermWriter) error {
	log.Info("starting", "version", cli.VersionString("earshot-capture"), "urls", cfg.engineURLs(), "agent", cfg.Agent,
		"agent_device", cfg.AgentDevice, "caller_device", cfg.CallerDevice, "buffer", cfg.Buffer, "auto", cfg.Auto)
	return endpoint.Run(ctx, cfg.endpoint(log, term))
}

// oneProc runs the daemon's Go code on one processor (GOMAXPROCS=1)
// unless the GOMAXPROCS environment variable says otherwise. The daemon
// needs a few percent of one core, and its cost is in waking up, not in
// computing: with a second P, each hand-off between goroutines (audio
// callback to pump to readers to the WebSocket writer) tended to wake
// another thread, and the runtime's sysmon thread polls every 20 µs while
// any P is busy or held by a thread back in C after an audio callback.
// With one P the hand-offs stay on one thread and a P left in C is taken
// back at once. Measured with TestMeasureDaemonCost: 449 → 295 thread
// wake-ups per second in a call, sysmon's 273 → 156.
func oneProc() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}

// startCPUProfile starts profiling into path; the returned function stops
// and writes it. The profile covers the daemon's whole run, so the file is
// only complete after a clean stop (one signal, not two).
func startCPUProfile(path string) (stop func(*slog.Logger), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func(log *slog.Logger) {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			log.Error("CPU profile not written", "file", path, "err", err)
			return
		}
		log.Info("CPU profile written", "file", path)
	}, nil
}
