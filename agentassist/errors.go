package agentassist

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these, so
// callers can test them with errors.Is.
var (
	// ErrPlaybook means a playbook file is malformed. The wrapping error
	// names the file and line, as "file:line: reason".
	ErrPlaybook = errors.New("agentassist: invalid playbook")

	// ErrDict means a pronunciation dictionary could not be read or parsed.
	ErrDict = errors.New("agentassist: invalid pronunciation dictionary")

	// ErrKB means a knowledge-base directory could not be read or indexed,
	// or an article in it is malformed.
	ErrKB = errors.New("agentassist: invalid knowledge base")

	// ErrUnknownArticle means a playbook hint names a knowledge-base
	// article that does not exist.
	ErrUnknownArticle = errors.New("agentassist: unknown knowledge-base article")
)
