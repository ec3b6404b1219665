// Command earshot is the Earshot engine binary: it analyzes recordings
// offline, transcribes them, serves live calls, replays recordings to a
// running engine, and creates access tokens. It only wires packages together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one `earshot` sub-command. Each lives in its own file and
// registers itself in init, so adding one never edits this file.
type command struct {
	name    string
	summary string
	// run parses args (everything after the sub-command name) and runs it.
	// It returns errUsage for bad flags so main can exit 2.
	run func(ctx context.Context, env *environment, args []string) error
}

// environment is what every sub-command gets from main.
type environment struct {
	stdout, stderr io.Writer
	log            *slog.Logger
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("earshot: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// errUsage marks a command-line mistake; the flag package has already said what.
var errUsage = errors.New("usage error")

// errReported marks a failure whose details were already printed (e.g. some
// of several files failed); main only sets the exit code.
var errReported = errors.New("failed")

func main() {
	// Everything earshot writes holds call data or the token secret. The
	// packages create their files 0600, but buntdb's automatic compaction
	// re-creates the database file with os.Create (0666 less the umask),
	// which the store cannot reach: with 077 it stays 0600 too.
	syscall.Umask(0o077)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" || args[0] == "version" {
		fmt.Fprintln(stdout, "earshot", version)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "earshot: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	level := slog.LevelInfo
	if os.Getenv("EARSHOT_DEBUG") != "" {
		level = slog.LevelDebug
	}
	env := &environment{
		stdout: stdout,
		stderr: stderr,
		log:    slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	// The first SIGINT/SIGTERM cancels ctx so commands drain; a second one
	// restores the default handler and kills the process.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := c.run(ctx, env, args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, errReported):
		return 1
	default:
		fmt.Fprintf(stderr, "earshot %s: %v\n", c.name, err)
		return 1
	}
}

// version is set by the linker for releases.
var version = "dev"

func usage(w io.Writer) {
	fmt.Fprintln(w, "Earshot: real-time voice analytics for contact-center calls.")
	fmt.Fprintln(w, "\nUsage: earshot <command> [flags] [args]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-11s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'earshot <command> --help' for a command's flags.")
}

// newFlagSet returns a flag set that reports errors instead of exiting, with
// a usage line naming the command.
func newFlagSet(env *environment, name, argsHelp, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet("earshot "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "Usage: earshot %s [flags] %s\n\n%s\n\nFlags:\n", name, argsHelp, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, mapping flag errors to errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

// envDefault returns the environment variable's value, or def when unset.
func envDefault(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && strings.TrimSpace(v) != "" {
		return v
	}
	return def
}
