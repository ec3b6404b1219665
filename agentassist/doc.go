// Package agentassist turns what is said on a call into next-best-action
// help for the agent: a YAML playbook of rules (phrases matched robustly to
// recognition errors, sentiment held over several utterances, conversation
// dynamics, a phrase that was not said in time, card digits being read) whose
// actions are hints for the agent, categories for the call and alerts for
// supervisors; and knowledge-base suggestions from a small full-text index
// of Markdown articles.
//
// Everything here is deterministic: the rules run on the caller's goroutine,
// and time is passed in as an offset from the call start, never read from
// the wall clock, so every rule can be tested with exact timings.
//
// A Playbook is immutable after loading and may be shared by any number of
// calls; each call gets its own Session (and Suggester), which is not safe
// for concurrent use.
package agentassist
