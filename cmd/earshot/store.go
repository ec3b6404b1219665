package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/earshot/earshot/engine"
	"github.com/earshot/earshot/store"
)

func init() {
	register(command{
		name:    "store",
		summary: "check the call database for damage and repair it: store check --data DIR [--repair]",
		run:     runStore,
	})
}

func runStore(ctx context.Context, env *environment, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(env.stderr, "Usage: earshot store check [--data DIR] [--repair]")
		return errUsage
	}
	fs := newFlagSet(env, "store check", "",
		"Reads <data>/"+engine.DBFile+" record by record and reports what is damaged and whose calls it held\n"+
			"(exit 1 if anything is). --repair (engine stopped) rewrites the file with the valid records and keeps\n"+
			"the damaged file next to it as "+engine.DBFile+".corrupt-<time>. See docs/storage.md.")
	data := fs.String("data", envDefault("EARSHOT_DATA", "./earshot-data"), "data directory (env EARSHOT_DATA)")
	repair := fs.Bool("repair", false, "rewrite the file without its damaged records (the engine must be stopped)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	path := filepath.Join(*data, engine.DBFile)
	if _, err := os.Stat(path); err != nil {
		return err
	}
	var (
		rep    store.CheckReport
		backup string
		err    error
	)
	if *repair {
		rep, backup, err = store.Repair(path, time.Now())
	} else {
		rep, err = store.Check(path)
	}
	if err != nil {
		return err
	}
	printCheck(env.stdout, rep)
	switch {
	case rep.OK():
		return nil
	case *repair:
		fmt.Fprintf(env.stdout, "repaired: %s now holds the %d valid records; the damaged file is kept as %s\n", path, rep.Records, backup)
		return nil
	default:
		fmt.Fprintf(env.stdout, "the engine will not open this file: stop it if it runs, then run earshot store check --data %s --repair\n", *data)
		return errReported
	}
}

func printCheck(w io.Writer, rep store.CheckReport) {
	fmt.Fprintf(w, "%s: %d bytes, %d valid records, %d calls\n", rep.Path, rep.Size, rep.Records, len(rep.Calls))
	for _, d := range rep.Damaged {
		whose := "no legible key"
		if ids := d.CallIDs(); len(ids) > 0 {
			whose = "records of call " + strings.Join(ids, ", ")
		}
		fmt.Fprintf(w, "damaged: bytes %d-%d (%d bytes, %s): %s\n", d.Offset, d.End, d.End-d.Offset, whose, d.Reason)
		for _, k := range d.Keys {
			fmt.Fprintf(w, "  key %s\n", k)
		}
	}
	if rep.TornTail > 0 {
		fmt.Fprintf(w, "torn last write: %d bytes at the end, cut off when the engine opens the file (normal after a crash)\n", rep.TornTail)
	}
	if rep.OK() {
		fmt.Fprintln(w, "ok: no damaged records")
	}
}
