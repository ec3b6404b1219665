package main

import (
	"fmt"
	"os"
	"time"

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
		cfg.Vocabulary = recognizerVocabulary(env, pb, kb)
		start := time.Now()
		pool, err := pocketsphinx.NewPool(cfg, decoders)
		if err != nil {
			return call.Deps{}, nil, err
		}
		env.log.Info("recognizers loaded", "decoders", decoders, "vocabulary_phrases", len(cfg.Vocabulary),
			"took", time.Since(start).Round(time.Millisecond))
		deps.Recognizers = pool.Recognizers()
		closeAll = func() { pool.Close() }
	}
	return deps, closeAll, nil
}

// recognizerVocabulary is the playbook's and the KB's phrases for the
// recognizer, so a product or plan name written into either is recognizable
// after a restart. A phrase the recognizer cannot take (a KB title with a
// number written in digits, which recognizers never output) is left out
// with a warning naming it rather than stopping the engine.
func recognizerVocabulary(env *environment, pb *agentassist.Playbook, kb *agentassist.KB) []string {
	var out []string
	for _, p := range agentassist.Vocabulary(pb, kb) {
		if err := pocketsphinx.CheckPhrase(p); err != nil {
			env.log.Warn("phrase left out of the recognizer's vocabulary", "err", err)
			continue
		}
		out = append(out, p)
	}
	return out
}
