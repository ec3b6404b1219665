package main

import (
	"fmt"
	"os"

	"github.com/earshot/earshot/agentassist"
	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/samples/defaults"
	"github.com/earshot/earshot/stt/pocketsphinx"
)

// assistFlags pick the playbook and knowledge base; empty means the ones
// embedded from samples/.
type assistFlags struct{ playbook, kb *string }

func addAssistFlags(fs interface {
	String(name, value, usage string) *string
}) assistFlags {
	return assistFlags{
		playbook: fs.String("playbook", envDefault("EARSHOT_PLAYBOOK", ""), "playbook YAML (default: the embedded samples/playbook.yaml; env EARSHOT_PLAYBOOK)"),
		kb:       fs.String("kb", envDefault("EARSHOT_KB", ""), "knowledge-base directory of Markdown articles (default: the embedded samples/kb; env EARSHOT_KB)"),
	}
}

// loadAssist loads and checks the playbook and KB: the files the flags
// name, the embedded defaults (samples/defaults) for the rest. A malformed
// playbook is an error here, so the engine never starts half-configured.
func loadAssist(f assistFlags) (*agentassist.Playbook, *agentassist.KB, error) {
	var pb *agentassist.Playbook
	var kb *agentassist.KB
	var err error
	if *f.playbook == "" || *f.kb == "" {
		if pb, kb, err = defaults.Assist(); err != nil {
			return nil, nil, err
		}
		if *f.playbook == "" && *f.kb == "" {
			return pb, kb, nil
		}
	}
	if *f.playbook != "" {
		if pb, err = agentassist.LoadPlaybook(*f.playbook); err != nil {
			return nil, nil, err
		}
	}
	if *f.kb != "" {
		if _, err := os.Stat(*f.kb); err != nil {
			return nil, nil, fmt.Errorf("knowledge base: %w", err)
		}
		if kb, err = agentassist.OpenKBDir(*f.kb); err != nil {
			return nil, nil, fmt.Errorf("knowledge base: %w", err)
		}
	}
	if err := pb.CheckKB(kb); err != nil {
		return nil, nil, err
	}
	return pb, kb, nil
}

// loadDeps loads everything a call pipeline shares: the recognizer pool
// (when withSTT; decoders recognizers are loaded up front), the playbook
// and the KB. The returned func releases them.
func loadDeps(env *environment, af assistFlags, sf sttFlags, withSTT bool, decoders int) (call.Deps, func(), error) {
	pb, kb, err := loadAssist(af)
	if err != nil {
		return call.Deps{}, nil, err
	}
	deps := call.Deps{Playbook: pb, KB: kb, Logger: env.log}
	closeAll := func() {}
	if withSTT {
		cfg, err := sf.config(env)
		if err != nil {
			return call.Deps{}, nil, err
		}
		pool, err := pocketsphinx.NewPool(cfg, decoders)
		if err != nil {
			return call.Deps{}, nil, err
		}
		deps.Recognizers = pool.Recognizers()
		closeAll = func() { pool.Close() }
	}
	return deps, closeAll, nil
}
