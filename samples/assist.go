package samples

import (
	"embed"
	"io/fs"
)

// The default playbook and knowledge base ship inside the binary, so
// `earshot serve` and `earshot analyze` work with no files beside them.
//
//go:embed playbook.yaml kb/*.md
var assistFiles embed.FS

// PlaybookName is the name the embedded playbook is reported under in
// errors and logs.
const PlaybookName = "samples/playbook.yaml (embedded)"

// Playbook returns the default playbook's YAML.
func Playbook() []byte {
	b, err := assistFiles.ReadFile("playbook.yaml")
	if err != nil {
		// The embed directive guarantees the file; reaching here is a build bug.
		panic("samples: embedded playbook missing: " + err.Error())
	}
	return b
}

// KB returns the default knowledge base: one Markdown article per file.
func KB() fs.FS {
	sub, err := fs.Sub(assistFiles, "kb")
	if err != nil {
		panic("samples: embedded kb missing: " + err.Error())
	}
	return sub
}
