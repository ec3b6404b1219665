package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
)

func testApp() *App {
	a := &App{Name: "prog", Intro: "Prog does things."}
	a.Register(Command{Name: "ok", Summary: "succeeds", Run: func(context.Context, *Env, []string) error { return nil }})
	a.Register(Command{Name: "fail", Summary: "fails", Run: func(context.Context, *Env, []string) error { return errors.New("disk full") }})
	a.Register(Command{Name: "reported", Summary: "fails quietly", Run: func(context.Context, *Env, []string) error { return fmt.Errorf("x: %w", ErrReported) }})
	a.Register(Command{Name: "flags", Summary: "parses flags", Run: func(_ context.Context, env *Env, args []string) error {
		fs := a.NewFlagSet(env, "flags", "FILE", "Parses flags.")
		fs.Int("n", 1, "a number")
		return ParseFlags(fs, args)
	}})
	return a
}

func TestRunExitCodesAndStreams(t *testing.T) {
	tests := []struct {
		name              string
		args              []string
		code              int
		stdout, stderr    string // substrings; "" means empty
		stdoutNot, errNot bool   // the stream must stay empty
	}{
		{"no command prints the help to stderr and exits 2", nil, 2, "", "Commands:", true, false},
		{"help asked for goes to stdout", []string{"--help"}, 0, "Run 'prog <command> --help'", "", false, true},
		{"the version names the program", []string{"--version"}, 0, "prog " + Version, "", false, true},
		{"an unknown command is a usage error", []string{"nope"}, 2, "", `prog: unknown command "nope"`, true, false},
		{"a command that succeeds exits 0", []string{"ok"}, 0, "", "", true, true},
		{"a failure is printed with the command's name", []string{"fail"}, 1, "", "prog fail: disk full", true, false},
		{"a reported failure exits 1 without a message", []string{"reported"}, 1, "", "", true, true},
		{"a bad flag exits 2", []string{"flags", "-n", "x"}, 2, "", "invalid value", true, false},
		{"a command's --help exits 0 with its usage", []string{"flags", "--help"}, 0, "", "Usage: prog flags [flags] FILE", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errw strings.Builder
			code := testApp().Run(tt.args, &out, &errw)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, errw.String())
			}
			check := func(stream, got, want string, empty bool) {
				if empty && got != "" {
					t.Errorf("%s = %q, want nothing", stream, got)
				}
				if want != "" && !strings.Contains(got, want) {
					t.Errorf("%s = %q, want it to contain %q", stream, got, want)
				}
			}
			check("stdout", out.String(), tt.stdout, tt.stdoutNot)
			check("stderr", errw.String(), tt.stderr, tt.errNot)
		})
	}
}

func TestUsageListsCommandsInOrderAligned(t *testing.T) {
	var b strings.Builder
	testApp().WriteUsage(&b)
	want := "  fail      fails\n  flags     parses flags\n  ok        succeeds\n  reported  fails quietly\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("usage:\n%s\nwant the list\n%s", b.String(), want)
	}
}

func TestAFixedUsageIsPrintedVerbatim(t *testing.T) {
	a := &App{Name: "prog", Usage: "prog: see the manual\n"}
	var out strings.Builder
	if code := a.Run([]string{"help"}, &out, &strings.Builder{}); code != 0 || out.String() != "prog: see the manual\n" {
		t.Errorf("exit %d, help %q", code, out.String())
	}
}

func TestParseFlagsKeepsHelpApart(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(&strings.Builder{})
	if err := ParseFlags(fs, []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
	if err := ParseFlags(fs, []string{"-nope"}); !errors.Is(err, ErrUsage) {
		t.Errorf("unknown flag: %v, want ErrUsage", err)
	}
}
