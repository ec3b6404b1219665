package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// Env is what every command gets from App.Run.
type Env struct {
	Stdout, Stderr io.Writer
	// Log writes text to Stderr, at Debug level when EARSHOT_DEBUG is set.
	Log *slog.Logger
}

// Command is one sub-command of a binary.
type Command struct {
	Name    string
	Summary string // one line for the command list
	// Run parses args (everything after the command's name) and runs the
	// command until ctx ends. It returns ErrUsage for bad flags, ErrReported
	// for failures it has printed, flag.ErrHelp after --help.
	Run func(ctx context.Context, env *Env, args []string) error
}

// App is a binary made of sub-commands. The zero value with a Name is
// ready; commands are added with Register, usually from init functions.
type App struct {
	Name  string // the binary's name, in messages and the version line
	Intro string // the first line of the generated help
	// Usage, when set, is the help text printed verbatim instead of the
	// generated command list (a binary whose commands take sub-words).
	Usage string

	commands map[string]Command
}

// Register adds c. Registering a name twice is a programming error and panics.
func (a *App) Register(c Command) {
	if _, dup := a.commands[c.Name]; dup {
		panic(a.Name + ": command registered twice: " + c.Name)
	}
	if a.commands == nil {
		a.commands = map[string]Command{}
	}
	a.commands[c.Name] = c
}

// Run runs the command args name and returns the process exit status: 0
// on success (and after help or the version), 1 when the command failed,
// 2 for a usage mistake. Help asked for goes to stdout, help given because
// of a mistake to stderr. The first SIGINT or SIGTERM cancels the
// command's context so it can drain; a second one kills the process.
func (a *App) Run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		a.WriteUsage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		a.WriteUsage(stdout)
		return 0
	case "--version", "-version", "version":
		fmt.Fprintln(stdout, VersionString(a.Name))
		return 0
	}
	c, ok := a.commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "%s: unknown command %q\n\n", a.Name, args[0])
		a.WriteUsage(stderr)
		return 2
	}
	env := &Env{Stdout: stdout, Stderr: stderr, Log: newLogger(stderr)}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// Restores the default handlers: the second signal kills.
		<-ctx.Done()
		stop()
	}()
	err := c.Run(ctx, env, args[1:])
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	case errors.Is(err, ErrReported):
		return 1
	default:
		fmt.Fprintf(stderr, "%s %s: %v\n", a.Name, c.Name, err)
		return 1
	}
}

func newLogger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("EARSHOT_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// WriteUsage writes the binary's help: Usage if set, else Intro and the
// registered commands in name order.
func (a *App) WriteUsage(w io.Writer) {
	if a.Usage != "" {
		fmt.Fprint(w, a.Usage)
		return
	}
	names := make([]string, 0, len(a.commands))
	width := 0
	for n := range a.commands {
		names = append(names, n)
		width = max(width, len(n))
	}
	slices.Sort(names)
	fmt.Fprintln(w, a.Intro)
	fmt.Fprintf(w, "\nUsage: %s <command> [flags] [args]\n\nCommands:\n", a.Name)
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s %s\n", width+1, n, a.commands[n].Summary)
	}
	fmt.Fprintf(w, "\nRun '%s <command> --help' for a command's flags.\n", a.Name)
}

// NewFlagSet returns a flag set for the command name (which may be two
// words, "token create") that reports errors to env.Stderr instead of
// exiting, with a usage text of the command line, the summary and the flags.
func (a *App) NewFlagSet(env *Env, name, argsHelp, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(a.Name+" "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: %s %s [flags] %s\n\n%s\n\nFlags:\n", a.Name, name, argsHelp, summary)
		fs.PrintDefaults()
	}
	return fs
}

// ParseFlags parses args into fs. A flag mistake (already reported by the
// flag package) becomes ErrUsage; --help stays flag.ErrHelp.
func ParseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return ErrUsage
	}
	return nil
}

// EnvDefault returns the environment variable's value, or def when it is
// unset or blank: the defaults of flags that an environment variable may set.
func EnvDefault(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && strings.TrimSpace(v) != "" {
		return v
	}
	return def
}
