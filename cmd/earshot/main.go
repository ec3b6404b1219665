// Command earshot is the Earshot engine binary: it analyzes recordings
// offline, transcribes them, serves live calls, replays recordings to a
// running engine, and creates access tokens. It only wires packages together.
package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"syscall"

	"github.com/earshot/earshot/internal/cli"
)

// app is the binary's command framework, shared with earshot-capture.
var app = &cli.App{Name: "earshot", Intro: "Earshot: real-time voice analytics for contact-center calls."}

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

func register(c command) {
	app.Register(cli.Command{Name: c.name, Summary: c.summary, Run: func(ctx context.Context, e *cli.Env, args []string) error {
		return c.run(ctx, &environment{stdout: e.Stdout, stderr: e.Stderr, log: e.Log}, args)
	}})
}

// errUsage marks a command-line mistake; the flag package has already said what.
var errUsage = cli.ErrUsage

// errReported marks a failure whose details were already printed (e.g. some
// of several files failed); main only sets the exit code.
var errReported = cli.ErrReported

func main() {
	// Everything earshot writes holds call data or the token secret. The
	// packages create their files 0600, but buntdb's automatic compaction
	// re-creates the database file with os.Create (0666 less the umask),
	// which the store cannot reach: with 077 it stays 0600 too.
	syscall.Umask(0o077)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return app.Run(args, stdout, stderr)
}

// newFlagSet returns a flag set that reports errors instead of exiting, with
// a usage line naming the command.
func newFlagSet(env *environment, name, argsHelp, summary string) *flag.FlagSet {
	return app.NewFlagSet(&cli.Env{Stdout: env.stdout, Stderr: env.stderr, Log: env.log}, name, argsHelp, summary)
}

// parseFlags parses args, mapping flag errors to errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error { return cli.ParseFlags(fs, args) }

// envDefault returns the environment variable's value, or def when unset.
func envDefault(name, def string) string { return cli.EnvDefault(name, def) }
