package pocketsphinx

import (
	"os"
	"path/filepath"
)

// Paths of the project's contact-center language model and its dictionary,
// relative to the repository root; `make lm` (run by `make setup`) builds
// them. See lm/README.md.
const (
	ProjectLM   = "lm/build/earshot.lm.bin"
	ProjectDict = "lm/build/earshot.dict"
)

// ProjectConfig is the configuration Earshot decodes with unless told
// otherwise: the Debian acoustic model, the project's contact-center
// language model and dictionary when they are built (else Debian's generic
// ones), and the search settings that met the WER targets in `make eval`
// (flat-lexicon second pass on, acoustic scoring every frame). The flat
// pass searches a narrower set of words than the library's default (10
// frames, words ending on 8): the sample calls' WER went 0.303 -> 0.312,
// librivox stayed 0.366, and ending an utterance, which a final waits
// for, went from 42 to 27 ms of CPU per second of utterance (stt/API.md). The EARSHOT_STT_* environment variables override the
// paths.
func ProjectConfig() Config {
	c := ConfigFromEnv()
	c.Fwdflat = true
	c.DS = 1
	c.FlatWindow = 10
	c.FlatMinEnds = 8
	if c.LM == "" {
		if lm := findProjectFile(ProjectLM); lm != "" {
			c.LM = lm
			if c.Dict == "" {
				c.Dict = findProjectFile(ProjectDict)
			}
		}
	}
	return c
}

// findProjectFile looks for rel under the working directory and its
// parents (tests run in package directories), then beside the executable
// and its parents (bin/earshot run from anywhere). It returns "" when the
// file is nowhere.
func findProjectFile(rel string) string {
	var roots []string
	if wd, err := os.Getwd(); err == nil {
		roots = append(roots, wd)
	}
	if exe, err := os.Executable(); err == nil {
		roots = append(roots, filepath.Dir(exe))
	}
	for _, root := range roots {
		dir := root
		for range 4 {
			p := filepath.Join(dir, rel)
			if _, err := os.Stat(p); err == nil {
				return p
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return ""
}
