package main

import (
	"context"
	"fmt"
	"time"

	"github.com/earshot/earshot/internal/auth"
)

func init() {
	register(command{
		name:    "token",
		summary: "create access tokens: token create --role agent --agent A17",
		run:     runToken,
	})
}

func runToken(ctx context.Context, env *environment, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(env.stderr, "Usage: earshot token create --role endpoint|agent|supervisor|admin [--agent ID] [--ttl 720h] [--data DIR]")
		return errUsage
	}
	fs := newFlagSet(env, "token create", "",
		"Prints a signed token. The secret is created in the data directory (mode 0600) if it does not exist; the engine must use the same directory.")
	role := fs.String("role", "", "endpoint, agent, supervisor or admin")
	agent := fs.String("agent", "", "agent id (required for agent and endpoint tokens)")
	ttl := fs.Duration("ttl", 720*time.Hour, "how long the token is valid")
	data := fs.String("data", envDefault("EARSHOT_DATA", "./earshot-data"), "data directory holding the token secret (env EARSHOT_DATA)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		fmt.Fprintln(env.stderr, "earshot token:", err)
		return errUsage
	}
	secret, err := auth.LoadOrCreateSecret(*data)
	if err != nil {
		return err
	}
	tok, err := auth.NewAuthority(secret, nil).Issue(r, *agent, *ttl)
	if err != nil {
		fmt.Fprintln(env.stderr, "earshot token:", err)
		return errUsage
	}
	fmt.Fprintln(env.stdout, tok)
	return nil
}
