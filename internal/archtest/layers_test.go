package archtest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/earshot/earshot/"

// unlayered are packages the map leaves out: leaves (data, pages,
// helpers that import nothing of the project's layers above them) and
// tools. They are checked not to import anything above their users by the
// ordinary rule that nothing imports cmd/.
var unlayered = []string{
	"web", "samples", "samples/defaults", "internal/auth", "internal/cli", "internal/testdeps", "internal/testdisk",
	"internal/archtest", "stt/sttest", "audio/capture/pulsetest", "lm/corpusgen", "lm/lmbuild", "scripts/probe-limits",
}

// layers reads the package map of docs/architecture.md: one layer a line,
// top first, a line ending in a comma continued on the next; lines that
// start with spaces continue the description.
func layers(t *testing.T) map[string]int {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	split := regexp.MustCompile(`\s{2,}`)
	out := map[string]int{}
	in, layer, cont := false, 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## Package map"):
			in = true
			continue
		case !in || line == "```" && len(out) == 0:
			continue
		case line == "```":
			return out
		case line == "" || strings.HasPrefix(line, " "):
			continue
		}
		names := split.Split(line, 2)[0]
		if !cont {
			layer++
		}
		cont = strings.HasSuffix(names, ",")
		for _, n := range strings.Split(names, ",") {
			if n = strings.TrimSpace(n); n != "" {
				out[n] = layer
			}
		}
	}
	t.Fatal("docs/architecture.md: no package map")
	return nil
}

// imports runs go list with a format printing "path:imports" and returns
// each package's imports, the project's own by their path in the module.
func imports(t *testing.T, args ...string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = filepath.Join("..", "..")
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	out := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		pkg, deps, _ := strings.Cut(line, ":")
		pkg = strings.TrimPrefix(pkg, module)
		out[pkg] = nil
		for _, d := range strings.Fields(deps) {
			out[pkg] = append(out[pkg], strings.TrimPrefix(d, module))
		}
	}
	return out
}

// TestImportsFollowTheDrawnLayers: every package of the project is drawn in
// the map (or listed as unlayered), and none imports a package drawn above
// it. go list refuses a cycle, so a passing run also means there is none.
func TestImportsFollowTheDrawnLayers(t *testing.T) {
	layerOf := layers(t)
	if len(layerOf) < 10 {
		t.Fatalf("package map read as %v", layerOf)
	}
	graph := imports(t, "-f", "{{.ImportPath}}:{{join .Imports \" \"}}", "./...")
	for pkg, deps := range graph {
		lp, drawn := layerOf[pkg]
		if !drawn && !slices.Contains(unlayered, pkg) {
			t.Errorf("%s is neither in docs/architecture.md's package map nor listed as unlayered", pkg)
			continue
		}
		for _, d := range deps {
			if ld, ok := layerOf[d]; drawn && ok && ld < lp {
				t.Errorf("%s (layer %d) imports %s, drawn above it (layer %d)", pkg, lp, d, ld)
			}
			if strings.HasPrefix(d, "cmd/") {
				t.Errorf("%s imports the command %s", pkg, d)
			}
		}
	}
}

// TestTheCallPipelineLinksNoServer: the packages analyze and transcribe
// reach the pipeline through link no WebSocket, buntdb, Prometheus, NATS or
// engine code.
func TestTheCallPipelineLinksNoServer(t *testing.T) {
	deps := imports(t, "-deps", "-f", "{{.ImportPath}}:", "./call")
	for pkg := range deps {
		for _, banned := range []string{"github.com/gorilla/websocket", "github.com/tidwall/buntdb", "github.com/prometheus/", "github.com/nats-io/", "engine", "store", "live", "cluster"} {
			if pkg == banned || strings.HasPrefix(pkg, banned+"/") || strings.HasSuffix(banned, "/") && strings.HasPrefix(pkg, banned) {
				t.Errorf("call links %s", pkg)
			}
		}
	}
	if len(deps) < 5 {
		t.Fatalf("go list -deps ./call gave %v", deps)
	}
}
