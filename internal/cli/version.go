package cli

import "runtime/debug"

// Version is the release of both binaries. Releases set it at build time:
//
//	go build -ldflags "-X github.com/earshot/earshot/internal/cli.Version=1.2.3" ./cmd/...
var Version = "dev"

// VersionString is prog's version line, for example
// "earshot-capture 1.2.3 (0123456789ab)": Version, and the VCS revision
// when the build recorded one (a build inside a git checkout does).
func VersionString(prog string) string {
	v := prog + " " + Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
	}
	return v
}
