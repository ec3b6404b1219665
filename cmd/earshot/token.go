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
		fmt.Fprintln(env.stderr, "Usage: earshot token create --role endpoint|agent|supervisor|admin [--agent ID] [--ttl 720h] [--data DIR | --secret-file FILE]")
		return errUsage
	}
	fs := newFlagSet(env, "token create", "",
		"Prints a signed token. The secret is created in the data directory (mode 0600) if it does not exist; the engine must use the same directory. In a cluster, give every node and this command the same --secret-file.")
	role := fs.String("role", "", "endpoint, agent, supervisor or admin")
	agent := fs.String("agent", "", "agent id (required for agent and endpoint tokens)")
	ttl := fs.Duration("ttl", 720*time.Hour, "how long the token is valid")
	data := fs.String("data", envDefault("EARSHOT_DATA", "./earshot-data"), "data directory holding the token secret (env EARSHOT_DATA)")
	secretFile := fs.String("secret-file", envDefault("EARSHOT_SECRET_FILE", ""), "the cluster's shared token secret (mode 0600), instead of the data directory's (env EARSHOT_SECRET_FILE)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		fmt.Fprintln(env.stderr, "earshot token:", err)
		return errUsage
	}
	var secret []byte
	if *secretFile != "" {
		secret, err = auth.LoadSecretFile(*secretFile)
	} else {
		secret, err = auth.LoadOrCreateSecret(*data)
	}
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
